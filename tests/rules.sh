# Coordination rules end to end: do-not-disturb list (at intake and added
# between two waves), invalid numbers, duplicates, open orders for the same
# offer, frequency caps across campaigns and channels, quiet hours with the
# test clock, the control group, and rule reloads (valid and invalid).
source "$(dirname "$0")/lib.sh"

# Quiet hours that cover "now" (UTC) for the next two hours, whatever the
# wall clock says, so the test clock can carry orders out of them.
m=$(( ($(date -u +%s) / 60) % 1440 ))
hm () { printf '%02d:%02d' $(( ($1 + 1440) % 1440 / 60 )) $(( ($1 + 1440) % 60 )); }
cat > "$WORK/rules.yaml" <<EOR
version: 1
filters:
  suppression: on
  duplicate: on
  open_offer: on
  number: { check: on, length: 11, prefixes: [13, 15, 17, 18, 19] }
  frequency_caps:
    - { name: cap-overall-7d, max: 2, window: 7d }
quiet_hours:
  visit: { quiet: "$(hm $((m - 1)))-$(hm $((m + 120)))", utc_offset: "+00:00" }
EOR
start_broker "$WORK/data" "*" --heartbeat-ms 200 --rules "$WORK/rules.yaml" --test-clock

csv () {  # csv FILE ROWS...: a target file from "msisdn offer" pairs
  local file=$1; shift
  echo "msisdn,name,offer" > "$file"
  for row in "$@"; do set -- $row; echo "$1,客户$1,$2" >> "$file"; done
}
wave () {  # wave ID CHANNEL CSV [extra yaml]: a one-channel wave descriptor
  printf 'campaign: C-%s\nwave: %s\ntargets: %s\nplan:\n  - channel: %s\n%s\n' \
      "$1" "$1" "$3" "$2" "${4:-}" > "$WORK/$1.yaml"
}

echo "# filters at intake"
ctl suppress add 13900000001 --reason complaint >/dev/null
ctl suppress add 13900000002 --reason dnd --channel sms >/dev/null
check "suppression list holds 2" [ "$(ctl --json suppress list | jq .total)" = 2 ]
csv "$WORK/a.csv" "13900000001 OFR-A" "13900000002 OFR-A" "13900000003 OFR-A" \
    "13900000003 OFR-A" "12900000004 OFR-A" "139000000055 OFR-A" "13900000006 OFR-A"
wave W-A sms a.csv
s=$(ctl --json submit "$WORK/W-A.yaml")
check "suppressed numbers filtered" [ "$(jq .filtered_by_rule.suppression <<<"$s")" = 2 ]
check "duplicate in the wave filtered" [ "$(jq .filtered_by_rule.duplicate <<<"$s")" = 1 ]
check "invalid numbers filtered" [ "$(jq .filtered_by_rule.invalid_number <<<"$s")" = 2 ]
check "the rest queued" [ "$(jq .queued <<<"$s")" = 2 ]
h=$(ctl --json status --msisdn 13900000001)
check "history names the rule and the list's reason" \
    jq -e '.[0].state == "filtered" and (.[0].history[0].reason | test("rule suppression: .*complaint"))' <<<"$h"
ctl suppress add 13900000006 --reason dnd >/dev/null      # between intake and dispatch
start_worker --channel sms --name sms-1 --capacity 10 --heartbeat-ms 200 --outcomes delivered=1 \
    --log "$WORK/sms.log"
check "wave A finishes" wait_for 20 wave_finished W-A
check "number suppressed after intake is never contacted" \
    bash -c "! grep -q \"^\$('$BIN/wobctl' --endpoint $ENDPOINT --json status --msisdn 13900000006 | jq '.[0].id') \" '$WORK/sms.log'"
check "it was filtered at dispatch" \
    [ "$(ctl --json status --msisdn 13900000006 | jq -r '.[0].state')" = filtered ]

