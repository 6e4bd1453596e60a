#!/usr/bin/env bash
# zferry `snap run` against `sanoid --cron --force-update`: wall time and zfs/zpool processes.
# Runs INSIDE the lab guest (it sets the guest's clock):
#   target/debug/zferry-lab exec -- bash lab/bench/snap-vs-sanoid.sh
#
# One pool (file vdev) with N datasets under <pool>/data (N+1 with data itself), each with
# 50 sanoid-named snapshots: 37 hourlies and 13 dailies. Policy on both tools: hourly=36,
# daily=30, recursive per child.
#
# Age is real: both tools judge it by the `creation` property, so the setup sets the guest
# clock back to each snapshot's time before taking it (one `zfs snapshot -r` per time, the
# names carry the same time), then restores the clock from the monotonic uptime. Both tools
# then run at the real time, with no clock tricks. The ages are chosen so that both tools do
# the same work under either counting rule (sanoid 2.1 prunes from the list it read before
# taking; zferry counts the snapshot it takes): hourly and daily are due (newest hourly
# 1.5 h old, newest daily 2 days old), and exactly one hourly (40 h old) is past the 36 h
# window while more than 36 exist. So each tool takes 2 and prunes 1 per dataset, and both
# must leave the same old snapshots; the script checks that.
#
# A pool checkpoint gives every run the identical starting state (export, import
# --rewind-to-checkpoint, checkpoint again). sanoid's snapshot cache is emptied before each
# of its runs: sanoid 2.1 plans from its cache even with --force-update (which refreshes it
# only afterwards), and a cache left by an earlier run on the rewound pool would be stale.
# MODES: "count" runs each tool with a counting wrapper first in PATH (a shell script: one
# extra fork+exec per zfs call, small beside a zfs call that waits for a txg); "time" runs it
# without the wrapper. The ratio is reported per mode.
#
# zferry runs twice from the same start: "zferrycold" with no snapshot cache (first run on a
# node, or the daily full listing: `zfs list` with creation and userrefs), and "zferry" in
# the steady state of a timer-driven node, whose cache a previous run left (here: an untimed
# `snap run --dry-run` on the same start state fills it; the timed run then lists the pool
# with the fast columns name,guid,createtxg only).
#
# Env: N (datasets, 200), RUNS (rounds, 1), POOL (bzsv), ZFERRY (release binary),
# BENCH_DIR (/var/tmp/bench-snap-vs-sanoid), TOOLS ("zferrycold zferry sanoid"),
# MODES ("count"), OUT_COPY (a directory shared with the host to keep the outputs in).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
N=${N:-200}
RUNS=${RUNS:-1}
POOL=${POOL:-bzsv}
ZFERRY=${ZFERRY:-$repo/target/release/zferry}
DIR=${BENCH_DIR:-/var/tmp/bench-snap-vs-sanoid}
real_zfs=$(command -v zfs)
[ "$real_zfs" = /usr/sbin/zfs ] || { echo "expected zfs at /usr/sbin/zfs, got $real_zfs" >&2; exit 1; }
if zpool list -H -o name "$POOL" >/dev/null 2>&1; then
    echo "pool $POOL exists already" >&2
    exit 1
fi

# The real time, whatever the clock says: wall time at start + monotonic time since.
real0=$(date +%s)
up0=$(cut -d' ' -f1 /proc/uptime)
real_now() { awk -v r="$real0" -v u0="$up0" -v u="$(cut -d' ' -f1 /proc/uptime)" 'BEGIN { printf "%d", r + (u - u0) }'; }
restore_clock() { date -s "@$(real_now)" >/dev/null; }

