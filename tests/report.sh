# Reports by dimension (issue 6): by channel, region (rolled up province ->
# city -> district -> grid, and under a region), worker, segment and day,
# per wave and per campaign, as table, JSON and CSV; imported outcomes and
# the uplift of contacted customers over the control group.  Every number
# is checked against a recount made here from what the workers logged and
# the target file, not against the broker's own arithmetic; then a kill -9
# and a restart must change nothing, and wob-broker --verify must agree.
source "$(dirname "$0")/lib.sh"
export TZ=UTC

start_broker "$WORK/data" "*" --heartbeat-ms 200 --test-clock \
    --http 127.0.0.1:0 --http-port-file "$WORK/http-port"
HTTP="http://127.0.0.1:$(cat "$WORK/http-port")"
"$BIN/wobctl" gen --count 3000 --seed 41 --out "$WORK/t1.csv"
"$BIN/wobctl" gen --count 1000 --seed 42 --out "$WORK/t2.csv"
wave () {  # wave ID CSV: call for arpu >= 100, else SMS falling back to call
  cat > "$WORK/$1.yaml" <<EOW
campaign: C-EVAL
wave: $1
kind: retention
targets: $2
rules: { control: 10%, control_seed: 5, frequency_caps: off }
plan:
  - channel: call
    where: { arpu: { min: 100 } }
  - channel: sms
    fallback: call
EOW
}
wave W1 t1.csv
wave W2 t2.csv
ctl submit "$WORK/W1.yaml" >/dev/null
start_worker --channel sms --name s1 --capacity 100 --heartbeat-ms 200 \
    --outcomes delivered=0.8,undelivered=0.2 --seed 3 --log "$WORK/s1.log"
start_worker --channel call --name a1 --capacity 20 --heartbeat-ms 200 \
    --outcomes accepted=0.3,interested=0.2,declined=0.5 --seed 4 --log "$WORK/a1.log"
start_worker --channel call --name a2 --capacity 20 --heartbeat-ms 200 \
    --outcomes accepted=0.5,interested=0.1,declined=0.4 --seed 5 --log "$WORK/a2.log"
check "wave W1 finishes" wait_for 60 wave_finished W1

rep () { ctl --json report "$@"; }
# The workers' logs: "order attempt outcome msisdn region" per report.
cat "$WORK/s1.log" "$WORK/a1.log" "$WORK/a2.log" > "$WORK/all.log"

echo "# by channel"
rep --wave W1 > "$WORK/r-channel.json"
st=$(wave_json W1)
check "total orders equal the wave's orders" \
    [ "$(jq .total.orders "$WORK/r-channel.json")" = "$(jq '[.by_state[]] | add' <<<"$st")" ]
check "control equals the wave's control orders" \
    [ "$(jq .total.control "$WORK/r-channel.json")" = "$(jq .by_state.control <<<"$st")" ]
check "call accepted equals the agents' logged acceptances" \
    [ "$(jq '.by_channel[] | select(.channel == "call") | .accepted' "$WORK/r-channel.json")" = \
      "$(cat "$WORK/a1.log" "$WORK/a2.log" | awk '$3 == "accepted"' | wc -l)" ]
check "fallback orders: SMS transferred = call orders beyond the call targets" \
    [ "$(jq '.by_channel[] | select(.channel == "sms") | .transferred' "$WORK/r-channel.json")" -gt 0 ]

echo "# by region: provinces, grids, under a region"
rep --wave W1 --by region > "$WORK/r-prov.json"
# Recount per province from the logs (outcomes) and the target file (targets)
awk '{ split($5, r, "/"); n[r[1] " " $3]++ } END { for (k in n) print k, n[k] }' \
    "$WORK/all.log" | sort > "$WORK/expect-prov-outcomes"
jq -r '.by_region[] | "\(.region) accepted \(.accepted)", "\(.region) declined \(.declined)",
       "\(.region) interested \(.interested)", "\(.region) delivered \(.reached - .accepted - .declined - .interested)"' \
    "$WORK/r-prov.json" | awk '$3 > 0' | sort > "$WORK/got-prov-outcomes"
