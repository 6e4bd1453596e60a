#!/usr/bin/env bash
# blocksync vs the read limit (cat), cmp and rsync --inplace --no-whole-file.
#
# Two deterministic images A and B of SIZE_MIB (default 4096) where B differs from A in about
# PERMILLE/1000 (default 10 = 1 %) scattered 4 KiB blocks. Each contender makes (or checks) a
# fresh copy of B equal to A. Times cover the contender only (resetting the copy is not timed).
#
# Cache modes: "cold" drops the page cache before every run (needs root and a writable
# /proc/sys/vm/drop_caches; skipped with a note otherwise) and reports the median of COLD_RUNS
# runs (default 1; a virtio disk's cold reads vary by ±40 % between identical runs, so use 3 or
# more for figures); "warm" runs each contender RUNS times (default 3) with the images cached,
# discards the first run and reports the best of the rest.
#
# Usage: crates/blocksync/bench/blocksync-vs.sh [SIZE_MIB] [PERMILLE]
#   env: BENCH_DIR (default /work/bsync-bench, must be on the file system to measure), RUNS,
#        RSYNC_RUNS (default RUNS; rsync takes about a minute per run at 4 GiB), COLD_RUNS
set -euo pipefail

SIZE_MIB=${1:-4096}
PERMILLE=${2:-10}
RUNS=${RUNS:-3}
RSYNC_RUNS=${RSYNC_RUNS:-$RUNS}
COLD_RUNS=${COLD_RUNS:-1}
DIR=${BENCH_DIR:-/work/bsync-bench}
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
BIN=$TARGET/release/examples

say() { printf '%s\n' "$*" >&2; }

# --- disk space: A, B and the working copy, plus 2 GiB slack --------------------------------
mkdir -p "$DIR"
need_kib=$(( (3 * SIZE_MIB + 2048) * 1024 ))
avail_kib=$(df -Pk "$DIR" | awk 'NR==2 {print $4}')
say "disk: $(df -h "$DIR" | awk 'NR==2 {print $4" free on "$6}'), need $((need_kib / 1024 / 1024)) GiB"
if (( avail_kib < need_kib )); then
    say "not enough space in $DIR; set BENCH_DIR or a smaller SIZE_MIB"
    exit 2
fi
trap 'rm -rf "$DIR"' EXIT

# --- tools ------------------------------------------------------------------------------------
if ! command -v rsync >/dev/null; then
    if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
        say "rsync missing: installing it with apt-get"
        apt-get install -y -qq rsync >/dev/null || { apt-get update -qq && apt-get install -y -qq rsync >/dev/null; }
    fi
fi
HAVE_RSYNC=1
command -v rsync >/dev/null || { HAVE_RSYNC=0; say "rsync not available: its row is skipped"; }

say "building the release example (cargo build --release -p zferry-blocksync --examples)"
(cd "$ROOT" && cargo build --release -q -p zferry-blocksync --examples)

# --- fixtures ---------------------------------------------------------------------------------
A=$DIR/a.img B=$DIR/b.img C=$DIR/b.copy
say "generating ${SIZE_MIB} MiB images, ${PERMILLE}‰ of blocks changed"
CHANGED=$("$BIN/mkimages" "$A" "$B" "$SIZE_MIB" "$PERMILLE")
CHANGED_BYTES=$((CHANGED * 4096))
sync

can_drop=0
if sync && { echo 3 > /proc/sys/vm/drop_caches; } 2>/dev/null; then can_drop=1; fi
if (( can_drop )); then say "page cache can be dropped: cold and warm runs"; else
    say "NOTE: cannot drop the page cache here: warm runs only (first run discarded)"; fi

now() { date +%s%N; }
reset_copy() { cp --reflink=never "$B" "$C"; sync; }
drop() { sync; echo 3 > /proc/sys/vm/drop_caches; }

# Each contender: a name, whether it needs a fresh copy, and the command (argv).
run_cat() { cat "$A" "$B" > /dev/null; }
# Both files read at once, as blocksync reads them: the fastest any tool that must read both
# can be on this disk (a virtio disk serves two streams faster than one). It bounds the
# rsync/blocksync ratio a perfect comparer could reach: rsync's time / this time.
run_both() { cat "$A" > /dev/null & cat "$B" > /dev/null; wait "$!"; }
# cmp -l lists every difference, so it reads both files to the end (plain cmp stops at the
# first difference). Its output goes to a file: GNU cmp writing to /dev/null behaves like
# cmp -s and stops at the first difference too. Exit 1 = files differ, as expected.
run_cmp() { local rc=0; cmp -l "$A" "$B" > "$DIR/cmp.txt" || rc=$?; [[ $rc -eq 1 ]]; }
run_blocksync() { "$BIN/blocksync" "$A" "$C" > "$DIR/report.json"; }
run_rsync() { rsync --inplace --no-whole-file --stats "$A" "$C" > "$DIR/rsync.txt"; }

