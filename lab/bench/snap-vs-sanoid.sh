#!/usr/bin/env bash
# zferry `snap run` against `sanoid --cron --force-update`: wall time and zfs/zpool processes.
# Runs INSIDE the lab guest:  target/debug/zferry-lab exec -- bash lab/bench/snap-vs-sanoid.sh
#
# One pool (file vdev) with N datasets under <pool>/data, each with 50 sanoid-named snapshots
# (36 hourly + 14 daily). A pool checkpoint gives both tools the identical starting state:
# zferry runs, its result is saved, the pool is rewound to the checkpoint, sanoid runs.
# Policy on both: hourly=36, daily=30, recursive per child.
#
# Time: the snapshots are created now, and both tools judge age by the `creation` property,
# so the run is simulated SHIFT_H hours later: zferry with `--now`, sanoid with Perl's
# time() overridden (CORE::GLOBAL::time) by the same offset. At that time hourly and daily
# are due, and one hourly per dataset is past 36 h and beyond the count: take 2, prune 1.
#
# Env: N (datasets, 200), RUNS (rounds, 1), POOL (bzsv), ZFERRY (release binary),
# BENCH_DIR (/var/tmp/bench-snap-vs-sanoid), SHIFT_H (48).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
N=${N:-200}
RUNS=${RUNS:-1}
POOL=${POOL:-bzsv}
ZFERRY=${ZFERRY:-$repo/target/release/zferry}
DIR=${BENCH_DIR:-/var/tmp/bench-snap-vs-sanoid}
SHIFT_H=${SHIFT_H:-48}
real_zfs=$(command -v zfs)
[ "$real_zfs" = /usr/sbin/zfs ] || { echo "expected zfs at /usr/sbin/zfs, got $real_zfs" >&2; exit 1; }
if zpool list -H -o name "$POOL" >/dev/null 2>&1; then
    echo "pool $POOL exists already" >&2
    exit 1
fi

