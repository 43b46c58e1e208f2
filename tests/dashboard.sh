# The broker's read-only dashboard (docs/DASHBOARD.md): a broker with
# --http on a free port, simulated workers and a three-channel wave.  Call
# orders go by number range to two agents; the second never finishes an
# order (its leases expire) and is killed once the SMS and visit orders are
# done, so its orders end up held.  Once the wave has settled (nothing left
# that can move), every JSON endpoint is compared with what wobctl says
# about the same wave, workers and orders; /metrics is parsed line by line
# (Prometheus text format) and its numbers compared too; bad paths and
# every writing method are refused and change nothing; then
# tests/browser/dashboard.py checks the page in headless Chromium (what it
# checks is listed at its top) and saves a screenshot as an artefact.
source "$(dirname "$0")/lib.sh"

# Debian's python3 holds python3-websocket; another python3 may come first
# on PATH.
PY=""
for p in /usr/bin/python3 python3; do
  if "$p" -c 'import websocket' 2>/dev/null; then PY=$p; break; fi
done

cat > "$WORK/rules.yaml" <<EOR
version: 1
distribution:
  call: { strategy: range }
EOR
start_broker "$WORK/data" "*" --heartbeat-ms 200 --rules "$WORK/rules.yaml" --lease-ms 2000 \
    --http 127.0.0.1:0 --http-port-file "$WORK/http-port"
HTTP_PORT=$(cat "$WORK/http-port")
URL="http://127.0.0.1:$HTTP_PORT"
check "--http 127.0.0.1:0 picks a port and writes it ($HTTP_PORT)" [ "$HTTP_PORT" -gt 0 ]
check "the broker logs the dashboard's URL" grep -q "dashboard on $URL/" "$WORK/broker.log"

"$BIN/wobctl" gen --count 600 --seed 31 --out "$WORK/targets.csv"
cat > "$WORK/wave.yaml" <<EOW
campaign: C-dash
wave: W-dash
kind: retention
targets: targets.csv
plan:
  - channel: visit
    where: { preferred_channel: visit }
  - channel: call
    where: { arpu: { min: 150 } }
  - channel: sms
    fallback: call
EOW
start_worker --channel sms --name sms-1 --capacity 50 --heartbeat-ms 200 \
    --outcomes delivered=0.8,undelivered=0.2
start_worker --channel call --name agent-1 --owns 130-139 --capacity 5 --heartbeat-ms 200 \
    --outcomes accepted=0.4,declined=0.3,interested=0.3
start_worker --channel call --name agent-2 --owns 140-199 --capacity 1 --heartbeat-ms 200 \
    --delay-ms 600000
AGENT2=$LAST_WORKER
start_worker --channel visit --name am-1 --capacity 20 --heartbeat-ms 200 \
    --outcomes accepted=0.5,interested=0.5
wait_for 20 bash -c "[ \$('$BIN/wobctl' --endpoint $ENDPOINT --json workers | jq '.workers | length') = 4 ]" \
  || fail "four workers connected"
summary=$(ctl --json submit "$WORK/wave.yaml")
check "the wave is accepted (600 orders)" [ "$(jq .accepted <<<"$summary")" = 600 ]

get () { curl -s --max-time 10 "$URL$1"; }
# SMS (and so every fallback to call) and visit done, and agent-2's lease
# has run out at least once.
channel_idle () {  # channel_idle CHANNEL: none of its orders can still move
  get /api/waves/W-dash | jq -e --arg c "$1" '.channels[] | select(.channel == $c) | .by_state
    | .received + .queued + .deferred + .dispatched + .retry == 0' >/dev/null
}
expired_once () {
  [ "$(get /metrics | awk '$1 == "wob_lease_expiries_total" { print $2 }')" -ge 1 ]
}
check "SMS and visit orders all done, agent-2's lease expired" \
    wait_for 120 bash -c "$(declare -f get channel_idle expired_once); URL=$URL;
                          channel_idle sms && channel_idle visit && expired_once"
