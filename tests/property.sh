# Property test: 100 seeded random scenario runs (disjoint customers, one
# broker, rules reloaded while orders flow).  Whatever happens: no order is
# both cancelled and done, no customer is contacted more often than the
# frequency cap allows, every order ends in a final state, and nothing is
# lost (every target is an order).
source "$(dirname "$0")/lib.sh"

cat > "$WORK/rules.yaml" <<EOR
version: 1
filters:
  frequency_caps:
    - { name: cap-overall-7d, max: 2, window: 7d }
merge: { enabled: on, window: 72h, absorb: ["call > sms"] }
fallback: { triggers: [undelivered, unreachable], after: 1 }
collaboration: { success: [accepted] }
EOR
start_broker "$WORK/data" "*" --heartbeat-ms 200 --rules "$WORK/rules.yaml" --backoff-ms 20
start_worker --channel sms --name sms-1 --capacity 20 --heartbeat-ms 200 --seed 1 \
    --outcomes delivered=0.5,undelivered=0.3,accepted=0.2
start_worker --channel call --name agent-1 --capacity 5 --heartbeat-ms 200 --seed 2 \
    --outcomes accepted=0.3,declined=0.3,unreachable=0.3,failed=0.1
start_worker --channel visit --name am-1 --capacity 5 --heartbeat-ms 200 --seed 3 \
    --outcomes accepted=0.5,declined=0.5

channels=(sms call visit)
offers=(OFR-A OFR-B OFR-C)
targets=0
waves=()
for seed in $(seq 1 100); do
  RANDOM=$seed
  for w in 1 2 3; do
    id="P$seed-$w"
    channel=${channels[$((RANDOM % 3))]}
    fallback=""
    [ "$channel" = sms ] && [ $((RANDOM % 2)) = 0 ] && fallback="    fallback: call"
    echo "msisdn,offer,priority" > "$WORK/$id.csv"
    for c in 1 2 3 4 5; do
      [ $((RANDOM % 3)) = 0 ] && continue           # not every customer in every wave
      printf '135%04d%04d,%s,%d\n' "$seed" "$c" "${offers[$((RANDOM % 3))]}" $((RANDOM % 9 + 1)) \
          >> "$WORK/$id.csv"
      targets=$((targets + 1))
    done
    [ "$(wc -l < "$WORK/$id.csv")" -gt 1 ] || { targets=$targets; continue; }
    printf 'campaign: C-%s\nwave: %s\ntargets: %s.csv\nplan:\n  - channel: %s\n%s\n' \
        "$id" "$id" "$id" "$channel" "$fallback" > "$WORK/$id.yaml"
    ctl submit "$WORK/$id.yaml" >/dev/null || fail "submit $id"
    waves+=("$id")
  done
  # Reload the rules now and then, while orders are in flight.
  [ $((seed % 25)) = 0 ] && kill -HUP "$BROKER_PID"
done
all_finished () {
  for w in "${waves[@]}"; do wave_finished "$w" || return 1; done
}
check "all ${#waves[@]} waves finish" wait_for 180 all_finished

# Every order of every customer, with its history.
for seed in $(seq 1 100); do for c in 1 2 3 4 5; do
  ctl --json status --msisdn "$(printf '135%04d%04d' "$seed" "$c")"
done; done | jq -c '.[]' > "$WORK/orders.jsonl"
originals=$(jq -s 'map(select(.history[0].actor == "intake")) | length' "$WORK/orders.jsonl")
check "every target became an order ($originals of $targets)" [ "$originals" = "$targets" ]
check "no order is both cancelled and done" \
    jq -s -e 'all(.[]; [.history[].to] | ((index("done") != null) and (index("cancelled") != null)) | not)' \
    "$WORK/orders.jsonl" >/dev/null
check "every order ended in a final state" \
    jq -s -e 'all(.[]; .state | IN("done","failed","filtered","merged","transferred","cancelled","expired","control"))' \
    "$WORK/orders.jsonl" >/dev/null
# Contacts per customer: orders whose first lease happened (attempt 1).
over=$(jq -r 'select(any(.history[]; .to == "dispatched" and (.reason | test("attempt 1\\)")))) | .msisdn' \
         "$WORK/orders.jsonl" | sort | uniq -c | awk '$1 > 2' | wc -l)
check "no customer contacted more than the cap allows ($over over)" [ "$over" = 0 ]
capped=$(jq -s 'map(select(.history | any(.reason | test("cap-overall-7d")))) | length' "$WORK/orders.jsonl")
echo "# $originals orders, $capped stopped by the cap"
check "the cap was exercised" [ "$capped" -gt 0 ]
finish
