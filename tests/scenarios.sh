# Table-driven scenarios for the coordination rules: each file in
# tests/scenarios/ is a rule file, waves, suppressions, workers with their
# outcomes, clock moves and reloads, and the expected final state of every
# order (wave, number, state, channel, deciding rule).  Each scenario runs
# against its own broker (with the test clock).
#
# Commands (one per line; blocks end with "end"):
#   rules ... end                 rule file (YAML); ${QUIET_NOW} = quiet hours
#                                 covering now for the next two hours (UTC)
#   reload                        SIGHUP; "reload-expect-fail" for wobctl rules
#                                 reload that must be refused
#   wave ID CHANNEL [FALLBACK] ... end   targets "MSISDN OFFER [PRIORITY]";
#                                 lines starting with "rules:" go to the descriptor,
#                                 "fallback_after: N" / "fallback_on: [...]" to the step
#   suppress MSISDN REASON [CHANNEL]
#   worker CHANNEL OUTCOMES [CAPACITY]   a simworker (name CHANNEL-N)
#   stop-workers
#   clock DURATION                advance the broker's clock
#   await WAVE...                 until no order of the waves can still move
#   expect WAVE MSISDN STATE CHANNEL RULE   RULE: a text in the order's history
#                                 ("-": none required); several orders of one
#                                 number in a wave are told apart by channel
#   expect-orders WAVE MSISDN N   how many orders the number has in the wave
source "$(dirname "$0")/lib.sh"

m=$(( ($(date -u +%s) / 60) % 1440 ))
hm () { printf '%02d:%02d' $(( ($1 + 1440) % 1440 / 60 )) $(( ($1 + 1440) % 60 )); }
export QUIET_NOW="$(hm $((m - 1)))-$(hm $((m + 120)))"

run_scenario () {
  local file=$1 name n=0 workers=0 line
  name=$(basename "$file" .scn)
  local dir="$WORK/$name"
  mkdir -p "$dir"
  local block="" block_file="" started=0
  local scenario_failed=$FAILED
  while IFS= read -r line || [ -n "$line" ]; do
    n=$((n + 1))
    [[ "$line" =~ ^[[:space:]]*(#|$) ]] && [ -z "$block" ] && continue
    if [ -n "$block" ]; then
      if [ "$line" = end ]; then
        if [ "$block" = wave ]; then ctl submit "$block_file.yaml" >/dev/null 2>"$dir/submit.err" \
            || fail "$name:$n: submit refused: $(cat "$dir/submit.err")"; fi
        block=""
        continue
      fi
      case "$block" in
        rules) eval "echo \"$line\"" >> "$dir/rules.yaml" ;;
        wave)
          if [[ "$line" =~ ^[[:space:]]*rules: ]]; then echo "${line#"${line%%[![:space:]]*}"}" >> "$block_file.yaml"
          elif [[ "$line" =~ ^[[:space:]]*fallback_ ]]; then echo "    ${line#"${line%%[![:space:]]*}"}" >> "$block_file.yaml"
          else set -- $line; echo "$1,$2,${3:-5}" >> "$block_file.csv"; fi ;;
      esac
      continue
    fi
    set -- $line
    local cmd=$1; shift
    if [ $started = 0 ] && [ "$cmd" != rules ]; then
      start_broker "$dir/data" "*" --heartbeat-ms 200 --rules "$dir/rules.yaml" --test-clock --backoff-ms 20
      started=1
    fi
    case "$cmd" in
      rules) : > "$dir/rules.yaml"; block=rules ;;
      reload)
        kill -HUP "$BROKER_PID"
        wait_for 10 bash -c "[ \"\$('$BIN/wobctl' --endpoint $ENDPOINT --json rules show | jq -r .text)\" = \"\$(cat '$dir/rules.yaml')\" ]" \
            || fail "$name:$n: the reloaded rules are not in force" ;;
      reload-expect-fail)
        if ctl rules reload >/dev/null 2>"$dir/reload.err"; then fail "$name:$n: reload was accepted"
        else ok "$name:$n: reload refused: $(head -c 100 "$dir/reload.err")"; fi ;;
      wave)
        block=wave; block_file="$dir/$1"
        echo "msisdn,offer,priority" > "$block_file.csv"
        printf 'campaign: C-%s\nwave: %s\ntargets: %s.csv\nplan:\n  - channel: %s\n' "$1" "$1" "$1" "$2" > "$block_file.yaml"
        [ -n "${3:-}" ] && echo "    fallback: $3" >> "$block_file.yaml" ;;
      suppress) ctl suppress add "$1" --reason "$2" ${3:+--channel "$3"} >/dev/null ;;
      worker)
        workers=$((workers + 1))
        start_worker --channel "$1" --name "$1-$workers" --capacity "${3:-5}" --heartbeat-ms 200 \
            --outcomes "$2" --seed "$workers" ;;
      stop-workers) stop_workers ;;
      clock) ctl clock advance "$1" >/dev/null ;;
      await)
        for w in "$@"; do
          wait_for 60 wave_finished "$w" || fail "$name:$n: wave $w did not finish"
        done ;;
      expect)
        local rule="${*:5}" order
        order=$(ctl --json status --msisdn "$2" | jq -c --arg w "$1" --arg c "$4" \
                'map(select(.wave == $w and (.channel == $c or ($c == "-" and .channel == ""))))[0]')
        local got
        got=$(jq -r '"\(.state) \(.channel)"' <<<"$order" 2>/dev/null)
        local want="$3 $4"; [ "$4" = "-" ] && want="$3 "
        if [ "$got" != "$want" ]; then
          fail "$name:$n: $1 $2: expected $want, got '$got'"
        elif [ "$rule" != "-" ] && ! jq -e --arg r "$rule" 'any(.history[].reason; contains($r))' <<<"$order" >/dev/null; then
          fail "$name:$n: $1 $2: no '$rule' in the history: $(jq -c '[.history[].reason]' <<<"$order")"
        else
          ok "$name:$n: $1 $2 $3 $4 ${rule#-}"
        fi ;;
      expect-orders)
        local count
        count=$(ctl --json status --msisdn "$2" | jq --arg w "$1" 'map(select(.wave == $w)) | length')
        check "$name:$n: $1 $2 has $3 orders ($count)" [ "$count" = "$3" ] ;;
      *) fail "$name:$n: unknown command '$cmd'" ;;
    esac
  done < "$file"
  # The scenario's processes end before the next one starts.
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  PIDS=()
  [ "$FAILED" = "$scenario_failed" ] && echo "# scenario $name passed"
}

for file in "$SRC"/tests/scenarios/*.scn; do
  echo "# scenario $(basename "$file" .scn)"
  run_scenario "$file"
done
finish