check "outcomes per province equal the workers' logs" \
    diff <(grep -E ' (accepted|declined|interested|delivered) ' "$WORK/expect-prov-outcomes") "$WORK/got-prov-outcomes"
tail -n +2 "$WORK/t1.csv" | sed 's/"[^"]*"//g' | awk -F, '{ n[$4]++ } END { for (p in n) print p, n[p] }' \
    | sort > "$WORK/expect-prov-targets"
jq -r '.by_region[] | "\(.region) \(.orders - .transferred)"' "$WORK/r-prov.json" | sort > "$WORK/got-prov-targets"
check "orders per province less fallbacks equal the targets per province" \
    diff "$WORK/expect-prov-targets" "$WORK/got-prov-targets"
rep --wave W1 --by region --level grid > "$WORK/r-grid.json"
check "one grid row per distinct grid in the file" \
    [ "$(jq '.by_region | length' "$WORK/r-grid.json")" = \
      "$(tail -n +2 "$WORK/t1.csv" | sed 's/"[^"]*"//g' | awk -F, '{ print $4 "/" $5 "/" $6 "/" $7 }' | sort -u | wc -l)" ]
sum_by_province () {  # rows rolled up to provinces, as "province orders contacted accepted"
  jq -r '.by_region[] | "\(.region | split("/")[0]) \(.orders) \(.contacted) \(.accepted) \(.control)"' "$1" |
    awk '{ o[$1] += $2; c[$1] += $3; a[$1] += $4; k[$1] += $5 } END { for (p in o) print p, o[p], c[p], a[p], k[p] }' | sort
}
check "grids roll up to exactly the province rows" \
    diff <(sum_by_province "$WORK/r-grid.json") <(sum_by_province "$WORK/r-prov.json")
check "grid totals equal the wave total" \
    [ "$(jq -c '.total | del(.region)' "$WORK/r-grid.json")" = "$(jq -c '.total | del(.channel)' "$WORK/r-channel.json")" ]
rep --wave W1 --by region --level city --under 广东 > "$WORK/r-gd.json"
check "under 广东: only its cities" \
    jq -e '(.by_region | length) > 1 and all(.by_region[]; .region | startswith("广东/"))' "$WORK/r-gd.json" >/dev/null
check "under 广东: the total is 广东's province row" \
    [ "$(jq -c '.total | del(.region)' "$WORK/r-gd.json")" = \
      "$(jq -c '.by_region[] | select(.region == "广东") | del(.region)' "$WORK/r-prov.json")" ]

echo "# by worker and by segment"
rep --wave W1 --by worker > "$WORK/r-worker.json"
for w in s1 a1 a2; do
  check "$w: accepted and declined equal its log" \
    [ "$(jq -r ".by_worker[] | select(.worker == \"$w\") | \"\(.accepted) \(.declined)\"" "$WORK/r-worker.json")" = \
      "$(awk '$3 == "accepted" { a++ } $3 == "declined" { d++ } END { print a + 0, d + 0 }' "$WORK/$w.log")" ]
done
check "s1 contacted every SMS order it reported once" \
    [ "$(jq '.by_worker[] | select(.worker == "s1") | .contacted' "$WORK/r-worker.json")" = \
      "$(awk '$2 == 1' "$WORK/s1.log" | wc -l)" ]
rep --wave W1 --by segment > "$WORK/r-seg.json"
tail -n +2 "$WORK/t1.csv" | sed 's/"[^"]*"//g' | awk -F, '!($1 in s) { s[$1] = $10 } END { for (m in s) print m, s[m] }' \
    | sort > "$WORK/segments"
check "accepted per segment equals the agents' logs joined with the targets' segments" \
    diff <(awk '$3 == "accepted" { print $4 }' "$WORK/all.log" | sort | join - "$WORK/segments" |
           awk '{ n[$2]++ } END { for (s in n) print s, n[s] }' | sort) \
         <(jq -r '.by_segment[] | select(.accepted > 0) | "\(.segment) \(.accepted)"' "$WORK/r-seg.json" | sort)

echo "# CSV and table"
ctl report --wave W1 --by region --csv > "$WORK/r-prov.csv"
check "CSV: header, one line per province, a total line" \
    [ "$(wc -l < "$WORK/r-prov.csv")" = "$(( $(jq '.by_region | length' "$WORK/r-prov.json") + 2 ))" ]
check "CSV: the same accepted counts as JSON" \
    diff <(tail -n +2 "$WORK/r-prov.csv" | cut -d, -f1,10) \
         <(jq -r '(.by_region[] | "\(.region),\(.accepted)"), "total,\(.total.accepted)"' "$WORK/r-prov.json")
check "table names the dimension and the wave" bash -c \
    "'$BIN/wobctl' --endpoint $ENDPOINT report --wave W1 --by worker | head -2 | grep -q 'worker .*orders'"
check "an unknown dimension is refused by name" bash -c \
    "'$BIN/wobctl' --endpoint $ENDPOINT report --wave W1 --by colour 2>&1 | grep -q \"'colour' is not a dimension\""
check "--level is for regions only" bash -c \
    "'$BIN/wobctl' --endpoint $ENDPOINT report --wave W1 --by worker --level city 2>&1 | grep -q 'region only'"
check "an unknown wave is refused" bash -c \
    "'$BIN/wobctl' --endpoint $ENDPOINT report --wave W-NONE 2>&1 | grep -q \"'W-NONE' does not exist\""

echo "# campaign and day"
ctl clock advance 1d >/dev/null
ctl submit "$WORK/W2.yaml" >/dev/null
check "wave W2 finishes" wait_for 60 wave_finished W2
rep --campaign C-EVAL > "$WORK/r-camp.json"
check "campaign total orders = W1 + W2" \
    [ "$(jq .total.orders "$WORK/r-camp.json")" = \
      "$(( $(rep --wave W1 | jq .total.orders) + $(rep --wave W2 | jq .total.orders) ))" ]
check "the campaign report sums 2 waves" [ "$(jq .waves "$WORK/r-camp.json")" = 2 ]
rep --campaign C-EVAL --by day > "$WORK/r-day.json"
check "W2's day (a day later) holds exactly W2's orders" \
    [ "$(jq '.by_day[-1].orders' "$WORK/r-day.json")" = "$(rep --wave W2 | jq .total.orders)" ]
check "the days before hold W1's" \
    [ "$(jq '[.by_day[:-1][].orders] | add' "$WORK/r-day.json")" = "$(rep --wave W1 | jq .total.orders)" ]

echo "# imported outcomes and uplift"
# Every customer of W1 once: retained when the number's last digit < 6.
tail -n +2 "$WORK/t1.csv" | cut -d, -f1 | sort -u |
  awk 'BEGIN { print "msisdn,outcome" } { print $1 "," (substr($1, length($1)) < 6? "retained": "churned") }' \
  > "$WORK/outcomes.csv"
# Groups recounted here: contacted = in a worker's log; control = the
# status of the others says so.
awk '{ print $4 }' "$WORK/all.log" | sort -u > "$WORK/contacted"
tail -n +2 "$WORK/outcomes.csv" | cut -d, -f1 | sort | comm -23 - "$WORK/contacted" |
  while read -r m; do
    ctl --json status --msisdn "$m" | jq -r --arg m "$m" 'map(select(.wave == "W1"))[0] | select(.state == "control") | $m'
  done | sort > "$WORK/control"
out=$(ctl --json outcome import --wave W1 "$WORK/outcomes.csv")
check "import: every row recorded" [ "$(jq .recorded <<<"$out")" = "$(( $(wc -l < "$WORK/outcomes.csv") - 1 ))" ]
check "import: the contacted and control groups are the ones recounted here" \
    [ "$(jq '"\(.contacted) \(.control)"' -r <<<"$out")" = "$(wc -l < "$WORK/contacted") $(wc -l < "$WORK/control")" ]
rate () {  # rate GROUPFILE: share of retained among the group
  tail -n +2 "$WORK/outcomes.csv" | tr , ' ' | sort | join - "$1" |
    awk '{ n++; r += $2 == "retained" } END { printf "%.6f\n", r / n }'
}
expect_up=$(awk -v a="$(rate "$WORK/contacted")" -v b="$(rate "$WORK/control")" 'BEGIN { printf "%.6f", a - b }')
rep --wave W1 > "$WORK/r-up.json"
close () { awk -v a="$1" -v b="$2" 'BEGIN { d = a - b; exit !(d < 0.0001 && d > -0.0001) }'; }
check "retained among contacted = $(rate "$WORK/contacted")" \
    close "$(jq '.total.uplift[] | select(.outcome == "retained") | .contacted_rate' "$WORK/r-up.json")" "$(rate "$WORK/contacted")"
check "retained among control = $(rate "$WORK/control")" \
    close "$(jq '.total.uplift[] | select(.outcome == "retained") | .control_rate' "$WORK/r-up.json")" "$(rate "$WORK/control")"
check "uplift = $expect_up" \
    close "$(jq '.total.uplift[] | select(.outcome == "retained") | .uplift' "$WORK/r-up.json")" "$expect_up"
# One province's uplift, against that province's own control customers
tail -n +2 "$WORK/t1.csv" | sed 's/"[^"]*"//g' | awk -F, '$4 == "广东" { print $1 }' | sort -u > "$WORK/gd"
expect_gd=$(awk -v a="$(rate <(comm -12 "$WORK/contacted" "$WORK/gd"))" -v b="$(rate <(comm -12 "$WORK/control" "$WORK/gd"))" \
    'BEGIN { printf "%.6f", a - b }')
check "广东's uplift = $expect_gd" close "$(rep --wave W1 --by region |
    jq '.by_region[] | select(.region == "广东") | .uplift[] | select(.outcome == "retained") | .uplift')" "$expect_gd"
check "the table shows the uplift in percentage points" bash -c \
    "'$BIN/wobctl' --endpoint $ENDPOINT report --wave W1 | grep -q 'retained.*vs'"
out=$(ctl --json outcome import --wave W1 "$WORK/outcomes.csv")
check "importing the same file again replaces, the report stays" bash -c \
    "[ $(jq .replaced <<<"$out") = $(jq .recorded <<<"$out") ] && [ '$(rep --wave W1 | jq -c .total)' = '$(jq -c .total "$WORK/r-up.json")' ]"
printf 'msisdn,outcome\n%s,retained\n13000000000,retained\n%s,Churned!\n' \
    "$(sed -n 2p "$WORK/outcomes.csv" | cut -d, -f1)" "$(sed -n 3p "$WORK/outcomes.csv" | cut -d, -f1)" > "$WORK/bad.csv"
rc=0; ctl outcome import --wave W1 "$WORK/bad.csv" >/dev/null 2>"$WORK/bad.err" || rc=$?
check "a file with bad rows is refused naming each line" bash -c \
    "[ $rc = 1 ] && grep -q 'line 3: 13000000000 is not a target of wave W1' '$WORK/bad.err' && grep -q \"line 4: outcome 'Churned!'\" '$WORK/bad.err'"
check "... and nothing of it is recorded" [ "$(rep --wave W1 | jq -c .total)" = "$(jq -c .total "$WORK/r-up.json")" ]

echo "# dashboard API, restart, verify"
check "/api/report equals wobctl report --json" \
    [ "$(curl -sf "$HTTP/api/report?wave=W1&by=region&level=2" | jq -c .)" = "$(rep --wave W1 --by region --level city | jq -c .)" ]
check "/api/report refuses a bad level with 400" \
    [ "$(curl -s -o /dev/null -w '%{http_code}' "$HTTP/api/report?wave=W1&by=region&level=9")" = 400 ]
rep --wave W1 --by region --level grid > "$WORK/before.json"
rep --campaign C-EVAL --by worker > "$WORK/before-w.json"
crash_broker
start_broker "$WORK/data" "$PORT" --heartbeat-ms 200 --test-clock
check "after kill -9 and restart: the grid report is unchanged" diff <(jq -S . "$WORK/before.json") <(rep --wave W1 --by region --level grid | jq -S .)
check "after kill -9 and restart: the campaign's worker report is unchanged" \
    diff <(jq -S . "$WORK/before-w.json") <(rep --campaign C-EVAL --by worker | jq -S .)
kill "$BROKER_PID"; wait "$BROKER_PID" 2>/dev/null || true
check "wob-broker --verify: the tallies add up to the orders" \
    "$BIN/wob-broker" --verify --data "$WORK/data"
finish
