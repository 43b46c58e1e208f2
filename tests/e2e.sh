# End to end: broker + 4 simulated workers, a 10,000-order wave over three
# channels; every order is done exactly once with its outcome.
source "$(dirname "$0")/lib.sh"

start_broker "$WORK/data" "*" --heartbeat-ms 200
"$BIN/wobctl" gen --count 10000 --seed 11 --out "$WORK/targets.csv"
cat > "$WORK/wave.yaml" <<EOW
campaign: C-e2e
wave: W-e2e
targets: targets.csv
plan:
  - channel: visit
    where: { preferred_channel: visit }
  - channel: call
    where: { arpu: { min: 150 } }
  - channel: sms
EOW
# No retryable failures here: each order gets exactly one report.
start_worker --channel sms --name sms-1 --capacity 100 --heartbeat-ms 200 \
    --outcomes delivered=0.9,undelivered=0.1 --log "$WORK/sms-1.log"
start_worker --channel sms --name sms-2 --capacity 50 --heartbeat-ms 200 \
    --outcomes delivered=0.9,undelivered=0.1 --log "$WORK/sms-2.log"
start_worker --channel call --name agent-1 --capacity 5 --heartbeat-ms 200 \
    --outcomes accepted=0.3,declined=0.4,unreachable=0.3 --log "$WORK/agent-1.log"
start_worker --channel visit --name am-1 --capacity 20 --heartbeat-ms 200 \
    --outcomes accepted=0.5,interested=0.5 --log "$WORK/am-1.log"

summary=$(ctl --json submit "$WORK/wave.yaml")
check "submit accepted 10000" [ "$(jq .accepted <<<"$summary")" = 10000 ]
check "all channels used" [ "$(jq '.by_channel | length' <<<"$summary")" = 3 ]
check "wave finishes" wait_for 120 wave_finished W-e2e
check "10000 done" [ "$(state_count W-e2e done)" = 10000 ]
check "10000 outcomes counted" [ "$(wave_json W-e2e | jq '[.by_outcome[]] | add')" = 10000 ]
reported=$(cat "$WORK"/*-1.log "$WORK"/sms-2.log | wc -l)
unique=$(cat "$WORK"/*-1.log "$WORK"/sms-2.log | awk '{print $1}' | sort -u | wc -l)
check "each order handled exactly once by the workers ($reported reports, $unique orders)" \
    [ "$reported" = 10000 -a "$unique" = 10000 ]
check "every sms worker got work" [ -s "$WORK/sms-1.log" -a -s "$WORK/sms-2.log" ]
check "visit orders went to the visit worker only" \
    [ "$(wc -l < "$WORK/am-1.log")" = "$(jq .by_channel.visit <<<"$summary")" ]
workers=$(ctl --json workers)
check "workers lists 4 with 10000 done" [ "$(jq '.workers | length' <<<"$workers")" = 4 -a \
    "$(jq '[.workers[].done] | add' <<<"$workers")" = 10000 ]
msisdn=$(sed -n 2p "$WORK/targets.csv" | cut -d, -f1)
orders=$(ctl --json status --msisdn "$msisdn")
check "status by number shows the order, its worker and history" \
    [ "$(jq -r '.[0].state' <<<"$orders")" = done -a "$(jq -r '.[0].worker' <<<"$orders")" != "" \
      -a "$(jq '.[0].history | length' <<<"$orders")" -ge 3 ]
check "human status is a table" bash -c "'$BIN/wobctl' --endpoint $ENDPOINT status --wave W-e2e | grep -q '^    done  *10000'"
report=$(ctl --json report --wave W-e2e)
check "report: every order contacted once" [ "$(jq .total.contacted <<<"$report")" = 10000 ]
check "report: accepted equals the outcomes counted" \
    [ "$(jq .total.accepted <<<"$report")" = "$(wave_json W-e2e | jq .by_outcome.accepted)" ]
check "report: per channel orders equal the submit summary" \
    [ "$(jq -S -c '[.by_channel[] | {(.channel): .orders}] | add' <<<"$report")" = "$(jq -S -c '.by_channel' <<<"$summary")" ]
check "report: conversion per contact is accepted / contacted" \
    jq -e '.by_channel[] | select(.channel == "call") | (.conversion_per_contact - (.accepted / .contacted) | fabs) < 0.0001' <<<"$report" >/dev/null
check "report --csv has a header and one row per channel plus total" \
    [ "$(ctl report --wave W-e2e --csv | wc -l)" = 5 ]

# Clean shutdown: workers leave, the broker stops on SIGTERM with exit 0
# (under the sanitizer build this is also where leaks would be reported).
for pid in "${PIDS[@]}"; do [ "$pid" = "$BROKER_PID" ] || kill -TERM "$pid" 2>/dev/null || true; done
kill -TERM "$BROKER_PID"
rc=0; wait "$BROKER_PID" || rc=$?
check "broker exits 0 on SIGTERM" [ "$rc" = 0 ]
check "broker logged its shutdown" grep -q "broker stopping" "$WORK/broker.log"
start_broker "$WORK/data"
check "restarted broker still has the finished wave" [ "$(state_count W-e2e done)" = 10000 ]
finish
