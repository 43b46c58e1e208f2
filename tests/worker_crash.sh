# A worker killed with leases in hand: its orders are redelivered to the
# other worker and completed; nothing is lost, nothing is done twice.
source "$(dirname "$0")/lib.sh"

start_broker "$WORK/data" "*" --heartbeat-ms 200
# One priority for all, so the queue hands orders out in id order.
"$BIN/wobctl" gen --count 3000 --seed 5 | sed -E '2,$ s/,[0-9]+$/,5/' > "$WORK/targets.csv"
make_wave "$WORK/wave.yaml" W-crash targets.csv sms
ctl submit "$WORK/wave.yaml" >/dev/null

# The doomed worker takes 50 at a time, handles them slowly, and SIGKILLs
# itself after taking 400: dozens of leases die with it.
start_worker --channel sms --name doomed --capacity 50 --delay-ms 20 --heartbeat-ms 200 \
    --crash-after 400 --outcomes delivered=1 --log "$WORK/doomed.log"
doomed=$LAST_WORKER
wait_for 30 bash -c "! kill -0 $doomed 2>/dev/null"
check "doomed worker died by SIGKILL" bash -c "! kill -0 $doomed 2>/dev/null"
start_worker --channel sms --name survivor --capacity 50 --heartbeat-ms 200 \
    --outcomes delivered=1 --log "$WORK/survivor.log"

check "wave finishes" wait_for 60 wave_finished W-crash
check "3000 done" [ "$(state_count W-crash done)" = 3000 ]
check "3000 outcomes, no duplicates counted" \
    [ "$(wave_json W-crash | jq '.by_outcome.delivered')" = 3000 ]
# The doomed worker's log holds only reports it made before dying (possibly
# not all acknowledged); every order the broker recorded for it is in there.
lost_count=$(wc -l < "$WORK/doomed.log")
check "doomed worker died with leases in hand (reported $lost_count of 400 taken)" [ "$lost_count" -lt 400 ]
all=$(cat "$WORK/doomed.log" "$WORK/survivor.log" | awk '{print $1}' | sort | uniq -d | wc -l)
# A report written to the log just before SIGKILL may never have reached the
# broker; then the order was redelivered and reported again by the survivor.
# Such an order must show exactly one 'done' in its history.
dups_ok=1
for id in $(cat "$WORK/doomed.log" "$WORK/survivor.log" | awk '{print $1}' | sort | uniq -d); do
  n=$(ctl --json status "$id" | jq '[.history[] | select(.to == "done")] | length')
  [ "$n" = 1 ] || dups_ok=0
done
check "orders reported by both workers ($all) are done once" [ "$dups_ok" = 1 ]
# The doomed worker, alone at first, took orders 1..400 in id order, so any
# of those the survivor did was one of its lost leases.
id=$(awk '$1 <= 400 {print $1; exit}' "$WORK/survivor.log")
check "the survivor redid a lost lease ($id)" [ -n "$id" ]
check "the redelivered order says why in its history" \
    bash -c "'$BIN/wobctl' --endpoint $ENDPOINT --json status $id | jq -e '[.history[].reason | test(\"worker lost\")] | any' >/dev/null"
finish
