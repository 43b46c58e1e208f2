# Field visits (SPEC §6, docs/VISIT.md): wob-visit sync / sheet / report
# against a real broker whose visit channel is distributed by address.
# Two account managers own a district and a grid of one generated wave:
# each sync takes exactly the manager's orders; the sheet groups and sorts
# them and escapes its HTML; a broken outcome file is refused line by line
# with nothing sent; a good one is recorded, and recorded once only; an
# appointment comes back to the same manager at the booked time (test
# clock), kept for them while they are offline; a sync killed with -9
# loses nothing; and another visit worker gets none of their orders.
source "$(dirname "$0")/lib.sh"

cat > "$WORK/rules.yaml" <<EOR
version: 1
merge: { enabled: off }
distribution:
  visit: { strategy: address, orphans: hold }
EOR
start_broker "$WORK/data" "*" --heartbeat-ms 200 --test-clock --rules "$WORK/rules.yaml"

# visit COMMAND ARGS...: wob-visit against the broker; stderr is kept in
# $WORK/last.err (and collected in visit.err for the sanitizer check).
visit () {
  local cmd=$1 rc=0; shift
  "$BIN/wob-visit" "$cmd" --endpoint "$ENDPOINT" --timeout 5s --heartbeat-ms 200 "$@" 2>"$WORK/last.err" || rc=$?
  cat "$WORK/last.err" >> "$WORK/visit.err"
  return $rc
}
# rows CSV AWK-CONDITION: data rows; quoted fields (names with commas)
# are blanked first so the columns stay put.
rows () { sed 's/"[^"]*"//g' "$1" | awk -F, "NR > 1 && ($2)"; }
# col CSV N: column N of the data rows (after blanking quoted fields)
col () { rows "$1" 1 | cut -d, -f"$2"; }
order_json () { ctl --json status "$1"; }
order_field () { order_json "$1" | jq -r "$2"; }
held_line () { grep -E "^visit:$1: held" "$2"; }

# --- a wave of 1500 customers; m1 owns a district, m2 a grid elsewhere ----
"$BIN/wobctl" gen --count 1500 --seed 41 --out "$WORK/gen.csv"
# with a street address (an extra column) that the sheet sorts by
awk 'NR == 1 { print $0 ",address"; next } { printf "%s,%d号 科技路\n", $0, (NR * 7919) % 997 }' \
    "$WORK/gen.csv" > "$WORK/visit.csv"
read -r P C D <<<"$(rows "$WORK/visit.csv" 1 | awk -F, '{print $4, $5, $6}' | sort | uniq -c \
                    | sort -rn | sed -n 1p | awk '{print $2, $3, $4}')"
read -r P2 C2 D2 G2 <<<"$(rows "$WORK/visit.csv" "!(\$4 == \"$P\" && \$5 == \"$C\" && \$6 == \"$D\")" \
                    | awk -F, '{print $4, $5, $6, $7}' | sort | uniq -c | sort -rn | sed -n 1p \
                    | awk '{print $2, $3, $4, $5}')"
# A customer whose name needs escaping, in m1's district
echo "13900000001,CX-ESC,\"<b>Tom & \"\"Jerry\"\", Jr.</b>\",$P,$C,$D,G999,88.50,12,price_sensitive,growth,visit,OFR-A|OFR-B,1,1号 <科技路>" \
    >> "$WORK/visit.csv"
echo "# m1 owns $P/$C/$D, m2 owns $P2/$C2/$D2/$G2"
in_m1 () { rows "$WORK/visit.csv" "\$4 == \"$P\" && \$5 == \"$C\" && \$6 == \"$D\""; }
in_m2 () { rows "$WORK/visit.csv" "\$4 == \"$P2\" && \$5 == \"$C2\" && \$6 == \"$D2\" && \$7 == \"$G2\""; }
n1=$(in_m1 | wc -l)
n2=$(in_m2 | wc -l)
cat > "$WORK/visit.yaml" <<EOW
campaign: C-visit
wave: W-visit
kind: retention
targets: visit.csv
script: "您好 {name}: <retention> & \"family\" offers"
plan:
  - channel: visit
