# wob-sms against a real Kannel (bearerbox + smsbox + fakesmsc on loopback,
# tests/kannel/kannel-up.sh): rendered Chinese text reaches the SMSC, delivery
# reports become outcomes, a report of failed delivery (DLR 16) moves the
# customer to the call channel, a template with an unknown field fails only
# its orders, a gateway that is down loses nothing and blames nobody, a
# missing report times out into the configured outcome, and a wob-sms
# killed with -9 loses nothing.
source "$(dirname "$0")/lib.sh"

KANNEL_UP="$SRC/tests/kannel/kannel-up.sh"
KANNEL_DOWN="$SRC/tests/kannel/kannel-down.sh"
KDIR="$WORK/kannel"
[ -x /usr/sbin/bearerbox ] && [ -x /usr/lib/kannel/test/fakesmsc ] \
  || { echo "sms: Kannel is not installed (kannel, kannel-extras: tools/deps.sh)" >&2; exit 1; }
sms_cleanup () {
  "$KANNEL_DOWN" "$KDIR" 2>/dev/null || true
  cleanup
}
trap sms_cleanup EXIT

# Numbers starting 170 are not served by the fake SMSC link (Kannel's
# denied-prefix): Kannel finds no route, answers 403 and reports DLR 16.
export KANNEL_DENIED_PREFIX=170
URL=$("$KANNEL_UP" "$KDIR")
source "$KDIR/kannel.env"
SENDSMS_BASE=${URL%%\?*}

# A short lease, so wob-sms must extend leases while it waits on the rate,
# and lease expiry after a kill -9 is quick; fast broker retries.
start_broker "$WORK/data" "*" --heartbeat-ms 200 --lease-ms 3000 --max-attempts 30 \
    --backoff-ms 300

# start_sms NAME [options]: a wob-sms against ENDPOINT and Kannel; sets SMS_PID.
start_sms () {
  local name=$1; shift
  "$BIN/wob-sms" --endpoint "$ENDPOINT" --name "$name" --sendsms-url "$URL" --from WOB \
      --heartbeat-ms 200 --log "$WORK/$name.log" "$@" 2>>"$WORK/$name.err" &
  SMS_PID=$!
  PIDS+=("$SMS_PID")
}
# stop_sms PID: SIGTERM and its exit code in STOP_RC.
stop_sms () { kill -TERM "$1"; STOP_RC=0; wait "$1" || STOP_RC=$?; }

NAMES=(张伟 王芳 李娜 刘洋 陈静 杨磊 赵敏 黄强 周杰 吴霞 徐丽 孙浩 马超 朱琳 胡军 郭婷 何勇 林峰
       罗敏 高洁 梁晨 宋佳 郑凯 谢芳 韩雪 唐亮 冯涛 于静 董伟 萧红 程龙 曹颖 袁野 邓超 许晴 傅雷
       欧阳娜 司马光 诸葛亮 上官婉)
# targets FILE PREFIX COUNT [DENIED]: COUNT customers numbered PREFIX + 8
# digits, the last DENIED of them on the 170 range instead.
targets () {
  local file=$1 prefix=$2 count=$3 denied=${4:-0} i
  echo "msisdn,customer_id,name,city,district,arpu,segment,offer,plan_name" > "$file"
  for ((i = 0; i < count; i++)); do
    local number
    if (( i >= count - denied )); then number=$(printf '170%08d' $((prefix * 1000 + i)))
    else number=$(printf '%s%08d' "$prefix" "$i"); fi
    echo "$number,C$prefix$i,${NAMES[i % ${#NAMES[@]}]},杭州,西湖,$((40 + i)).50,price_sensitive,OFR-$prefix,畅享套餐$i"
  done >> "$file"
}
TEMPLATE='{name}，您好！{city}{district}专属优惠 {offer}（{plan_name}）已到账，ARPU {arpu}。'
# wave FILE ID TARGETS TEMPLATE [FALLBACK]
wave () {
  { echo "campaign: C-sms"; echo "wave: $2"; echo "targets: $3"; echo "sms_template: \"$4\""
    echo "plan:"; echo "  - channel: sms"; [ -z "${5:-}" ] || echo "    fallback: $5"; } > "$1"
}
order_json () { ctl --json status --msisdn "$1"; }
count_is () { [ "$(wave_json "$1" | jq -r "$2")" = "$3" ]; }   # count_is WAVE JQ VALUE
# sms_texts: "TO TEXT" for each message fakesmsc received; UCS-2 payloads
# (URL-encoded UTF-16BE) are decoded to UTF-8.
sms_texts () {
  local to kind payload
  sed -n 's/.*Got message [0-9]*: <[^ ]* \([^ ]*\) \([^ ]*\) \(.*\)>$/\1 \2 \3/p' "$KANNEL_FAKESMSC_LOG" |
  while read -r to kind payload; do
    if [ "$kind" = ucs-2 ]; then
      payload=$(printf '%s' "$payload" | perl -pe 's/\+/ /g; s/%([0-9A-Fa-f]{2})/chr(hex($1))/ge' \
                | iconv -f UTF-16BE -t UTF-8)
    fi
    printf '%s %s\n' "$to" "$payload"
  done
}
received () { [ "$(grep -c 'Got message' "$KANNEL_FAKESMSC_LOG")" -ge "$1" ]; }

