#!/usr/bin/env bash
# 200 small increments pending: zferry `repl run` (one `zfs send -I` stream) against syncoid
# (`--no-sync-snap`) and against one `zfs send -i | zfs recv` per snapshot (how per-step
# replicators work). Runs INSIDE the lab guest:
#   target/debug/zferry-lab exec -- bash lab/bench/repl-increments.sh
#
# A source dataset with a base snapshot, already on three targets; then K snapshots each
# after a 64 KiB write. Each contender brings its own target up to date; the script checks
# that all three end with the same snapshot GUIDs. Wall time and zfs processes per contender.
#
# Env: K (200), ZFERRY (release binary), BENCH_DIR (/var/tmp/bench-incr), ORDER (contenders
# in run order, default "zferry syncoid steps").
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
K=${K:-200}
ZFERRY=${ZFERRY:-$repo/target/release/zferry}
DIR=${BENCH_DIR:-/var/tmp/bench-incr}
SRC=bisrc
DST=bidst

cleanup() {
    for p in $SRC $DST; do zpool destroy -f $p 2>/dev/null || true; done
    rm -rf "$DIR"
}
trap cleanup EXIT
cleanup
mkdir -p "$DIR/bin"
cp "$here/snap-vs-sanoid/zfs-counter" "$DIR/bin/zfs"
for p in $SRC $DST; do
    truncate -s 512M "$DIR/$p.img"
    zpool create -O mountpoint="$DIR/mnt/$p" -O compression=off $p "$DIR/$p.img"
done
zfs create $SRC/data
head -c 4M /dev/urandom > "$DIR/mnt/$SRC/data/base"
zfs snapshot $SRC/data@base
for t in zferry syncoid steps; do zfs send $SRC/data@base | zfs recv -u $DST/$t; done
t0=$(date +%s)
for i in $(seq -f "%04g" 1 "$K"); do
    head -c 64K /dev/urandom > "$DIR/mnt/$SRC/data/f$((10#$i % 16))"
    zfs snapshot "$SRC/data@autosnap_$i"
done
echo "setup: $K increments in $(( $(date +%s) - t0 )) s"
cat > "$DIR/zferry.toml" <<EOT
[global]
hostname = "a"
state-dir = "$DIR/state"
lock-dir = "$DIR/lock"
[nodes.a]
[jobs.incr]
source = { node = "a", dataset = "$SRC/data" }
targets = [{ node = "a", dataset = "$DST/zferry" }]
EOT

steps() {
    local prev=base
    for snap in $(zfs list -H -o name -t snapshot -s createtxg -d 1 $SRC/data | sed 's/.*@//' | tail -n +2); do
        zfs send -i "$SRC/data@$prev" "$SRC/data@$snap" | zfs recv -u "$DST/steps"
        prev=$snap
    done
}

export PATH="$DIR/bin:$PATH"
for who in ${ORDER:-zferry syncoid steps}; do
    export BENCH_COUNT_FILE="$DIR/count-$who"
    : > "$BENCH_COUNT_FILE"
    t0=$(date +%s.%N)
    case $who in
        zferry) "$ZFERRY" --config "$DIR/zferry.toml" repl run > "$DIR/out-$who" ;;
        syncoid) syncoid --no-sync-snap --no-privilege-elevation --quiet $SRC/data $DST/syncoid ;;
        steps) steps ;;
    esac
    t1=$(date +%s.%N)
    s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
    echo "$who ${s}s zfs-processes=$(wc -l < "$BENCH_COUNT_FILE")"
    eval "time_$who=$s"
done
guids() { zfs list -H -o guid -t snapshot -s createtxg -d 1 "$1" | md5sum; }
[ "$(guids $DST/zferry)" = "$(guids $DST/syncoid)" ] && [ "$(guids $DST/zferry)" = "$(guids $DST/steps)" ] \
    || { echo "targets differ" >&2; exit 1; }
echo "all three targets hold the same $((K + 1)) snapshots"
awk -v z="$time_zferry" -v s="$time_syncoid" -v p="$time_steps" 'BEGIN {
    printf "syncoid / zferry: %.1fx   per-snapshot / zferry: %.1fx\n", s / z, p / z
}'
