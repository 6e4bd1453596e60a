#!/usr/bin/env bash
# Does zferry's pipeline *shape* cost ssh throughput? Raw pipelines, side by side, differing
# in one thing each: zferry's flags (`send -v -P`, `recv -s`), a ControlMaster connection, both.
# Runs INSIDE the lab guest:  target/debug/zferry-lab exec -- bash lab/bench/repl-ssh-shape.sh
# Env: MIB (256), ROUNDS ("1 2"). Results: BENCHMARKS.md (repl, throughput).
set -euo pipefail
MIB=${MIB:-256}
DIR=/var/tmp/probe
for p in psrc pdst; do zpool destroy -f $p 2>/dev/null || true; done
rm -rf $DIR; mkdir -p $DIR
for p in psrc pdst; do truncate -s $((MIB*2+256))M $DIR/$p.img; zpool create -O mountpoint=$DIR/mnt/$p -O compression=off $p $DIR/$p.img; done
zfs create psrc/data
head -c $((MIB<<20)) /dev/urandom > $DIR/mnt/psrc/data/blob
zfs snapshot psrc/data@s1
ssh -o BatchMode=yes localhost true
zfs send psrc/data@s1 > /dev/null
CP=$DIR/cm-%C
ssh -o BatchMode=yes -o ControlMaster=yes -o ControlPath=$CP -o ControlPersist=600 -f -N localhost
now() { date +%s.%N; }
run() {
  local name=$1; shift
  zfs destroy -r pdst/x 2>/dev/null || true
  zpool wait -t free pdst; sync
  local t0=$(now)
  bash -c "$*"
  local t1=$(now)
  awk -v a=$t0 -v b=$t1 -v n="$name" 'BEGIN { printf "%-22s %.2fs\n", n, b - a }'
}
for r in ${ROUNDS:-1 2}; do
  run raw "zfs send psrc/data@s1 | ssh -o BatchMode=yes localhost zfs recv -u pdst/x"
  run flags "zfs send -v -P psrc/data@s1 2>/dev/null | ssh -o BatchMode=yes localhost zfs recv -s -u pdst/x"
  run mux "zfs send psrc/data@s1 | ssh -o BatchMode=yes -o ControlPath=$CP localhost zfs recv -u pdst/x"
  run mux+flags "zfs send -v -P psrc/data@s1 2>/dev/null | ssh -o BatchMode=yes -o ControlPath=$CP localhost zfs recv -s -u pdst/x"
done
ssh -o ControlPath=$CP -O exit localhost 2>/dev/null || true
for p in psrc pdst; do zpool destroy -f $p; done
rm -rf $DIR
