# Coordination across orders: three campaigns for one customer become one
# call; an SMS order is absorbed into the customer's open call; the merge
# window's edge; SMS undelivered -> call -> accepted cancels the visit
# sibling for the same offer.
source "$(dirname "$0")/lib.sh"

cat > "$WORK/rules.yaml" <<EOR
version: 1
merge: { enabled: on, window: 1h, absorb: ["call > sms"] }
fallback: { triggers: [undelivered, unreachable], after: 1 }
collaboration: { success: [accepted] }
EOR
start_broker "$WORK/data" "*" --heartbeat-ms 200 --rules "$WORK/rules.yaml" --test-clock
wave () {  # wave ID CHANNEL MSISDN OFFER [PRIORITY] [extra yaml]
  printf 'msisdn,name,offer,priority\n%s,客户,%s,%s\n' "$3" "$4" "${5:-5}" > "$WORK/$1.csv"
  printf 'campaign: C-%s\nwave: %s\ntargets: %s.csv\nplan:\n  - channel: %s\n%s\n' \
      "$1" "$1" "$1" "$2" "${6:-}" > "$WORK/$1.yaml"
  ctl --json submit "$WORK/$1.yaml"
}
order_of () {  # order_of MSISDN WAVE -> the order's JSON
  ctl --json status --msisdn "$1" | jq -c --arg w "$2" 'map(select(.wave == $w))[0]'
}

echo "# three campaigns, one customer, one call"
wave M1 call 13600000001 OFR-FIBER 3 >/dev/null
wave M2 call 13600000001 OFR-5G 8 >/dev/null
s=$(wave M3 call 13600000001 OFR-TV 1)
check "the later orders are merged" [ "$(jq '.merged' <<<"$s")" = 1 ]
survivor=$(order_of 13600000001 M1)
check "the survivor carries all offers, higher priority first" \
    [ "$(jq -c .offers <<<"$survivor")" = '["OFR-5G","OFR-FIBER","OFR-TV"]' ]
check "merged orders point to the survivor" \
    jq -e --argjson s "$(jq .id <<<"$survivor")" '.history[0].reason | test("folded into order \($s)")' \
    <<<"$(order_of 13600000001 M3)" >/dev/null
start_worker --channel call --name agent-1 --capacity 1 --heartbeat-ms 200 --outcomes accepted=1
check "one call" wait_for 20 bash -c "[ \"\$('$BIN/wobctl' --endpoint $ENDPOINT --json status --wave M1 | jq .by_state.done)\" = 1 ]"
check "each merged campaign sees the outcome" wait_for 10 bash -c \
    "[ \"\$('$BIN/wobctl' --endpoint $ENDPOINT --json status --wave M3 | jq .by_outcome.accepted)\" = 1 ]"
check "each contributing campaign stays visible" \
    jq -e '.state == "merged" and .outcome == "accepted"' <<<"$(order_of 13600000001 M2)" >/dev/null
kill "$LAST_WORKER"; wait "$LAST_WORKER" 2>/dev/null || true

echo "# absorb: the SMS order joins the open call"
wave A1 call 13600000002 OFR-A >/dev/null
s=$(wave A2 sms 13600000002 OFR-B)
check "sms order absorbed into the call order" [ "$(jq '.merged' <<<"$s")" = 1 ]
check "history names the rule" \
    jq -e '.history[0].reason | test("rule absorb")' <<<"$(order_of 13600000002 A2)" >/dev/null

echo "# merge window edge"
wave E1 call 13600000003 OFR-E1 >/dev/null
ctl clock advance 59m >/dev/null
s=$(wave E2 call 13600000003 OFR-E2)
check "inside the window: merged" [ "$(jq .merged <<<"$s")" = 1 ]
ctl clock advance 2m >/dev/null
s=$(wave E3 call 13600000003 OFR-E3)
check "past the window: a new order" [ "$(jq .merged <<<"$s")" = 0 -a "$(jq .queued <<<"$s")" = 1 ]

echo "# sms undelivered -> call -> accepted cancels the visit sibling"
wave V1 visit 13600000004 OFR-X >/dev/null
wave S1 sms 13600000004 OFR-X 5 "    fallback: call
rules: { open_offer: off }" >/dev/null
start_worker --channel sms --name sms-1 --capacity 5 --heartbeat-ms 200 --outcomes undelivered=1
check "sms order transferred" wait_for 20 bash -c \
    "[ \"\$('$BIN/wobctl' --endpoint $ENDPOINT --json status --wave S1 | jq .by_state.transferred)\" = 1 ]"
orders=$(ctl --json status --msisdn 13600000004)
call=$(jq -c 'map(select(.channel == "call"))[0]' <<<"$orders")
check "a linked call order exists" jq -e '.history[0].reason | test("rule fallback: from order")' <<<"$call" >/dev/null
start_worker --channel call --name agent-2 --capacity 1 --heartbeat-ms 200 --outcomes accepted=1
check "the call is accepted" wait_for 20 bash -c \
    "'$BIN/wobctl' --endpoint $ENDPOINT --json status $(jq .id <<<"$call") | jq -e '.state == \"done\"' >/dev/null"
visit=$(order_of 13600000004 V1)
check "the visit sibling is cancelled, naming the rule" \
    jq -e '.state == "cancelled" and (.history[-1].reason | test("rule collaboration: accepted on call"))' <<<"$visit" >/dev/null
check "no order is both cancelled and done" \
    bash -c "'$BIN/wobctl' --endpoint $ENDPOINT --json status --msisdn 13600000004 | jq -e 'all(.[]; ([.history[].to] | (index(\"done\") != null and index(\"cancelled\") != null)) | not)' >/dev/null"
finish
