# tests/lib.sh - helpers for wob's integration tests: real processes on
# loopback, an ephemeral port per broker, a temporary directory per test,
# and waits on conditions (never fixed sleeps).
set -euo pipefail

BIN=${WOB_BIN_DIR:?WOB_BIN_DIR not set (run under ctest)}
SRC=${WOB_SOURCE_DIR:?}
WORK=$(mktemp -d /tmp/wob-test.XXXXXX)
PIDS=()
PASSED=0
FAILED=0

cleanup () {
  for pid in "${PIDS[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ "$FAILED" -eq 0 ]; then rm -rf "$WORK"; else echo "work dir kept: $WORK" >&2; fi
}
trap cleanup EXIT

ok ()   { PASSED=$((PASSED + 1)); echo "ok - $*"; }
fail () { FAILED=$((FAILED + 1)); echo "FAIL - $*" >&2; }
check () {  # check "description" command...
  local what=$1; shift
  if "$@"; then ok "$what"; else fail "$what"; fi
}
check_eq () {  # check_eq "description" EXPECTED ACTUAL: shows both when they differ
  if [ "$2" = "$3" ]; then ok "$1"; else fail "$1 (expected '$2', got '$3')"; fi
}
finish () {
  echo "$(basename "$0" .sh): $PASSED passed, $FAILED failed"
  [ "$FAILED" -eq 0 ]
}

# wait_for SECONDS command...: polls the condition every 50 ms.
wait_for () {
  local limit=$1; shift
  local deadline=$(( $(date +%s%N) + limit * 1000000000 ))
  until "$@"; do
    [ "$(date +%s%N)" -lt "$deadline" ] || return 1
    sleep 0.05
  done
}

# pick_port: a free port for a broker (start_broker's "*").  CZMQ's "*"
# takes ports from 49152 up and outgoing connections get the kernel's
# ephemeral ports (32768 up), so this draws at random from 10000-19999,
# clear of both.
pick_port () {
  local p
  for _ in $(seq 50); do
    p=$(( 10000 + RANDOM % 10000 ))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return 0; }
  done
  return 1
}

# start_broker DATA_DIR [PORT] [extra args...]: sets BROKER_PID and ENDPOINT.
# "*" is a random free port (pick_port), not CZMQ's "*", which takes the
# first free port from 49152 up: there, a port one test's broker just left
# goes to the next broker any test starts, and the first test's workers,
# still reconnecting, join that broker (seen: a stray sms-1 reporting into
# another test's wave).
start_broker () {
  local data=$1 port=${2:-*}; shift 2 || shift $#
  local attempt p deadline
  for attempt in 1 2 3; do
    p=$port
    [ "$port" = "*" ] && p=$(pick_port)
    rm -f "$WORK/port"
    "$BIN/wob-broker" --plain --data "$data" --endpoint "tcp://127.0.0.1:$p" \
        --port-file "$WORK/port" "$@" 2>>"$WORK/broker.log" &
    BROKER_PID=$!
    # Up (port file written) or gone (lost a race for the port picked)
    deadline=$(( $(date +%s%N) + 10000000000 ))
    until [ -s "$WORK/port" ] || ! kill -0 "$BROKER_PID" 2>/dev/null \
       || [ "$(date +%s%N)" -ge "$deadline" ]; do sleep 0.05; done
    [ -s "$WORK/port" ] && break
    kill -9 "$BROKER_PID" 2>/dev/null || true
    wait "$BROKER_PID" 2>/dev/null || true
    if [ "$port" != "*" ] || [ "$attempt" = 3 ]; then
      echo "broker did not start:" >&2; tail "$WORK/broker.log" >&2; return 1
    fi
  done
  PIDS+=("$BROKER_PID")
  PORT=$(cat "$WORK/port")
  ENDPOINT="tcp://127.0.0.1:$PORT"
}

# stop_workers: every process started so far but the broker (before a
# restart on another port, so that none of them reconnects elsewhere).
stop_workers () {
  local pid
  for pid in "${PIDS[@]}"; do [ "$pid" = "$BROKER_PID" ] || kill "$pid" 2>/dev/null || true; done
}

# crash_broker: kill -9 the broker and wait until it is really gone (its
# port and LMDB lock are free only then).
crash_broker () {
  kill -9 "$BROKER_PID" 2>/dev/null || true
  wait "$BROKER_PID" 2>/dev/null || true
}

# start_worker ARGS...: a simworker against ENDPOINT; appends its pid to PIDS.
start_worker () {
  "$BIN/wob-simworker" --endpoint "$ENDPOINT" "$@" 2>>"$WORK/workers.log" &
  PIDS+=("$!")
  LAST_WORKER=$!
}

ctl () { "$BIN/wobctl" --endpoint "$ENDPOINT" "$@"; }

# wave_field WAVE JQ: a number from status --wave --json.
wave_json () { ctl --json status --wave "$1"; }
state_count () { wave_json "$1" | jq -r ".by_state.$2"; }
# Orders not yet finished (anything that can still move).
open_count () {
  wave_json "$1" | jq '.by_state.received + .by_state.queued + .by_state.deferred
                       + .by_state.dispatched + .by_state.retry + .by_state.held'
}
wave_finished () { [ "$(open_count "$1")" = 0 ]; }

# submit_waves COUNT ROWS SEED: submits COUNT SMS waves W-1..W-COUNT of ROWS
# generated targets each (wave N: $WORK/wN.yaml, its targets the Nth
# $WORK/part-NNNN.csv); WAVES is how many were tried.
submit_waves () {
  "$BIN/wobctl" gen --count $(( $1 * $2 )) --seed "$3" --out "$WORK/all.csv"
  head -n 1 "$WORK/all.csv" > "$WORK/header"
  tail -n +2 "$WORK/all.csv" | split -l "$2" -d -a 4 - "$WORK/part-"
  WAVES=0
  local part
  for part in "$WORK"/part-????; do
    WAVES=$((WAVES + 1))
    cat "$WORK/header" "$part" > "$part.csv"
    make_wave "$WORK/w$WAVES.yaml" "W-$WAVES" "$part.csv"
    ctl submit "$WORK/w$WAVES.yaml" >/dev/null || echo "# wave W-$WAVES refused" >&2
  done
}

# make_wave FILE WAVE_ID TARGETS [PLAN_CHANNEL]: a one-channel wave descriptor.
make_wave () {
  cat > "$1" <<EOW
campaign: C-test
wave: $2
kind: retention
targets: $3
plan:
  - channel: ${4:-sms}
EOW
}
