#!/usr/bin/env bash
# README command 1: install what is missing, build, and run the main job:
# a broker on an embedded LMDB directory, simulated workers for all three
# channels, a sample wave of 10,000 generated customers, then a summary.
#   tools/demo.sh [COUNT]      (default 10000 customers)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
count=${1:-10000}
"$root/tools/deps.sh"
cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$root/build" -j"$(nproc 2>/dev/null || echo 2)" >/dev/null
bin="$root/build/bin"

work=$(mktemp -d /tmp/wob-demo.XXXXXX)
pids=()
cleanup () {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT

echo "== wob demo: data and logs in $work"
"$bin/wob-broker" --plain --data "$work/data" --endpoint 'tcp://127.0.0.1:*' --port-file "$work/port" \
    --backoff-ms 500 --heartbeat-ms 500 2>"$work/broker.log" &
pids+=($!)
for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.05; done
[ -s "$work/port" ] || { cat "$work/broker.log"; exit 1; }
export WOB_ENDPOINT="tcp://127.0.0.1:$(cat "$work/port")"
echo "== broker listening on $WOB_ENDPOINT"

# Channel workers: an SMS platform with two senders, a call-center floor of
# six agents (one call at a time each), two account managers in the field.
start () { "$bin/wob-simworker" --endpoint "$WOB_ENDPOINT" "$@" 2>>"$work/workers.log" & pids+=($!); }
start --channel sms --name sms-gw-1 --capacity 200 --heartbeat-ms 500
start --channel sms --name sms-gw-2 --capacity 200 --heartbeat-ms 500
for i in 1 2 3 4 5 6; do
  start --channel call --name "agent-0$i" --capacity 1 --delay-ms 2 --heartbeat-ms 500 \
        --outcomes accepted=0.18,interested=0.22,declined=0.3,unreachable=0.2,failed=0.1
done
start --channel visit --name am-zhang --capacity 20 --heartbeat-ms 500
start --channel visit --name am-li --capacity 20 --heartbeat-ms 500

echo "== generating $count customers"
"$bin/wobctl" gen --count "$count" --seed 2026 --out "$work/targets.csv"
sed "s|^targets: .*|targets: $work/targets.csv|; s|^wave: .*|wave: W-demo-$count|" \
    "$root/examples/wave.yaml" > "$work/wave.yaml"
echo "== submitting wave W-demo-$count"
"$bin/wobctl" submit "$work/wave.yaml"

open () {
  "$bin/wobctl" --json status --wave "W-demo-$count" | jq '.by_state.received + .by_state.queued
     + .by_state.deferred + .by_state.dispatched + .by_state.retry + .by_state.held'
}
start_ns=$(date +%s%N)
deadline=$(( $(date +%s) + 600 ))
while [ "$(open)" != 0 ]; do
  [ "$(date +%s)" -lt "$deadline" ] || { echo "wave did not finish in 10 minutes" >&2; exit 1; }
  sleep 0.2
done
ms=$(( ($(date +%s%N) - start_ns) / 1000000 ))
secs="$((ms / 1000)).$(printf '%03d' $((ms % 1000)))"

echo
echo "== wave finished in ${secs}s"
"$bin/wobctl" status --wave "W-demo-$count"
echo
echo "== workers"
"$bin/wobctl" workers
echo
msisdn=$(awk -F, 'NR>1 && $8 >= 150 && $8 < 300 {print $1; exit}' "$work/targets.csv")
echo "== one customer's history (a high-value customer, call center): $msisdn"
"$bin/wobctl" status --msisdn "$msisdn"