echo "# rows become orders in dispatch order (priority, then row), each number's rows in row order"
printf 'msisdn,name,offer,priority\n%s\n%s\n%s\n' "13900000011,甲,OFR-A,1" "13900000012,乙,OFR-B,9" \
    "13900000011,甲,OFR-C,9" > "$WORK/p.csv"
wave W-P call p.csv
s=$(ctl --json submit "$WORK/W-P.yaml")
check "one duplicate filtered" [ "$(jq .filtered_by_rule.duplicate <<<"$s")" = 1 ]
first=$(ctl --json status --msisdn 13900000011 | jq -c 'map(select(.wave == "W-P")) | sort_by(.id)')
other=$(ctl --json status --msisdn 13900000012 | jq '.[0].id')
check "the number's first row is its order, though a later row has a higher priority" \
    jq -e 'map(select(.state != "filtered")) | length == 1 and .[0].offers == ["OFR-A"]' <<<"$first"
check "the later row is the duplicate" \
    jq -e 'map(select(.state == "filtered")) | .[0].offers == ["OFR-C"]' <<<"$first"
check "the priority 9 target got the wave's first id" \
    jq -e --argjson o "$other" 'all(.[]; .id > $o)' <<<"$first"

echo "# dispatch: the highest priority of all open waves first, each order once"
{ echo "msisdn,name,offer,priority"; for i in $(seq 10 29); do echo "139100000$i,丙,OFR-L,1"; done; } > "$WORK/low.csv"
{ echo "msisdn,name,offer,priority"; for i in $(seq 30 34); do echo "139100000$i,丁,OFR-H,9"; done; } > "$WORK/high.csv"
wave W-LOW call low.csv
wave W-HIGH call high.csv
ctl submit "$WORK/W-LOW.yaml" >/dev/null
ctl submit "$WORK/W-HIGH.yaml" >/dev/null
start_worker --channel call --name agent-p --capacity 1 --heartbeat-ms 200 --outcomes accepted=1 \
    --log "$WORK/prio.log"
both_finished () { wave_finished W-LOW && wave_finished W-HIGH; }
check "both waves finish" wait_for 20 both_finished
kill "$LAST_WORKER" 2>/dev/null || true; wait "$LAST_WORKER" 2>/dev/null || true
grep ' 139100000' "$WORK/prio.log" > "$WORK/prio-mine.log" || true   # not earlier sections' orders
check "the later wave's five priority 9 orders went first" \
    [ "$(head -5 "$WORK/prio-mine.log" | awk '{print $4}' | grep -c '^1391000003')" = 5 ]
check_eq "25 leases" 25 "$(wc -l < "$WORK/prio-mine.log")"
check_eq "each order once" 25 "$(awk '{print $1}' "$WORK/prio-mine.log" | sort -u | wc -l)"

echo "# do-not-disturb import: all or nothing"
printf 'msisdn,reason,channel,expires,note\n13911110001,dnd,,,\n13911110002,complaint,sms,2099-01-01,call centre ticket\n13911110003,nonsense,,,\n' > "$WORK/dnd-bad.csv"
rc=0; ctl suppress import "$WORK/dnd-bad.csv" >/dev/null 2>"$WORK/dnd.err" || rc=$?
check "an import with a bad line is refused naming the line and field" \
    bash -c "[ $rc = 1 ] && grep -q 'dnd-bad.csv:4: field .reason.' '$WORK/dnd.err'"
check "nothing of it was imported" [ "$(ctl --json suppress list | jq .total)" = 3 ]
head -3 "$WORK/dnd-bad.csv" > "$WORK/dnd.csv"
check "a good import is taken whole" bash -c "'$BIN/wobctl' --endpoint $ENDPOINT --json suppress import '$WORK/dnd.csv' | jq -e '.added == 2' >/dev/null"
check "a channel entry bars only that channel" \
    [ "$(ctl --json suppress list 13911110002 | jq -r '.entries[0].channel')" = sms ]
ctl suppress remove 13911110001 >/dev/null
check "remove takes it off the list" [ "$(ctl --json suppress list 13911110001 | jq '.entries | length')" = 0 ]

