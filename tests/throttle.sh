# Throttling: the broker never leases faster than the channel's rate nor
# faster than each worker's rate (checked on the recorded lease times, not
# on how long the test took).
source "$(dirname "$0")/lib.sh"

cat > "$WORK/rules.yaml" <<EOR
version: 1
throttle:
  call: { per_second: 20, per_worker_per_second: 8 }
EOR
start_broker "$WORK/data" "*" --heartbeat-ms 200 --rules "$WORK/rules.yaml"
"$BIN/wobctl" gen --count 60 --seed 21 --out "$WORK/t.csv"
make_wave "$WORK/w.yaml" W-T t.csv call
ctl submit "$WORK/w.yaml" >/dev/null
for i in 1 2 3; do
  start_worker --channel call --name agent-$i --capacity 50 --heartbeat-ms 200 --outcomes accepted=1
done
check "wave finishes" wait_for 60 wave_finished W-T
# Lease times, per worker, from every order's history.
tail -n +2 "$WORK/t.csv" | cut -d, -f1 | while read -r n; do
  ctl --json status --msisdn "$n" | jq -r '.[0].history[] | select(.to == "dispatched") | "\(.at_ms) \(.actor) \(.reason)"'
done | awk '{ split($0, a, "leased to "); split(a[2], b, " "); print $1, b[1] }' | sort -n > "$WORK/leases"
check "60 leases recorded" [ "$(wc -l < "$WORK/leases")" = 60 ]
# max_in_window FILTER LIMIT: most leases in any 1 s window
max_in_window () {
  awk -v who="$1" '$2 ~ who { t[n++] = $1 } END {
      best = 0; j = 0
      for (i = 0; i < n; i++) { while (t[i] - t[j] >= 1000) j++; if (i - j + 1 > best) best = i - j + 1 }
      print best }' "$WORK/leases"
}
channel=$(max_in_window ".")
check "channel never above 20/s plus its burst of 2 (peak $channel in 1 s)" [ "$channel" -le 22 ]
for i in 1 2 3; do
  w=$(max_in_window "agent-$i")
  check "agent-$i never above 8/s plus its burst of 1 (peak $w in 1 s)" [ "$w" -le 9 ]
done
finish