kill -9 "$AGENT2"
# Settled: nothing left that can move; agent-2's orders are held.
settled () {
  wave_json W-dash | jq -e '.by_state.received + .by_state.queued + .by_state.deferred
                            + .by_state.dispatched + .by_state.retry == 0
                            and .by_state.held > 0' >/dev/null
}
check "the wave settles, with agent-2's call orders held" wait_for 120 settled

code () { curl -s -o /dev/null --max-time 10 -w '%{http_code}' "$@"; }
jqt () { jq -e "$@" >/dev/null; }    # jqt FILTER [ARGS]: the filter holds
same () {  # same JSON A B: equal once keys are sorted
  [ "$(jq -S -c . <<<"$1")" = "$(jq -S -c . <<<"$2")" ]
}

# --- waves --------------------------------------------------------------
api_wave=$(get /api/waves/W-dash)
report=$(ctl --json report --wave W-dash)
status=$(wave_json W-dash)
check "/api/waves/W-dash: its report is wobctl report --wave W-dash --json" \
    same "$(jq .report <<<"$api_wave")" "$report"
check "/api/waves/W-dash: wave, campaign, state, rows and counts by state, outcome, channel, rule are wobctl status --wave's" \
    same "$(jq '{wave, campaign, state, rows, by_state, by_outcome, by_channel, by_rule}' <<<"$api_wave")" "$status"
check "/api/waves/W-dash: progress adds up from the counts by state" \
    jqt '.by_state as $s | .progress ==
           { total: ([$s[]] | add), dispatched: $s.dispatched, held: $s.held,
             done: ($s.done + $s.failed + $s.transferred + $s.expired + $s.cancelled),
             queued: ($s.queued + $s.received), waiting: ($s.deferred + $s.retry),
             excluded: ($s.filtered + $s.merged + $s.control) }' <<<"$api_wave"
check "/api/waves/W-dash: outcome mix per channel adds up to the wave's outcomes" \
    jqt '[.channels[].by_outcome | to_entries[]] | group_by(.key)
           | map({(.[0].key): (map(.value) | add)}) | add == $w.by_outcome' \
       --argjson w "$api_wave" <<<"$api_wave"
check "/api/waves lists W-dash with the same numbers" \
    same "$(get /api/waves | jq '.waves[] | select(.wave == "W-dash")')" "$api_wave"
ms=$(curl -s -o /dev/null --max-time 10 -w '%{time_total}' "$URL/api/waves/W-dash")
check "/api/waves/W-dash answers in under 100 ms (${ms} s)" awk -v t="$ms" 'BEGIN { exit !(t < 0.1) }'

# --- workers ------------------------------------------------------------
api_workers=$(get /api/workers)
ctl_workers=$(ctl --json workers)
pick='{workers: [.workers[] | {id, channel, capacity, outstanding, assigned, done, owns}] | sort_by(.id),
       held: .held | sort_by(.channel, .reason)}'
check "/api/workers: the workers and held orders of wobctl workers --json" \
    same "$(jq "$pick" <<<"$api_workers")" "$(jq "$pick" <<<"$ctl_workers")"
check "/api/workers: held call orders are the wave's held orders" \
    [ "$(jq '[.held[] | select(.channel == "call") | .orders] | add' <<<"$api_workers")" = \
      "$(jq .by_state.held <<<"$status")" ]

# --- orders -------------------------------------------------------------
for id in 1 2 $(jq '.by_state | [.[]] | add' <<<"$status"); do
  check "/api/orders/$id is wobctl status $id --json" same "$(get /api/orders/$id)" "$(ctl --json status $id)"
done
msisdn=$(ctl --json status 1 | jq -r .msisdn)
check "/api/orders?msisdn=$msisdn is wobctl status --msisdn $msisdn --json" \
    same "$(get "/api/orders?msisdn=$msisdn")" "$(ctl --json status --msisdn "$msisdn")"
