# Limits (issue 7): one client that floods the broker with pipelined requests
# gets "busy" errors naming --max-inflight beyond the limit, and nobody else
# notices (the flood runs at a limit of 16: the broker ends a turn soon
# after it reads a question, so at the default of 1000 a turn seldom reads
# enough of one client's requests to refuse any): another client's status queries and submission are answered,
# workers finish a wave with every order done exactly once, all while the
# flood runs; afterwards the broker answers as before.  A client that stays
# within the limit is never refused, nor is a worker sending a report per
# order; the limit comes from the config file too.
source "$(dirname "$0")/lib.sh"

FLOOD="$BIN/../tests/flood_client"
BUSY_16="busy: too many requests in flight from this client (limit 16, --max-inflight): retry after the answers"
# summary_field FILE NAME: a number from flood_client's last line.
summary_field () { tail -n 1 "$1" | awk -v k="$2" '{ for (i = 1; i < NF; i++) if ($i == k) print $(i + 1) }'; }

start_broker "$WORK/data" "*"          # the default limit, 1000
"$BIN/wobctl" gen --count 10 --seed 70 --out "$WORK/small.csv"
make_wave "$WORK/w0.yaml" W-0 small.csv visit   # no visit worker: stays as it is
ctl submit "$WORK/w0.yaml" >/dev/null

# Within the limit: 1000 requests sent at once, all answered, none refused.
"$FLOOD" --endpoint "$ENDPOINT" --wave W-0 --count 1000 --outstanding 1000 > "$WORK/under.out"
check "1000 requests pipelined at once (the default limit) are all answered, none busy" \
    [ "$(tail -n 1 "$WORK/under.out")" = "sent 1000 answered 1000 ok 1000 busy 0 other 0" ]

# The flood: 20,000 unanswered requests at all times until told to stop.
kill -TERM "$BROKER_PID"; wait "$BROKER_PID" 2>/dev/null || true
start_broker "$WORK/data" "*" --max-inflight 16
"$FLOOD" --endpoint "$ENDPOINT" --wave W-0 --outstanding 20000 > "$WORK/flood.out" &
FLOOD_PID=$!
PIDS+=("$FLOOD_PID")
check "the flooding client is refused as busy, naming the limit and the option" \
    wait_for 30 grep -qxF "$BUSY_16" "$WORK/flood.out"

# During the flood, another client: a wave submitted in pipelined chunks
# (each request must be answered within 5 s) ...
"$BIN/wobctl" gen --count 2000 --seed 71 --out "$WORK/t.csv"
make_wave "$WORK/w.yaml" W-F t.csv sms
summary=$(ctl --timeout-ms 5000 --json submit --chunk 250 "$WORK/w.yaml")
check "a wave submitted during the flood (8 chunks, 4 in flight) is accepted whole" \
    [ "$(jq .accepted <<<"$summary")" = 2000 ]
# ... worked by simulated workers (for a few seconds: 500 orders a second) ...
for i in 1 2; do
  start_worker --channel sms --name sms-$i --capacity 10 --delay-ms 40 \
      --outcomes delivered=1 --log "$WORK/sms-$i.log"
