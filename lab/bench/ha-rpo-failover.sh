#!/usr/bin/env bash
# HA in steady state and at a failover, with two real `zferry daemon`s (nodes a and b, one
# pool each) and a third site c, all on one guest, b and c reached over ssh to localhost.
# 1. Steady state: a writer appends to a's dataset every 5 s; snapshots every minute
#    (frequently, frequent-period 1m), daemons with --cycle-interval 60. Every 15 s the RPO
#    of each of a's pairs is sampled from `zferry ha status --json`.
# 2. Crash failover: a's daemon is killed, then the placement flips to b. Reported: the time
#    until b acts as master (epoch taken) and until b's first snapshot taken after the flip
#    has reached a and c (the first send of new data in the new direction).
# Runs INSIDE the lab guest, from the repository root (`target/debug/zferry` built):
#   target/debug/zferry-lab exec -- bash lab/bench/ha-rpo-failover.sh
# Env: STEADY (300 s), ZFERRY (target/debug/zferry). Results: BENCHMARKS.md (ha).
set -euo pipefail
STEADY=${STEADY:-300}
Z=$(realpath "${ZFERRY:-target/debug/zferry}")
DIR=/var/tmp/ha-bench
for p in hxa hxb hxc; do zpool destroy -f $p 2>/dev/null || true; done
pkill -f "zferry.*ha-bench.*daemon" 2>/dev/null || true
rm -rf $DIR; mkdir -p $DIR
for p in hxa hxb hxc; do
  truncate -s 512M $DIR/$p.img
  zpool create -O mountpoint=$DIR/mnt/$p -O atime=off $p $DIR/$p.img
done
ln -sf "$Z" /usr/local/bin/zferry   # the far ends run `zferry wire` over ssh
zfs create hxa/data
ssh -o BatchMode=yes localhost true
for n in a b; do
  cat > $DIR/zferry-$n.toml <<EOF
[global]
hostname = "$n"
state-dir = "$DIR/state-$n"
lock-dir = "$DIR/lock"
[nodes.a]
address = "localhost"
[nodes.b]
address = "localhost"
[nodes.c]
address = "localhost"
[templates.t]
frequently = 10
frequent-period = "1m"
hourly = 2
autosnap = true
autoprune = true
[datasets."hxa/data"]
use-template = "t"
[datasets."hxb/data"]
use-template = "t"
[datasets."hxc/data"]
use-template = "t"
[jobs.data]
source = { node = "a", dataset = "hxa/data" }
targets = [{ node = "b", dataset = "hxb/data" }, { node = "c", dataset = "hxc/data" }]
[services.nfs]
placement = { kind = "command", argv = ["/bin/cat", "$DIR/placement"] }
nodes = ["a", "b"]
third-sites = ["c"]
jobs = ["data"]
cooldown = "0s"
EOF
done
echo a > $DIR/placement
now() { date +%s; }
daemon() { # node
  RUST_LOG=info "$Z" --config $DIR/zferry-$1.toml --log-format json daemon \
    --poll-interval 2 --cycle-interval 60 > $DIR/daemon-$1.log 2>&1 &
  echo $! > $DIR/daemon-$1.pid
}
writer() { # mountpoint
  while :; do date >> "$1/log.txt"; head -c 65536 /dev/urandom >> "$1/blob"; sleep 5; done
}
daemon a; daemon b
writer $DIR/mnt/hxa/data & WRITER=$!
echo "steady state for ${STEADY}s"
t_end=$(( $(now) + STEADY ))
: > $DIR/rpo.txt
sleep 90 # the first full sends
while [ "$(now)" -lt $t_end ]; do
  zferry --config $DIR/zferry-a.toml ha status --json \
    | python3 -c 'import json,sys
for s in json.load(sys.stdin):
    for p in s["pairs"]:
        if p["rpo_seconds"] is not None:
            print(p["rpo_seconds"])' >> $DIR/rpo.txt
  sleep 15
done
python3 - $DIR/rpo.txt <<'EOF'
import sys
v = [int(x) for x in open(sys.argv[1]) if x.strip()]
print(f"steady-state RPO over {len(v)} samples: mean {sum(v)/len(v):.0f}s, max {max(v)}s, min {min(v)}s")
EOF

echo "crash failover: a's daemon killed, placement -> b"
kill -9 "$(cat $DIR/daemon-a.pid)"; kill $WRITER
zfs unmount hxa/data
t0=$(now); echo b > $DIR/placement; echo "placement flipped at $(date -u +%T) UTC"
zfs mount hxb/data 2>/dev/null || true
writer $DIR/mnt/hxb/data & WRITER=$!
t_master=""; t_sent=""
while [ -z "$t_sent" ] && [ $(( $(now) - t0 )) -lt 600 ]; do
  st=$(zferry --config $DIR/zferry-b.toml ha status --json)
  if [ -z "$t_master" ] && echo "$st" | grep -q '"acting": "master"'; then t_master=$(now); fi
  # b's records are the pairs b sent: both with a common snapshot taken after the flip.
  if echo "$st" | T0=$t0 NOW=$(now) python3 -c 'import json,os,sys
t0=int(os.environ["T0"]); now=int(os.environ["NOW"])
ok=[p for s in json.load(sys.stdin) for p in s["pairs"]
    if p["rpo_seconds"] is not None and now - p["rpo_seconds"] >= t0]
sys.exit(0 if len(ok) >= 2 else 1)'; then t_sent=$(now); fi
  sleep 1
done
kill $WRITER; kill "$(cat $DIR/daemon-b.pid)" 2>/dev/null || true
echo "placement change -> b acts as master: $(( ${t_master:-0} - t0 ))s"
echo "placement change -> first new snapshot on a and c: $(( ${t_sent:-0} - t0 ))s"
grep -h '"became master"\|"placement decision changed"' $DIR/daemon-b.log | tail -3 || true
for p in hxa hxb hxc; do zpool destroy -f $p; done
