# Distribution inside a channel (SPEC §5): even by capacity, by number
# range, by address (longest region wins), orphans held then adopted by an
# owner or spilled after a delay, and worker churn during dispatch.
source "$(dirname "$0")/lib.sh"

cat > "$WORK/rules.yaml" <<EOR
version: 1
merge: { enabled: off }
distribution:
  sms:   { strategy: even }
  call:  { strategy: range }
  visit: { strategy: address, orphans: spill, spill_after: 3s }
EOR
start_broker "$WORK/data" "*" --heartbeat-ms 500 --rules "$WORK/rules.yaml"

worker_count () { ctl --json workers "$1" | jq '.workers | length'; }
# numbers_of LOG: the numbers a worker reported on, one per line
numbers_of () { awk '{print $4}' "$@"; }
# rows CSV AWK-CONDITION: data rows whose fields match (msisdn $1, province
# $4, city $5, district $6); quoted fields (names with commas) are blanked
# first so the columns stay put.
rows () { sed 's/"[^"]*"//g' "$1" | awk -F, "NR > 1 && ($2)"; }

# --- even: 7 workers of unequal capacity; shares follow capacity ----------
N=${WOB_DIST_ORDERS:-100000}
"$BIN/wobctl" gen --count "$N" --seed 11 --out "$WORK/even.csv"
caps=(6 10 16 20 24 30 44)
total_cap=0
even_pids=()
for i in "${!caps[@]}"; do
  total_cap=$((total_cap + caps[i]))
  start_worker --channel sms --name "even-$i" --capacity "${caps[i]}" --delay-ms 100 \
      --heartbeat-ms 500 --outcomes delivered=1 --log "$WORK/even-$i.log"
  even_pids+=("$LAST_WORKER")
done
wait_for 30 bash -c "[ \$('$BIN/wobctl' --endpoint $ENDPOINT --json workers sms | jq '.workers | length') = 7 ]"
make_wave "$WORK/even.yaml" W-even even.csv sms
ctl submit "$WORK/even.yaml" >/dev/null
check "even: all $N orders done" wait_for 400 wave_finished W-even
worst=0
for i in "${!caps[@]}"; do
  got=$(wc -l < "$WORK/even-$i.log")
  # |share / capacity share - 1| in per mille
  dev=$(awk -v g="$got" -v n="$N" -v c="${caps[i]}" -v t="$total_cap" \
        'BEGIN { d = (g / n) / (c / t) - 1; if (d < 0) d = -d; printf "%d", d * 1000 }')
  echo "# even-$i capacity ${caps[i]}/$total_cap: $got orders ($dev per mille off its share)"
  [ "$dev" -gt "$worst" ] && worst=$dev
done
check "even: every worker's share within 2% of its capacity share (worst ${worst}‰)" \
    [ "$worst" -le 20 ]
check "even: no order reported twice" \
    [ "$(cat "$WORK"/even-*.log | awk '{print $1}' | sort | uniq -d | wc -l)" = 0 ]
kill "${even_pids[@]}" 2>/dev/null
wait_for 30 bash -c "[ \$('$BIN/wobctl' --endpoint $ENDPOINT --json workers sms | jq '.workers | length') = 0 ]"

# --- number range: each order to its owner, nobody else -----------------
"$BIN/wobctl" gen --count 3000 --seed 12 --out "$WORK/range.csv"
start_worker --channel call --name r-13 --owns 130-139 --capacity 20 --outcomes accepted=1 \
    --heartbeat-ms 500 --log "$WORK/r-13.log"
start_worker --channel call --name r-15 --owns 15 --capacity 20 --outcomes accepted=1 \
    --heartbeat-ms 500 --log "$WORK/r-15.log"
start_worker --channel call --name r-18 --owns 1800000-1899999 --capacity 20 \
    --outcomes accepted=1 --heartbeat-ms 500 --log "$WORK/r-18.log"
wait_for 30 bash -c "[ \$('$BIN/wobctl' --endpoint $ENDPOINT --json workers call | jq '.workers | length') = 3 ]"
# An overlapping declaration is refused, naming both
status=0
"$BIN/wob-simworker" --endpoint "$ENDPOINT" --channel call --name r-186 --owns 186 \
    --capacity 1 >"$WORK/r-186.err" 2>&1 || status=$?
check "range: an overlapping owner is refused (exit 2)" [ "$status" = 2 ]
check "range: the refusal names both declarations and the owner" \
    grep -q "owns '186' overlaps '1800000-1899999' owned by r-18" "$WORK/r-186.err"