check "/api/orders?msisdn= for an unknown number is an empty list" \
    [ "$(get '/api/orders?msisdn=19999999999')" = "[]" ]

# --- throughput and metrics -------------------------------------------------
# The wave's numbers were indexed through the log; an idle broker folds
# them all into the number index (the lookups above hold either way)
all_folded () { [ "$(get /metrics | awk '$1 == "wob_numbers_unfolded" { print $2 }')" = 0 ]; }
check "/metrics: wob_numbers_unfolded reaches 0 while the broker is idle" wait_for 10 all_folded
get /api/throughput > "$WORK/throughput.json"
get /metrics > "$WORK/metrics.txt"
check "/api/throughput: 60 minutes, oldest first, the last one now" \
    jqt '(.minutes | length) == 60 and (.minutes[-1].start_ms <= .now_ms)
           and (.now_ms - .minutes[-1].start_ms < 60000)
           and ([.minutes[].start_ms] == ([.minutes[].start_ms] | sort))' "$WORK/throughput.json"
check "/api/throughput: every lease of the wave counted (>= contacted), every finish (= done + transferred)" \
    jqt --argjson r "$report" --argjson s "$status" \
       '([.minutes[].dispatched] | add) >= $r.total.contacted
        and ([.minutes[].finished] | add) == ($s.by_state.done + $s.by_state.transferred)' \
       "$WORK/throughput.json"
check "/metrics is text/plain in the Prometheus exposition format 0.0.4" \
    bash -c "curl -s -o /dev/null -w '%{content_type}' '$URL/metrics' | grep -q '^text/plain; version=0.0.4'"
echo "$status" > "$WORK/status.json"
echo "$api_workers" > "$WORK/workers.json"
if "${PY:-python3}" - "$WORK/metrics.txt" "$WORK/throughput.json" "$WORK/status.json" \
     "$WORK/workers.json" <<'EOPY'
# Parses the exposition line by line and checks its numbers against the
# wave's status and /api/workers.
import json, re, sys
text = open(sys.argv[1]).read()
throughput = json.load(open(sys.argv[2]))
status = json.load(open(sys.argv[3]))
workers = json.load(open(sys.argv[4]))
NAME = r'[a-zA-Z_:][a-zA-Z0-9_:]*'
LABELS = r'\{(?:' + r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"' + r'(?:,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*")*)?\}'
VALUE = r'(?:[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|[-+]?Inf|NaN)'
sample_re = re.compile(rf'^({NAME})({LABELS})? ({VALUE})(?: -?\d+)?$')
help_re = re.compile(rf'^# HELP ({NAME}) .+$')
type_re = re.compile(rf'^# TYPE ({NAME}) (counter|gauge|histogram|summary|untyped)$')
problems, types, helps, samples = [], {}, set(), []
for n, line in enumerate(text.split('\n'), 1):
    if line == '':
        continue
    m = help_re.match(line) or type_re.match(line) or sample_re.match(line)
    if not m:
        problems.append(f'line {n} is not valid exposition text: {line!r}')
    elif line.startswith('# HELP'):
        helps.add(m.group(1))
    elif line.startswith('# TYPE'):
        if m.group(1) in types:
            problems.append(f'line {n}: second TYPE for {m.group(1)}')
        types[m.group(1)] = m.group(2)
    else:
        name, labels = m.group(1), dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or ''))
        family = re.sub(r'_(bucket|sum|count)$', '', name) if name not in types else name
        if family not in types:
            problems.append(f'line {n}: sample {name} before its # TYPE line')
        samples.append((name, labels, float(m.group(3))))
if not text.endswith('\n'):
    problems.append('the text does not end with a line feed')
for family in types:
    if family not in helps:
        problems.append(f'{family} has no # HELP line')
    if not family.startswith('wob_'):
        problems.append(f'{family} is not prefixed wob_')
