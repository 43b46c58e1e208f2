#!/usr/bin/env bash
# How long a wave's numbers take with a million orders stored (issue 6:
# under 100 ms): one broker with the dashboard on, one wave of N targets
# (default 1,000,000) submitted and left queued, then
#   GET /api/waves/W        the dashboard's wave (curl, time_total)
#   wobctl report --wave W  the whole command: start, connect, ask, print
#   ... --by region (provinces, and every grid), --by worker, --campaign,
#   and GET /api/report (the dashboard's region table)
# and, for comparison, GET /api/waves, /metrics, /api/orders?msisdn=N;
# first with the orders at rest, then again while 16 simulated workers
# (8 sms, 8 call, capacity 100 each) work through the queue: HTTP is served between the
# loop's turns, so under load an answer may wait for the turn in progress.
# Each is run WOB_BENCH_RUNS times (default 11); the median and the worst
# are printed.  Not part of ctest: the intake alone takes a while.
#
#   bench/report.sh [N]          builds and uses build-release/, or the
#                                build tree $WOB_BUILD
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
n=${1:-1000000}
runs=${WOB_BENCH_RUNS:-11}
build=${WOB_BUILD:-$root/build-release}
say () { echo "bench: $*" >&2; }

say "building wob (Release) in $build"
[ -f "$build/CMakeCache.txt" ] || cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j"$(nproc)" --target wob-broker wobctl wob-simworker >/dev/null
bin="$build/bin"
work=$(mktemp -d /tmp/wob-bench-report.XXXXXX)
broker_pid=""
worker_pids=()
cleanup () {
  for pid in "${worker_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  [ -n "$broker_pid" ] && kill "$broker_pid" 2>/dev/null && wait "$broker_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

"$bin/wob-broker" --plain --data "$work/data" --endpoint 'tcp://127.0.0.1:*' --port-file "$work/port" \
    --http 127.0.0.1:0 --http-port-file "$work/http-port" 2>"$work/broker.log" &
broker_pid=$!
for _ in $(seq 200); do [ -s "$work/port" ] && break; sleep 0.05; done
[ -s "$work/port" ] || { cat "$work/broker.log" >&2; exit 1; }
endpoint="tcp://127.0.0.1:$(cat "$work/port")"
url="http://127.0.0.1:$(cat "$work/http-port")"

say "generating and submitting $n targets (no workers: the orders stay queued)"
"$bin/wobctl" gen --count "$n" --seed 1 --out "$work/targets.csv"
cat > "$work/wave.yaml" <<EOW
campaign: C-bench
wave: W-bench
kind: retention
targets: targets.csv
plan:
  - channel: call
    where: { arpu: { min: 150 } }
  - channel: sms
    fallback: call
EOW
start=$(date +%s%N)
"$bin/wobctl" --endpoint "$endpoint" --timeout-ms 600000 submit "$work/wave.yaml" >/dev/null
say "submitted in $(( ($(date +%s%N) - start) / 1000000 )) ms"
orders=$(curl -s "$url/api/waves/W-bench" | jq .progress.total)
msisdn=$(sed -n 2p "$work/targets.csv" | cut -d, -f1)

# median_max CMD...: runs it $runs times, prints "median max" in ms.
median_max () {
  local samples=()
  for _ in $(seq "$runs"); do
    local t0 t1
    t0=$(date +%s%N)
    "$@" >/dev/null
    t1=$(date +%s%N)
    samples+=("$(( (t1 - t0) / 1000 ))")
  done
  printf '%s\n' "${samples[@]}" | sort -n | awk '{ a[NR] = $1 } END {
    printf "%.2f %.2f\n", a[int((NR + 1) / 2)] / 1000, a[NR] / 1000 }'
}
# curl's own time_total (no process start-up), in ms.
curl_median_max () {
  for _ in $(seq "$runs"); do curl -s -o /dev/null -w '%{time_total}\n' "$1"; done |
    sort -n | awk '{ a[NR] = $1 } END { printf "%.2f %.2f\n", a[int((NR + 1) / 2)] * 1000, a[NR] * 1000 }'
}

