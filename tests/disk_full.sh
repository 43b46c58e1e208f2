# Disk full (SPEC §8): on a small tmpfs the broker refuses new work with a
# clear error, keeps answering, records nothing half way, and takes work
# again once there is room.  Needs root (mount); skipped, saying so, where
# tmpfs cannot be mounted.
source "$(dirname "$0")/lib.sh"

DISK="$WORK/disk"
mkdir -p "$DISK"
if ! mount -t tmpfs -o size=32m tmpfs "$DISK" 2>"$WORK/mount.err"; then
  echo "# skipped: cannot mount a tmpfs here ($(cat "$WORK/mount.err"))"
  ok "disk full: skipped (needs root and mount)"
  finish
  exit 0
fi
trap 'umount -l "$DISK" 2>/dev/null; cleanup' EXIT

start_broker "$DISK/data" "*" --map-size 268435456
dd if=/dev/zero of="$DISK/filler" bs=1M count=28 2>/dev/null
"$BIN/wobctl" gen --count 30000 --seed 3 --out "$WORK/t.csv"
make_wave "$WORK/w.yaml" W-full t.csv sms
rc=0; ctl submit --chunk 2000 "$WORK/w.yaml" >/dev/null 2>"$WORK/full.err" || rc=$?
check "a full disk refuses the submission (exit 1)" [ "$rc" = 1 ]
check "with a clear error: disk full, nothing recorded" \
    grep -q "disk full? .* KiB free on the data directory's file system; nothing of this was recorded" "$WORK/full.err"
rows=$(wave_json W-full | jq .rows)
check "the broker keeps answering: the wave holds the $rows rows acknowledged so far" \
    [ "$rows" -gt 0 -a "$rows" -lt 30000 ]
check "what is stored adds up to its rows" [ "$(wave_json W-full | jq '[.by_state[]] | add')" = "$rows" ]
rm -f "$DISK/filler"
check "with room again, the same submission resumes and completes" \
    bash -c "'$BIN/wobctl' --endpoint $ENDPOINT submit --chunk 2000 '$WORK/w.yaml' >/dev/null"
check "all 30000 rows stored" [ "$(wave_json W-full | jq .rows)" = 30000 ]
kill "$BROKER_PID"; wait "$BROKER_PID" 2>/dev/null || true
check "the store verifies" "$BIN/wob-broker" --verify --data "$DISK/data"
finish
