# The call-center worker end to end: a broker, wob-call and a small call
# wave; tests/browser/call_console.py drives the agents' page in headless
# Chromium over the DevTools protocol and the JSON API with urllib (what it
# checks is listed at its top).  Here: the processes, the wave, and what
# wob-call leaves behind (its report log, a clean exit).
source "$(dirname "$0")/lib.sh"

# Debian's python3 holds python3-websocket; another python3 may come first
# on PATH.
PY=""
for p in /usr/bin/python3 python3; do
  if "$p" -c 'import websocket' 2>/dev/null; then PY=$p; break; fi
done
if [ -z "$PY" ] || { [ -z "${CHROMIUM:-}" ] && ! command -v chromium >/dev/null 2>&1; }; then
  fail "chromium and python3-websocket are needed (tools/deps.sh installs them)"
  finish
fi

# Short leases (8 s) so that an idle agent's lease runs out within the test;
# retries far away so that the failed order stays out of the way; the test
# clock brings the call back.
start_broker "$WORK/data" "*" --heartbeat-ms 200 --test-clock --lease-ms 8000 \
    --backoff-ms 86400000
"$BIN/wobctl" gen --count 7 --seed 21 --out "$WORK/targets.csv"
cat > "$WORK/wave.yaml" <<EOW
campaign: C-call
wave: W-call
kind: retention
targets: targets.csv
script: "Hello {name}, this is about {offer}. Offers: {offers}."
plan:
  - channel: call
EOW
summary=$(ctl --json submit "$WORK/wave.yaml")
check "the call wave is accepted (7 orders)" [ "$(jq .accepted <<<"$summary")" = 7 ]

"$BIN/wob-call" --endpoint "$ENDPOINT" --http 127.0.0.1:0 --port-file "$WORK/http-port" \
    --idle-timeout 4s --heartbeat-ms 200 --log "$WORK/call.log" \
    >"$WORK/call.out" 2>>"$WORK/call.err" &
CALL_PID=$!
PIDS+=("$CALL_PID")
wait_for 10 test -s "$WORK/http-port" || { echo "wob-call did not start:" >&2; cat "$WORK/call.err" >&2; }
HTTP_PORT=$(cat "$WORK/http-port")
check "wob-call prints its console URL" grep -q "http://127.0.0.1:$HTTP_PORT/" "$WORK/call.out"

ARTEFACTS="$BIN/../artefacts"
mkdir -p "$ARTEFACTS"
# (no __pycache__ in the source tree)
if PYTHONDONTWRITEBYTECODE=1 CALL_URL="http://127.0.0.1:$HTTP_PORT" WOB_ENDPOINT="$ENDPOINT" WOBCTL="$BIN/wobctl" \
   TARGETS="$WORK/targets.csv" WORK="$WORK" ARTEFACTS="$ARTEFACTS" \
   "$PY" "$SRC/tests/browser/call_console.py"; then
  ok "browser scenario (tests/browser/call_console.py)"
else
  fail "browser scenario (tests/browser/call_console.py); wob-call said:"
  tail -30 "$WORK/call.err" >&2
fi
check "screenshot saved" test -s "$ARTEFACTS/call_console.png"
echo "screenshot: $(cd "$ARTEFACTS" && pwd)/call_console.png"

# One log line per report: 7 page outcomes + the call back's second
# attempt + two API outcomes... each with order, attempt, outcome, worker.
check "the report log has one line per report (10)" [ "$(wc -l < "$WORK/call.log")" = 10 ]
check "the log names the worker and keeps the note" \
    grep -q ' interested call:a1 0 "wants the family 5G plan, call after 18:00"$' "$WORK/call.log"
check "the wave is finished but for the failed order (retry)" \
    [ "$(state_count W-call done)" = 6 -a "$(state_count W-call retry)" = 1 ]
check "the second wave is done" [ "$(state_count W-call-again done)" = 2 ]