echo "# delivery, Chinese text, the rate, DLR 16 -> fallback to call"
targets "$WORK/ok.csv" 138 36
targets "$WORK/fb.csv" 139 4 2
wave "$WORK/ok.yaml" W-ok ok.csv "$TEMPLATE" call
wave "$WORK/fb.yaml" W-fb fb.csv "$TEMPLATE" call
RATE=10
start_sms sms-1 --rate $RATE --max-inflight 4 --capacity 50 --give-back-after 3 --retry-ms 200 \
    --retry-max-ms 1000
SMS1=$SMS_PID
t0=$(date +%s%N)
check "submit W-ok" [ "$(ctl --json submit "$WORK/ok.yaml" | jq .accepted)" = 36 ]
check "submit W-fb" [ "$(ctl --json submit "$WORK/fb.yaml" | jq .accepted)" = 4 ]
check "W-ok: every order done" wait_for 60 count_is W-ok .by_state.done 36
t1=$(date +%s%N)
check "W-ok: every outcome delivered" count_is W-ok .by_outcome.delivered 36
check "W-fb: 2 delivered, 2 transferred" wait_for 30 count_is W-fb \
    '[.by_state.done, .by_state.transferred, .by_outcome.delivered, .by_outcome.undelivered] | @csv' 2,2,2,2
elapsed_ms=$(( (t1 - t0) / 1000000 ))
min_ms=$(( (36 + 4 - 1) * 1000 / RATE * 9 / 10 ))
check "40 messages at --rate $RATE took ${elapsed_ms} ms (>= $min_ms: the rate holds)" \
    [ "$elapsed_ms" -ge "$min_ms" ]
texts=$(sms_texts)
bad=0
while IFS=, read -r msisdn _ name city district arpu _ offer plan; do
  [ "$msisdn" = msisdn ] && continue
  want="$msisdn ${name}，您好！${city}${district}专属优惠 ${offer}（${plan}）已到账，ARPU ${arpu}。"
  grep -qxF "$want" <<<"$texts" || { bad=$((bad + 1)); echo "  not at the SMSC: $want" >&2; }
done < <(cat "$WORK/ok.csv" "$WORK/fb.csv" | grep -v '^170')
check "fakesmsc received every rendered Chinese text exactly ($bad missing)" [ "$bad" = 0 ]
check "it travelled as UCS-2" grep -q ' ucs-2 ' "$KANNEL_FAKESMSC_LOG"
check "each order reported once" [ "$(wc -l < "$WORK/sms-1.log")" = 40 -a \
    "$(awk '{print $1}' "$WORK/sms-1.log" | sort -u | wc -l)" = 40 ]
check "delivered orders carry the DLR in their note" \
    [ "$(order_json 13800000000 | jq -r '.[0].note')" = "DLR 1 delivered" ]
