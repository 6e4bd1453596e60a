#!/usr/bin/env bash
# Installs what the zferry lab needs on a Debian 12 (bookworm) host, as root.
# Idempotent: a second run only checks. See lab/README.md and ../shared/lab-notes.md.
#
# Why each piece:
#   - contrib + bookworm-backports: zfs-dkms/zfsutils-linux 2.3.x live there (bookworm has 2.1).
#   - qemu-system-x86 from backports: the image's backports qemu-utils breaks bookworm's qemu 7.2.
#   - linux-image/headers-amd64: the stock 6.1 kernel the guest boots; dkms builds zfs for it.
#   - busybox-static, cpio, kmod: to assemble the guest's tiny initramfs.
#   - udev: the guest runs systemd-udevd so /dev/zvol/... links appear.
#   - openssh-server/client: sshd on loopback in the guest for ssh transport tests.
#   - sanoid (+ pv, mbuffer, lzop): side-by-side comparisons with the tools zferry replaces.
#   - acl: getfacl/setfacl, to check container backups keep POSIX ACLs.
set -euo pipefail

if [[ $(id -u) -ne 0 ]]; then
    echo "install-host-packages: must run as root (apt-get install)" >&2
    exit 1
fi
if ! grep -q '^VERSION_CODENAME=bookworm' /etc/os-release; then
    echo "install-host-packages: expects Debian 12 (bookworm); found: $(. /etc/os-release; echo "$PRETTY_NAME")" >&2
    exit 1
fi

# A host with ZFS (e.g. a Proxmox node) runs the tests directly and must not get zfs-dkms
# from backports next to its own ZFS packages.
if [[ -e /dev/zfs && ${ZFERRY_LAB_FORCE_INSTALL:-0} != 1 ]]; then
    echo "install-host-packages: this host has ZFS (/dev/zfs); the lab is not needed, nothing installed"
    exit 0
fi

SOURCES=/etc/apt/sources.list.d/zferry-lab.sources
# Only what the stock sources lack: contrib for bookworm(-updates), and backports.
want_sources='Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: contrib
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main contrib
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg'

PKGS_MAIN=(linux-image-amd64 linux-headers-amd64 busybox-static cpio kmod udev
           openssh-server openssh-client sanoid pv mbuffer lzop acl)
PKGS_BPO=(qemu-system-x86 zfs-dkms zfsutils-linux)

have_all() {
    local status missing
    status=$(dpkg-query -W -f='${Status}\n' "${PKGS_MAIN[@]}" "${PKGS_BPO[@]}" 2>/dev/null) || return 1
    missing=$(grep -vc 'install ok installed' <<<"$status" || true)
    [[ $missing == 0 ]] && [[ $(wc -l <<<"$status") -eq $((${#PKGS_MAIN[@]} + ${#PKGS_BPO[@]})) ]]
}

if [[ "$(cat "$SOURCES" 2>/dev/null)" == "$want_sources" ]] && have_all; then
    echo "install-host-packages: all lab packages already installed"
    exit 0
fi

if [[ "$(cat "$SOURCES" 2>/dev/null)" != "$want_sources" ]]; then
    printf '%s\n' "$want_sources" >"$SOURCES"
fi

# Keep package postinst scripts from starting daemons (sshd, zed) on the host.
POLICY=/usr/sbin/policy-rc.d
policy_created=0
if [[ ! -e $POLICY ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$POLICY"
    chmod +x "$POLICY"
    policy_created=1
fi
cleanup() { if [[ $policy_created == 1 ]]; then rm -f "$POLICY"; fi; }
trap cleanup EXIT

export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# zfs-dkms asks a debconf question about its licence; preseed the answer.
echo "zfs-dkms zfs-dkms/note-incompatible-licenses note true" | debconf-set-selections
apt-get install -y -q --no-install-recommends "${PKGS_MAIN[@]}"
apt-get install -y -q --no-install-recommends -t bookworm-backports "${PKGS_BPO[@]}"
echo "install-host-packages: done"
