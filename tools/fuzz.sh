#!/usr/bin/env bash
# Coverage-guided fuzzing of wob's parsers of untrusted input (tests/fuzz):
#   tools/fuzz.sh [SECONDS]     fuzz each target for SECONDS (default 60)
#
# Installs what is missing (tools/deps.sh, then clang-14 and its libFuzzer
# runtime), builds the fuzz targets with clang, ASan and UBSan in
# build-fuzz/, then for each target:
#   1. replays every file of tests/fuzz/regressions/TARGET/ and
#      tests/fuzz/corpus/TARGET/ once (a fixed crash must stay fixed);
#   2. fuzzes for SECONDS on a copy of the corpus in
#      build-fuzz/fuzz-runs/TARGET/corpus (the repository is not touched);
#      anything found is written to build-fuzz/fuzz-runs/TARGET/artifacts/.
# Prints one line per target and "fuzz: N passed, N failed"; exits 1 when a
# target failed (a crash, a sanitizer report, a leak, a timeout of more
# than 10 s on one input, or a failed replay).
# Targets run side by side, one per core (WOB_FUZZ_JOBS to change that).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-60}
if ! [[ $seconds =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: tools/fuzz.sh [SECONDS]   (a whole number of seconds, default 60)" >&2
  exit 2
fi

# --- Packages ---------------------------------------------------------------
"$root/tools/deps.sh"
packages=(clang-14 libclang-rt-14-dev)    # compiler; libFuzzer, ASan, UBSan runtimes
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "fuzz: installing ${missing[*]}" >&2
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  # Refresh the package lists only when they do not know the packages yet
  if ! apt-cache show "${missing[@]}" >/dev/null 2>&1; then
    $sudo apt-get update -q
  fi
  $sudo apt-get install -y -q "${missing[@]}"
fi
cc=${WOB_FUZZ_CC:-clang-14}
# Stacks for UBSan reports too (ASan prints them anyway)
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}

# --- Build ------------------------------------------------------------------
targets=(codec targets wavefile rulebook)
build="$root/build-fuzz"
CC=$cc cmake -S "$root" -B "$build" -DWOB_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$(nproc 2>/dev/null || echo 2)" \
      --target "${targets[@]/#/fuzz_}" >/dev/null

# Longest input per target: the CSV reader needs records over its 64 KiB limit
max_len() {
  case $1 in
    targets) echo 262144 ;;
    *)       echo 65536 ;;
  esac
}

# s_finding LOG: what a sanitizer, a check or libFuzzer reported, and where in
# wob's code (the first stack frame outside the fuzz harness), on one line
s_finding() {
  local what where
  what=$(grep -m1 -E 'runtime error|ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|check failed|ALARM' \
         "$1" | sed 's/^==[0-9]*== *//' || true)
  where=$(grep -E '^ *#[0-9]+ 0x[0-9a-f]+ in [^ ]+ '"$root"'/' "$1" | grep -v "$root/tests/fuzz/" \
          | head -1 | sed -E 's/^ *#[0-9]+ 0x[0-9a-f]+ in ([^ ]+) '"${root//\//\\/}"'\/([^ ]*).*/\1 (\2)/' || true)
  echo "${what:-see $1}${where:+ -- in $where}"
}

# --- One target -------------------------------------------------------------
# run_target NAME: writes build-fuzz/fuzz-runs/NAME/{replay.log,fuzz.log,result}
run_target() {
  local name=$1 exe="$build/fuzz/fuzz_$1" work="$build/fuzz-runs/$1"
  local src="$root/tests/fuzz"
  rm -rf "$work"
  mkdir -p "$work/corpus" "$work/artifacts"
  cp "$src/corpus/$name"/* "$work/corpus/"

  # 1. Replay: libFuzzer runs files given as arguments once each
  local files=() replay=ok
  mapfile -t files < <(find "$src/regressions/$name" "$src/corpus/$name" -type f \
                       2>/dev/null | sort)
  if [ ${#files[@]} -eq 0 ]; then
    replay=FAILED                     # no corpus: libFuzzer would fuzz forever
    echo "no files in $src/corpus/$name" >"$work/replay.log"
  elif ! "$exe" "${files[@]}" >"$work/replay.log" 2>&1; then
    replay=FAILED
  fi

  # 2. Fuzz
  local status=ok
  if ! "$exe" -max_len="$(max_len "$name")" -timeout=10 -max_total_time="$seconds" \
        -print_final_stats=1 -artifact_prefix="$work/artifacts/" \
        "$work/corpus" >"$work/fuzz.log" 2>&1; then
    status=CRASH
  fi

  # Numbers from libFuzzer's log
  local runs rate stats cov ft corp
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/fuzz.log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work/fuzz.log" | tail -1)
  stats=$(grep -E '^#[0-9]+.*cov: ' "$work/fuzz.log" | tail -1 || true)
  [ -n "$runs" ] || runs=$(sed -n 's/^#\([0-9]*\).*/\1/p' <<<"$stats")
  cov=$(sed -n 's/.*cov: \([0-9]*\).*/\1/p' <<<"$stats")
  ft=$(sed -n 's/.*ft: \([0-9]*\).*/\1/p' <<<"$stats")
  corp=$(sed -n 's/.*corp: \([0-9]*\).*/\1/p' <<<"$stats")
  local verdict=ok line
  [ "$status$replay" = okok ] || verdict=FAILED
  line=$(printf '%-14s %-6s runs %s (%s/s), cov %s, ft %s, corpus %s -> %s, replay of %s files %s' \
         "fuzz_$name" "$verdict" "${runs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" \
         "$(find "$src/corpus/$name" -type f | wc -l)" "${corp:-?}" \
         "${#files[@]}" "$replay")
  if [ "$status" = CRASH ]; then
    local artifact
    artifact=$(sed -n "s/.*Test unit written to \(.*\)/\1/p" "$work/fuzz.log" | tail -1)
    line+=$'\n'"    found: $(s_finding "$work/fuzz.log")"
    line+=$'\n'"    input: ${artifact:-none written} (keep it in tests/fuzz/regressions/$name/)"
    line+=$'\n'"    log:   $work/fuzz.log"
  fi
  if [ "$replay" != ok ]; then
    line+=$'\n'"    replay failed: $(grep 'Running: ' "$work/replay.log" | tail -1 | sed 's/.*Running: //')"
    line+=$'\n'"      $(s_finding "$work/replay.log")"
  fi
  printf '%s\n' "$line" >"$work/result"
  echo "$verdict" >"$work/verdict"
  [ "$verdict" = ok ]
}

# --- All targets, one per core ----------------------------------------------
jobs=${WOB_FUZZ_JOBS:-$(nproc 2>/dev/null || echo 2)}
echo "fuzz: ${#targets[@]} targets, $seconds s each, $jobs at a time (build-fuzz/fuzz-runs/)" >&2
running=0
for name in "${targets[@]}"; do
  if [ "$running" -ge "$jobs" ]; then
    wait -n || true
    running=$((running - 1))
  fi
  run_target "$name" &
  running=$((running + 1))
done
wait || true

passed=0
failed=0
for name in "${targets[@]}"; do
  result="$build/fuzz-runs/$name/result"
  if [ -f "$result" ]; then
    cat "$result"
    if [ "$(cat "$build/fuzz-runs/$name/verdict")" = ok ]; then
      passed=$((passed + 1))
    else
      failed=$((failed + 1))
    fi
  else
    echo "fuzz_$name FAILED (did not finish; see build-fuzz/fuzz-runs/$name/)"
    failed=$((failed + 1))
  fi
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
