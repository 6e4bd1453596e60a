#!/usr/bin/env bash
# zferry `repl run` against the raw pipelines it replaces, side by side in the lab guest:
#   local:  zfs send | zfs recv               vs  zferry job with a target on this node
#   ssh:    zfs send | ssh localhost zfs recv  vs  zferry job with a target reached by ssh
# Runs INSIDE the lab guest:  target/debug/zferry-lab exec -- bash lab/bench/repl-throughput.sh
#
# One source dataset holding SIZE_MIB of incompressible data in one snapshot; each contender
# receives it into a fresh dataset on a second pool (full stream), RUNS times, alternating.
# Pools are files in guest RAM: SIZE_MIB must fit twice in the guest with room to spare
# (4 GiB guest: 512 MiB is safe). zferry's time includes its listing, bookmark and hold
# commands, so the ratio is end to end.
#
# Env: SIZE_MIB (512), RUNS (3), ZFERRY (release binary), BENCH_DIR (/var/tmp/bench-repl),
# CONTENDERS (default "raw-local zferry-local raw-ssh zferry-ssh").
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
SIZE_MIB=${SIZE_MIB:-512}
RUNS=${RUNS:-3}
ZFERRY=${ZFERRY:-$repo/target/release/zferry}
DIR=${BENCH_DIR:-/var/tmp/bench-repl}
SRC=btsrc
DST=btdst

cleanup() {
    for p in $SRC $DST; do zpool destroy -f $p 2>/dev/null || true; done
    rm -rf "$DIR"
}
trap cleanup EXIT
cleanup
mkdir -p "$DIR"
vdev_mib=$((SIZE_MIB * 2 + 256))
for p in $SRC $DST; do
    truncate -s "${vdev_mib}M" "$DIR/$p.img"
    zpool create -O mountpoint="$DIR/mnt/$p" -O compression=off $p "$DIR/$p.img"
done
zfs create $SRC/data
head -c "$((SIZE_MIB << 20))" /dev/urandom > "$DIR/mnt/$SRC/data/blob"
zfs snapshot $SRC/data@s1

cat > "$DIR/zferry.toml" <<EOT
[global]
hostname = "a"
state-dir = "$DIR/state"
lock-dir = "$DIR/lock"
[nodes.a]
[nodes.b]
address = "localhost"
[jobs.local]
source = { node = "a", dataset = "$SRC/data" }
targets = [{ node = "a", dataset = "$DST/zlocal" }]
[jobs.ssh]
source = { node = "a", dataset = "$SRC/data" }
targets = [{ node = "b", dataset = "$DST/zssh" }]
# Like the raw pipeline: no zstd on the wire (its cost and gain: lab/bench/repl-wire.sh).
compress = "none"
EOT

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
# Warm the ssh host key cache and the source's ARC the same way for everyone.
ssh -o BatchMode=yes localhost true
zfs send $SRC/data@s1 > /dev/null

declare -A total
for run in $(seq 1 "$RUNS"); do
    for who in ${CONTENDERS:-raw-local zferry-local raw-ssh zferry-ssh}; do
        # zferry holds its targets' common snapshot (zferry:<target>); release to destroy.
        zfs list -H -o name -t snapshot -r $DST | xargs -r zfs holds -H |
            awk -F'\t' '{ print $2 "\t" $1 }' |
            while IFS=$'\t' read -r tag snap; do zfs release "$tag" "$snap"; done
        zfs destroy -r $DST/rlocal 2>/dev/null || true
        zfs destroy -r $DST/rssh 2>/dev/null || true
        zfs destroy -r $DST/zlocal 2>/dev/null || true
        zfs destroy -r $DST/zssh 2>/dev/null || true
        zfs list -H -o name -t bookmark -r $SRC | xargs -r -n 1 zfs destroy
        rm -rf "$DIR/state" "$DIR/lock"
        # Destroys free space in the background; wait so every contender starts equal.
        zpool wait -t free $DST
        sync
        t0=$(now)
        case $who in
            raw-local) zfs send $SRC/data@s1 | zfs recv -u $DST/rlocal ;;
            raw-ssh) zfs send $SRC/data@s1 | ssh -o BatchMode=yes localhost zfs recv -u $DST/rssh ;;
            zferry-local) "$ZFERRY" --config "$DIR/zferry.toml" repl run local > /dev/null ;;
            zferry-ssh) "$ZFERRY" --config "$DIR/zferry.toml" repl run ssh > /dev/null ;;
        esac
        t1=$(now)
        s=$(secs "$t0" "$t1")
        echo "run $run $who ${s}s"
        total[$who]=$(awk -v a="${total[$who]:-0}" -v b="$s" 'BEGIN { print a + b }')
    done
done
for who in ${CONTENDERS:-raw-local zferry-local raw-ssh zferry-ssh}; do
    echo "total $who ${total[$who]}s"
done
awk -v rl="${total[raw-local]:-0}" -v zl="${total[zferry-local]:-0}" -v rs="${total[raw-ssh]:-0}" \
    -v zs="${total[zferry-ssh]:-0}" -v mib="$SIZE_MIB" -v runs="$RUNS" 'BEGIN {
    if (rl > 0 && zl > 0)
        printf "local: zferry throughput = %.2f of raw (%.1f vs %.1f MiB/s)\n", rl / zl, mib * runs / zl, mib * runs / rl
    if (rs > 0 && zs > 0)
        printf "ssh:   zferry throughput = %.2f of raw (%.1f vs %.1f MiB/s)\n", rs / zs, mib * runs / zs, mib * runs / rs
}'
