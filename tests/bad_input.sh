# Bad input never crashes anything and is never half accepted: broken CSV
# rows, unreachable brokers, unusable data directories and a full store each
# get a clear error naming what is wrong.
source "$(dirname "$0")/lib.sh"

start_broker "$WORK/data" "*"
good="msisdn,customer_id,name,province,city,district,grid,arpu,tenure_months,segment,lifecycle,preferred_channel,offer,priority"

# refused CSV_BODY EXPECTED_TEXT...: submit must fail with exit 1, name the
# problem, and leave no trace of the wave in the broker.
n=0
refused () {
  local body=$1; shift
  n=$((n + 1))
  printf '%b' "$body" > "$WORK/bad$n.csv"
  make_wave "$WORK/bad$n.yaml" "W-bad$n" "bad$n.csv"
  local rc=0
  ctl submit "$WORK/bad$n.yaml" >"$WORK/out$n" 2>"$WORK/err$n" || rc=$?
  local ok=1
  [ "$rc" = 1 ] || ok=0
  for text in "$@"; do grep -qF -- "$text" "$WORK/err$n" || ok=0; done
  ctl status --wave "W-bad$n" >/dev/null 2>&1 && ok=0     # no partial wave
  if [ $ok = 1 ]; then ok "refused: $(head -c 120 "$WORK/err$n")"
  else fail "case $n (rc $rc): $(cat "$WORK/err$n")"; fi
}

refused "msisdn,name\n13800000001,Li\n" "header has no 'offer' column"
refused "msisdn,offer,name\n13800000001,O1,Li\n13800000002,O1\n" "bad2.csv:3" "2 fields, header has 3"
refused "msisdn,offer\n13800000001,O1\n,O1\n" ":3" "msisdn" "empty"
refused "msisdn,offer\n13800000001,O1\n1380000abc2,O1\n" ":3" "msisdn" "not a phone number"
refused "msisdn,offer,name\n13800000001,O1,\xff\xfeLi\n" ":2" "'name'" "UTF-8"
refused "" "no header row"
refused "msisdn,offer\n13800000001,O1\n\"13800000002,O1\n" "quote"
# A 100 MB line: refused by line number without reading it into memory.
{ echo "msisdn,offer,name"; echo "13800000001,O1,a";
  printf '13800000002,O1,'; head -c 100000000 /dev/zero | tr '\0' 'x'; echo;
  echo "13800000003,O1,c"; } > "$WORK/huge.csv"
make_wave "$WORK/huge.yaml" W-huge huge.csv
rc=0; ctl submit "$WORK/huge.yaml" >/dev/null 2>"$WORK/huge.err" || rc=$?
check "100 MB line refused naming line 3 (rc $rc)" \
    bash -c "[ $rc = 1 ] && grep -q 'huge.csv:3' '$WORK/huge.err' && grep -q 'longer than' '$WORK/huge.err'"
check "nothing of the huge-line wave was accepted" bash -c "! '$BIN/wobctl' --endpoint $ENDPOINT status --wave W-huge 2>/dev/null"
summary=$(ctl --json submit --skip-bad-rows "$WORK/huge.yaml" 2>"$WORK/skip.err")
check "--skip-bad-rows accepts the good rows only" [ "$(jq .accepted <<<"$summary")" = 2 ]
check "--skip-bad-rows lists the skipped row" grep -q "skipped: .*huge.csv:3" "$WORK/skip.err"

# Bad wave descriptors
printf 'campaign: C\nwave: W-x\ntargets: t.csv\nplan:\n  - channel: sms\n    wher: {a: b}\n' > "$WORK/k.yaml"
rc=0; ctl submit "$WORK/k.yaml" 2>"$WORK/k.err" >/dev/null || rc=$?
check "unknown descriptor key names file, line and key" \
    bash -c "[ $rc = 1 ] && grep -q \"k.yaml:6: unknown key 'wher'\" '$WORK/k.err'"
printf 'campaign: C\nwave: W-y\ntargets: t.csv\nplan:\n  - channel: fax\n' > "$WORK/f.yaml"
printf 'msisdn,offer\n13800000001,O1\n' > "$WORK/t.csv"
rc=0; ctl submit "$WORK/f.yaml" 2>"$WORK/f.err" >/dev/null || rc=$?
check "unconfigured channel refused by the broker" \
    bash -c "[ $rc = 1 ] && grep -q \"channel 'fax' is not configured\" '$WORK/f.err'"

# Unreachable broker: a clear message and exit 2, never a hang.
rc=0; "$BIN/wobctl" --endpoint tcp://127.0.0.1:9 --timeout-ms 500 status --wave X 2>"$WORK/u.err" || rc=$?
check "unreachable broker exits 2 with a message" \
    bash -c "[ $rc = 2 ] && grep -q 'did not answer within 500 ms' '$WORK/u.err'"

# Unusable data directories
touch "$WORK/afile"
rc=0; "$BIN/wob-broker" --plain --data "$WORK/afile/data" --endpoint 'tcp://127.0.0.1:*' 2>"$WORK/d1.err" || rc=$?
check "data dir under a file: exit 1 and a message" \
    bash -c "[ $rc = 1 ] && grep -q 'cannot create data directory' '$WORK/d1.err'"
