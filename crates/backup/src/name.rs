//! vzdump archive names: `vzdump-{qemu|lxc}-<vmid>-YYYY_MM_DD-HH_MM_SS.{vma|tar}[.zst|.gz|.lzo]`.
//!
//! The time is the PVE node's local civil time exactly as written (no zone is known), and is
//! reused verbatim as the snapshot name, so the two always sort and compare the same way.
//! In-flight files (`.dat`, `.tmp`, and anything else) are not backups and yield `None`.

use std::fmt;
use std::str::FromStr;

use serde::{Serialize, Serializer};

/// Guest type of a vzdump archive.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GuestKind {
    /// A VM: the archive is a VMA.
    #[default]
    Qemu,
    /// A container: the archive is a tar.
    Lxc,
}

/// How the archive is compressed, from its last extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ArchiveCompression {
    None,
    Zst,
    Gz,
    Lzo,
}

/// A civil (zone-less) backup time, `YYYY_MM_DD-HH_MM_SS`, range-checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BackupTime {
    pub year: u16,
    pub month: u8,
    pub day: u8,
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
}

/// Why a string is not a `YYYY_MM_DD-HH_MM_SS` time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a backup time YYYY_MM_DD-HH_MM_SS")]
pub struct BadTime(pub String);

fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        2 if (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400) => {
            29
        }
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

impl FromStr for BackupTime {
    type Err = BadTime;
    fn from_str(s: &str) -> Result<Self, BadTime> {
        let bad = || BadTime(s.to_owned());
        let b = s.as_bytes();
        if b.len() != 19 {
            return Err(bad());
        }
        let seps = [(4, b'_'), (7, b'_'), (10, b'-'), (13, b'_'), (16, b'_')];
        if seps.iter().any(|&(i, c)| b[i] != c) {
            return Err(bad());
        }
        let num = |from: usize, len: usize| -> Result<u16, BadTime> {
            let part = &s[from..from + len];
            if !part.bytes().all(|c| c.is_ascii_digit()) {
                return Err(bad());
            }
            part.parse().map_err(|_| bad())
        };
        let narrow = |v: u16| u8::try_from(v).map_err(|_| bad());
        let t = BackupTime {
            year: num(0, 4)?,
            month: narrow(num(5, 2)?)?,
            day: narrow(num(8, 2)?)?,
            hour: narrow(num(11, 2)?)?,
            minute: narrow(num(14, 2)?)?,
            second: narrow(num(17, 2)?)?,
        };
        let ok = (1..=12).contains(&t.month)
            && t.day >= 1
            && t.day <= days_in_month(t.year, t.month)
            && t.hour < 24
            && t.minute < 60
            && t.second < 60;
        if ok { Ok(t) } else { Err(bad()) }
    }
}

impl fmt::Display for BackupTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04}_{:02}_{:02}-{:02}_{:02}_{:02}",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }
}

impl Serialize for BackupTime {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// The parts of a vzdump archive name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VzdumpName {
    pub kind: GuestKind,
    pub vmid: u32,
    pub time: BackupTime,
    pub compression: ArchiveCompression,
}

