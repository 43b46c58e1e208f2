# CurveZMQ with roles (SPEC §8): only listed keys get in; each role may
# ask only what it is for; plain mode must be asked for and is warned about.
source "$(dirname "$0")/lib.sh"

keys="$WORK/keys"
mkdir -p "$keys"
for name in broker crm crm2 sms-gw noc ops stranger; do
  "$BIN/wobctl" keygen "$keys/$name.cert" > "$keys/$name.pub"
done
pub () { cat "$keys/$1.pub"; }
cat > "$WORK/keys.txt" <<EOK
# role       name     public key                                   channel
campaign     crm      $(pub crm)
campaign     crm2     $(pub crm2)
worker       sms-gw   $(pub sms-gw)   sms
supervisor   noc      $(pub noc)
admin        ops      $(pub ops)
EOK

# --- start-up: security must be configured --------------------------------
rc=0; "$BIN/wob-broker" --data "$WORK/none" --endpoint 'tcp://127.0.0.1:*' 2>"$WORK/none.err" || rc=$?
check "without keys or --plain the broker refuses to start" [ "$rc" != 0 ]
check "and says what to give" grep -q "give --curve-cert and --keys.*or --plain" "$WORK/none.err"
printf 'campaign crm %s\nboss x %s\n' "$(pub crm)" "$(pub ops)" > "$WORK/bad-keys.txt"
rc=0; "$BIN/wob-broker" --data "$WORK/bad" --endpoint 'tcp://127.0.0.1:*' \
    --curve-cert "$keys/broker.cert" --keys "$WORK/bad-keys.txt" 2>"$WORK/bad.err" || rc=$?
check "a bad keys file is refused, naming file, line and role" \
    grep -q "bad-keys.txt:2: role 'boss' is not campaign, worker, supervisor or admin" "$WORK/bad.err"
printf 'worker sms-gw %s\n' "$(pub sms-gw)" > "$WORK/bad-keys2.txt"
rc=0; "$BIN/wob-broker" --data "$WORK/bad2" --endpoint 'tcp://127.0.0.1:*' \
    --curve-cert "$keys/broker.cert" --keys "$WORK/bad-keys2.txt" 2>"$WORK/bad2.err" || rc=$?
check "a worker key without its channel is refused" grep -q "a worker key names its channel" "$WORK/bad2.err"

# --- a CurveZMQ broker -----------------------------------------------------
rm -f "$WORK/port"
"$BIN/wob-broker" --data "$WORK/data" --endpoint 'tcp://127.0.0.1:*' --port-file "$WORK/port" \
    --curve-cert "$keys/broker.cert" --keys "$WORK/keys.txt" --heartbeat-ms 200 \
    2>>"$WORK/broker.log" &
BROKER_PID=$!
PIDS+=("$BROKER_PID")
wait_for 10 test -s "$WORK/port"
ENDPOINT="tcp://127.0.0.1:$(cat "$WORK/port")"
export WOB_CURVE_SERVERKEY=$(pub broker)
as () {  # as NAME wobctl-args...: wobctl with NAME's key
  local who=$1; shift
  WOB_CURVE_CERT="$keys/$who.cert" "$BIN/wobctl" --endpoint "$ENDPOINT" --timeout-ms 2000 "$@"
}
quietly_as () { as "$@" >/dev/null 2>&1; }
done_count () { as noc --json status --wave W-sec | jq .by_state.done; }

"$BIN/wobctl" gen --count 50 --seed 5 --out "$WORK/t.csv"
make_wave "$WORK/w.yaml" W-sec t.csv sms
check "a campaign key submits a wave" quietly_as crm submit "$WORK/w.yaml"
rc=0; as stranger status --wave W-sec >/dev/null 2>"$WORK/stranger.err" || rc=$?
check "an unknown key gets nothing through (exit 2: no answer)" [ "$rc" = 2 ]
# (Z85 keys hold regular-expression characters and may start with "-":
# compare them as fixed text, given with -e)
logged_refusal () { grep "refused a connection" "$WORK/broker.log" | grep -qF -e "$(pub stranger)"; }
check "and the broker logs the refused key" wait_for 10 logged_refusal
rc=0; WOB_CURVE_SERVERKEY= WOB_CURVE_CERT= "$BIN/wobctl" --endpoint "$ENDPOINT" --timeout-ms 2000 \
    status --wave W-sec >/dev/null 2>"$WORK/plain.err" || rc=$?
