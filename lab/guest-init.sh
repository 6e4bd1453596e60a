#!/bin/bash
# PID 1 of the lab guest, started by the initramfs after switch_root. The root filesystem is
# the host's, read-only under a tmpfs overlay, so every host tool (zfs, zpool, sshd, sanoid,
# test binaries) runs here unchanged; writes outside the repository vanish at power-off.
set -u
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root LANG=C.UTF-8
log() { echo "zferry-lab guest: $*" >/dev/console; }
arg() { local w; for w in $(cat /proc/cmdline); do case "$w" in "$1="*) echo "${w#*=}";; esac; done; }

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mkdir -p /dev/pts /dev/shm
mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
# /tmp and /run are tmpfs mounted by the initramfs, before the shares that may live inside.
mkdir -p /run/lock /var/tmp
hostname zferry-lab

ip link set lo up
modprobe virtio_net
for _ in $(seq 50); do [ -e /sys/class/net/eth0 ] && break; sleep 0.1; done
ip addr add 10.0.2.15/24 dev eth0
ip link set eth0 up

# udev creates the /dev/zvol/<pool>/<name> links zvol tests need.
/lib/systemd/systemd-udevd --daemon
udevadm trigger --action=add >/dev/null 2>&1
udevadm settle --timeout=30

# Pools live in guest RAM: keep the ARC small so test data fits.
modprobe zfs zfs_arc_max=$((256 << 20)) || log "modprobe zfs FAILED"

# sshd on loopback only, for the ssh transport tests; root logs in with a lab key.
mkdir -p /run/sshd /root/.ssh /etc/ssh/ssh_config.d
chmod 700 /root/.ssh
ssh-keygen -A >/dev/null 2>&1
[ -f /root/.ssh/id_ed25519 ] || ssh-keygen -q -t ed25519 -N '' -f /root/.ssh/id_ed25519
cat /root/.ssh/id_ed25519.pub >>/root/.ssh/authorized_keys
printf 'Host localhost 127.0.0.1\n  StrictHostKeyChecking no\n  UserKnownHostsFile /dev/null\n  LogLevel ERROR\n' \
    >/etc/ssh/ssh_config.d/zferry-lab.conf
/usr/sbin/sshd -o ListenAddress=127.0.0.1 -o PermitRootLogin=prohibit-password -o UsePAM=no \
    || log "sshd failed to start"
# Debian's bash sources ~/.bashrc for every command sshd runs. The host's root may set up
# developer tools there (a `pyenv init` cost 7-9 s per ssh session under emulation, more than
# the handshake); a cluster node's root has the stock file, which returns at once when not
# interactive. The guest gets that one, so ssh sessions cost what they cost on a node.
cp /etc/skel/.bashrc /root/.bashrc 2>/dev/null || : >/root/.bashrc

log "ready: $(uname -r), zfs $(cat /sys/module/zfs/version 2>/dev/null || echo missing)"
# The agent serves commands; bash stays PID 1 and reaps orphans while waiting.
"$(arg zferry_agent)" agent --listen "$(arg zferry_listen)" >/dev/console 2>&1
log "agent exited; powering off"
echo o >/proc/sysrq-trigger
