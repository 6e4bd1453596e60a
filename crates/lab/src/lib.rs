//! The zferry lab: real OpenZFS for tests and demos on machines that cannot load the zfs module.
//!
//! A qemu guest boots the host's stock Debian kernel (with the zfs module `zfs-dkms` built
//! for it), sees the host's root filesystem read-only and the repository read-write at the
//! same path, and runs commands sent by the host ([`client`], served by [`agent`]).
//! On a host that has ZFS itself (`/dev/zfs`), none of this is needed: tests run directly.
//! See `lab/README.md` for use by hand.

pub mod agent;
pub mod client;
pub mod cpio;
pub mod fixture;
pub mod protocol;
pub mod vm;
