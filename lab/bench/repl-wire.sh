#!/usr/bin/env bash
# zstd on the wire: bytes on the wire against the stream's size, and the time of a push over
# ssh with compress = "zstd" against compress = "none", for compressible text and for
# incompressible noise.
# Runs INSIDE the lab guest:  target/debug/zferry-lab exec -- bash lab/bench/repl-wire.sh
#
# Each contender pushes one snapshot (full stream) into a fresh dataset on a second pool
# through `ssh localhost`; the far end is `zferry wire decompress` (zferry linked into
# /usr/local/bin for the run). Wire bytes are what zferry's relay wrote (its report line
# `wire: …: N bytes on the wire`); the uncompressed run's wire bytes are the stream's.
#
# Env: SIZE_MIB (64), RUNS (2), ZFERRY (release binary), BENCH_DIR (/var/tmp/bench-wire).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
SIZE_MIB=${SIZE_MIB:-64}
RUNS=${RUNS:-2}
ZFERRY=${ZFERRY:-$repo/target/release/zferry}
DIR=${BENCH_DIR:-/var/tmp/bench-wire}
SRC=bwsrc
DST=bwdst

cleanup() {
    for p in $SRC $DST; do zpool destroy -f $p 2>/dev/null || true; done
    rm -rf "$DIR"
}
trap cleanup EXIT
cleanup
mkdir -p "$DIR"
ln -sf "$ZFERRY" /usr/local/bin/zferry
vdev_mib=$((SIZE_MIB * 4 + 256))
for p in $SRC $DST; do
    truncate -s "${vdev_mib}M" "$DIR/$p.img"
    zpool create -O mountpoint="$DIR/mnt/$p" -O compression=off $p "$DIR/$p.img"
done
zfs create $SRC/text
zfs create $SRC/noise
# Log-like text (what NFS home directories and VM logs look like to zstd), and noise.
awk -v n="$((SIZE_MIB * 1024 * 1024 / 64))" 'BEGIN {
    for (i = 0; i < n; i++)
        printf "2026-11-21T%02d:%02d:%02d pve1 nfsd[%5d]: req %9d ok\n", i % 24, i % 60, i % 61, i % 99991, i
}' | head -c "$((SIZE_MIB << 20))" > "$DIR/mnt/$SRC/text/log"
head -c "$((SIZE_MIB << 20))" /dev/urandom > "$DIR/mnt/$SRC/noise/blob"
zfs snapshot $SRC/text@s1
zfs snapshot $SRC/noise@s1

{
    cat <<EOT
[global]
hostname = "a"
state-dir = "$DIR/state"
lock-dir = "$DIR/lock"
[nodes.a]
[nodes.b]
address = "localhost"
EOT
    for ds in text noise; do
        for c in zstd none; do
            cat <<EOT
[jobs.$ds-$c]
source = { node = "a", dataset = "$SRC/$ds" }
targets = [{ node = "b", dataset = "$DST/$ds-$c" }]
compress = "$c"
EOT
        done
    done
} > "$DIR/zferry.toml"

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
ssh -o BatchMode=yes localhost true
for ds in text noise; do zfs send $SRC/$ds@s1 > /dev/null; done

for run in $(seq 1 "$RUNS"); do
    for ds in text noise; do
        for c in zstd none; do
            job=$ds-$c
            zfs list -H -o name -t snapshot -r $DST | xargs -r zfs holds -H |
                awk -F'\t' '{ print $2 "\t" $1 }' |
                while IFS=$'\t' read -r tag snap; do zfs release "$tag" "$snap"; done
            zfs destroy -r $DST/$job 2>/dev/null || true
            zfs list -H -o name -t bookmark -r $SRC | xargs -r -n 1 zfs destroy
            rm -rf "$DIR/state" "$DIR/lock"
            zpool wait -t free $DST
            sync
            t0=$(now)
            out=$("$ZFERRY" --config "$DIR/zferry.toml" repl run --json "$job")
            t1=$(now)
            stream=$(jq -r '.pairs[0].bytes' <<<"$out")
            wire=$(jq -r '[.pairs[0].steps[] | select(startswith("wire:"))][0] // ""' <<<"$out" |
                sed -n 's/.*: \([0-9]*\) bytes on the wire$/\1/p')
            echo "run $run $job $(secs "$t0" "$t1")s stream ${stream} B wire ${wire:-$stream} B"
        done
    done
done
rm -f /usr/local/bin/zferry
