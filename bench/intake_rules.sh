#!/usr/bin/env bash
# Intake with the coordination rules off and on, side by side (issue 3):
# submit the same generated wave to a fresh broker twice and print the
# wall time and rate of each, and the ratio.
#   bench/intake_rules.sh [COUNT]        (default 1000000)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
count=${1:-1000000}
"$root/tools/deps.sh"
cmake -S "$root" -B "$root/build-release" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$root/build-release" -j"$(nproc)" >/dev/null
bin="$root/build-release/bin"
work=$(mktemp -d /tmp/wob-bench.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT

"$bin/wobctl" gen --count "$count" --seed 1 --out "$work/t.csv"
cat > "$work/off.yaml" <<EOR
version: 1
filters: { suppression: off, duplicate: off, open_offer: off, number: { check: off } }
merge: { enabled: off }
EOR
cat > "$work/on.yaml" <<EOR
version: 1
filters:
  suppression: on
  duplicate: on
  open_offer: on
  number: { check: on, length: 11 }
  frequency_caps:
    - { name: cap-overall-7d, max: 2, window: 7d }
quiet_hours:
  visit: { quiet: "00:00-00:01", utc_offset: "+00:00" }
merge: { enabled: on, window: 72h, absorb: ["call > sms"] }
EOR
run () {  # run RULES -> seconds
  local data="$work/data-$1"
  "$bin/wob-broker" --plain --data "$data" --endpoint 'tcp://127.0.0.1:*' --port-file "$work/port-$1" \
      --rules "$work/$1.yaml" 2>/dev/null &
  local pid=$!
  for _ in $(seq 100); do [ -s "$work/port-$1" ] && break; sleep 0.05; done
  printf 'campaign: B\nwave: W-%s\ntargets: %s\nplan:\n  - channel: call\n    where: { arpu: { min: 150 } }\n  - channel: sms\n' \
      "$1" "$work/t.csv" > "$work/w-$1.yaml"
  local start=$(date +%s%N)
  "$bin/wobctl" --endpoint "tcp://127.0.0.1:$(cat "$work/port-$1")" --timeout-ms 60000 \
      submit "$work/w-$1.yaml" >/dev/null
  local end=$(date +%s%N)
  kill "$pid"; wait "$pid" 2>/dev/null || true
  echo $(( (end - start) / 1000000 ))
}
off=$(run off)
on=$(run on)
printf '%-22s %10s %14s\n' "intake of $count" "ms" "targets/s"
printf '%-22s %10d %14d\n' "rules off" "$off" $(( count * 1000 / off ))
printf '%-22s %10d %14d\n' "rules on" "$on" $(( count * 1000 / on ))
awk -v a="$on" -v b="$off" 'BEGIN { printf "%-22s %10.2fx (target <= 1.5x)\n", "on / off", a / b }'
