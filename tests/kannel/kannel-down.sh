#!/usr/bin/env bash
# kannel-down.sh DIR - stop the gateway kannel-up.sh started in DIR.
#
# Signals only the PIDs in DIR/{bearerbox,smsbox,fakesmsc}.pid, and only
# while each still runs the expected program (a reused PID is left alone).
# bearerbox gets SIGTERM first: it hands what it queued to the SMSC, tells
# smsbox to quit, and fakesmsc exits on EOF.  What is still up after
# KANNEL_STOP_TIMEOUT seconds (default 5) gets SIGTERM, then SIGKILL.
# Idempotent; config and logs stay.
set -euo pipefail
[ $# -eq 1 ] && [ -n "$1" ] || { echo "usage: $0 DIR" >&2; exit 2; }
[ -d "$1" ] || exit 0
DIR=$(cd "$1" && pwd -P)
TIMEOUT=${KANNEL_STOP_TIMEOUT:-5}
declare -A BIN=([bearerbox]=/usr/sbin/bearerbox [smsbox]=/usr/sbin/smsbox
                [fakesmsc]=/usr/lib/kannel/test/fakesmsc)

pid_of () {   # the PID in DIR/NAME.pid if it runs the expected binary
  local pid
  [ -s "$DIR/$1.pid" ] || return 0
  pid=$(cat "$DIR/$1.pid")
  [[ $pid =~ ^[0-9]+$ ]] || return 0
  [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$(readlink -f "${BIN[$1]}")" ] && echo "$pid"
  return 0
}
running () { local n; for n in bearerbox smsbox fakesmsc; do [ -z "$(pid_of "$n")" ] || echo "$n"; done; }
wait_gone () {   # wait_gone SECONDS
  local deadline=$(( $(date +%s%N) + $1 * 1000000000 ))
  while [ -n "$(running)" ]; do
    [ "$(date +%s%N)" -lt "$deadline" ] || return 1
    sleep 0.05
  done
}
signal () {   # signal SIG NAME...
  local sig=$1 n p; shift
  for n in "$@"; do p=$(pid_of "$n"); [ -z "$p" ] || kill "-$sig" "$p" 2>/dev/null || true; done
}

if [ -n "$(running)" ]; then
  if [ -n "$(pid_of bearerbox)" ]; then signal TERM bearerbox; else signal TERM smsbox fakesmsc; fi
  if ! wait_gone "$TIMEOUT"; then
    signal TERM $(running)
    if ! wait_gone 2; then
      echo "kannel-down: $(running | tr '\n' ' ')ignored SIGTERM, sending SIGKILL" >&2
      signal KILL $(running)
      wait_gone 2 || { echo "kannel-down: still running: $(running)" >&2; exit 1; }
    fi
  fi
  echo "kannel-down: stopped the gateway in $DIR" >&2
fi
rm -f "$DIR/bearerbox.pid" "$DIR/smsbox.pid" "$DIR/fakesmsc.pid"
