#!/usr/bin/env bash
# Dispatch with 20 against 2,000 connected workers (issue 4): the choice of
# worker must not be a scan over the workers, so throughput with 2,000
# should stay within 20% of throughput with 20 (same total credit, 2,000).
#
#   bench/fleet.sh [ORDERS]      default 100000; runs each size WOB_BENCH_RUNS
#                                times (default 3), prints the medians
#
# Builds (incrementally) in Release into build-release/, as bench/run does.  Prints a table; the last line is JSON for bench/run to merge.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
orders=${1:-100000}
runs=${WOB_BENCH_RUNS:-3}
build="$root/build-release"
say () { echo "fleet: $*" >&2; }

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j"$(nproc)" --target wob-broker wobctl wobworker >/dev/null
mkdir -p "$build/bench"
cc -O2 -std=gnu11 -Wall -Wextra -Werror -I"$root/include" -I"$build/gen" \
   -o "$build/bench/wob_fleet" "$root/bench/wob_fleet.c" "$build/libwobworker.a" \
   "$build/libwob.a" "$build/libwobproto.a" \
   $(pkg-config --cflags --libs libczmq libzmq libprotobuf-c yaml-0.1) -lm -lpthread
bin="$build/bin"
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

work=$(mktemp -d /tmp/wob-fleet.XXXXXX)
broker_pid=""
cleanup () {
  [ -n "$broker_pid" ] && kill "$broker_pid" 2>/dev/null && wait "$broker_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
"$bin/wobctl" gen --count "$orders" --seed 7 --out "$work/targets.csv"

# one_run WORKERS CAPACITY: orders/s end to end, fully durable
one_run () {
  local n=$1 k=$2 run=$3
  rm -rf "$work/data" "$work/port"
  # stdout away from this function's caller: a broker left running must not
  # hold the command substitution's pipe open
  "$bin/wob-broker" --plain --data "$work/data" --endpoint "tcp://127.0.0.1:*" \
      --port-file "$work/port" --heartbeat-ms 2000 >/dev/null 2>"$work/broker.log" &
  broker_pid=$!
  until [ -s "$work/port" ]; do sleep 0.05; done
  local endpoint="tcp://127.0.0.1:$(cat "$work/port")"
  coproc FLEET { "$build/bench/wob_fleet" --endpoint "$endpoint" --workers "$n" \
                   --capacity "$k" --orders "$orders" 2>"$work/fleet.log"; }
  local line=""
  #  Bounded waits: a client that dies must not hang the run (a process
  #  started meanwhile may hold the pipe open)
  read -r -t 120 line <&"${FLEET[0]}" || true
  if [ "$line" != ready ]; then
    say "fleet did not start: $line"
    tail -n 20 "$work/fleet.log" >&2
    kill "$broker_pid"; wait "$broker_pid" 2>/dev/null || true
    return 1
  fi
  cat > "$work/wave.yaml" <<EOW
campaign: C-fleet
wave: W-fleet-$run
targets: targets.csv
rules: { duplicate: off, open_offer: off, merge: off }
plan:
  - channel: sms
EOW
  "$bin/wobctl" --endpoint "$endpoint" submit "$work/wave.yaml" >/dev/null
  local cpu0; cpu0=$(cpu_ticks "$broker_pid")
  line=""
  read -r -t 600 line <&"${FLEET[0]}" || { say "fleet gave no result within 10 min";
                                            tail -n 20 "$work/fleet.log" >&2; }
  local cpu1; cpu1=$(cpu_ticks "$broker_pid")
  wait "$FLEET_PID" 2>/dev/null || true
  kill "$broker_pid"; wait "$broker_pid" 2>/dev/null || true
  broker_pid=""
  # orders/s and the broker's CPU microseconds per order while dispatching
  awk -v c=$((cpu1 - cpu0)) -v hz="$(getconf CLK_TCK)" -v n="$orders" \
      '{ for (i = 1; i < NF; i++) if ($i == "rate") printf "%s %.1f\n", $(i + 1), c * 1e6 / hz / n }' \
      <<<"$line"
}

# cpu_ticks PID: user + system CPU time of a process, in clock ticks
cpu_ticks () { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

median () { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

# Three shapes: 20 workers of credit 100; 2,000 of credit 100 (the same
# credit per worker: what the number of workers costs); 2,000 of credit 1
# (the same total credit, but every order then travels in its own lease,
# report and acknowledgement message).  The broker's CPU per order is
# printed too.
declare -A rate cpu
for size in "20 100" "2000 100" "2000 1"; do
  read -r n k <<<"$size"
  rates=() cpus=()
  for r in $(seq 1 "$runs"); do
    out=$(one_run "$n" "$k" "$r") && [ -n "$out" ] \
      || { say "$n workers x credit $k: run $r failed"; exit 1; }
    read -r s u <<<"$out"
    say "$n workers x credit $k: run $r: $s orders/s, broker $u us CPU per order"
    rates+=("$s") cpus+=("$u")
  done
  rate[$size]=$(printf '%s\n' "${rates[@]}" | median)
  cpu[$size]=$(printf '%s\n' "${cpus[@]}" | median)
done
ratio=$(awk -v a="${rate[2000 100]}" -v b="${rate[20 100]}" 'BEGIN { printf "%.2f", a / b }')
ratio1=$(awk -v a="${rate[2000 1]}" -v b="${rate[20 100]}" 'BEGIN { printf "%.2f", a / b }')
printf '%-34s %14s %22s\n' "dispatch, fully durable" "orders/s" "broker CPU us/order"
for size in "20 100" "2000 100" "2000 1"; do
  read -r n k <<<"$size"
  printf '%-34s %14s %22s\n' "$n workers x credit $k" "${rate[$size]}" "${cpu[$size]}"
done
printf '%-34s %14s\n' "2000x100 / 20x100 (target >= 0.80)" "$ratio"
printf '%-34s %14s\n' "2000x1 / 20x100 (same total credit)" "$ratio1"
printf '{"fleet_orders": %s, "dispatch_20_workers_per_s": %s, "dispatch_2000_workers_per_s": %s, "dispatch_2000_workers_credit_1_per_s": %s, "broker_cpu_us_per_order_20_workers": %s, "broker_cpu_us_per_order_2000_workers": %s, "broker_cpu_us_per_order_2000_workers_credit_1": %s, "ratio_2000_vs_20_workers": %s, "ratio_2000_credit_1_vs_20_workers": %s}\n' \
    "$orders" "${rate[20 100]}" "${rate[2000 100]}" "${rate[2000 1]}" "${cpu[20 100]}" "${cpu[2000 100]}" "${cpu[2000 1]}" "$ratio" "$ratio1"
