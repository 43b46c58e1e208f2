#!/usr/bin/env bash
# Installs the Debian packages wob needs to build and test, if any is missing.
# Used by the README's commands and by CI; safe to run again.
set -euo pipefail
packages=(cmake make gcc pkg-config jq
          libzmq3-dev libczmq-dev libprotobuf-c-dev protobuf-c-compiler
          liblmdb-dev lmdb-utils libyaml-dev libjemalloc-dev
          kannel kannel-extras curl libcurl4-openssl-dev libmicrohttpd-dev fonts-wqy-microhei
          chromium python3-websocket)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "wob: installing ${missing[*]}" >&2
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
$sudo apt-get install -y -q "${missing[@]}"
