# Report tallies stay exact when the broker drops the rows it caches
# (tally.c keeps at most 16,384 rows over all waves between turns): 100
# waves of 400 targets, about 200 rows each (regions, segments, channel,
# worker, day), more than that in all, are submitted and worked to the
# end; then every wave's tallies must add up to a recount from its orders
# (wob-broker --verify), and the campaign's report to what was submitted.
source "$(dirname "$0")/lib.sh"

start_broker "$WORK/data" "*" --heartbeat-ms 200
submit_waves 100 400 77
waves=$WAVES
check "100 waves submitted" [ "$waves" = 100 ]
start_worker --channel sms --name s1 --capacity 400 --heartbeat-ms 200 \
    --outcomes delivered=0.7,undelivered=0.3 --seed 9
all_finished () {
  for i in $(seq 1 "$waves"); do wave_finished "W-$i" || return 1; done
}
check "every wave finishes" wait_for 120 all_finished
for by in channel region segment; do
  ctl --json report --campaign C-test --by "$by" > "$WORK/report-$by.json"
  got=$(jq -c '[.total.orders, .total.contacted, .total.done]' "$WORK/report-$by.json")
  check "the campaign's report by $by counts every order, contact and end ($got)" \
      [ "$got" = "[40000,40000,40000]" ]
done
stop_workers
kill "$BROKER_PID"; wait "$BROKER_PID" 2>/dev/null || true
check "every wave's tallies add up to its orders (wob-broker --verify)" \
    "$BIN/wob-broker" --verify --data "$WORK/data"
finish