cleanup() {
    restore_clock
    if [ -n "${OUT_COPY:-}" ]; then rm -rf "$OUT_COPY"; cp -r "$DIR/out" "$OUT_COPY"; fi
    zpool destroy -f "$POOL" 2>/dev/null || true
    rm -rf "$DIR"
}
trap cleanup EXIT
rm -rf "$DIR"
mkdir -p "$DIR/bin" "$DIR/sanoid-conf" "$DIR/sanoid-cache" "$DIR/sanoid-run" "$DIR/out"
cp "$here/snap-vs-sanoid/zfs-counter" "$DIR/bin/zfs"
cp "$here/snap-vs-sanoid/zfs-counter" "$DIR/bin/zpool"
sed -e "s|@POOL@|$POOL|g" -e "s|@DIR@|$DIR|g" "$here/snap-vs-sanoid/zferry.toml.in" > "$DIR/zferry.toml"
sed -e "s|@POOL@|$POOL|g" "$here/snap-vs-sanoid/sanoid.conf.in" > "$DIR/sanoid-conf/sanoid.conf"
cp /usr/share/sanoid/sanoid.defaults.conf "$DIR/sanoid-conf/"

now() { date +%s.%N; }
ms_between() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f", (b - a) * 1000 }'; }

# --- setup ---------------------------------------------------------------------------------
t0=$(now)
truncate -s 512M "$DIR/vdev"
zpool create -O mountpoint=none -O compression=off "$POOL" "$DIR/vdev"
zfs create "$POOL/data"
seq -f "$POOL/data/d%03g" 1 "$N" | xargs -P 16 -n 1 zfs create  # concurrent creates share txgs
t1=$(now)
# Snapshot ages (seconds before the real start), oldest first: 13 dailies 14..2 days old,
# the one prunable hourly 40 h old, 36 hourlies 33 h .. 1.5 h old (54 min apart).
{
    for d in $(seq 14 -1 2); do echo "$((d * 86400)) daily"; done
    echo "$((40 * 3600)) hourly"
    for j in $(seq 35 -1 0); do echo "$((5400 + j * 3240)) hourly"; done
} > "$DIR/ages"
while read -r age period; do
    ts=$((real0 - age))
    date -s "@$ts" >/dev/null
    zfs snapshot -r "$POOL/data@autosnap_$(date -d "@$ts" +%Y-%m-%d_%H:%M:%S)_$period"
done < "$DIR/ages"
restore_clock
zpool checkpoint "$POOL"
t2=$(now)
zfs list -H -p -t snapshot -o name,creation -r "$POOL/data" | sort > "$DIR/out/before.list"
cut -f1 "$DIR/out/before.list" > "$DIR/out/before.names"
snaps=$(wc -l < "$DIR/out/before.names")
echo "setup: $((N + 1)) datasets in $(ms_between "$t0" "$t1") ms, $snaps snapshots in $(ms_between "$t1" "$t2") ms"
echo "clock restored: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"

# checked after the setup so a release build can finish meanwhile (waits up to 30 min)
for _ in $(seq 180); do [ -x "$ZFERRY" ] && break; sleep 10; done
[ -x "$ZFERRY" ] || { echo "missing $ZFERRY (cargo build --release -p zferry)" >&2; exit 1; }
sleep 5
"$ZFERRY" --version

rewind() {
    zpool export "$POOL"
    zpool import -d "$DIR" --rewind-to-checkpoint "$POOL"
    zpool checkpoint "$POOL"
}

# What a tool left: per dataset "<old kept> old + <new hourly> new hourly + <new daily> new
# daily", counted over datasets.
summary() {
    zfs list -H -t snapshot -o name -r "$POOL/data" | sort > "$DIR/out/$1.names"
    comm -13 "$DIR/out/before.names" "$DIR/out/$1.names" > "$DIR/out/$1.new"
    comm -12 "$DIR/out/before.names" "$DIR/out/$1.names" > "$DIR/out/$1.kept"
    awk -F@ '{ n = split($2, p, "_"); t = p[n]; ds[$1] = 1
             if (FILENAME == ARGV[1]) old[$1]++; else nw[$1 " " t]++ }
        END { for (d in ds) printf "%d old + %d new hourly + %d new daily\n", old[d], nw[d " hourly"], nw[d " daily"] }' \
        "$DIR/out/$1.kept" "$DIR/out/$1.new" | sort | uniq -c | sed 's/^ */    /'
}

