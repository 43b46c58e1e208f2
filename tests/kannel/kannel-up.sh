#!/usr/bin/env bash
# kannel-up.sh DIR - start a loopback-only Kannel SMS gateway for wob's tests.
#
# Runs Debian's Kannel (1.4.5): bearerbox (the core), fakesmsc (Kannel's
# simulated SMSC, connected to bearerbox's "smsc = fake" link) and smsbox
# (the HTTP sendsms interface wob-sms talks to).  Config, logs, PID files
# and kannel.env are written to DIR.  Waits until the SMSC link is online
# and smsbox is connected, then prints one line, the sendsms URL with the
# credentials:  http://127.0.0.1:PORT/cgi-bin/sendsms?username=..&password=..
# Stop it with kannel-down.sh DIR.  Running it again on a DIR whose gateway
# still runs stops that one first.
#
# fakesmsc logs each message it receives in DIR/fakesmsc.log:
#   ... DEBUG: Got message N: <FROM TO KIND PAYLOAD>
# KIND is "text" (7-bit, plain), "ucs-2" (coding=2: URL-encoded UTF-16BE)
# or "udh ... data ..." for the parts of a concatenated message.
#
# Environment (all optional):
#   KANNEL_PORT_BASE      4 consecutive ports: admin, smsbox link, fakesmsc,
#                         sendsms.  Unset: a free base in 20000-31999.
#   KANNEL_DENIED_PREFIX  number prefixes the SMSC link does not serve
#                         (Kannel's smsc "denied-prefix", ';'-separated).
#                         Kannel finds no route for such a number: sendsms
#                         answers 403 "Not routable" and a DLR 16 follows.
#   KANNEL_QUEUE_LIMIT    bearerbox sms-outgoing-queue-limit (503 past it)
#   KANNEL_DLR_RETRIES    smsbox retries of a dlr-url that failed (default 3)
#   KANNEL_LOG_LEVEL      0 debug .. 4 panic (default 1)
# Needs the Debian packages kannel, kannel-extras and curl (tools/deps.sh).
set -euo pipefail
set +m   # no job control: $! of a background job is the program's own PID

