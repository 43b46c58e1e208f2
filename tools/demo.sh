#!/usr/bin/env bash
# README command 1: install what is missing, build, and run the main job:
# a broker on an embedded LMDB directory, the three channel workers on
# their real interfaces, a sample wave of 10,000 generated customers, then a
# readable report.
#   - SMS: wob-sms sending through a Kannel gateway (bearerbox + smsbox, on
#     loopback, with Kannel's fake SMSC standing in for the operator's; the
#     SMSC serves no 166 numbers, so those fail and fall back to a call);
#   - call center: wob-call's floor with six agents, simulated through the
#     same JSON API a dialer uses (tools/call_agents.py);
#   - field visits: two account managers with wob-visit (sync, route
#     sheet, the day's outcomes reported from a CSV), owning their regions.
#   tools/demo.sh [COUNT]      (default 10000 customers)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
count=${1:-10000}
"$root/tools/deps.sh"
cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$root/build" -j"$(nproc 2>/dev/null || echo 2)" >/dev/null
bin="$root/build/bin"
wave="W-demo-$count"

work=$(mktemp -d /tmp/wob-demo.XXXXXX)
pids=()
cleanup () {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  "$root/tests/kannel/kannel-down.sh" "$work/kannel" >/dev/null 2>&1 || true
}
trap cleanup EXIT
wait_port () {  # wait_port FILE: until a process wrote its port there
  for _ in $(seq 200); do [ -s "$1" ] && return 0; sleep 0.05; done
  return 1
}

echo "== wob demo: data and logs in $work"
cat > "$work/rules.yaml" <<EOR
version: 1
distribution:
  sms:   { strategy: even }
  call:  { strategy: even }
  visit: { strategy: address, orphans: spill, spill_after: 2s }
EOR
# --plain: loopback only, no keys to hand out for a demo (docs: "Running in
# production" in README.md for CurveZMQ with roles)
"$bin/wob-broker" --plain --data "$work/data" --endpoint 'tcp://127.0.0.1:*' \
    --port-file "$work/port" --rules "$work/rules.yaml" --backoff-ms 500 --heartbeat-ms 500 \
    --http 127.0.0.1:0 --http-port-file "$work/http.port" 2>"$work/broker.log" &
pids+=($!)
wait_port "$work/port" || { cat "$work/broker.log"; exit 1; }
export WOB_ENDPOINT="tcp://127.0.0.1:$(cat "$work/port")"
wait_port "$work/http.port" || { cat "$work/broker.log"; exit 1; }
dashboard="http://127.0.0.1:$(cat "$work/http.port")"
echo "== broker listening on $WOB_ENDPOINT; dashboard and /metrics on $dashboard/"

echo "== SMS: Kannel gateway on loopback, then wob-sms"
sendsms=$(KANNEL_DENIED_PREFIX=166 "$root/tests/kannel/kannel-up.sh" "$work/kannel")
"$bin/wob-sms" --sendsms-url "$sendsms" --name sms-gw-1 --capacity 400 --rate 0 \
    --max-inflight 32 --heartbeat-ms 500 2>"$work/sms.log" &
pids+=($!)

echo "== call center: wob-call floor, six agents through its JSON API"
"$bin/wob-call" --http 127.0.0.1:0 --port-file "$work/call.port" --heartbeat-ms 500 \
    >/dev/null 2>"$work/call.log" &
pids+=($!)
wait_port "$work/call.port" || { cat "$work/call.log"; exit 1; }
floor="http://127.0.0.1:$(cat "$work/call.port")"
python3 "$root/tools/call_agents.py" "$floor" --agents 6 --seed 2026 2>"$work/agents.log" &
pids+=($!)
echo "   agents' console: $floor/"

echo "== generating $count customers"
"$bin/wobctl" gen --count "$count" --seed 2026 --out "$work/targets.csv"
sed "s|^targets: .*|targets: $work/targets.csv|; s|^wave: .*|wave: $wave|" \
    "$root/examples/wave.yaml" > "$work/wave.yaml"
echo "== submitting wave $wave"
start_ns=$(date +%s%N)
"$bin/wobctl" submit "$work/wave.yaml"

# Field visits: two account managers, each owning provinces.
visits="$root/tools/demo_visits.sh"
"$visits" start "$work" "$bin"

open () {
  "$bin/wobctl" --json status --wave "$wave" | jq '.by_state.received + .by_state.queued
     + .by_state.deferred + .by_state.dispatched + .by_state.retry + .by_state.held'
}
deadline=$(( $(date +%s) + 600 ))
while [ "$(open)" != 0 ]; do
  [ "$(date +%s)" -lt "$deadline" ] || { echo "wave did not finish in 10 minutes" >&2; exit 1; }
  "$visits" day "$work" "$bin"
  sleep 0.5
done
ms=$(( ($(date +%s%N) - start_ns) / 1000000 ))
secs="$((ms / 1000)).$(printf '%03d' $((ms % 1000)))"

echo
echo "== wave finished in ${secs}s"
"$bin/wobctl" status --wave "$wave"
echo
echo "== results by channel"
"$bin/wobctl" report --wave "$wave"
echo
echo "== results by province (wobctl report --by region; --level city|district|grid drills down)"
"$bin/wobctl" report --wave "$wave" --by region
echo
echo "== results by worker"
"$bin/wobctl" report --wave "$wave" --by worker
echo
echo "== workers"
"$bin/wobctl" workers
echo
"$visits" summary "$work" "$bin"
echo "== dashboard: $dashboard/ (this run's broker stops when the demo ends)"
msisdn=$(sed 's/"[^"]*"//g' "$work/targets.csv" \
         | awk -F, 'NR > 1 && $1 ~ /^166/ && $8 < 150 && !found { print $1; found = 1 }')
if [ -n "$msisdn" ]; then
  echo "== one customer's history (SMS not deliverable, fell back to a call): $msisdn"
  "$bin/wobctl" status --msisdn "$msisdn"
fi