check "range: a malformed range is refused" bash -c \
    "'$BIN/wob-simworker' --endpoint $ENDPOINT --channel call --name r-bad --owns 139-13 \
       --capacity 1 2>&1 | grep -q \"owns '139-13': a number range has two ends of the same length\""

make_wave "$WORK/range.yaml" W-range range.csv call
ctl submit "$WORK/range.yaml" >/dev/null
covered=$(rows "$WORK/range.csv" '$1 ~ /^1[358]/' | wc -l)
uncovered=$((3000 - covered))
check "range: the $covered owned orders are done" wait_for 60 bash -c \
    "[ \$('$BIN/wobctl' --endpoint $ENDPOINT --json status --wave W-range | jq .by_state.done) = $covered ]"
check "range: the other $uncovered are held, by reason, in status --wave" \
    [ "$(wave_json W-range | jq '.by_rule["held/no_range_owner"]')" = "$uncovered" ]
check "range: and in workers --json" \
    [ "$(ctl --json workers | jq '[.held[] | select(.channel == "call" and .reason == "no_range_owner") | .orders] | add')" = "$uncovered" ]
check "range: r-13 got exactly the 13x numbers" \
    [ "$(numbers_of "$WORK/r-13.log" | sort)" = "$(rows "$WORK/range.csv" '$1 ~ /^13/' | cut -d, -f1 | sort)" ]
check "range: r-15 got exactly the 15x numbers" \
    [ "$(numbers_of "$WORK/r-15.log" | sort)" = "$(rows "$WORK/range.csv" '$1 ~ /^15/' | cut -d, -f1 | sort)" ]
check "range: r-18 got exactly the 18x numbers" \
    [ "$(numbers_of "$WORK/r-18.log" | sort)" = "$(rows "$WORK/range.csv" '$1 ~ /^18/' | cut -d, -f1 | sort)" ]
held_number=$(rows "$WORK/range.csv" '$1 !~ /^1[358]/' | sed -n 1p | cut -d, -f1)
check "range: a held order says why in its history" bash -c \
    "'$BIN/wobctl' --endpoint $ENDPOINT --json status --msisdn $held_number \
       | jq -e '.[0].state == \"held\" and (.[0].history | map(.reason) | any(test(\"no connected worker owns number $held_number\")))' >/dev/null"
# The owner of the rest connects and drains what was held
rest=()
for p in $(rows "$WORK/range.csv" '$1 !~ /^1[358]/' | cut -c1-2 | sort -u); do rest+=(--owns "$p"); done
start_worker --channel call --name r-rest "${rest[@]}" --capacity 20 --outcomes accepted=1 \
    --heartbeat-ms 500 --log "$WORK/r-rest.log"
check "range: the new owner drains the held orders" wait_for 60 wave_finished W-range
check "range: it got exactly the $uncovered held ones" \
    [ "$(numbers_of "$WORK/r-rest.log" | sort)" = "$(rows "$WORK/range.csv" '$1 !~ /^1[358]/' | cut -d, -f1 | sort)" ]
check "range: nothing held any more" \
    [ "$(wave_json W-range | jq '.by_rule["held/no_range_owner"]')" = 0 ]
check "range: held orders record who took them over" bash -c \
    "'$BIN/wobctl' --endpoint $ENDPOINT --json status --msisdn $held_number \
       | jq -e '.[0].worker == \"r-rest\" and (.[0].history | map(.reason) | any(test(\"owner of\")))' >/dev/null"

# --- churn: an owner leaves and comes back every 150 orders ---------------
"$BIN/wobctl" gen --count 4000 --seed 14 --out "$WORK/churn.csv"
make_wave "$WORK/churn.yaml" W-churn churn.csv call
# r-13, r-15, r-18 and r-rest stay; r-13 is replaced by a churning owner
kill "${PIDS[-4]}" 2>/dev/null
wait_for 30 bash -c "[ \$('$BIN/wobctl' --endpoint $ENDPOINT --json workers call | jq '.workers | length') = 3 ]"
ctl submit "$WORK/churn.yaml" >/dev/null
(
  for session in $(seq 1 200); do
    "$BIN/wob-simworker" --endpoint "$ENDPOINT" --channel call --name churn-13 --owns 130-139 \
        --capacity 10 --delay-ms 2 --outcomes accepted=1 --heartbeat-ms 200 --exit-after 150 \
        --idle-exit-ms 1500 --log "$WORK/churn-13.log" 2>>"$WORK/workers.log"
    "$BIN/wobctl" --endpoint "$ENDPOINT" --json status --wave W-churn \
        | jq -e '.by_state.queued + .by_state.held + .by_state.dispatched == 0' >/dev/null && break
  done
) &
PIDS+=("$!")
check "churn: the wave finishes" wait_for 120 wave_finished W-churn
check "churn: the churning owner came back many times" \
    [ "$(grep -c 'churn-13: hello' "$WORK/broker.log")" -ge 3 ]
