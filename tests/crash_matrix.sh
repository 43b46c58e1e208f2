# Crash matrix (SPEC §8): the broker is killed with SIGKILL at 50 points
# drawn at random (seeded: WOB_CRASH_SEED repeats a run) while waves are
# submitted, dispatched and reported on, rules reloaded and backups taken;
# after each kill the data directory must add up (wob-broker --verify:
# every wave's counts equal a recount from its orders, leases equal the
# dispatched orders) and every row acknowledged before the kill must be
# there.  At the end every order is finished exactly once.
source "$(dirname "$0")/lib.sh"

seed=${WOB_CRASH_SEED:-$(( $(date +%s) % 100000 ))}
echo "# crash matrix seed $seed (WOB_CRASH_SEED=$seed repeats this run)"
RANDOM=$seed
KILLS=${WOB_CRASH_KILLS:-50}
port=$(pick_port)
printf 'version: 1\n' > "$WORK/rules.yaml"
broker_up () {
  start_broker "$WORK/data" "$port" --heartbeat-ms 200 --restart-grace-ms 2000 \
      --rules "$WORK/rules.yaml" --backoff-ms 100
}
broker_up
# Workers that outlive the broker: they reconnect and re-claim their leases
for i in 1 2; do
  start_worker --channel sms --name "sms-$i" --capacity 20 --delay-ms 2 --heartbeat-ms 200 \
      --outcomes delivered=0.9,failed=0.1
done
start_worker --channel call --name agent-1 --capacity 5 --delay-ms 2 --heartbeat-ms 200 \
    --outcomes accepted=0.5,declined=0.5

waves=0
verified=0
acked_ok=0
for kill in $(seq 1 "$KILLS"); do
  phase=$(( RANDOM % 4 ))
  case $phase in
    0|1)  # a wave being submitted (and the others dispatched meanwhile)
      waves=$((waves + 1))
      "$BIN/wobctl" gen --count 1000 --seed "$((seed + waves))" --out "$WORK/t$waves.csv"
      make_wave "$WORK/w$waves.yaml" "W-$waves" "t$waves.csv" \
          "$([ $phase = 0 ] && echo sms || echo call)"
      ctl submit --chunk 300 --progress "$WORK/w$waves.yaml" 2>"$WORK/p$waves.log" \
          >/dev/null &
      ;;
    2)  # rules reloaded
      ctl rules reload >/dev/null 2>&1 &
      ;;
    3)  # a backup in progress
      ctl --timeout-ms 60000 backup "$WORK/backup-$kill" >/dev/null 2>&1 &
      ;;
  esac
  client=$!
  sleep "0.$(( RANDOM % 400 + 20 ))"      # the kill point: not a synchronisation
  crash_broker
  kill "$client" 2>/dev/null || true       # the interrupted client: resumed below
  wait "$client" 2>/dev/null || true
  if "$BIN/wob-broker" --verify --data "$WORK/data" >"$WORK/verify-$kill.txt" 2>&1; then
    verified=$((verified + 1))
  else
    echo "# kill $kill (phase $phase): verify failed:" >&2
    cat "$WORK/verify-$kill.txt" >&2
  fi
  broker_up
  # Rows acknowledged before the kill are stored (resubmission resumes)
  if [ $phase -le 1 ]; then
    acked=$(grep '^durable' "$WORK/p$waves.log" 2>/dev/null | tail -1 | awk '{print $2}')
    rows=$(wave_json "W-$waves" 2>/dev/null | jq -r '.rows // 0')
    if [ "${rows:-0}" -ge "${acked:-0}" ]; then acked_ok=$((acked_ok + 1))
    else echo "# kill $kill: W-$waves acknowledged $acked rows, holds $rows" >&2; fi
    ctl submit --chunk 300 "$WORK/w$waves.yaml" >/dev/null 2>&1 || true   # finish it
  else
    acked_ok=$((acked_ok + 1))
  fi
done
check "after each of $KILLS kills the store adds up (wob-broker --verify)" [ "$verified" = "$KILLS" ]
check "after each kill every acknowledged row is stored" [ "$acked_ok" = "$KILLS" ]

# Let everything finish, then check the whole
all_finished () {
  for w in $(seq 1 "$waves"); do wave_finished "W-$w" || return 1; done
}
check "every wave finishes after the last restart" wait_for 120 all_finished
for w in $(seq 1 "$waves"); do
  rows=$(wave_json "W-$w" | jq .rows)
  sum=$(wave_json "W-$w" | jq '[.by_state[]] | add')
  [ "$rows" = 1000 ] && [ "$sum" = 1000 ] || { echo "# W-$w: rows $rows, orders $sum" >&2; bad=1; }
done
check "every wave holds all 1000 rows, each one order" [ -z "${bad:-}" ]
crash_broker
check "the final store adds up" "$BIN/wob-broker" --verify --data "$WORK/data"
finish