declare -A COLD COLD_ALL WARM
time_one() { # name, needs_copy, mode -> seconds on stdout
    local name=$1 copy=$2 mode=$3 t0 t1
    if (( copy )); then reset_copy; fi
    if [[ $mode == cold ]]; then drop; fi
    t0=$(now); "run_$name"; t1=$(now)
    if (( copy )); then cmp "$A" "$C" || { say "$name left the copy different from A"; exit 1; }; fi
    awk -v n=$((t1 - t0)) 'BEGIN { printf "%.3f", n / 1e9 }'
}

contenders=(cat:0 both:0 cmp:0 blocksync:1)
(( HAVE_RSYNC )) && contenders+=(rsync:1)
for c in "${contenders[@]}"; do
    name=${c%:*} copy=${c#*:}
    if (( can_drop )); then
        cold=()
        for ((i = 1; i <= COLD_RUNS; i++)); do
            cold+=("$(time_one "$name" "$copy" cold)")
            say "cold $name run $i: ${cold[-1]} s"
        done
        COLD[$name]=$(printf '%s\n' "${cold[@]}" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
        COLD_ALL[$name]="${cold[*]}"
    fi
    best="" runs=$RUNS
    [[ $name == rsync ]] && runs=$RSYNC_RUNS
    for ((i = 1; i <= runs; i++)); do
        t=$(time_one "$name" "$copy" warm)
        say "warm $name run $i: $t s"
        if (( i > 1 )) && { [[ -z $best ]] || awk -v a="$t" -v b="$best" 'BEGIN { exit !(a < b) }'; }; then best=$t; fi
    done
    [[ -z $best ]] && best=$t
    WARM[$name]=$best
done

field() { grep -o "\"$1\": [0-9]*" "$DIR/report.json" | grep -o '[0-9]*$'; }
WRITTEN=$(field bytes_written) PUNCHED=$(field bytes_punched) CHANGED_BLOCKS=$(field blocks_changed)
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

echo "## blocksync-vs: ${SIZE_MIB} MiB images, $CHANGED changed 4 KiB blocks ($CHANGED_BYTES bytes)"
echo
echo "| contender | cold s (median of $COLD_RUNS) | cold runs s | warm s (best of runs 2..$RUNS; rsync 2..$RSYNC_RUNS) |"
echo "| --- | --- | --- | --- |"
for c in "${contenders[@]}"; do n=${c%:*}; echo "| $n | ${COLD[$n]:-n/a} | ${COLD_ALL[$n]:-n/a} | ${WARM[$n]} |"; done
echo
for mode in cold warm; do
    [[ $mode == cold ]] && (( ! can_drop )) && continue
    declare -n T=${mode^^}
    echo "- $mode: blocksync / read limit (cat) = $(ratio "${T[blocksync]}" "${T[cat]}")× the time" \
         "(throughput $(ratio "${T[cat]}" "${T[blocksync]}") of the limit; target ≥ 0.9)"
    (( HAVE_RSYNC )) && echo "- $mode: rsync / blocksync = $(ratio "${T[rsync]}" "${T[blocksync]}")× (target ≥ 10;" \
        "a comparer as fast as reading both files at once would reach $(ratio "${T[rsync]}" "${T[both]}")×)"
    echo "- $mode: blocksync / both files read at once = $(ratio "${T[blocksync]}" "${T[both]}")× the time"
    echo "- $mode: cmp / blocksync = $(ratio "${T[cmp]}" "${T[blocksync]}")×"
done
echo "- blocksync changed blocks: $CHANGED_BLOCKS (generator: $CHANGED); bytes written $WRITTEN +" \
     "punched $PUNCHED = $((WRITTEN + PUNCHED)), changed bytes $CHANGED_BYTES:" \
     "$([[ $((WRITTEN + PUNCHED)) -eq $CHANGED_BYTES ]] && echo equal || echo DIFFERENT)"
if (( HAVE_RSYNC )); then
    echo "- rsync (last run): $(grep -E 'Literal data|Matched data' "$DIR/rsync.txt" | tr -s ' ' | paste -sd ';')"
fi
