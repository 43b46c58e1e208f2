# kill -9 of the broker in the middle of submission and of dispatch, then a
# restart on the same data directory: every acknowledged order and outcome
# is there, the submission resumes, nothing is done twice.
source "$(dirname "$0")/lib.sh"

echo "# during submission"
start_broker "$WORK/data" "$(pick_port)"
"$BIN/wobctl" gen --count 200000 --seed 3 --out "$WORK/big.csv"
make_wave "$WORK/big.yaml" W-big big.csv sms
ctl submit --progress --chunk 2000 "$WORK/big.yaml" 2>"$WORK/progress.log" >/dev/null &
submitter=$!
wait_for 60 bash -c "grep -q '^durable [0-9]*[0-9]\{5\} ' '$WORK/progress.log'"
crash_broker
rc=0; wait "$submitter" || rc=$?
check "submitter reports the broker unreachable (exit 2)" [ "$rc" = 2 ]
acked=$(grep '^durable' "$WORK/progress.log" | tail -1 | awk '{print $2}')
echo "# last acknowledged: $acked rows"
start_broker "$WORK/data" "$PORT"
rows=$(wave_json W-big | jq .rows)
check "every acknowledged row survived ($rows >= $acked)" [ "$rows" -ge "$acked" ]
stored=$(wave_json W-big | jq '[.by_state[]] | add')
check "orders stored equal the durable rows ($stored = $rows)" [ "$stored" = "$rows" ]
summary=$(ctl --json submit --progress "$WORK/big.yaml" 2>"$WORK/progress2.log")
check "resubmission resumes from row $rows" grep -q "^durable" "$WORK/progress2.log"
check "the wave holds each row exactly once" [ "$(jq .received <<<"$summary")" = 200000 ]

echo "# during dispatch"
"$BIN/wobctl" gen --count 6000 --seed 4 --out "$WORK/d.csv"
make_wave "$WORK/d.yaml" W-disp d.csv call
ctl submit "$WORK/d.yaml" >/dev/null
for i in 1 2 3; do
  start_worker --channel call --name agent-$i --capacity 20 --delay-ms 2 --heartbeat-ms 200 \
      --outcomes accepted=0.5,declined=0.5 --log "$WORK/agent-$i.log"
done
wait_for 60 bash -c "[ \$(cat '$WORK'/agent-*.log 2>/dev/null | wc -l) -ge 1500 ]"
crash_broker
echo "# broker killed after $(cat "$WORK"/agent-*.log | wc -l) reports"
start_broker "$WORK/data" "$PORT" --restart-grace-ms 30000
check "dispatch wave finishes after restart" wait_for 120 wave_finished W-disp
check "6000 done" [ "$(state_count W-disp done)" = 6000 ]
check "6000 outcomes counted once" [ "$(wave_json W-disp | jq '[.by_outcome[]] | add')" = 6000 ]
reports=$(cat "$WORK"/agent-*.log | wc -l)
unique=$(cat "$WORK"/agent-*.log | awk '{print $1}' | sort -u | wc -l)
check "no order handled twice ($reports reports, $unique orders)" [ "$reports" = 6000 -a "$unique" = 6000 ]
check "the big wave is intact after the second crash" [ "$(wave_json W-big | jq '[.by_state[]] | add')" = 200000 ]
finish
