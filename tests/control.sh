# Pause, resume, cancel: immediate for undispatched orders, durable across a
# restart, recorded in every affected order; leased orders finish, or are
# recalled by cancel --recall.
source "$(dirname "$0")/lib.sh"

start_broker "$WORK/data" "*" --heartbeat-ms 200
"$BIN/wobctl" gen --count 300 --seed 31 --out "$WORK/t.csv"
make_wave "$WORK/p.yaml" W-P t.csv sms
ctl submit "$WORK/p.yaml" >/dev/null
start_worker --channel sms --name sms-1 --capacity 5 --delay-ms 20 --heartbeat-ms 200 \
    --outcomes delivered=1 --log "$WORK/sms.log"
wait_for 30 bash -c "[ \$(wc -l < '$WORK/sms.log') -ge 20 ]"
check "pause" bash -c "'$BIN/wobctl' --endpoint $ENDPOINT pause W-P | grep -q 'is paused'"
paused_ms=$(( $(date +%s%N) / 1000000 ))
check "leased orders finish, nothing new is leased" \
    wait_for 30 bash -c "[ \$('$BIN/wobctl' --endpoint $ENDPOINT --json status --wave W-P | jq .by_state.dispatched) = 0 ]"
done_paused=$(state_count W-P done)
check "the pause is durable across a restart" bash -c "kill $BROKER_PID; wait $BROKER_PID 2>/dev/null; true"
start_broker "$WORK/data" "$PORT" --heartbeat-ms 200
check "still paused after the restart" [ "$(wave_json W-P | jq -r .state)" = paused ]
check "still nothing new done while paused" [ "$(state_count W-P done)" = "$done_paused" ]
resumed_ms=$(( $(date +%s%N) / 1000000 ))
check "resume" bash -c "'$BIN/wobctl' --endpoint $ENDPOINT resume W-P | grep -q 'is open'"
check "the wave finishes after resume" wait_for 60 wave_finished W-P
check "all 300 done" [ "$(state_count W-P done)" = 300 ]
n=$(tail -n +2 "$WORK/t.csv" | cut -d, -f1 | tail -50 | while read -r m; do
      ctl --json status --msisdn "$m" | jq -c '.[0]'; done > "$WORK/last50.jsonl"; \
    jq -s --argjson p "$paused_ms" --argjson r "$resumed_ms" \
      '[.[] | .history[] | select(.to == "dispatched" and .at_ms > $p + 50 and .at_ms < $r)] | length' "$WORK/last50.jsonl")
check "no order was leased between pause and resume ($n)" [ "$n" = 0 ]
check "queued orders record the pause and the resume" \
    jq -s -e 'any(.[]; any(.history[].reason; test("wave paused by wobctl")) and any(.history[].reason; test("wave resumed by")))' \
    "$WORK/last50.jsonl" >/dev/null

echo "# cancel: leased orders finish"
make_wave "$WORK/c.yaml" W-C t.csv call
ctl submit "$WORK/c.yaml" >/dev/null
start_worker --channel call --name agent-1 --capacity 3 --delay-ms 300 --heartbeat-ms 200 \
    --outcomes accepted=1 --log "$WORK/call.log"
wait_for 30 bash -c "[ \$('$BIN/wobctl' --endpoint $ENDPOINT --json status --wave W-C | jq .by_state.dispatched) = 3 ]"
check "cancel" bash -c "'$BIN/wobctl' --endpoint $ENDPOINT cancel W-C | grep -q 'is cancelled'"
check "every order ends: the leased ones done, the rest cancelled" wait_for 30 wave_finished W-C
check "3 leased orders finished" [ "$(state_count W-C done)" = 3 ]
check "297 cancelled" [ "$(state_count W-C cancelled)" = 297 ]
check "a cancelled wave cannot be resumed" bash -c "! '$BIN/wobctl' --endpoint $ENDPOINT resume W-C 2>/dev/null"

echo "# cancel --recall: leased orders come back cancelled"
make_wave "$WORK/r.yaml" W-R t.csv visit
ctl submit "$WORK/r.yaml" >/dev/null
start_worker --channel visit --name am-1 --capacity 4 --delay-ms 60000 --heartbeat-ms 200 \
    --outcomes accepted=1 --log "$WORK/visit.log"
wait_for 30 bash -c "[ \$('$BIN/wobctl' --endpoint $ENDPOINT --json status --wave W-R | jq .by_state.dispatched) = 4 ]"
check "cancel --recall" bash -c "'$BIN/wobctl' --endpoint $ENDPOINT cancel W-R --recall | grep -q recalled"
check "every order cancelled at once, leased ones too" wait_for 30 bash -c \
    "[ \$('$BIN/wobctl' --endpoint $ENDPOINT --json status --wave W-R | jq .by_state.cancelled) = 300 ]"
recalled=$(tail -n +2 "$WORK/t.csv" | cut -d, -f1 | while read -r m; do
    ctl --json status --msisdn "$m" | jq -c 'map(select(.wave == "W-R"))[0]'; done |
  jq -s '[.[] | select(.history[-1].reason | test("lease recalled"))] | length')
check "the 4 recalled orders say so in their history ($recalled)" [ "$recalled" = 4 ]
finish