rc=0; "$BIN/wob-broker" --plain --data "$WORK/afile" --endpoint 'tcp://127.0.0.1:*' 2>"$WORK/d2.err" || rc=$?
check "data dir that is a file: exit 1" bash -c "[ $rc = 1 ] && grep -q 'not a directory' '$WORK/d2.err'"
mkdir -p "$WORK/corrupt" && head -c 65536 /dev/urandom > "$WORK/corrupt/data.mdb"
rc=0; "$BIN/wob-broker" --plain --data "$WORK/corrupt" --endpoint 'tcp://127.0.0.1:*' 2>"$WORK/d3.err" || rc=$?
check "corrupt data.mdb detected at start-up" bash -c "[ $rc = 1 ] && grep -qi 'corrupt' '$WORK/d3.err'"
mkdir -p "$WORK/foreign" && printf 'key\nvalue\n' | mdb_load -T -f /dev/stdin "$WORK/foreign" 2>/dev/null || \
  { printf 'VERSION=3\nformat=print\ntype=btree\nHEADER=END\n key\n value\nDATA=END\n' | mdb_load "$WORK/foreign"; }
rc=0; "$BIN/wob-broker" --plain --data "$WORK/foreign" --endpoint 'tcp://127.0.0.1:*' 2>"$WORK/d4.err" || rc=$?
check "someone else's LMDB is refused" bash -c "[ $rc = 1 ] && grep -q 'not a wob store' '$WORK/d4.err'"

# An invalid rule file at start-up: exit 1 naming the file, line and key.
printf 'version: 1\nmerge:\n  windw: 3h\n' > "$WORK/bad-rules.yaml"
rc=0; "$BIN/wob-broker" --plain --data "$WORK/rules-data" --endpoint 'tcp://127.0.0.1:*' \
    --rules "$WORK/bad-rules.yaml" 2>"$WORK/r.err" || rc=$?
check "invalid rule file refused at start-up" \
    bash -c "[ $rc = 1 ] && grep -q \"bad-rules.yaml:3.*windw\" '$WORK/r.err'"

# Channel options name configured channels and real durations.
rc=0; "$BIN/wob-broker" --plain --data "$WORK/opt-data" --endpoint 'tcp://127.0.0.1:*' \
    --channel-lease visit=5x 2>"$WORK/o1.err" || rc=$?
check "a bad --channel-lease is refused, naming it" \
    bash -c "[ $rc = 1 ] && grep -q \"channel-lease: 'visit=5x' is not a lease length\" '$WORK/o1.err'"
rc=0; "$BIN/wob-broker" --plain --data "$WORK/opt-data" --endpoint 'tcp://127.0.0.1:*' \
    --keep-leases fax 2>"$WORK/o2.err" || rc=$?
check "an unknown channel in --keep-leases is refused" \
    bash -c "[ $rc = 1 ] && grep -q \"keep-leases: 'fax' is not a channel\" '$WORK/o2.err'"

# Most targets in one wave: refused before anything is stored.
kill "$BROKER_PID"; wait "$BROKER_PID" 2>/dev/null || true
start_broker "$WORK/limit-data" "*" --max-wave-targets 100
"$BIN/wobctl" gen --count 150 --seed 4 --out "$WORK/150.csv"
make_wave "$WORK/150.yaml" W-150 150.csv
rc=0; ctl submit "$WORK/150.yaml" >/dev/null 2>"$WORK/150.err" || rc=$?
check "a wave over --max-wave-targets is refused, naming the limit" \
    bash -c "[ $rc = 1 ] && grep -q \"has 150 targets, over this broker's limit of 100 per wave\" '$WORK/150.err'"
check "and nothing of it is stored" bash -c "! '$BIN/wobctl' --endpoint $ENDPOINT status --wave W-150 >/dev/null 2>&1"

# A full store: refuses new work with a clear error, keeps serving, no corruption.
kill "$BROKER_PID"; wait "$BROKER_PID" 2>/dev/null || true
start_broker "$WORK/small" "*" --map-size 4194304
"$BIN/wobctl" gen --count 50000 --seed 9 --out "$WORK/many.csv"
make_wave "$WORK/many.yaml" W-many many.csv
rc=0; ctl submit --chunk 1000 "$WORK/many.yaml" >/dev/null 2>"$WORK/full.err" || rc=$?
check "full store refuses with a clear error (rc $rc)" \
    bash -c "[ $rc = 1 ] && grep -q 'is full' '$WORK/full.err'"
check "broker still answers after the refusal" bash -c "'$BIN/wobctl' --endpoint $ENDPOINT --json workers | jq -e '.workers | length == 0' >/dev/null"
rows=$(wave_json W-many | jq .rows)
stored=$(wave_json W-many | jq '[.by_state[]] | add')
check "what was acknowledged is consistent ($stored orders for $rows rows)" [ "$rows" = "$stored" -a "$rows" -gt 0 ]
kill "$BROKER_PID"; wait "$BROKER_PID" 2>/dev/null || true
check "the full store reopens cleanly" bash -c "mdb_stat -a '$WORK/small' >/dev/null"
start_broker "$WORK/small" "*" --map-size 268435456
check "with room again the interrupted wave completes" \
    bash -c "'$BIN/wobctl' --endpoint $ENDPOINT --json submit '$WORK/many.yaml' | jq -e '.received == 50000' >/dev/null"
finish