die () { echo "kannel-up: $*" >&2; exit 1; }
[ $# -eq 1 ] && [ -n "$1" ] || { echo "usage: $0 DIR" >&2; exit 2; }
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
mkdir -p "$1"
DIR=$(cd "$1" && pwd -P)

BEARERBOX=/usr/sbin/bearerbox
SMSBOX=/usr/sbin/smsbox
FAKESMSC=/usr/lib/kannel/test/fakesmsc
for f in "$BEARERBOX" "$SMSBOX" "$FAKESMSC"; do
  [ -x "$f" ] || die "$f missing: install kannel and kannel-extras (tools/deps.sh)"
done
command -v curl >/dev/null || die "curl missing (tools/deps.sh)"

SMS_USER=wob SMS_PASS=wobpass ADMIN_PASS=adminpass
DENIED=${KANNEL_DENIED_PREFIX:-}
QUEUE_LIMIT=${KANNEL_QUEUE_LIMIT:-}
DLR_RETRIES=${KANNEL_DLR_RETRIES:-3}
LOG_LEVEL=${KANNEL_LOG_LEVEL:-1}
WANT_BASE=${KANNEL_PORT_BASE:-}
for v in "$DENIED" "$QUEUE_LIMIT" "$DLR_RETRIES" "$LOG_LEVEL" "$WANT_BASE"; do
  [[ $v != *'"'* ]] || die "settings must not contain double quotes"
done

port_busy () { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
alive () { kill -0 "$1" 2>/dev/null; }
set_ports () { ADMIN=$1; LINK=$(($1 + 1)); FAKE=$(($1 + 2)); SENDSMS=$(($1 + 3)); }
status () { curl -s -m 2 "http://127.0.0.1:$ADMIN/status.txt?password=$ADMIN_PASS" 2>/dev/null || true; }
healthy () { local s; s=$(status); grep -q "FAKE:$FAKE (online" <<<"$s" && grep -q "smsbox:" <<<"$s"; }
core_up () { port_busy "$ADMIN" && port_busy "$LINK" && port_busy "$FAKE"; }
wait_for () {   # wait_for SECONDS COMMAND...: poll every 50 ms
  local deadline=$(( $(date +%s%N) + $1 * 1000000000 )); shift
  until "$@"; do
    [ "$(date +%s%N)" -lt "$deadline" ] || return 1
    sleep 0.05
  done
}

"$HERE/kannel-down.sh" "$DIR" >/dev/null 2>&1 || true

write_conf () {
  {
    cat <<EOF
# written by tests/kannel/kannel-up.sh: loopback only
group = core
admin-port = $ADMIN
admin-interface = 127.0.0.1
admin-password = "$ADMIN_PASS"
admin-deny-ip = "*.*.*.*"
admin-allow-ip = "127.0.0.1"
smsbox-port = $LINK
smsbox-interface = 127.0.0.1
box-deny-ip = "*.*.*.*"
box-allow-ip = "127.0.0.1"
log-file = "$DIR/bearerbox.log"
log-level = $LOG_LEVEL
access-log = "$DIR/bearerbox-access.log"
dlr-storage = internal
EOF
    [ -z "$QUEUE_LIMIT" ] || echo "sms-outgoing-queue-limit = $QUEUE_LIMIT"
    cat <<EOF

# Kannel's simulated SMSC: bearerbox listens, fakesmsc connects.
group = smsc
smsc = fake
smsc-id = fake
allowed-smsc-id = fake
port = $FAKE
our-host = 127.0.0.1
connect-allow-ip = 127.0.0.1
EOF
    [ -z "$DENIED" ] || echo "denied-prefix = \"$DENIED\""
    cat <<EOF

group = smsbox
bearerbox-host = 127.0.0.1
bearerbox-port = $LINK
sendsms-port = $SENDSMS
sendsms-interface = 127.0.0.1
http-request-retry = $DLR_RETRIES
http-queue-delay = 1
log-file = "$DIR/smsbox.log"
log-level = $LOG_LEVEL
access-log = "$DIR/smsbox-access.log"

group = sendsms-user
username = "$SMS_USER"
password = "$SMS_PASS"
default-smsc = fake
max-messages = 10
concatenation = true
EOF
  } >"$DIR/kannel.conf"
}

STARTED=()
stop_started () {
  local p
  for p in "${STARTED[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${STARTED[@]}"; do
    wait_for 3 bash -c "! kill -0 $p 2>/dev/null" || kill -KILL "$p" 2>/dev/null || true
  done
  STARTED=()
}
start_all () {
  write_conf
  setsid "$BEARERBOX" -v 2 "$DIR/kannel.conf" </dev/null >"$DIR/bearerbox.stdout" 2>&1 &
  BB=$!; STARTED+=("$BB")
  wait_for 5 core_up && alive "$BB" || return 1
  # -m 0: fakesmsc sends no MO messages (the message argument is a required
  # dummy); -v 0: it logs every MT message it receives.
  setsid "$FAKESMSC" -H 127.0.0.1 -r "$FAKE" -m 0 -v 0 "0 0 text unused" \
      </dev/null >"$DIR/fakesmsc.log" 2>&1 &
  FK=$!; STARTED+=("$FK")
  setsid "$SMSBOX" -v 2 "$DIR/kannel.conf" </dev/null >"$DIR/smsbox.stdout" 2>&1 &
  SB=$!; STARTED+=("$SB")
  wait_for 8 port_busy "$SENDSMS" && wait_for 8 healthy || return 1
  alive "$BB" && alive "$FK" && alive "$SB"
}

started=0
for _ in 1 2 3 4 5; do
  if [ -n "$WANT_BASE" ]; then set_ports "$WANT_BASE"; else set_ports $((20000 + RANDOM % 3000 * 4)); fi
  busy=0
  for p in "$ADMIN" "$LINK" "$FAKE" "$SENDSMS"; do port_busy "$p" && busy=1; done
  if [ "$busy" = 1 ]; then
    [ -z "$WANT_BASE" ] || die "ports $ADMIN-$SENDSMS busy (KANNEL_PORT_BASE=$WANT_BASE)"
    continue
  fi
  if start_all; then started=1; break; fi
  for f in bearerbox.stdout smsbox.stdout fakesmsc.log; do
    [ -s "$DIR/$f" ] && { echo "--- $DIR/$f"; tail -n 10 "$DIR/$f"; }
  done >&2
  stop_started
  [ -z "$WANT_BASE" ] || break
done
[ "$started" = 1 ] || die "gateway did not come up; logs in $DIR"

echo "$BB" >"$DIR/bearerbox.pid"
echo "$SB" >"$DIR/smsbox.pid"
echo "$FK" >"$DIR/fakesmsc.pid"
URL="http://127.0.0.1:$SENDSMS/cgi-bin/sendsms?username=$SMS_USER&password=$SMS_PASS"
cat >"$DIR/kannel.env" <<EOF
KANNEL_PORT_BASE=$ADMIN
KANNEL_SENDSMS_URL='$URL'
KANNEL_STATUS_URL='http://127.0.0.1:$ADMIN/status.txt?password=$ADMIN_PASS'
KANNEL_FAKESMSC_LOG='$DIR/fakesmsc.log'
EOF
echo "$URL"