EOW
summary=$(ctl --json submit "$WORK/visit.yaml")
check "the wave is accepted (1501 orders)" [ "$(jq .accepted <<<"$summary")" = 1501 ]
check "with no manager connected, every order is held" \
    wait_for 10 bash -c "[ \$('$BIN/wobctl' --endpoint $ENDPOINT --json status --wave W-visit | jq .by_state.held) = 1501 ]"

# --- sync: exactly the manager's orders ---------------------------------------
visit sync --manager m1 --owns "$P/$C/$D" --state "$WORK/m1" --capacity 500 > "$WORK/sync1.out"
cat "$WORK/sync1.out"
check "m1's sync holds the $n1 orders of its district, all new" \
    grep -qx "visit:m1: held $n1 (new $n1, kept 0), revoked 0, appointments 0" "$WORK/sync1.out"
check "one file per held order in the state directory" \
    [ "$(ls "$WORK/m1/orders" | grep -c '\.lease$')" = "$n1" ]
visit sync --manager m2 --owns "$P2/$C2/$D2/$G2" --state "$WORK/m2" --capacity 500 \
    --crash-after 5 > "$WORK/crash.out" && rc=0 || rc=$?
check "a sync killed with -9 while storing dies (status $rc)" [ "$rc" = 137 ]
check "it had stored 5 orders" [ "$(ls "$WORK/m2/orders" | grep -c '\.lease$')" = 5 ]
# again, killed by another process after it has stored everything but
# before it detaches
"$BIN/wob-visit" sync --endpoint "$ENDPOINT" --heartbeat-ms 200 --manager m2 --state "$WORK/m2" --quiet 30s \
    > "$WORK/kill.out" 2>>"$WORK/visit.err" &
kill_pid=$!
wait_for 20 bash -c "[ \$(ls '$WORK/m2/orders' | grep -c '\.lease\$') = $n2 ]"
kill -9 "$kill_pid"
wait "$kill_pid" 2>/dev/null || true
check "the killed sync never reported" [ ! -s "$WORK/kill.out" ]
visit sync --manager m2 --state "$WORK/m2" > "$WORK/sync2.out"
cat "$WORK/sync2.out"
check "after two kills, m2's next sync holds its $n2 orders, claimed, none lost" \
    grep -qx "visit:m2: held $n2 (new 0, kept $n2), revoked 0, appointments 0" "$WORK/sync2.out"

visit sheet --state "$WORK/m1" --format csv --out "$WORK/m1.csv"
visit sheet --state "$WORK/m2" --format csv > "$WORK/m2.csv"
check "m1's sheet lists exactly the district's customers" \
    [ "$(col "$WORK/m1.csv" 9 | sort)" = "$(in_m1 | cut -d, -f1 | sort)" ]
check "m2's sheet lists exactly the grid's customers" \
    [ "$(col "$WORK/m2.csv" 9 | sort)" = "$(in_m2 | cut -d, -f1 | sort)" ]