# Runs a tool, with the counting wrapper first in PATH when $count is 1;
# prints "<ms> <zfs> <zpool>".
timed() {
    local tag=$1 count=$2
    shift 2
    : > "$DIR/out/$tag.calls"
    local a b rc=0
    a=$(now)
    if [ "$count" = 1 ]; then
        BENCH_COUNT_FILE="$DIR/out/$tag.calls" PATH="$DIR/bin:$PATH" "$@" > "$DIR/out/$tag.stdout" 2> "$DIR/out/$tag.stderr" || rc=$?
    else
        "$@" > "$DIR/out/$tag.stdout" 2> "$DIR/out/$tag.stderr" || rc=$?
    fi
    b=$(now)
    [ "$rc" = 0 ] || echo "$tag exited with status $rc" >&2
    echo "$(ms_between "$a" "$b") $(grep -c '^zfs ' "$DIR/out/$tag.calls" || true) $(grep -c '^zpool ' "$DIR/out/$tag.calls" || true)"
}

run_zferrycold() {
    rm -rf "$DIR/zferry-state/snap"
    timed "$1" "$2" "$ZFERRY" --config "$DIR/zferry.toml" snap run --json
}
run_zferry() {
    rm -rf "$DIR/zferry-state/snap"
    "$ZFERRY" --config "$DIR/zferry.toml" snap run --dry-run --json > "$DIR/out/$1.warmup" 2>&1
    timed "$1" "$2" "$ZFERRY" --config "$DIR/zferry.toml" snap run --json
}
run_sanoid() {
    rm -f "$DIR/sanoid-cache/snapshots.txt"
    timed "$1" "$2" sanoid --configdir "$DIR/sanoid-conf" --cache-dir "$DIR/sanoid-cache" \
        --run-dir "$DIR/sanoid-run" --cron --force-update
}

results=()
first=1
for r in $(seq 1 "$RUNS"); do
    for mode in ${MODES:-count}; do
        c=0
        [ "$mode" = count ] && c=1
        line=""
        for t in ${TOOLS:-zferrycold zferry sanoid}; do
            [ "$first" = 1 ] || rewind
            first=0
            tag="$t$r-$mode"
            "run_$t" "$tag" "$c" > "$DIR/out/t"
            read -r ms zc pc < "$DIR/out/t"
            extra=""
            if [ "$t" != sanoid ]; then
                extra=" (self-reported $(grep -o '"zfs_processes": *[0-9]*' "$DIR/out/$tag.stdout" | grep -o '[0-9]*$' || echo '?'))"
            fi
            if [ "$mode" = count ]; then
                echo "run $r $t (counting wrapper): ${ms} ms, zfs processes $zc$extra, zpool $pc"
                echo "    by subcommand: $(awk '$1 == "zfs" { c[$2]++ } END { for (k in c) printf "%s=%d ", k, c[k] }' "$DIR/out/$tag.calls")"
            else
                echo "run $r $t (no wrapper): ${ms} ms"
            fi
            summary "$tag"
            [ -s "$DIR/out/$tag.stderr" ] && { echo "    $t stderr:"; head -5 "$DIR/out/$tag.stderr" | sed 's/^/      /'; }
            line="$line $t $ms $zc"
        done
        for t in ${TOOLS:-zferrycold zferry sanoid}; do
            [ "$t" = sanoid ] || [ ! -e "$DIR/out/sanoid$r-$mode.kept" ] && continue
            if cmp -s "$DIR/out/$t$r-$mode.kept" "$DIR/out/sanoid$r-$mode.kept"; then
                echo "    surviving old snapshots, $t vs sanoid: identical sets ($(wc -l < "$DIR/out/$t$r-$mode.kept"))"
            else
                echo "    surviving old snapshots, $t vs sanoid: DIFFER"
            fi
        done
        results+=("$mode$line")
    done
done

echo "--- summary (pool $POOL, $((N + 1)) datasets, $snaps snapshots, $RUNS round(s)) ---"
# Each result: "<mode> <tool> <ms> <zfs> <tool> <ms> <zfs> …"; ratios are sanoid's time over each zferry's.
printf '%s\n' "${results[@]}" | awk '{ s = 0; for (i = 2; i < NF; i += 3) if ($i == "sanoid") s = $(i + 1)
    printf "%s:", $1
    for (i = 2; i < NF; i += 3) { printf " %s %d ms (%d zfs)", $i, $(i + 1), $(i + 2); if ($i != "sanoid" && s) printf " = sanoid/%.1f", s / $(i + 1) }
    printf "\n" }'