kill -TERM "$CALL_PID"
rc=0; wait "$CALL_PID" || rc=$?
check "wob-call exits 0 on SIGTERM" [ "$rc" = 0 ]
check "wob-call said why agents were signed out" \
    bash -c "grep -q 'agent a1: signed out .*not heard from' '$WORK/call.err' &&
             grep -q 'agent b1: signed out .*idle past the lease' '$WORK/call.err'"
# A floor killed with an agent's order on screen loses nothing: the broker
# notices the lost sessions and the order goes to an agent of another floor.
"$BIN/wobctl" gen --count 3 --seed 22 --out "$WORK/kill.csv"
sed -e 's/^wave: .*/wave: W-call-kill/' -e 's/^targets: .*/targets: kill.csv/' \
    "$WORK/wave.yaml" > "$WORK/kill.yaml"
ctl submit "$WORK/kill.yaml" >/dev/null
start_floor () {  # start_floor NAME: a wob-call on a free port; FLOOR_PID, FLOOR_URL
  rm -f "$WORK/$1.port"
  "$BIN/wob-call" --endpoint "$ENDPOINT" --http 127.0.0.1:0 --port-file "$WORK/$1.port" \
      --idle-timeout 30s --heartbeat-ms 200 >/dev/null 2>>"$WORK/$1.err" &
  FLOOR_PID=$!
  PIDS+=("$FLOOR_PID")
  wait_for 10 test -s "$WORK/$1.port"
  FLOOR_URL="http://127.0.0.1:$(cat "$WORK/$1.port")"
}
api () {  # api URL PATH [JSON]: GET, or POST with a JSON body
  if [ $# -gt 2 ]; then
    curl -s -X POST -H 'Content-Type: application/json' -d "$3" "$1$2"
  else
    curl -s "$1$2"
  fi
}
on_screen () { api "$1" "/api/next?agent=$2" | jq -r '.order.id // empty'; }
start_floor floor2
api "$FLOOR_URL" /api/signin '{"agent":"k1"}' >/dev/null
wait_for 10 bash -c "[ -n \"\$(curl -s '$FLOOR_URL/api/next?agent=k1' | jq -r '.order.id // empty')\" ]"
killed=$(on_screen "$FLOOR_URL" k1)
check "an agent of the second floor has an order on screen" [ -n "$killed" ]
kill -9 "$FLOOR_PID"
wait "$FLOOR_PID" 2>/dev/null || true
back_in_queue () { [ "$(ctl --json status "$killed" | jq -r .state)" = queued ]; }
check "after kill -9 of the floor, the order goes back to the queue" wait_for 10 back_in_queue
start_floor floor3
api "$FLOOR_URL" /api/signin '{"agent":"k2"}' >/dev/null
for _ in 1 2 3; do
  wait_for 10 bash -c "[ -n \"\$(curl -s '$FLOOR_URL/api/next?agent=k2' | jq -r '.order.id // empty')\" ]" || break
  id=$(on_screen "$FLOOR_URL" k2)
  api "$FLOOR_URL" /api/outcome "{\"agent\":\"k2\",\"order\":$id,\"outcome\":\"declined\"}" >/dev/null
done
check "another floor's agent finishes all three, the lost one included" wait_for 10 \
    bash -c "[ \$('$BIN/wobctl' --endpoint $ENDPOINT --json status --wave W-call-kill | jq .by_state.done) = 3 ]"
check_eq "the lost order's history says the worker was lost, then done once" '[true,2,"call:k2"]' \
    "$(ctl --json status "$killed" | jq -c '[(.history | map(.reason) | any(test("worker lost"))), .attempts, .worker]')"
if grep -q "ERROR: AddressSanitizer\|runtime error:\|LeakSanitizer" "$WORK/call.err"; then
  fail "sanitizer report from wob-call"; grep -A20 "Sanitizer\|runtime error" "$WORK/call.err" >&2
else
  ok "no sanitizer report from wob-call"
fi
finish
