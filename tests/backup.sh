# Online backup (SPEC §8): wobctl backup copies the store while the broker
# takes a wave in and dispatches another; a broker started on the copy has
# a consistent store: every count adds up, and nothing acknowledged before
# the backup began is missing.
source "$(dirname "$0")/lib.sh"

start_broker "$WORK/data" "*" --heartbeat-ms 200
"$BIN/wobctl" gen --count 20000 --seed 31 --out "$WORK/a.csv"
"$BIN/wobctl" gen --count 60000 --seed 32 --out "$WORK/b.csv"
make_wave "$WORK/a.yaml" W-a a.csv sms
make_wave "$WORK/b.yaml" W-b b.csv call
ctl submit "$WORK/a.yaml" >/dev/null
# Under load: SMS workers dispatching W-a, W-b being submitted
workers=()
for i in 1 2 3; do
  start_worker --channel sms --name "sms-$i" --capacity 50 --delay-ms 5 --heartbeat-ms 200 \
      --outcomes delivered=1
  workers+=("$LAST_WORKER")
done
ctl submit --chunk 1000 --progress "$WORK/b.yaml" 2>"$WORK/b.progress" >/dev/null &
submit_pid=$!
busy () { [ "$(state_count W-a done)" -ge 500 ] && grep -q "^durable" "$WORK/b.progress"; }
wait_for 60 busy
done_before=$(state_count W-a done)
rows_before=$(grep '^durable' "$WORK/b.progress" | tail -1 | awk '{print $2}')

# Refusals first: a relative path, a directory that is not empty
rc=0; ctl backup relative/dir >/dev/null 2>"$WORK/rel.err" || rc=$?
check "a relative backup path is refused" grep -q "is not an absolute path" "$WORK/rel.err"
mkdir -p "$WORK/full" && touch "$WORK/full/x"
rc=0; ctl backup "$WORK/full" >/dev/null 2>"$WORK/full.err" || rc=$?
check "a non-empty directory is refused" grep -q "is not empty" "$WORK/full.err"

out=$(ctl --json backup "$WORK/copy")
check "the backup completes while the broker works" [ "$(jq .bytes <<<"$out")" -gt 0 ]
done_after=$(state_count W-a done)
echo "# W-a done: $done_before before the backup, $done_after after; W-b rows durable before: $rows_before"
wait "$submit_pid"
check "the broker kept working: W-b fully submitted" [ "$(wave_json W-b | jq .rows)" = 60000 ]
kill "${workers[@]}" 2>/dev/null; wait "${workers[@]}" 2>/dev/null || true
kill "$BROKER_PID"; wait "$BROKER_PID" 2>/dev/null || true

# Restore: a broker on the copy (the workers are gone: nothing may change it)
start_broker "$WORK/copy" "*" --heartbeat-ms 200 --restart-grace-ms 60000
check "the copy opens as a wob store" [ "$(wave_json W-a | jq .rows)" = 20000 ]
a_done=$(state_count W-a done)
check "W-a's done count is a point between before and after the backup ($a_done)" \
    [ "$a_done" -ge "$done_before" -a "$a_done" -le "$done_after" ]
sum_a=$(wave_json W-a | jq '[.by_state[]] | add')
check "W-a's counts add up to its rows" [ "$sum_a" = 20000 ]
b_rows=$(wave_json W-b | jq .rows)
check "W-b holds every row acknowledged before the backup ($b_rows >= $rows_before)" \
    [ "$b_rows" -ge "$rows_before" ]
check "W-b's counts add up to its rows" [ "$(wave_json W-b | jq '[.by_state[]] | add')" = "$b_rows" ]
check "the copy's orders are readable (the first row of W-a)" bash -c \
    "'$BIN/wobctl' --endpoint $ENDPOINT --json status --msisdn $(sed -n 2p "$WORK/a.csv" | cut -d, -f1) | jq -e 'length >= 1' >/dev/null"
finish
