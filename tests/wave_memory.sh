# Drained waves leave memory and come back when asked for (waves.c): an
# operator submits waves for years, and each wave in memory costs some KB.
# 30 waves are worked to the end and one more waits for a channel no
# worker serves; 11 minutes later (test clock) only the waiting one is in
# memory, and yet every answer is what it was before: /metrics, the
# dashboard's list, a wave's status, an order's history, the campaign's
# report, a resubmission refused, a control command; and after a restart,
# where drained waves stay out of memory from the start.  Listings and
# campaign reports read retired waves without bringing them back, so a
# dashboard polling them does not keep them in memory.
source "$(dirname "$0")/lib.sh"
export TZ=UTC

start_broker "$WORK/data" "*" --heartbeat-ms 200 --test-clock \
    --http 127.0.0.1:0 --http-port-file "$WORK/http-port"
HTTP="http://127.0.0.1:$(cat "$WORK/http-port")"
in_memory () { curl -sf "$HTTP/metrics" | awk '$1 == "wob_waves_in_memory" {print $2}'; }
# The metrics that sum over waves: orders by state and channel, waves by state
sums () { curl -sf "$HTTP/metrics" | grep -E '^wob_(orders|outcomes|waves)\{' | sort; }

submit_waves 30 50 5
n=$WAVES
check_eq "30 waves submitted" 30 "$n"
"$BIN/wobctl" gen --count 20 --seed 6 --out "$WORK/visits.csv"
make_wave "$WORK/live.yaml" "W-live" "$WORK/visits.csv" visit
ctl submit "$WORK/live.yaml" >/dev/null
start_worker --channel sms --name s1 --capacity 200 --heartbeat-ms 200 \
    --outcomes delivered=0.8,undelivered=0.2 --seed 3
all_finished () {
  for i in $(seq 1 "$n"); do wave_finished "W-$i" || return 1; done
}
check "the 30 SMS waves finish" wait_for 60 all_finished
stop_workers
check_eq "all 31 waves are in memory while in use" 31 "$(in_memory)"

# What supervisors see before the waves leave memory
sums > "$WORK/sums-before"
wave_json W-7 > "$WORK/w7-before"
msisdn=$(sed -n 2p "$WORK/part-0006.csv" | cut -d, -f1)      # a target of W-7
ctl --json status --msisdn "$msisdn" > "$WORK/order-before"
ctl --json report --campaign C-test --by region > "$WORK/report-before"
curl -sf "$HTTP/api/waves" | jq -S '.waves' > "$WORK/list-before"
check "the sums name every order" grep -q 'wob_orders{state="done",channel="sms"}' "$WORK/sums-before"

ctl clock advance 11m >/dev/null
only_live () { [ "$(in_memory)" = 1 ]; }
check "after 10 idle minutes only the wave with waiting orders stays in memory" \
    wait_for 10 only_live
check_eq "/api/waves counts the 30 others as retired" 30 \
    "$(curl -sf "$HTTP/api/waves" | jq '.retired')"
curl -sf "$HTTP/api/waves" | jq -S '.waves' > "$WORK/list-after"
check "/api/waves lists every wave as before, counts and reports" \
    cmp "$WORK/list-before" "$WORK/list-after"
check_eq "... without bringing them back into memory" 1 "$(in_memory)"
sums > "$WORK/sums-after"
check "/metrics sums the same orders, outcomes and waves" \
    cmp "$WORK/sums-before" "$WORK/sums-after"

# Asked for, a wave comes back with what it had
wave_json W-7 > "$WORK/w7-after"
check "a retired wave's status is what it was" cmp "$WORK/w7-before" "$WORK/w7-after"
check_eq "asking brought that one wave back" 2 "$(in_memory)"
ctl --json status --msisdn "$msisdn" > "$WORK/order-after"
check "an order of a retired wave keeps its status and history" \
    cmp "$WORK/order-before" "$WORK/order-after"
check "the dashboard finds a retired wave by id" \
    curl -sf "$HTTP/api/waves/W-12" -o "$WORK/w12.json"
check_eq "... with its counts" 50 "$(jq '.progress.total' "$WORK/w12.json")"
ctl --json report --campaign C-test --by region > "$WORK/report-after"
check "the campaign's report sums the retired waves too" \
    cmp "$WORK/report-before" "$WORK/report-after"
check_eq "... reading them, not bringing them back (in memory: the live one, W-7, W-12)" \
    3 "$(in_memory)"
sums > "$WORK/sums-back"
check "/metrics sums the same with a wave back in memory" \
    cmp "$WORK/sums-before" "$WORK/sums-back"

# A dashboard polling the list does not count as use
ctl clock advance 6m >/dev/null
curl -sf "$HTTP/api/waves" > /dev/null
ctl clock advance 6m >/dev/null
check "a wave leaves again 10 minutes after its last use, dashboard or not" \
    wait_for 10 only_live
check "resubmitting a retired wave's id is refused" \
    sh -c "! \"$BIN/wobctl\" --endpoint $ENDPOINT submit $WORK/w3.yaml 2>$WORK/resubmit.err"
check "... as already submitted" grep -qi "exists\|already" "$WORK/resubmit.err"
ctl cancel W-4 >/dev/null 2>&1 || true
check_eq "a control command reaches a retired wave" cancelled \
    "$(wave_json W-4 | jq -r '.state')"
check "/metrics counts that wave's new state" \
    sh -c "curl -sf $HTTP/metrics | grep -q '^wob_waves{state=\"cancelled\"} 1'"
ctl clock advance 11m >/dev/null
check "the waves asked for leave memory again, the cancelled one too" wait_for 10 only_live

# A restart: drained waves are retired as they are loaded
kill "$BROKER_PID"; wait "$BROKER_PID" 2>/dev/null || true
start_broker "$WORK/data" "$PORT" --heartbeat-ms 200 --test-clock \
    --http 127.0.0.1:0 --http-port-file "$WORK/http-port"
HTTP="http://127.0.0.1:$(cat "$WORK/http-port")"
check_eq "after a restart only the live wave is loaded into memory" 1 "$(in_memory)"
check "the broker says so when ready" grep -q "waves: 1 in memory, 30 drained and out of it" \
    "$WORK/broker.log"
sums | sed 's/^wob_waves{state="open"} 30$/wob_waves{state="open"} 31/;
            /^wob_waves{state="cancelled"}/d' > "$WORK/sums-restart"
grep -v '^wob_waves{state="cancelled"}' "$WORK/sums-before" > "$WORK/sums-before-1"
check "/metrics sums the same after the restart (W-4 now cancelled)" \
    cmp "$WORK/sums-before-1" "$WORK/sums-restart"
kill "$BROKER_PID"; wait "$BROKER_PID" 2>/dev/null || true
check "every wave's counts and tallies add up to its orders (wob-broker --verify)" \
    "$BIN/wob-broker" --verify --data "$WORK/data"
finish