def total(name, **match):
    return sum(v for n, l, v in samples if n == name and all(l.get(k) == x for k, x in match.items()))
def check(what, ok, detail=''):
    print(('ok - ' if ok else 'FAIL - ') + what + ('' if ok else f': {detail}'))
    if not ok:
        problems.append(what)
expected = {'wob_orders': 'gauge', 'wob_outcomes_total': 'counter', 'wob_leases_granted_total': 'counter',
            'wob_orders_finished_total': 'counter', 'wob_lease_expiries_total': 'counter',
            'wob_held_orders': 'gauge', 'wob_workers': 'gauge', 'wob_store_size_bytes': 'gauge',
            'wob_commit_seconds': 'histogram', 'wob_numbers_unfolded': 'gauge'}
for family, kind in expected.items():
    check(f'/metrics: {family} is a {kind}', types.get(family) == kind, types.get(family))
for state, count in status['by_state'].items():
    check(f'/metrics: wob_orders{{state="{state}"}} over channels = status ({count})',
          total('wob_orders', state=state) == count, total('wob_orders', state=state))
for outcome, count in status['by_outcome'].items():
    check(f'/metrics: wob_outcomes_total{{outcome="{outcome}"}} over channels = status ({count})',
          total('wob_outcomes_total', outcome=outcome) == count, total('wob_outcomes_total', outcome=outcome))
for channel, count in status['by_channel'].items():
    got = sum(v for n, l, v in samples if n == 'wob_orders' and l.get('channel') == channel)
    check(f'/metrics: wob_orders{{channel="{channel}"}} over states = status ({count})', got == count, got)
held = {(h['channel'], h['reason']): h['orders'] for h in workers['held']}
for (n, l, v) in samples:
    if n == 'wob_held_orders':
        check(f'/metrics: wob_held_orders{l} = /api/workers', v == held.get((l['channel'], l['reason']), 0), v)
for channel in ('sms', 'call', 'visit'):
    live = sum(1 for w in workers['workers'] if w['channel'] == channel)
    check(f'/metrics: wob_workers{{channel="{channel}"}} = {live}', total('wob_workers', channel=channel) == live)
granted = total('wob_leases_granted_total')
finished = total('wob_orders_finished_total')
check('/metrics: leases granted = /api/throughput dispatched', granted == sum(m['dispatched'] for m in throughput['minutes']), granted)
check('/metrics: orders finished = /api/throughput finished', finished == sum(m['finished'] for m in throughput['minutes']), finished)
check('/metrics: lease expiries counted (agent-2 never reports)', total('wob_lease_expiries_total') >= 1)
check('/metrics: store size > 0', total('wob_store_size_bytes') > 0)
buckets = [(l['le'], v) for n, l, v in samples if n == 'wob_commit_seconds_bucket']
les = [float(le) for le, _ in buckets]
counts = [v for _, v in buckets]
check('/metrics: commit histogram buckets ascend to +Inf and are cumulative',
      les == sorted(les) and les[-1] == float('inf') and counts == sorted(counts), buckets)
check('/metrics: commit histogram +Inf bucket = _count > 0',
      counts[-1] == total('wob_commit_seconds_count') > 0 and total('wob_commit_seconds_sum') > 0)
for p in problems:
    print('FAIL - ' + p)
sys.exit(1 if problems else 0)
EOPY
then ok "/metrics parses and agrees with status, workers and throughput"
else fail "/metrics parses and agrees with status, workers and throughput"
fi

# --- bad paths, bad methods; nothing changes ----------------------------
for path in /api/nope /api/waves/W-nope /api/orders/999999 /nope.html /api/waves/W-dash/x; do
  check "GET $path is a JSON 404" bash -c "[ \$(curl -s -o '$WORK/body' -w '%{http_code}' '$URL$path') = 404 ] &&
      jq -e '.error | length > 0' '$WORK/body' >/dev/null"