n13=$(rows "$WORK/churn.csv" '$1 ~ /^13/' | wc -l)
check "churn: every 13x order done exactly once, by the churning owner ($n13)" \
    [ "$(numbers_of "$WORK/churn-13.log" | sort)" = "$(rows "$WORK/churn.csv" '$1 ~ /^13/' | cut -d, -f1 | sort)" ]
check "churn: all 4000 done" [ "$(state_count W-churn done)" = 4000 ]

# --- address: longest region wins; orphans spill after the delay ---------
"$BIN/wobctl" gen --count 2000 --seed 13 --out "$WORK/addr.csv"
read -r P C D <<<"$(rows "$WORK/addr.csv" 1 | awk -F, '{print $4, $5, $6}' | sort | uniq -c \
                    | sort -rn | sed -n 1p | awk '{print $2, $3, $4}')"
P2=$(rows "$WORK/addr.csv" "\$4 != \"$P\"" | cut -d, -f4 | sort | uniq -c \
     | sort -rn | sed -n 1p | awk '{print $2}')
echo "# address: $P/$C/$D to m-district, $P/$C to m-city, $P2 to m-province"
start_worker --channel visit --name m-city --owns "$P/$C" --capacity 20 --outcomes accepted=1 \
    --heartbeat-ms 500 --log "$WORK/m-city.log"
start_worker --channel visit --name m-district --owns "$P/$C/$D" --capacity 20 \
    --outcomes accepted=1 --heartbeat-ms 500 --log "$WORK/m-district.log"
start_worker --channel visit --name m-province --owns "$P2" --capacity 20 \
    --outcomes accepted=1 --heartbeat-ms 500 --log "$WORK/m-province.log"
wait_for 30 bash -c "[ \$('$BIN/wobctl' --endpoint $ENDPOINT --json workers visit | jq '.workers | length') = 3 ]"
make_wave "$WORK/addr.yaml" W-addr addr.csv visit
ctl submit "$WORK/addr.yaml" >/dev/null
orphans=$(rows "$WORK/addr.csv" "!(\$4 == \"$P\" && \$5 == \"$C\") && \$4 != \"$P2\"" | wc -l)
check "address: the $orphans orders of unowned regions are held at first" \
    [ "$(wave_json W-addr | jq '.by_rule["held/no_region_owner"]')" = "$orphans" ]
check "address: they spill after the delay and all finish" wait_for 60 wave_finished W-addr
in_district () { grep -F " $P/$C/$D/" "$1" | wc -l; }
check "address: the district's orders all went to m-district" \
    [ "$(in_district "$WORK/m-district.log")" = "$(rows "$WORK/addr.csv" "\$4 == \"$P\" && \$5 == \"$C\" && \$6 == \"$D\"" | wc -l)" ]
check "address: none of them to the city's owner" [ "$(in_district "$WORK/m-city.log")" = 0 ]
check "address: the rest of the city went to m-city" \
    [ "$(grep -F " $P/$C/" "$WORK/m-city.log" | wc -l)" = "$(rows "$WORK/addr.csv" "\$4 == \"$P\" && \$5 == \"$C\" && \$6 != \"$D\"" | wc -l)" ]
check "address: the whole of $P2 went to m-province" \
    [ "$(grep -F " $P2/" "$WORK/m-province.log" | wc -l)" = "$(rows "$WORK/addr.csv" "\$4 == \"$P2\"" | wc -l)" ]
check "address: every order done exactly once" \
    [ "$(cat "$WORK"/m-*.log | awk '{print $1}' | sort -u | wc -l)" = 2000 -a \
      "$(cat "$WORK"/m-*.log | wc -l)" = 2000 ]
spilled=$(rows "$WORK/addr.csv" "!(\$4 == \"$P\" && \$5 == \"$C\") && \$4 != \"$P2\"" | sed -n 1p | cut -d, -f1)
check "address: a spilled order's history says held, then spilled" bash -c \
    "'$BIN/wobctl' --endpoint $ENDPOINT --json status --msisdn $spilled \
       | jq -e '.[0].history | map(.reason) | (any(test(\"no connected worker owns region\")) and any(test(\"spilled\")))' >/dev/null"
finish
