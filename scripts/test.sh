#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine (as root):
#   formatting, clippy, unit tests natively, then the integration tests on real OpenZFS —
#   directly when this host has ZFS (/dev/zfs), otherwise inside the lab guest (qemu).
# A missing lab is a failure, never a skip.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}
export CARGO_TARGET_DIR="$repo/target"

step() { printf '\n==> %s\n' "$*"; }

step "host packages (lab/install-host-packages.sh)"
bash lab/install-host-packages.sh

if ! cargo nextest --version >/dev/null 2>&1; then
    step "installing cargo-nextest"
    cargo install --locked cargo-nextest
fi

step "rustfmt"
cargo fmt --all -- --check

step "clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "unit tests (native)"
cargo nextest run --workspace --exclude zferry-labtests --locked --no-fail-fast

step "integration tests on real OpenZFS"
cargo build --locked -p zferry -p zferry-lab
if [[ -e /dev/zfs ]]; then
    echo "this host has ZFS: running lab tests directly"
    cargo nextest run -p zferry-labtests --locked --no-fail-fast
else
    lab=$repo/target/debug/zferry-lab
    "$lab" up
    trap '"$lab" down >/dev/null || true' EXIT
    CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUNNER="$lab exec --" \
        cargo nextest run -p zferry-labtests --locked --no-fail-fast
fi