cleanup() {
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
truncate -s 256M "$DIR/vdev"
zpool create -O mountpoint=none -O compression=off "$POOL" "$DIR/vdev"
zfs create "$POOL/data"
seq -f "$POOL/data/d%03g" 1 "$N" | xargs -P 2 -n 1 zfs create
base=$(date +%s)
sim=$((base + SHIFT_H * 3600))
sim_hour=$((sim / 3600 * 3600))
# 36 hourlies (3..38 h before the simulated hour) and 14 dailies (23:59, 2..15 days back),
# created oldest first so creation order matches the names.
{
    for k in $(seq 38 -1 3); do
        echo "$((sim_hour - k * 3600)) hourly"
    done
    sim_day=$((sim / 86400 * 86400))
    for d in $(seq 15 -1 2); do
        echo "$((sim_day - d * 86400 + 86340)) daily"
    done
} | sort -n | while read -r ts period; do
    zfs snapshot -r "$POOL/data@autosnap_$(date -d "@$ts" +%Y-%m-%d_%H:%M:%S)_$period"
done
zpool checkpoint "$POOL"
t1=$(now)
zfs list -H -t snapshot -o name -r "$POOL/data" | sort > "$DIR/out/before.names"
snaps=$(wc -l < "$DIR/out/before.names")
echo "setup: $((N + 1)) datasets, $snaps snapshots, $(ms_between "$t0" "$t1") ms"
echo "simulated time: $(date -d "@$sim" '+%Y-%m-%d %H:%M:%S %Z') (+${SHIFT_H} h)"

rewind() {
    zpool export "$POOL"
    zpool import -d "$DIR" --rewind-to-checkpoint "$POOL"
    zpool checkpoint "$POOL"
}

# Per-dataset summary of what a tool left: "<hourly> <daily>" counts, then their spread.
summary() {
    zfs list -H -t snapshot -o name -r "$POOL/data" | sort > "$DIR/out/$1.names"
    awk -F@ '{ split($2, p, "_"); c[$1 " " p[4]]++; ds[$1] = 1 }
        END { for (d in ds) printf "%d hourly + %d daily\n", c[d " hourly"], c[d " daily"] }' \
        "$DIR/out/$1.names" | sort | uniq -c | sed 's/^ */    /'
}

# Runs one tool with the counting wrapper first in PATH; prints "<ms> <zfs> <zpool>".
timed() {
    local tag=$1
    shift
    : > "$DIR/out/$tag.calls"
    local a b
    a=$(now)
    BENCH_COUNT_FILE="$DIR/out/$tag.calls" PATH="$DIR/bin:$PATH" "$@" > "$DIR/out/$tag.stdout" 2> "$DIR/out/$tag.stderr"
    b=$(now)
    echo "$(ms_between "$a" "$b") $(grep -c '^zfs ' "$DIR/out/$tag.calls" || true) $(grep -c '^zpool ' "$DIR/out/$tag.calls" || true)"
}

# checked after the setup so a release build can finish meanwhile
[ -x "$ZFERRY" ] || { echo "missing $ZFERRY (cargo build --release -p zferry)" >&2; exit 1; }
sim_rfc=$(date -u -d "@$sim" +%Y-%m-%dT%H:%M:%SZ)
results=()
for r in $(seq 1 "$RUNS"); do
    timed "zferry$r" "$ZFERRY" --config "$DIR/zferry.toml" snap run --json --now "$sim_rfc" > "$DIR/out/t"
    read -r zms zz zp < "$DIR/out/t"
    reported=$(grep -o '"zfs_processes": *[0-9]*' "$DIR/out/zferry$r.stdout" | grep -o '[0-9]*$' || echo '?')
    echo "run $r zferry: ${zms} ms, zfs processes $zz (self-reported $reported), zpool $zp"
    summary "zferry$r"
    rewind
    # sanoid's clock starts at the same simulated time zferry was given.
    offset=$((sim - $(date +%s)))
    timed "sanoid$r" env SANOID_TIME_OFFSET="$offset" perl -e \
        'BEGIN { my $o = $ENV{SANOID_TIME_OFFSET}; *CORE::GLOBAL::time = sub () { CORE::time() + $o }; }
         $0 = "/usr/sbin/sanoid"; do $0; die $@ if $@;' -- \
        --configdir "$DIR/sanoid-conf" --cache-dir "$DIR/sanoid-cache" --run-dir "$DIR/sanoid-run" \
        --cron --force-update > "$DIR/out/t"
    read -r sms sz sp < "$DIR/out/t"
    echo "run $r sanoid: ${sms} ms, zfs processes $sz, zpool $sp"
    summary "sanoid$r"
    echo "    sanoid zfs calls by subcommand: $(awk '$1 == "zfs" { c[$2]++ } END { for (k in c) printf "%s=%d ", k, c[k] }' "$DIR/out/sanoid$r.calls")"
    echo "    zferry zfs calls: $(awk '$1 == "zfs" { printf "[%s %s] ", $2, $3 }' "$DIR/out/zferry$r.calls")"
    # The pre-existing snapshots that survived must be the same set (new names differ in seconds).
    comm -12 "$DIR/out/before.names" "$DIR/out/zferry$r.names" > "$DIR/out/zferry$r.kept"
    comm -12 "$DIR/out/before.names" "$DIR/out/sanoid$r.names" > "$DIR/out/sanoid$r.kept"
    if cmp -s "$DIR/out/zferry$r.kept" "$DIR/out/sanoid$r.kept"; then
        echo "    surviving old snapshots: identical sets"
    else
        echo "    surviving old snapshots: DIFFER"
    fi
    for t in zferry sanoid; do
        [ -s "$DIR/out/$t$r.stderr" ] && { echo "    $t stderr:"; head -5 "$DIR/out/$t$r.stderr" | sed 's/^/      /'; }
    done
    results+=("$zms $sms $zz $sz")
    [ "$r" -eq "$RUNS" ] || rewind
done

echo "--- summary (pool $POOL, $((N + 1)) datasets, $RUNS run(s)) ---"
printf '%s\n' "${results[@]}" | awk '{ printf "zferry %d ms (%d zfs), sanoid %d ms (%d zfs), ratio %.1fx\n", $1, $3, $2, $4, $2 / $1 }'
printf '%s\n' "${results[@]}" | awk '{ print $2 / $1 }' | sort -n | awk '{ v[NR] = $1 } END { printf "median ratio sanoid/zferry: %.1fx\n", v[int((NR + 1) / 2)] }'
