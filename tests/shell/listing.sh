# Listings read by the usual tools at many block sizes give the same bytes.
. "$(dirname "$0")/lib.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "mod_b sub_b:one sub_b:two" > "$MNT/modules/load"
echo "mod_a sub_a:one" >> "$MNT/modules/load"

cat "$MNT/available_events" > "$work/cat"
for bs in 1 7 64 4096 1M; do
    dd if="$MNT/available_events" of="$work/dd$bs" bs=$bs status=none
    check "dd bs=$bs equals cat" cmp -s "$work/cat" "$work/dd$bs"
done
for bs in 1 7 4096; do
    dd if="$MNT/tracepoints" of="$work/tp$bs" bs=$bs status=none
done
check "tracepoints bs=1 equals bs=4096" cmp -s "$work/tp1" "$work/tp4096"
check "tracepoints bs=7 equals bs=4096" cmp -s "$work/tp7" "$work/tp4096"

same "line count" 2308 "$(wc -l < "$work/cat")"
same "first line" "initcall:initcall_finish" "$(head -n 1 "$MNT/available_events")"
same "head -c" "initcall:i" "$(head -c 10 "$MNT/available_events")"
same "module lines" 3 "$(grep -c '^sub_' "$MNT/available_events")"
same "grep one" "sched:sched_switch" "$(grep -x 'sched:sched_switch' "$MNT/available_events")"
same "tracepoints line" "sub_a:one mod_a 0 0" "$(grep '^sub_a:one ' "$MNT/tracepoints")"
same "size is 0" 0 "$(stat -c %s "$MNT/available_events")"
same "mode" "-r--r-----" "$(stat -c %A "$MNT/available_events")"
# skip= reads through lseek: the listing replays from record 0 to the offset.
same "dd skip" "$(tail -c +101 "$work/cat" | head -c 50)" \
    "$(dd if="$MNT/available_events" bs=50 skip=2 count=1 status=none)"
refuses "write a listing" "Invalid argument" bash -c "echo x > '$MNT/available_events'"
refuses "append a listing" "Invalid argument" bash -c "echo x >> '$MNT/tracepoints'"
finish
