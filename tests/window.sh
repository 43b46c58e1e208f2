# Time: a wave whose window has not opened is deferred and starts by
# itself; a wave whose window closes expires what is left; a call-back
# outcome brings the order back at the time asked, kept for the agent who
# asked for it while they are away, then spilled to the others.
source "$(dirname "$0")/lib.sh"

cat > "$WORK/rules.yaml" <<EOR
version: 1
distribution: { call: { spill_after: 2s } }
EOR
start_broker "$WORK/data" "*" --heartbeat-ms 200 --rules "$WORK/rules.yaml"
"$BIN/wobctl" gen --count 200 --seed 8 --out "$WORK/t.csv"
now=$(date +%s)

# Opens in 2 seconds.
cat > "$WORK/later.yaml" <<EOW
campaign: C-time
wave: W-later
targets: t.csv
window: { start: "$((now + 2))" , end: "$((now + 3600))" }
plan:
  - channel: sms
EOW
summary=$(ctl --json submit "$WORK/later.yaml")
check "orders of a future window are deferred" [ "$(jq .deferred <<<"$summary")" = 200 ]
start_worker --channel sms --name sms-1 --capacity 50 --heartbeat-ms 200 --outcomes delivered=1
check "nothing is dispatched before the window opens" [ "$(state_count W-later deferred)" = 200 ]
check "the wave runs by itself once the window opens" wait_for 30 wave_finished W-later
check "all 200 done" [ "$(state_count W-later done)" = 200 ]
first=$(ctl --json status --msisdn "$(sed -n 2p "$WORK/t.csv" | cut -d, -f1)")
check "history says it waited for the window" \
    jq -e '.[0].history | map(.reason) | any(test("time window open"))' <<<"$first" >/dev/null

# Closes in 2 seconds, with no worker for its channel.
now=$(date +%s)
cat > "$WORK/short.yaml" <<EOW
campaign: C-time
wave: W-short
targets: t.csv
window: { end: "$((now + 2))" }
plan:
  - channel: visit
EOW
ctl submit "$WORK/short.yaml" >/dev/null
check "open orders expire when the window closes" wait_for 30 bash -c \
    "[ \$('$BIN/wobctl' --endpoint $ENDPOINT --json status --wave W-short | jq .by_state.expired) = 200 ]"
check "the wave is ended" [ "$(wave_json W-short | jq -r .state)" = ended ]

# Call back: the first agent asks for a call back on each order it takes.
cat > "$WORK/cb.yaml" <<EOW
campaign: C-time
wave: W-callback
targets: t.csv
plan:
  - channel: call
EOW
ctl submit "$WORK/cb.yaml" >/dev/null
start_worker --channel call --name agent-1 --capacity 1 --heartbeat-ms 200 \
    --outcomes callback=1 --exit-after 3
wait_for 30 bash -c "[ \$('$BIN/wobctl' --endpoint $ENDPOINT --json status --wave W-callback | jq .by_outcome.callback) = 3 ]"
check "call-back orders wait (deferred)" [ "$(state_count W-callback deferred)" -ge 1 ]
check "due call-backs are held for agent-1, who left" wait_for 30 bash -c \
    "[ \$('$BIN/wobctl' --endpoint $ENDPOINT --json status --wave W-callback | jq '.by_rule[\"held/worker_away\"] // 0') -ge 1 ]"
start_worker --channel call --name agent-2 --capacity 5 --heartbeat-ms 200 --outcomes accepted=1
check "they come back at the time asked and finish" wait_for 30 wave_finished W-callback
check "all 200 done" [ "$(state_count W-callback done)" = 200 ]
# Visits: leases of days, set per channel (on a new broker: the workers
# above go first)
stop_workers
kill "$BROKER_PID"; wait "$BROKER_PID" 2>/dev/null || true
start_broker "$WORK/data" "*" --heartbeat-ms 200 --channel-lease visit=5d,call=20m
cat > "$WORK/visit.yaml" <<EOW
campaign: C-time
wave: W-visit-lease
targets: t.csv
plan:
  - channel: visit
EOW
ctl submit "$WORK/visit.yaml" >/dev/null
start_worker --channel visit --name am-1 --capacity 1 --heartbeat-ms 200 --delay-ms 60000
leased () { [ "$(state_count W-visit-lease dispatched)" = 1 ]; }
wait_for 30 leased
lease_reason () {  # the lease entry of the order am-1 holds
  for number in $(sed 1d "$WORK/t.csv" | cut -d, -f1); do
    ctl --json status --msisdn "$number" | jq -r '.[] | select(.wave == "W-visit-lease"
        and .state == "dispatched") | .history[-1].reason'
  done
}
visit_id=$(lease_reason)
check "a visit lease lasts the channel's 5 days (--channel-lease)" \
    grep -q "until $(date -d '+5 days' +%Y-%m-%d)" <<<"$visit_id"
finish