check "a plain client gets nothing through either" [ "$rc" = 2 ]
rc=0; WOB_CURVE_CERT="$keys/crm.cert" WOB_CURVE_SERVERKEY=short "$BIN/wobctl" \
    --endpoint "$ENDPOINT" status --wave W-sec 2>"$WORK/short.err" || rc=$?
check "a malformed server key is a clear local error" grep -q "WOB_CURVE_SERVERKEY 'short' is not a public key" "$WORK/short.err"

# Roles
check "a supervisor reads the wave" [ "$(as noc --json status --wave W-sec | jq .rows)" = 50 ]
rc=0; as noc submit "$WORK/w.yaml" >/dev/null 2>"$WORK/noc.err" || rc=$?
check "a supervisor may not submit (refused, exit 1)" [ "$rc" = 1 ]
check "the refusal names the key, its role and what is needed" \
    grep -q "key 'noc' has role supervisor, which may not send this request (submit_begin needs campaign or admin)" "$WORK/noc.err"
rc=0; as noc rules reload >/dev/null 2>"$WORK/reload.err" || rc=$?
check "a supervisor may show rules but not reload them" grep -q "needs admin" "$WORK/reload.err"
check "an admin reloads the rules" quietly_as ops rules reload
rc=0; as crm2 pause W-sec >/dev/null 2>"$WORK/crm2.err" || rc=$?
check "another campaign may not pause this wave" grep -q "wave 'W-sec' was submitted by 'crm': campaign key 'crm2' may only" "$WORK/crm2.err"
check "its own campaign may" quietly_as crm pause W-sec
check "an admin may resume any wave" quietly_as ops resume W-sec
rc=0; as crm suppress add 13800000000 >/dev/null 2>"$WORK/sup.err" || rc=$?
check "a campaign may not change the do-not-disturb list" grep -q "needs admin" "$WORK/sup.err"

# Workers: a worker key works its own channel only
rc=0; WOB_CURVE_CERT="$keys/sms-gw.cert" "$BIN/wob-simworker" --endpoint "$ENDPOINT" \
    --channel call --name sneaky --capacity 1 >"$WORK/sneaky.err" 2>&1 || rc=$?
check "a worker key for sms cannot say hello as call" [ "$rc" = 2 ]
check "the refusal says which channel the key is for" grep -q "key 'sms-gw' is a worker of channel sms, not call" "$WORK/sneaky.err"
WOB_CURVE_CERT="$keys/sms-gw.cert" "$BIN/wob-simworker" --endpoint "$ENDPOINT" --channel sms \
    --name sms-gw --capacity 10 --outcomes delivered=1 --heartbeat-ms 200 2>>"$WORK/workers.log" &
PIDS+=("$!")
all_done () { [ "$(done_count)" = 50 ]; }
check "the sms worker takes and finishes the wave over CurveZMQ" wait_for 30 all_done
rc=0; WOB_CURVE_CERT="$keys/crm.cert" "$BIN/wob-simworker" --endpoint "$ENDPOINT" --channel sms \
    --name crm-as-worker --capacity 1 >"$WORK/crmw.err" 2>&1 || rc=$?
check "a campaign key cannot act as a worker" grep -q "role campaign, which may not send this request (hello needs worker)" "$WORK/crmw.err"

# --- plain mode: explicit, and warned about --------------------------------
rm -f "$WORK/port2"
"$BIN/wob-broker" --plain --data "$WORK/plain-data" --endpoint 'tcp://127.0.0.1:*' \
    --port-file "$WORK/port2" 2>"$WORK/plain-broker.log" &
PIDS+=("$!")
wait_for 10 test -s "$WORK/port2"
check "plain mode warns at start-up" grep -q "PLAIN MODE: no encryption, no authentication" "$WORK/plain-broker.log"
finish