echo "# open order for the same offer, frequency cap across campaigns and channels"
csv "$WORK/b.csv" "13800000010 OFR-B"
wave W-B1 call b.csv
ctl submit "$WORK/W-B1.yaml" >/dev/null           # open: no call worker yet
wave W-B2 sms b.csv
s=$(ctl --json submit "$WORK/W-B2.yaml")
check "same offer while an order is open: filtered" [ "$(jq .filtered_by_rule.open_offer <<<"$s")" = 1 ]
csv "$WORK/c1.csv" "13800000020 OFR-C1"; csv "$WORK/c2.csv" "13800000020 OFR-C2"
csv "$WORK/c3.csv" "13800000020 OFR-C3"
wave W-C1 sms c1.csv; wave W-C2 sms c2.csv; wave W-C3 call c3.csv
for w in W-C1 W-C2; do ctl submit "$WORK/$w.yaml" >/dev/null; done
wait_for 20 wave_finished W-C2
s=$(ctl --json submit "$WORK/W-C3.yaml")
check "third contact in 7 days filtered by the cap" [ "$(jq '.filtered_by_rule["cap-overall-7d"]' <<<"$s")" = 1 ]
check "cap named in the history" \
    jq -e 'map(select(.wave == "W-C3"))[0].history[0].reason | test("cap-overall-7d")' \
    <<<"$(ctl --json status --msisdn 13800000020)"

echo "# quiet hours and the test clock"
csv "$WORK/q.csv" "13700000030 OFR-Q" "13700000031 OFR-Q"
wave W-Q visit q.csv
s=$(ctl --json submit "$WORK/W-Q.yaml")
check "orders in quiet hours are deferred, not dropped" [ "$(jq '.deferred_by_rule.quiet_hours' <<<"$s")" = 2 ]
start_worker --channel visit --name am-1 --capacity 5 --heartbeat-ms 200 --outcomes accepted=1
check "nothing is dispatched during quiet hours" [ "$(state_count W-Q deferred)" = 2 ]
ctl clock advance 3h >/dev/null
check "released when the quiet hours end" wait_for 20 wave_finished W-Q
check "both done" [ "$(state_count W-Q done)" = 2 ]

echo "# control group"
"$BIN/wobctl" gen --count 1000 --seed 12 --out "$WORK/g.csv"
wave W-G sms g.csv "rules: { control: 10%, control_seed: 7, frequency_caps: off }"
s=$(ctl --json submit "$WORK/W-G.yaml")
control=$(jq .control <<<"$s")
check "about 10% held out ($control of 1000)" [ "$control" -ge 60 -a "$control" -le 140 ]
check "wave with a control group finishes" wait_for 30 wave_finished W-G
check "control orders are never contacted" [ "$(state_count W-G control)" = "$control" ]

echo "# reloads"
cp "$WORK/rules.yaml" "$WORK/rules.good"
printf 'version: 1\nfilters:\n  frequncy_caps: []\n' > "$WORK/rules.yaml"
rc=0; ctl rules reload >/dev/null 2>"$WORK/reload.err" || rc=$?
check "an invalid rule file is refused with file, line and key" \
    bash -c "[ $rc = 1 ] && grep -q \"rules.yaml:3.*frequncy_caps\" '$WORK/reload.err'"
check "the old rules stay in force" bash -c "'$BIN/wobctl' --endpoint $ENDPOINT rules show | grep -q cap-overall-7d"
sed 's/max: 2/max: 1/; s/cap-overall-7d/cap-overall-7d-tight/' "$WORK/rules.good" > "$WORK/rules.yaml"
kill -HUP "$BROKER_PID"
check "SIGHUP loads the new file" wait_for 10 bash -c "'$BIN/wobctl' --endpoint $ENDPOINT rules show | grep -q cap-overall-7d-tight"
check "orders decided before the reload stay as they were" \
    [ "$(state_count W-C2 done)" = 1 ]
finish