done
# ... and watched with status queries, each of which must be answered
# within 2 s (not a benchmark: the point is that they are answered).
asked=0; unanswered=0; worst=0; finished=false
deadline=$(( $(date +%s) + 90 ))
while [ "$(date +%s)" -lt "$deadline" ]; do
  t0=$(date +%s%N)
  if json=$(ctl --timeout-ms 2000 --json status --wave W-F 2>>"$WORK/ctl.err"); then
    ms=$(( ($(date +%s%N) - t0) / 1000000 )); [ "$ms" -gt "$worst" ] && worst=$ms
    asked=$((asked + 1))
    if [ "$(jq '.by_state.received + .by_state.queued + .by_state.deferred + .by_state.dispatched
                 + .by_state.retry + .by_state.held' <<<"$json")" = 0 ]; then
      finished=true; break
    fi
  else
    unanswered=$((unanswered + 1))
  fi
  sleep 0.2     # the pace of the questions, not a wait for an event
done
check "the workers finish the wave during the flood" $finished
check "every status query during the flood was answered within 2 s ($asked answered, $unanswered not, slowest $worst ms including wobctl's start)" \
    [ "$unanswered" = 0 -a "$asked" -ge 3 ]
check "the flood was still running when the wave finished" kill -0 "$FLOOD_PID"
check "2000 orders done" [ "$(state_count W-F done)" = 2000 ]
reported=$(cat "$WORK"/sms-*.log | wc -l)
unique=$(cat "$WORK"/sms-*.log | awk '{ print $1 }' | sort -u | wc -l)
check "each order reported exactly once by the workers ($reported reports, $unique orders)" \
    [ "$reported" = 2000 -a "$unique" = 2000 ]
check "no worker was taken for lost during the flood" bash -c "! grep -q 'worker lost' '$WORK/broker.log'"

# The flood stops: every one of its requests got an answer, a wave status or busy.
kill -TERM "$FLOOD_PID"
rc=0; wait "$FLOOD_PID" || rc=$?
check "the flooding client got an answer to every request it sent" [ "$rc" = 0 ]
busy=$(summary_field "$WORK/flood.out" busy)
check "the flood was answered in part ($(summary_field "$WORK/flood.out" ok) wave statuses) and refused as busy in part ($busy)" \
    [ "$(summary_field "$WORK/flood.out" ok)" -gt 0 -a "$busy" -gt 0 ]
check "nothing but wave statuses and busy errors" [ "$(summary_field "$WORK/flood.out" other)" = 0 ]
check "the broker logs the refusals, not one line each" \
    bash -c "grep -q 'over --max-inflight 16 (busy)' '$WORK/broker.log' && [ \$(grep -c 'over --max-inflight' '$WORK/broker.log') -lt $busy ]"

# After the flood: the broker is alive and answers as before.
check "the broker survived the flood" kill -0 "$BROKER_PID"
check "after the flood, status answers normally" \
    [ "$(ctl --timeout-ms 2000 --json status --wave W-F | jq .by_state.done)" = 2000 ]
"$FLOOD" --endpoint "$ENDPOINT" --wave W-0 --count 16 --outstanding 16 > "$WORK/after.out"
check "after the flood, 16 pipelined requests (the limit) are all answered again, none busy" \
    [ "$(tail -n 1 "$WORK/after.out")" = "sent 16 answered 16 ok 16 busy 0 other 0" ]

# The limit from the config file; values that would refuse the client
# library's own submission are refused at start-up.
kill -TERM "$BROKER_PID"
rc=0; wait "$BROKER_PID" || rc=$?
check "the broker stops cleanly after the flood (exit 0; with the sanitizers: no leak)" [ "$rc" = 0 ]
refuses_3 () {
  local out rc=0
  out=$(timeout 10 "$BIN/wob-broker" --plain --data "$WORK/low" --endpoint 'tcp://127.0.0.1:*' \
            --max-inflight 3 2>&1) || rc=$?
  [ "$rc" = 1 ] && grep -qF -- "--max-inflight 3: expected 0 (no limit) or 8" <<<"$out"
}
check "--max-inflight 3 is refused at start-up, naming the option" refuses_3
printf 'broker\n    max_inflight = 8\n' > "$WORK/broker.cfg"
start_broker "$WORK/data" "*" --config "$WORK/broker.cfg"
"$FLOOD" --endpoint "$ENDPOINT" --wave W-0 --count 200 --outstanding 200 > "$WORK/eight.out"
check "max_inflight = 8 in the config file: busy beyond 8, naming that limit" \
    grep -qF "busy: too many requests in flight from this client (limit 8, --max-inflight)" "$WORK/eight.out"
# Workers' reports have an allowance of twice the worker's capacity on top:
# one that reports (and extends) each of its 600 orders on its own is never busy.
"$FLOOD" --endpoint "$ENDPOINT" --worker hand-1 --capacity 600 --count 1200 --outstanding 1200 \
    > "$WORK/worker.out"
check "a worker sending 1200 reports at once (capacity 600, limit 8) is never busy" \
    [ "$(tail -n 1 "$WORK/worker.out")" = "sent 1200 answered 1200 ok 1200 busy 0 other 0" ]
"$BIN/wobctl" gen --count 10 --seed 72 --out "$WORK/small2.csv"
make_wave "$WORK/w2.yaml" W-8 small2.csv sms
check "even at the smallest limit, a submission in pipelined chunks is never busy" \
    bash -c "'$BIN/wobctl' --endpoint $ENDPOINT --json submit --chunk 2 '$WORK/w2.yaml' | jq -e '.accepted == 10' >/dev/null"
finish