check "each order once" [ "$(col "$WORK/m2.csv" 1 | sort | uniq -d | wc -l)" = 0 ]
check "the broker leases m2's orders to visit:m2 at the attempt its state holds" bash -c "
  for line in \$(sed 's/\"[^\"]*\"//g' '$WORK/m2.csv' | awk -F, 'NR > 1 {print \$1 \":\" \$2}'); do
    '$BIN/wobctl' --endpoint $ENDPOINT --json status \${line%%:*} \
      | jq -e --argjson a \${line##*:} '.state == \"dispatched\" and .worker == \"visit:m2\" and .attempts == \$a' >/dev/null || exit 1
  done"
check "the broker has $n1 + $n2 orders leased, the rest held" \
    [ "$(wave_json W-visit | jq -c '[.by_state.dispatched, .by_state.held]')" = "[$((n1 + n2)),$((1501 - n1 - n2))]" ]

# --- the sheet ----------------------------------------------------------------
check "the CSV sheet has the customer view and the outcome columns" \
    [ "$(head -1 "$WORK/m1.csv")" = "order_id,attempt,province,city,district,grid,address,name,msisdn,customer_id,arpu,tier,tenure_months,segment,lifecycle,preferred_channel,offers,campaign,wave,booked_at,lease_until,outcome,note,appointment" ]
check "grouped by district and grid, sorted by address" \
    [ "$(rows "$WORK/m1.csv" 1 | cut -d, -f1,3-7)" = "$(rows "$WORK/m1.csv" 1 | cut -d, -f1,3-7 | LC_ALL=C sort -t, -k2,2 -k3,3 -k4,4 -k5,5 -k6,6 -k1,1n)" ]
check "the outcome columns are empty, for the manager to fill in" \
    [ "$(grep -c ',,,$' "$WORK/m1.csv")" = "$n1" ]
check "a name with commas and quotes is quoted properly" \
    grep -qF ',G999,1号 <科技路>,"<b>Tom & ""Jerry"", Jr.</b>",13900000001,CX-ESC,88.50,silver,12,' "$WORK/m1.csv"
check "offers in priority order" grep -qF ',OFR-A|OFR-B,C-visit,W-visit,' "$WORK/m1.csv"
visit sheet --state "$WORK/m1" --format html --out "$WORK/m1.html"
check "the HTML sheet is UTF-8 with the district" \
    bash -c "grep -q '<meta charset=\"utf-8\">' '$WORK/m1.html' && grep -qF '$P / $C / $D' '$WORK/m1.html'"
check "it lists every order of m1" bash -c \
    "for n in \$(sed 's/\"[^\"]*\"//g' '$WORK/m1.csv' | awk -F, 'NR > 1 {print \$9}'); do grep -qF \"tel:\$n\" '$WORK/m1.html' || exit 1; done"
check "one table per grid" \
    [ "$(grep -c '<h3>Grid ' "$WORK/m1.html")" = "$(col "$WORK/m1.csv" 6 | sort -u | wc -l)" ]
check "names and scripts are escaped" bash -c \
    "grep -qF '&lt;b&gt;Tom &amp; &quot;Jerry&quot;, Jr.&lt;/b&gt;' '$WORK/m1.html' &&
     grep -qF '1号 &lt;科技路&gt;' '$WORK/m1.html' &&
     grep -qF '&lt;retention&gt; &amp; &quot;family&quot;' '$WORK/m1.html' &&
     ! grep -qF '<b>Tom' '$WORK/m1.html' && ! grep -qF '<retention>' '$WORK/m1.html'"

# --- a broken outcome file: every error named, nothing sent -------------------
mapfile -t ids < <(col "$WORK/m1.csv" 1)
m2_id=$(col "$WORK/m2.csv" 1 | sed -n 1p)
cat > "$WORK/bad.csv" <<EOF
order_id,outcome,note,appointment
${ids[0]},acceptd,,
999999,accepted,,
${ids[1]},declined,,
${ids[1]},accepted,,
${ids[2]},callback,,2001-01-01T10:00
${ids[3]},callback,,tomorrow
${ids[4]},callback,,
$m2_id,accepted,,
${ids[5]},accepted,,$(( $(date +%s) + 3600 ))
EOF
before=$(wave_json W-visit | jq -c '[.by_state, .by_outcome]')
visit report "$WORK/bad.csv" --state "$WORK/m1" && rc=0 || rc=$?
cp "$WORK/last.err" "$WORK/bad.err"
cat "$WORK/bad.err"
check "a broken file is refused (exit 1)" [ "$rc" = 1 ]
check "line 2: the misspelt outcome" \
    grep -qF "bad.csv:2: field 'outcome': 'acceptd' is not one of accepted, interested, declined, unreachable, wrong_number, callback, failed" "$WORK/bad.err"
check "line 3: an order m1 does not hold" grep -qF "bad.csv:3: field 'order_id': order 999999 is not held by manager m1" "$WORK/bad.err"
check "line 5: the duplicate" grep -qF "bad.csv:5: field 'order_id': order ${ids[1]} is already on line 4" "$WORK/bad.err"
check "line 6: an appointment in the past" grep -qE "bad.csv:6: field 'appointment': 2001-01-01 10:00:00 is in the past" "$WORK/bad.err"
check "line 7: an appointment that is no time" grep -qF "bad.csv:7: field 'appointment': 'tomorrow' is not a time" "$WORK/bad.err"
check "line 8: a callback without appointment" grep -qF "bad.csv:8: field 'appointment': required with outcome callback" "$WORK/bad.err"
check "line 9: m2's order" grep -qF "bad.csv:9: field 'order_id': order $m2_id is not held by manager m1" "$WORK/bad.err"
check "line 10: an appointment without callback" grep -qF "bad.csv:10: field 'appointment': only with outcome callback" "$WORK/bad.err"
check "and says nothing was reported" grep -qF "bad.csv: 8 errors; nothing was reported" "$WORK/bad.err"
check "the broker saw nothing: states and outcomes unchanged" \
    [ "$(wave_json W-visit | jq -c '[.by_state, .by_outcome]')" = "$before" ]
check "the good rows' orders are still leased to m1" \
    [ "$(order_field "${ids[1]}" '.state + " " + .worker')" = "dispatched visit:m1" ]

# --- the day's outcomes, written on the sheet itself ---------------------------
A=${ids[0]} B=${ids[1]} CB=${ids[2]} DD=${ids[3]}
appt=$(( $(date +%s) + 3600 ))
sed -e "2s/,,,\$/,accepted,\"signed, 5G \"\"family\"\" plan\",/" \
    -e "3s/,,,\$/,interested,想了解宽带,/" \
    -e "4s/,,,\$/,callback,at home after 18:00,$appt/" \
    -e "5s/,,,\$/,declined,,/" "$WORK/m1.csv" > "$WORK/day1.csv"
visit report "$WORK/day1.csv" --state "$WORK/m1" > "$WORK/day1.out" && rc=0 || rc=$?
cat "$WORK/day1.out" "$WORK/last.err"
check "the filled-in sheet is reported (exit 0)" [ "$rc" = 0 ]
check "four outcomes recorded" grep -q "^visit:m1: reported 4 outcomes (accepted 1, interested 1, declined 1, callback 1);" "$WORK/day1.out"
check "accepted, with its note, is done" \
    [ "$(order_json "$A" | jq -c '[.state, .outcome, .note]')" = '["done","accepted","signed, 5G \"family\" plan"]' ]
check "interested, with a Chinese note" \
    [ "$(order_json "$B" | jq -c '[.state, .outcome, .note]')" = '["done","interested","想了解宽带"]' ]
check "declined" [ "$(order_field "$DD" '.state + " " + .outcome')" = "done declined" ]
check "the appointment waits (deferred, callback)" \
    [ "$(order_field "$CB" '.state + " " + .outcome')" = "deferred callback" ]
check "reported orders leave the state" [ "$(ls "$WORK/m1/orders" | grep -c '\.lease$')" = $((n1 - 4)) ]
hist=$(order_json "$A" | jq '.history | length')
visit report "$WORK/day1.csv" --state "$WORK/m1" > "$WORK/again.out" && rc=0 || rc=$?
cat "$WORK/again.out"
check "the same file again: exit 0" [ "$rc" = 0 ]
check "each line already reported is skipped, saying so" \
    [ "$(grep -c 'already reported (.*), skipped' "$WORK/again.out")" = 4 ]
check "nothing reaches the broker twice" [ "$(order_json "$A" | jq '.history | length')" = "$hist" ]

# --- offline: the appointment is kept for m1, nobody else gets m1's orders -----
# m1 detached after the report; once the broker has noticed it is gone...
m1_gone () { [ "$(ctl --json workers visit | jq '[.workers[] | select(.id == "visit:m1")] | length')" = 0 ]; }
wait_for 30 m1_gone
ctl clock advance 2h >/dev/null
check "at the booked time the order is held for m1, who is offline" \
    wait_for 10 bash -c "'$BIN/wobctl' --endpoint $ENDPOINT --json status $CB | jq -e '.state == \"held\" and (.history | map(.reason) | any(test(\"held for visit:m1\")))' >/dev/null"
# an hour later still (well past any spill_after): orphans: hold, so it waits
ctl clock advance 1h >/dev/null
start_worker --channel visit --name intruder --capacity 50 --heartbeat-ms 200 \
    --outcomes accepted=1 --log "$WORK/intruder.log"
intruder=$LAST_WORKER
"$BIN/wobctl" gen --count 30 --seed 42 --out "$WORK/even.csv"
cat > "$WORK/even.yaml" <<EOW
campaign: C-visit
wave: W-even
targets: even.csv
rules: { distribution: { visit: even } }
plan:
  - channel: visit
EOW
ctl submit "$WORK/even.yaml" >/dev/null
check "a visit worker that owns nothing takes a wave shared evenly" wait_for 30 wave_finished W-even
kill "$intruder"
wait "$intruder" 2>/dev/null || true
check "it got those 30 orders and nothing else" [ "$(wc -l < "$WORK/intruder.log")" = 30 ]
check "none of W-visit: m1 and m2 keep their leases, the appointment stays held" \
    [ "$(wave_json W-visit | jq -c '[.by_state.dispatched, .by_state.held, .by_state.done]')" = "[$((n1 + n2 - 4)),$((1501 - n1 - n2 + 1)),3]" ]
check "m1's orders are still leased to m1" bash -c "
  for id in \$(sed 's/\"[^\"]*\"//g' '$WORK/m1.csv' | awk -F, 'NR > 5 {print \$1}'); do
    '$BIN/wobctl' --endpoint $ENDPOINT --json status \$id | jq -e '.state == \"dispatched\" and .worker == \"visit:m1\"' >/dev/null || exit 1
  done"

# --- the next sync takes the appointment back -------------------------------------
visit sync --manager m1 --state "$WORK/m1" > "$WORK/sync3.out"
cat "$WORK/sync3.out"
check "m1's next sync: the appointment is back, the rest kept" \
    grep -qx "visit:m1: held $((n1 - 3)) (new 1, kept $((n1 - 4))), revoked 0, appointments 1" "$WORK/sync3.out"
check "leased to m1 again, second attempt" \
    [ "$(order_field "$CB" '.state + " " + .worker + " " + (.attempts | tostring)')" = "dispatched visit:m1 2" ]
visit sheet --state "$WORK/m1" --format csv > "$WORK/m1-day2.csv"
check "the sheet shows when it was booked for" \
    [ "$(rows "$WORK/m1-day2.csv" "\$1 == $CB" | cut -d, -f2,20)" = "2,$(date -d "@$appt" '+%Y-%m-%d %H:%M:%S')" ]
visit report "$WORK/day1.csv" --state "$WORK/m1" > "$WORK/again2.out" && rc=0 || rc=$?
check "yesterday's file again: skipped, also the appointment's row (attempt 1)" \
    bash -c "[ $rc = 0 ] && [ \$(grep -c 'already reported (' '$WORK/again2.out') = 4 ] && grep -q ': 0 outcomes to report, 4 already reported' '$WORK/again2.out'"
printf 'order_id,outcome,note,appointment\n%s,accepted,came back as booked,\n' "$CB" > "$WORK/day2.csv"
visit report "$WORK/day2.csv" --state "$WORK/m1" > "$WORK/day2.out"
check "the visit at the booked time is reported" \
    [ "$(order_json "$CB" | jq -c '[.state, .outcome, .attempts, .note]')" = '["done","accepted",2,"came back as booked"]' ]

# --- a report that dies after sending, run again -------------------------------------
mapfile -t ids2 < <(col "$WORK/m2.csv" 1)
printf 'order_id,outcome,note\n%s,accepted,\n%s,declined,"no, thanks"\n%s,wrong_number,\n' \
    "${ids2[0]}" "${ids2[1]}" "${ids2[2]}" > "$WORK/m2-day1.csv"
visit report "$WORK/m2-day1.csv" --state "$WORK/m2" --crash-after 1 >/dev/null && rc=0 || rc=$?
check "a report killed after the broker acknowledged it dies (status $rc)" [ "$rc" = 137 ]
check "its orders are recorded by the broker" \
    [ "$(order_field "${ids2[1]}" '.state + " " + .outcome + " " + .note')" = "done declined no, thanks" ]
check "but still in the state" [ "$(ls "$WORK/m2/orders" | grep -c '\.lease$')" = "$n2" ]
hist=$(order_json "${ids2[1]}" | jq '.history | length')
visit report "$WORK/m2-day1.csv" --state "$WORK/m2" > "$WORK/m2-again.out" && rc=0 || rc=$?
cat "$WORK/m2-again.out"
check "running it again succeeds (exit 0)" [ "$rc" = 0 ]
check "recognising the three reports that reached the broker" \
    [ "$(grep -c 'already reported (' "$WORK/m2-again.out")" = 3 ]
check "and sending nothing twice" [ "$(order_json "${ids2[1]}" | jq '.history | length')" = "$hist" ]
check "they leave the state" [ "$(ls "$WORK/m2/orders" | grep -c '\.lease$')" = $((n2 - 3)) ]

# --- the broker takes orders back while the manager is away ---------------------------
ctl cancel W-visit --recall >/dev/null
wait_for 10 bash -c "[ \$('$BIN/wobctl' --endpoint $ENDPOINT --json status ${ids2[3]} | jq -r .state) = cancelled ]"
visit sync --manager m2 --state "$WORK/m2" > "$WORK/sync4.out"
check "a recalled wave: the next sync drops the orders, saying why" \
    bash -c "grep -qx 'visit:m2: held 0 (new 0, kept 0), revoked $((n2 - 3)), appointments 0' '$WORK/sync4.out' &&
             [ \$(grep -c '^order [0-9]* revoked: taken back by the broker, now cancelled' '$WORK/sync4.out') = $((n2 - 3)) ]"
check "the state holds nothing any more" [ "$(ls "$WORK/m2/orders" | grep -c '\.lease$')" = 0 ]
rc=0; flock "$WORK/m1/lock" "$BIN/wob-visit" sheet --state "$WORK/m1" >/dev/null 2>"$WORK/lock.err" || rc=$?
check "one wob-visit at a time per state directory" \
    bash -c "[ $rc = 1 ] && grep -q 'is in use by another wob-visit' '$WORK/lock.err'"

# --- errors ------------------------------------------------------------------------
rc=0; "$BIN/wob-visit" sync --endpoint tcp://127.0.0.1:1 --timeout 500ms --manager m1 \
    --state "$WORK/m1" >/dev/null 2>"$WORK/unreach.err" || rc=$?
check "an unreachable broker: exit 2" [ "$rc" = 2 ]
check "saying so" grep -q "did not answer within 500 ms" "$WORK/unreach.err"
rc=0; "$BIN/wob-visit" sheet --state "$WORK/nowhere" >/dev/null 2>&1 || rc=$?
check "no state directory: exit 1" [ "$rc" = 1 ]
rc=0; "$BIN/wob-visit" sync --manager m3 --state "$WORK/m1" --owns x >/dev/null 2>"$WORK/other.err" || rc=$?
check "a state directory of another manager is refused" \
    bash -c "[ $rc = 1 ] && grep -q 'belongs to manager m1, not m3' '$WORK/other.err'"

if grep -q "Sanitizer\|runtime error:" "$WORK"/*.err "$WORK/broker.log"; then
  fail "sanitizer report"; grep -A20 "Sanitizer\|runtime error" "$WORK"/*.err "$WORK/broker.log" >&2
else
  ok "no sanitizer report from wob-visit or the broker"
fi
finish
