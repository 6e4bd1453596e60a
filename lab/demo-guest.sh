#!/usr/bin/env bash
# The demo's part inside the lab guest (run by scripts/demo.sh): the seed-000 layout —
# two pools on one node, an NFS share, a container subvolume and a VM disk — then zferry.
set -euo pipefail
zferry=$PWD/target/debug/zferry
say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
run() { say "$*"; "$@"; }

dir=/var/tmp/zferry-demo
mkdir -p "$dir"
[[ $(hostname) == zferry-lab ]] || { echo "demo-guest.sh runs only inside the lab guest" >&2; exit 1; }
for pool in zpool1 zpool2; do
    # A fresh start each run: these pools exist only in the lab guest's RAM.
    zpool destroy -f "$pool" 2>/dev/null || true
    rm -f "$dir/$pool.img"
    truncate -s 512M "$dir/$pool.img"
    zpool create -O compression=lz4 -O mountpoint="/$pool" "$pool" "$dir/$pool.img"
done
zfs create -p zpool1/data/nfs
zfs create -p zpool1/data/subvol-103-disk-0
zfs create -p -V 64M zpool2/vm-100-disk-0
head -c 20M /dev/urandom >/zpool1/data/nfs/exports.bin
for t in 2026-11-21_10:00:00 2026-11-21_11:00:00 2026-11-21_12:00:00; do
    zfs snapshot -r "zpool1/data@autosnap_${t}_hourly"
    head -c 1M /dev/urandom >>/zpool1/data/nfs/exports.bin
done
zfs snapshot zpool2/vm-100-disk-0@autosnap_2026-11-21_12:00:00_hourly

run zpool list
run "$zferry" --version
run "$zferry" status
say "$zferry status --json   (first 30 lines)"
"$zferry" status --json | head -n 30
run "$zferry" config check --config samples/seed000-two-node-nfs.toml

# The snapshot manager on the same pools: a policy, a dry run with reasons, a real run.
cfg=$dir/zferry.toml
cat >"$cfg" <<'TOML'
[global]
timezone = "utc"

[templates.production]
hourly = 36
daily = 30
monthly = 3

[templates.production.monitor]
hourly-warn = "90m"
hourly-crit = "6h"

[datasets."zpool1/data"]
use-template = "production"
recursive = "yes"
TOML
say "cat $cfg"; cat "$cfg"
run "$zferry" --config "$cfg" snap run --dry-run
run "$zferry" --config "$cfg" snap run
run "$zferry" --config "$cfg" snap list zpool1/data/nfs
run "$zferry" --config "$cfg" monitor snapshots || true
run "$zferry" snap rollback zpool1/data/nfs@autosnap_2026-11-21_10:00:00_hourly || true