done
for path in '/api/orders/abc' '/api/orders' '/api/orders/0'; do
  check "GET $path is a JSON 400" bash -c "[ \$(curl -s -o '$WORK/body' -w '%{http_code}' '$URL$path') = 400 ] &&
      jq -e '.error | length > 0' '$WORK/body' >/dev/null"
done
check "HEAD / is 200" [ "$(code -I "$URL/")" = 200 ]
check "GET / is the page (HTML)" bash -c "curl -s '$URL/' | grep -q '<title>wob'"
check "the page and its script and style are served" \
    [ "$(code "$URL/dashboard.js")" = 200 -a "$(code "$URL/dashboard.css")" = 200 ]
before_wave=$(get /api/waves/W-dash); before_status=$(wave_json W-dash)
before_order=$(ctl --json status 1); before_workers=$(jq -c "$pick" <<<"$(ctl --json workers)")
for method in POST PUT DELETE PATCH; do
  for path in /api/waves /api/waves/W-dash /api/orders/1 /api/workers /metrics / /api/nope; do
    got=$(curl -s -o "$WORK/body" -D "$WORK/headers" -w '%{http_code}' -X "$method" \
          -H 'Content-Type: application/json' --data '{"state": "cancelled"}' "$URL$path")
    if [ "$got" = 405 ] && grep -qi '^Allow: GET, HEAD' "$WORK/headers" \
       && jq -e '.error | test("read-only")' "$WORK/body" >/dev/null; then :
    else fail "$method $path refused with 405 (got $got)"; fi
  done
done
ok "POST, PUT, DELETE and PATCH are refused with 405 and Allow: GET, HEAD on every path"
check "nothing changed: the wave's counts" same "$(wave_json W-dash)" "$before_status"
check "nothing changed: /api/waves/W-dash" \
    same "$(get /api/waves/W-dash | jq 'del(.now_ms)')" "$(jq 'del(.now_ms)' <<<"$before_wave")"
check "nothing changed: order 1 and its history" same "$(ctl --json status 1)" "$before_order"
check "nothing changed: the workers" [ "$(jq -c "$pick" <<<"$(ctl --json workers)")" = "$before_workers" ]

# --- the page in headless Chromium ---------------------------------------------
ARTEFACTS="$BIN/../artefacts"
mkdir -p "$ARTEFACTS"
if [ -z "$PY" ] || { [ -z "${CHROMIUM:-}" ] && ! command -v chromium >/dev/null 2>&1; }; then
  fail "chromium and python3-websocket are needed (tools/deps.sh installs them)"
elif PYTHONDONTWRITEBYTECODE=1 DASH_URL="$URL" WOB_ENDPOINT="$ENDPOINT" WOBCTL="$BIN/wobctl" \
     WAVE=W-dash MSISDN="$msisdn" ARTEFACTS="$ARTEFACTS" "$PY" "$SRC/tests/browser/dashboard.py"; then
  ok "browser scenario (tests/browser/dashboard.py)"
else
  fail "browser scenario (tests/browser/dashboard.py)"
fi
check "screenshot saved" test -s "$ARTEFACTS/dashboard.png"
echo "screenshot: $(cd "$ARTEFACTS" && pwd)/dashboard.png"

# --- a clean stop ----------------------------------------------------------------
kill -TERM "$BROKER_PID"
rc=0; wait "$BROKER_PID" || rc=$?
check "the broker exits 0 on SIGTERM with the dashboard on" [ "$rc" = 0 ]
if grep -q "ERROR: AddressSanitizer\|runtime error:\|LeakSanitizer" "$WORK/broker.log"; then
  fail "sanitizer report from the broker"; grep -A20 "Sanitizer\|runtime error" "$WORK/broker.log" >&2
else
  ok "no sanitizer report from the broker"
fi
finish