for n in 17000139002 17000139003; do
  j=$(order_json $n)
  check "$n: sms order transferred after DLR 16" [ "$(jq -r '.[] | select(.channel == "sms") |
      .state + " " + .outcome + " " + .note' <<<"$j")" = "transferred undelivered DLR 16 rejected by the SMSC: NACK/no SMSC" ]
  check "$n: a call order is queued" [ "$(jq -r '.[] | select(.channel == "call") | .state' <<<"$j")" = queued ]
done
check "W-fb: 2 call orders" count_is W-fb .by_channel.call 2
check "W-ok: leases were extended while orders waited on the rate" \
    bash -c "'$BIN/wobctl' --endpoint $ENDPOINT --json status --msisdn 13800000035 | jq -r '.[0].history[].reason' | grep -q 'lease extended'"
check "no lease expired in W-ok (attempts all 1)" \
    bash -c "for i in 00 17 35; do '$BIN/wobctl' --endpoint $ENDPOINT --json status --msisdn 138000000\$i | jq -e '.[0].attempts == 1' >/dev/null || exit 1; done"

echo "# a template with an unknown field"
targets "$WORK/bad.csv" 137 3
wave "$WORK/bad.yaml" W-bad bad.csv '{name}，{foo} 已到账'
before=$(grep -c 'Got message' "$KANNEL_FAKESMSC_LOG")
check "submit W-bad" [ "$(ctl --json submit "$WORK/bad.yaml" | jq .accepted)" = 3 ]
check "W-bad: every order done" wait_for 30 count_is W-bad .by_state.done 3
check "W-bad: undelivered, not failed or retried" count_is W-bad .by_outcome.undelivered 3
check "the note names the field" \
    [ "$(order_json 13700000001 | jq -r '.[0].note')" = "template: unknown field {foo}" ]
check "nothing was sent for them" [ "$(grep -c 'Got message' "$KANNEL_FAKESMSC_LOG")" = "$before" ]
check "wob-sms is still running" kill -0 "$SMS1"

echo "# gateway down: nothing lost, nobody blamed"
base=$KANNEL_PORT_BASE
"$KANNEL_DOWN" "$KDIR" 2>/dev/null
targets "$WORK/down.csv" 136 10
wave "$WORK/down.yaml" W-down down.csv "$TEMPLATE"
check "submit W-down" [ "$(ctl --json submit "$WORK/down.yaml" | jq .accepted)" = 10 ]
gave_back () {   # some order went back to the broker as a gateway failure
  local n
  for n in 13600000000 13600000004 13600000009; do
    order_json $n | jq -r '.[0].history[].reason' | grep -q "gateway $SENDSMS_BASE unreachable.*gave up after 3 attempts" && return 0
  done
  return 1
}
check "wob-sms says the gateway is unreachable" \
    wait_for 20 grep -q "wob-sms: gateway $SENDSMS_BASE unreachable" "$WORK/sms-1.err"
check "orders go back to the broker as retryable gateway failures" wait_for 30 gave_back
s=$(wave_json W-down)
check "while down: nothing done, transferred or failed for good" [ "$(jq -c \
    '[.by_state.done, .by_state.transferred, .by_state.failed, .by_outcome.delivered, .by_outcome.undelivered]' <<<"$s")" = '[0,0,0,0,0]' ]
check "the log does not show the gateway password" bash -c "! grep -q wobpass '$WORK/sms-1.err'"
check "Kannel back on the same port" bash -c "KANNEL_PORT_BASE=$base '$KANNEL_UP' '$KDIR' >/dev/null"
check "W-down: every order delivered once the gateway is back" wait_for 60 count_is W-down .by_outcome.delivered 10
check "W-down: all done" count_is W-down .by_state.done 10
check "wob-sms says the gateway is back" grep -q "gateway $SENDSMS_BASE accepts messages again" "$WORK/sms-1.err"
stop_sms "$SMS1"
check "SIGTERM: wob-sms exits 0" [ "$STOP_RC" = 0 ]
check "SIGTERM: wob-sms says bye" grep -q 'wob-sms: bye:' "$WORK/sms-1.err"

echo "# no delivery report in time"
targets "$WORK/nodlr.csv" 135 2
wave "$WORK/nodlr.yaml" W-nodlr nodlr.csv "$TEMPLATE"
# Reports go to a port nobody listens on, so none arrives.
start_sms sms-nodlr --dlr-url-base http://127.0.0.1:9 --dlr-timeout 2s
check "submit W-nodlr" [ "$(ctl --json submit "$WORK/nodlr.yaml" | jq .accepted)" = 2 ]
check "W-nodlr: done after --dlr-timeout" wait_for 30 count_is W-nodlr .by_state.done 2
check "W-nodlr: default outcome undelivered, with a note" [ "$(order_json 13500000000 | jq -r \
    '.[0].outcome + ": " + .[0].note')" = "undelivered: no delivery report within 2 s (gateway: 0: Accepted for delivery)" ]
stop_sms "$SMS_PID"
check "SIGTERM: exits 0" [ "$STOP_RC" = 0 ]

echo "# kill -9 with orders in hand"
targets "$WORK/kill.csv" 133 12
wave "$WORK/kill.yaml" W-kill kill.csv "$TEMPLATE"
check "submit W-kill" [ "$(ctl --json submit "$WORK/kill.yaml" | jq .accepted)" = 12 ]
start_sms sms-a --rate 2 --capacity 20
reported () { [ -f "$WORK/$1.log" ] && [ "$(wc -l < "$WORK/$1.log")" -ge "$2" ]; }
check "sms-a reports a few" wait_for 30 reported sms-a 3
kill -9 "$SMS_PID"
wait "$SMS_PID" 2>/dev/null || true
a_done=$(wc -l < "$WORK/sms-a.log")
check "sms-a died with orders in hand ($a_done of 12 reported)" [ "$a_done" -lt 12 ]
start_sms sms-b --rate 100
SMSB=$SMS_PID
check "W-kill: every order delivered after the leases expire" wait_for 60 count_is W-kill .by_outcome.delivered 12
check "W-kill: all done" count_is W-kill .by_state.done 12
# (one more if sms-a died between logging a report and sending it)
check "sms-b took over what sms-a held" [ "$(wc -l < "$WORK/sms-b.log")" -ge $((12 - a_done)) ]
ids=$(cat "$WORK/sms-a.log" "$WORK/sms-b.log" | awk '{print $1}' | sort -u | wc -l)
check "between them every order was reported ($ids)" [ "$ids" = 12 ]
stop_sms "$SMSB"
check "SIGTERM: sms-b exits 0" [ "$STOP_RC" = 0 ]
check "no sanitizer report" bash -c "! grep -q 'Sanitizer' '$WORK'/*.err"
finish
