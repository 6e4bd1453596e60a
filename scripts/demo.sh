#!/usr/bin/env bash
# Sets everything up on a fresh Debian 12 machine (as root) and shows zferry on real OpenZFS:
# installs the lab's packages, builds zferry, boots the lab guest, creates pools, datasets
# and data there, and runs `zferry status`. Later issues extend the demo (snapshots,
# replication, failover).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="$PWD/target"

if [[ -e /dev/zfs ]]; then
    echo "demo: this host has ZFS (/dev/zfs). The demo creates pools named zpool1 and zpool2 and" >&2
    echo "demo: only ever runs inside the lab guest, never on a host's real pools. Run it on a" >&2
    echo "demo: machine without ZFS, or try \`zferry status\` on this host directly." >&2
    exit 1
fi
bash lab/install-host-packages.sh
cargo build --locked -p zferry -p zferry-lab
lab=$PWD/target/debug/zferry-lab
if ! "$lab" status >/dev/null 2>&1; then
    "$lab" up
    trap '"$lab" down >/dev/null || true' EXIT
fi
"$lab" exec -- bash lab/demo-guest.sh
