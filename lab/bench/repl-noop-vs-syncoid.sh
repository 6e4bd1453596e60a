#!/usr/bin/env bash
# A replication cycle with nothing to send: zferry `repl run` against
# `syncoid --no-sync-snap --recursive` (Debian's sanoid package) on the same pools.
# Runs INSIDE the lab guest:  target/debug/zferry-lab exec -- bash lab/bench/repl-noop-vs-syncoid.sh
#
# N datasets under src/root, each with S snapshots, already on dst/root (a copy of the source
# pool, see below). Then RUNS rounds of: zferry (first run after a change: lists and
# plans everything), zferry again (snapshots_changed unchanged: lists datasets only), syncoid.
# Wall time and the zfs processes each spawns (a counting wrapper first in PATH).
#
# Env: N (50), S (200), RUNS (3), ZFERRY (release binary), BENCH_DIR (/var/tmp/bench-noop),
#      REMOTE (0; 1 = the target is "localhost" over ssh for both tools).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
N=${N:-50}
S=${S:-200}
RUNS=${RUNS:-3}
REMOTE=${REMOTE:-0}
ZFERRY=${ZFERRY:-$repo/target/release/zferry}
DIR=${BENCH_DIR:-/var/tmp/bench-noop}
SRC=bnsrc
DST=bndst

cleanup() {
    for p in $SRC $DST; do zpool destroy -f $p 2>/dev/null || true; done
    rm -rf "$DIR"
}
trap cleanup EXIT
cleanup
mkdir -p "$DIR/bin"
cp "$here/snap-vs-sanoid/zfs-counter" "$DIR/bin/zfs"
truncate -s 512M "$DIR/$SRC.img"
zpool create -O mountpoint=none -O compression=off $SRC "$DIR/$SRC.img"
zfs create $SRC/root
seq -f "$SRC/root/d%03g" 1 "$N" | xargs -P 2 -n 1 zfs create
t0=$(date +%s)
for i in $(seq -f "%04g" 1 "$S"); do zfs snapshot -r "$SRC/root@autosnap_$i"; done
echo "setup: $N datasets x $S snapshots in $(( $(date +%s) - t0 )) s"

target_node=a
[ "$REMOTE" = 1 ] && target_node=b
cat > "$DIR/zferry.toml" <<EOT
[global]
hostname = "a"
state-dir = "$DIR/state"
lock-dir = "$DIR/lock"
[nodes.a]
[nodes.b]
address = "localhost"
[jobs.noop]
source = { node = "a", dataset = "$SRC/root" }
targets = [{ node = "$target_node", dataset = "$DST/root" }]
recursive = true
EOT
# The target pool starts as a copy of the source pool's vdev, imported under its own name
# with a new pool GUID: the same datasets and the same snapshot GUIDs a replication would
# leave, without receiving N x S snapshots one txg each (over an hour in this emulated lab).
# The uncounted warm-up round (run 0) lets zferry place its cursors (bookmark, hold).
t0=$(date +%s)
zpool export $SRC
cp --sparse=always "$DIR/$SRC.img" "$DIR/$DST.img"
zpool import -d "$DIR/$DST.img" $SRC $DST
zpool reguid $DST
zpool import -d "$DIR/$SRC.img" $SRC
echo "target made as a pool copy: $(( $(date +%s) - t0 )) s, $(zfs list -H -t snapshot -o name -r $DST/root | wc -l) snapshots"
syncoid_target=$DST/root
[ "$REMOTE" = 1 ] && syncoid_target=root@localhost:$DST/root
syncoid_args=(--no-sync-snap --recursive --no-privilege-elevation --quiet "$SRC/root" "$syncoid_target")

now() { date +%s.%N; }
export PATH="$DIR/bin:$PATH"
declare -A total count
for run in $(seq 0 "$RUNS"); do
    for who in zferry-planned zferry-unchanged syncoid; do
        export BENCH_COUNT_FILE="$DIR/count-$who-$run"
        : > "$BENCH_COUNT_FILE"
        args=(--config "$DIR/zferry.toml" repl run)
        [ "$who" = zferry-planned ] && args+=(--full-list)
        t0=$(now)
        case $who in
            zferry-*) "$ZFERRY" "${args[@]}" > "$DIR/out-$who" ;;
            syncoid) syncoid "${syncoid_args[@]}" > "$DIR/out-$who" 2>&1 ;;
        esac
        t1=$(now)
        s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
        n=$(wc -l < "$BENCH_COUNT_FILE")
        lists=$(grep -c '^zfs list' "$BENCH_COUNT_FILE" || true)
        echo "run $run $who ${s}s zfs-processes=$n zfs-list=$lists"
        # Run 0 is a warm-up (caches, ssh control master) and is not counted.
        if [ "$run" -gt 0 ]; then
            total[$who]=$(awk -v a="${total[$who]:-0}" -v b="$s" 'BEGIN { print a + b }')
            count[$who]=$n
        fi
    done
done
grep -v -e unchanged -e 'up to date' "$DIR/out-zferry-unchanged" && echo "zferry did something unexpected" >&2
for who in zferry-planned zferry-unchanged syncoid; do
    echo "mean $who $(awk -v t="${total[$who]}" -v r="$RUNS" 'BEGIN { printf "%.2f", t / r }')s zfs-processes=${count[$who]}"
done
awk -v p="${total[zferry-planned]}" -v u="${total[zferry-unchanged]}" -v s="${total[syncoid]}" 'BEGIN {
    printf "syncoid / zferry (planned):   %.1fx\n", s / p
    printf "syncoid / zferry (unchanged): %.1fx\n", s / u
}'
