#!/usr/bin/env bash
# Ingest of a .vma.zst into yesterday's image vs `zstd -d -c > /dev/null` (the decompression
# limit) and vs the two-step pipeline of the 2017 seed (extract, then block-sync the image).
#
# Fixtures (examples/ingest_bench.rs gen): base.raw = yesterday's disk of SIZE_MIB (default
# 4096), and today's backup as a vzdump .vma.zst (zstd -1) in which about PERMILLE/1000
# (default 20 = 2 %) of the 4 KiB blocks changed. The ingest target is a copy of base.raw; it is
# reset to base.raw before every run with blocksync (not timed). No ZFS: the ingest contender is
# the ingest's data path (`zferry_backup::sync_images`: decompress, verify every extent, write
# only changed blocks, fsync) on a plain file, which is what `zferry backup ingest` runs between
# its zfs commands.
#
# Contenders (each RUNS times, default 2, interleaved; the best run counts):
#   zstd      zstd -d -c ARCHIVE > /dev/null
#   ingest    ingest_bench ingest ARCHIVE T
#   two-step  ingest_bench extract ARCHIVE X  +  blocksync X/disk-drive-scsi0.raw T/disk-drive-scsi0.raw
#
# Usage: crates/backup/bench/ingest-vs.sh [SIZE_MIB] [PERMILLE]
#   env: BENCH_DIR (default /work/ingest-bench), RUNS
set -euo pipefail

SIZE_MIB=${1:-4096}
PERMILLE=${2:-20}
RUNS=${RUNS:-2}
DIR=${BENCH_DIR:-/work/ingest-bench}
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
BIN=$TARGET/release/examples

say() { printf '%s\n' "$*" >&2; }

mkdir -p "$DIR"
# base + target + extracted image + archive (~half size) + 2 GiB slack
need_kib=$(( (3 * SIZE_MIB + SIZE_MIB / 2 + 2048) * 1024 ))
avail_kib=$(df -Pk "$DIR" | awk 'NR==2 {print $4}')
if (( avail_kib < need_kib )); then
    say "not enough space in $DIR: need $((need_kib / 1024 / 1024)) GiB; set BENCH_DIR or a smaller SIZE_MIB"
    exit 2
fi
trap 'rm -rf "$DIR"' EXIT
command -v zstd >/dev/null || { say "zstd (the CLI) is needed: apt-get install zstd"; exit 2; }

say "building release examples (zferry-backup ingest_bench, zferry-blocksync blocksync)"
(cd "$ROOT" && cargo build --release -q -p zferry-backup --example ingest_bench \
    && cargo build --release -q -p zferry-blocksync --example blocksync)

ARCHIVE=$DIR/vzdump-qemu-100-2026_11_21-01_00_00.vma.zst
T=$DIR/target X=$DIR/extracted
mkdir -p "$T"
say "generating ${SIZE_MIB} MiB, ${PERMILLE}‰ of blocks changed"
t0=$(date +%s)
CHANGED=$("$BIN/ingest_bench" gen "$DIR" "$SIZE_MIB" "$PERMILLE")
cp --reflink=never "$DIR/base.raw" "$T/disk-drive-scsi0.raw"
sync
say "generated in $(( $(date +%s) - t0 )) s: $CHANGED changed blocks, archive $(stat -c %s "$ARCHIVE") B"

now() { date +%s%N; }
reset_target() { "$BIN/blocksync" "$DIR/base.raw" "$T/disk-drive-scsi0.raw" > /dev/null; rm -rf "$X"; sync; }
run_zstd() { zstd -q -d -c "$ARCHIVE" > /dev/null; }
run_ingest() { "$BIN/ingest_bench" ingest "$ARCHIVE" "$T" > "$DIR/ingest.json"; }
run_twostep() {
    "$BIN/ingest_bench" extract "$ARCHIVE" "$X" > /dev/null
    "$BIN/blocksync" "$X/disk-drive-scsi0.raw" "$T/disk-drive-scsi0.raw" > "$DIR/twostep.json"
}

declare -A BEST ALL
for run in $(seq 1 "$RUNS"); do
    for c in zstd ingest twostep; do
        reset_target
        t0=$(now); "run_$c"; t1=$(now)
        ms=$(( (t1 - t0) / 1000000 ))
        ALL[$c]="${ALL[$c]:-} $ms"
        if [[ -z ${BEST[$c]:-} ]] || (( ms < BEST[$c] )); then BEST[$c]=$ms; fi
        say "run $run $c: $ms ms"
    done
done
# The last ingest and two-step each left T equal to today's image: check one against the other.
reset_target; run_ingest; cp --reflink=never "$T/disk-drive-scsi0.raw" "$DIR/by-ingest.raw"
reset_target; run_twostep
cmp "$DIR/by-ingest.raw" "$T/disk-drive-scsi0.raw" && say "ingest and two-step images are identical"
written=$(grep -o '"bytes_written":[0-9]*' "$DIR/ingest.json" | cut -d: -f2)
punched=$(grep -o '"bytes_punched":[0-9]*' "$DIR/ingest.json" | cut -d: -f2)

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
cat <<EOF
size_mib=$SIZE_MIB permille=$PERMILLE changed_blocks=$CHANGED changed_bytes=$((CHANGED * 4096))
archive_bytes=$(stat -c %s "$ARCHIVE") ingest_bytes_written=$written ingest_bytes_punched=$punched
zstd_ms=${BEST[zstd]} ingest_ms=${BEST[ingest]} twostep_ms=${BEST[twostep]}   (all runs:${ALL[zstd]} |${ALL[ingest]} |${ALL[twostep]})
ingest/zstd=$(ratio "${BEST[ingest]}" "${BEST[zstd]}") twostep/ingest=$(ratio "${BEST[twostep]}" "${BEST[ingest]}")
EOF