[ "$(curl -s "$url/api/waves/W-bench" | jq -S -c .report)" = \
  "$("$bin/wobctl" --endpoint "$endpoint" --json report --wave W-bench | jq -S -c .)" ] \
  || { echo "bench: /api/waves/W-bench and wobctl report disagree" >&2; exit 1; }

grids=$("$bin/wobctl" --endpoint "$endpoint" --json report --wave W-bench --by region --level grid | jq '.by_region | length')
table () {
  printf '\n%s orders stored in one wave (store %s MB), %s: %s runs each\n\n' \
    "$orders" "$(( $(curl -s "$url/metrics" | awk '$1 == "wob_store_size_bytes" { print $2 }') / 1048576 ))" \
    "$1" "$runs"
  printf '%-44s %10s %10s\n' "what" "median ms" "worst ms"
  read -r m w < <(curl_median_max "$url/api/waves/W-bench")
  printf '%-44s %10s %10s\n' "GET /api/waves/W-bench (curl time_total)" "$m" "$w"
  read -r m w < <(median_max "$bin/wobctl" --endpoint "$endpoint" --json report --wave W-bench)
  printf '%-44s %10s %10s\n' "wobctl report --wave W-bench --json (process)" "$m" "$w"
  read -r m w < <(median_max "$bin/wobctl" --endpoint "$endpoint" report --wave W-bench)
  printf '%-44s %10s %10s\n' "wobctl report --wave W-bench (table)" "$m" "$w"
  read -r m w < <(median_max "$bin/wobctl" --endpoint "$endpoint" --json report --wave W-bench --by region)
  printf '%-44s %10s %10s\n' "wobctl report --by region (provinces)" "$m" "$w"
  read -r m w < <(median_max "$bin/wobctl" --endpoint "$endpoint" --json report --wave W-bench --by region --level grid)
  printf '%-44s %10s %10s\n' "wobctl report --by region --level grid ($grids)" "$m" "$w"
  read -r m w < <(median_max "$bin/wobctl" --endpoint "$endpoint" --json report --campaign C-bench --by segment)
  printf '%-44s %10s %10s\n' "wobctl report --campaign C --by segment" "$m" "$w"
  read -r m w < <(median_max "$bin/wobctl" --endpoint "$endpoint" --json report --wave W-bench --by worker)
  printf '%-44s %10s %10s\n' "wobctl report --by worker" "$m" "$w"
  read -r m w < <(curl_median_max "$url/api/report?wave=W-bench&by=region&level=2")
  printf '%-44s %10s %10s\n' "GET /api/report?by=region&level=2" "$m" "$w"
  read -r m w < <(curl_median_max "$url/api/waves")
  printf '%-44s %10s %10s\n' "GET /api/waves" "$m" "$w"
  read -r m w < <(curl_median_max "$url/metrics")
  printf '%-44s %10s %10s\n' "GET /metrics" "$m" "$w"
  read -r m w < <(curl_median_max "$url/api/orders?msisdn=$msisdn")
  printf '%-44s %10s %10s\n' "GET /api/orders?msisdn=N (read transaction)" "$m" "$w"
}
table "at rest"
for i in $(seq 8); do
  "$bin/wob-simworker" --endpoint "$endpoint" --channel sms --name "bench-sms-$i" \
      --capacity 100 --outcomes delivered=1 2>/dev/null &
  worker_pids+=("$!")
done
for i in $(seq 8); do
  "$bin/wob-simworker" --endpoint "$endpoint" --channel call --name "bench-call-$i" \
      --capacity 100 --outcomes accepted=0.5,declined=0.5 2>/dev/null &
  worker_pids+=("$!")
done
until [ "$(curl -s "$url/api/waves/W-bench" | jq .progress.done)" -gt 10000 ]; do sleep 0.1; done
table "while 16 workers take and report orders"
printf 'orders done meanwhile: %s; commits: %s\n\n' \
  "$(curl -s "$url/api/waves/W-bench" | jq .progress.done)" \
  "$(curl -s "$url/metrics" | awk '$1 == "wob_commit_seconds_count" { print $2 }')"