/// Parses a vzdump archive file name (no directory). `None` for anything else, including
/// in-flight `.dat`/`.tmp` files, logs and notes.
pub fn parse_vzdump_name(name: &str) -> Option<VzdumpName> {
    let rest = name.strip_prefix("vzdump-")?;
    let (kind, rest, body_ext) = if let Some(r) = rest.strip_prefix("qemu-") {
        (GuestKind::Qemu, r, ".vma")
    } else if let Some(r) = rest.strip_prefix("lxc-") {
        (GuestKind::Lxc, r, ".tar")
    } else {
        return None;
    };
    let (vmid, rest) = rest.split_once('-')?;
    // PVE guest ids: 100..=999_999_999, decimal without sign or leading zero.
    if vmid.starts_with('0') || !vmid.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let vmid: u32 = vmid.parse().ok()?;
    if !(100..=999_999_999).contains(&vmid) {
        return None;
    }
    let (time, ext) = rest.split_at_checked(19)?;
    let time = time.parse().ok()?;
    let compression = match ext.strip_prefix(body_ext)? {
        "" => ArchiveCompression::None,
        ".zst" => ArchiveCompression::Zst,
        ".gz" => ArchiveCompression::Gz,
        ".lzo" => ArchiveCompression::Lzo,
        _ => return None,
    };
    Some(VzdumpName {
        kind,
        vmid,
        time,
        compression,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> BackupTime {
        s.parse().expect("valid time")
    }

    #[test]
    fn vzdump_names_table() {
        use ArchiveCompression as C;
        use GuestKind::{Lxc, Qemu};
        let ok = [
            (
                "vzdump-qemu-100-2017_10_02-18_30_01.vma",
                Qemu,
                100,
                "2017_10_02-18_30_01",
                C::None,
            ),
            (
                "vzdump-qemu-1000-2024_02_29-00_00_00.vma.zst",
                Qemu,
                1000,
                "2024_02_29-00_00_00",
                C::Zst,
            ),
            (
                "vzdump-qemu-999999999-2023_12_31-23_59_59.vma.gz",
                Qemu,
                999_999_999,
                "2023_12_31-23_59_59",
                C::Gz,
            ),
            (
                "vzdump-qemu-101-2017_09_22-18_30_02.vma.lzo",
                Qemu,
                101,
                "2017_09_22-18_30_02",
                C::Lzo,
            ),
            (
                "vzdump-lxc-105-2020_01_01-01_02_03.tar",
                Lxc,
                105,
                "2020_01_01-01_02_03",
                C::None,
            ),
            (
                "vzdump-lxc-105-2020_01_01-01_02_03.tar.zst",
                Lxc,
                105,
                "2020_01_01-01_02_03",
                C::Zst,
            ),
        ];
        for (name, kind, vmid, time, compression) in ok {
            assert_eq!(
                parse_vzdump_name(name),
                Some(VzdumpName {
                    kind,
                    vmid,
                    time: t(time),
                    compression
                }),
                "{name}"
            );
        }
        let rejected = [
            "vzdump-qemu-100-2017_10_02-18_30_01.vma.dat", // in flight
            "vzdump-qemu-100-2017_10_02-18_30_01.vma.zst.tmp",
            "vzdump-qemu-100-2017_10_02-18_30_01.tmp",
            "vzdump-qemu-100-2017_10_02-18_30_01.log",
            "vzdump-qemu-100-2017_10_02-18_30_01.vma.zst.notes",
            "vzdump-qemu-100-2017_10_02-18_30_01.tar", // wrong body for qemu
            "vzdump-lxc-100-2017_10_02-18_30_01.vma",
            "vzdump-qemu-100-2017_10_02-18_30_01.vma.xz",
            "vzdump-qemu-099-2017_10_02-18_30_01.vma",
            "vzdump-qemu-99-2017_10_02-18_30_01.vma",
            "vzdump-qemu-+100-2017_10_02-18_30_01.vma",
            "vzdump-qemu-100-2017_13_02-18_30_01.vma", // month 13
            "vzdump-qemu-100-2023_02_29-18_30_01.vma", // not a leap year
            "vzdump-qemu-100-2017_10_02-24_00_00.vma",
            "vzdump-qemu-100-2017-10-02-18_30_01.vma",
            "vzdump-openvz-100-2017_10_02-18_30_01.tar",
            "qemu-100-2017_10_02-18_30_01.vma",
            "vzdump-qemu-100-2017_10_02-18_30_01",
        ];
        for name in rejected {
            assert_eq!(parse_vzdump_name(name), None, "{name}");
        }
    }

    #[test]
    fn time_round_trips_and_orders_chronologically() {
        let a = t("2017_10_02-18_30_01");
        assert_eq!(a.to_string(), "2017_10_02-18_30_01");
        assert!(a < t("2017_10_03-00_00_00"));
        assert_eq!(
            serde_json::to_value(a).expect("serialise"),
            "2017_10_02-18_30_01"
        );
        assert!("2017_10_02-18_30_1x".parse::<BackupTime>().is_err());
    }
}
