//! Policy snapshot names, sanoid-compatible: `<prefix>_YYYY-MM-DD_HH:MM:SS_<period>` and the
//! guest-final `<prefix>_YYYY-MM-DD_HH:MM:SS_stopped` (M6, M15).
//!
//! The date-time in a name is civil time in the configured zone (`global.timezone`): UTC by
//! default, or the host's local zone. sanoid writes LOCAL time, so a host that moves from
//! sanoid to zferry should set `timezone = "local"`; names then continue seamlessly. The name
//! is only ever used to tell the period (and for humans): ages and due times come from the
//! snapshot's `creation` property, exactly like sanoid, so a wrong zone never prunes early.
//!
//! Parsing is strict: anything that is not exactly this shape (wrong digits, impossible
//! dates, unknown suffix, extra text) is not ours, and snapshots that are not ours are never
//! touched.

use std::fmt;
use std::str::FromStr;

use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::{Disambiguation, TimeZone};
use zferry_config::{Period, SnapshotPrefix, Timezone};

/// What a policy snapshot stands for: one retention period, or a guest's final snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SnapKind {
    Period(Period),
    /// Taken once when a guest stops (M15); never counted in a period.
    Stopped,
}

impl SnapKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SnapKind::Period(p) => p.as_str(),
            SnapKind::Stopped => "stopped",
        }
    }

    fn from_suffix(s: &str) -> Option<Self> {
        if s == "stopped" {
            return Some(SnapKind::Stopped);
        }
        Period::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .map(SnapKind::Period)
    }

    /// The period, or `None` for `_stopped`.
    pub fn period(self) -> Option<Period> {
        match self {
            SnapKind::Period(p) => Some(p),
            SnapKind::Stopped => None,
        }
    }
}

impl fmt::Display for SnapKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The part after `@` of a policy snapshot, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapName {
    pub prefix: SnapshotPrefix,
    /// Civil date-time as written in the name (whole seconds), in the zone it was named in.
    pub taken_at: DateTime,
    pub kind: SnapKind,
}

/// Why a snapshot name is not a policy snapshot name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("{0:?}: not <prefix>_YYYY-MM-DD_HH:MM:SS_<period>")]
    Shape(String),
    #[error(
        "{0:?}: unknown kind (expected frequently, hourly, daily, weekly, monthly, yearly or stopped)"
    )]
    Kind(String),
    #[error("{0:?}: invalid prefix")]
    Prefix(String),
    #[error("{0:?}: impossible date or time")]
    DateTime(String),
}

/// Length of `_YYYY-MM-DD_HH:MM:SS`.
const STAMP_LEN: usize = 20;

impl SnapName {
    /// The name for a snapshot taken at `now`, written in `tz` civil time (seconds truncated).
    pub fn at(prefix: &SnapshotPrefix, now: Timestamp, tz: &TimeZone, kind: SnapKind) -> Self {
        let civil = tz.to_datetime(now);
        let taken_at = civil
            .with()
            .subsec_nanosecond(0)
            .build()
            .expect("dropping sub-seconds keeps a valid date-time");
        SnapName {
            prefix: prefix.clone(),
            taken_at,
            kind,
        }
    }

    /// The instant the name denotes in `tz`; an ambiguous time (DST fold) is the earlier
    /// instant, a time in a DST gap is read with the offset before the gap (RFC 5545).
    pub fn instant(&self, tz: &TimeZone) -> Option<Timestamp> {
        tz.to_ambiguous_timestamp(self.taken_at)
            .disambiguate(Disambiguation::Compatible)
            .ok()
    }

    /// Parses `s` and accepts it only with the given prefix (cheap refusal of other names).
    pub fn parse_with_prefix(s: &str, prefix: &SnapshotPrefix) -> Option<Self> {
        let rest = s.strip_prefix(prefix.as_str())?;
        if rest.len() <= STAMP_LEN || !rest.starts_with('_') {
            return None;
        }
        s.parse::<SnapName>()
            .ok()
            .filter(|n| n.prefix.as_str() == prefix.as_str())
    }
}

impl SnapName {
    /// The time part as written in names: `YYYY-MM-DD_HH:MM:SS`.
    pub fn stamp(&self) -> String {
        let t = self.taken_at;
        format!(
            "{:04}-{:02}-{:02}_{:02}:{:02}:{:02}",
            t.year(),
            t.month(),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        )
    }
}

impl fmt::Display for SnapName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}_{}_{}", self.prefix.as_str(), self.stamp(), self.kind)
    }
}

impl FromStr for SnapName {
    type Err = NameError;

    fn from_str(s: &str) -> Result<Self, NameError> {
        let shape = || NameError::Shape(s.to_owned());
        let (head, suffix) = s.rsplit_once('_').ok_or_else(shape)?;
        let kind = SnapKind::from_suffix(suffix).ok_or_else(|| NameError::Kind(s.to_owned()))?;
        let split = head.len().checked_sub(STAMP_LEN).ok_or_else(shape)?;
        if !head.is_char_boundary(split) {
            return Err(shape());
        }
        let (prefix, stamp) = head.split_at(split);
        let prefix: SnapshotPrefix = prefix
            .parse()
            .map_err(|_| NameError::Prefix(s.to_owned()))?;
        let taken_at = parse_stamp(stamp)
            .ok_or_else(shape)?
            .map_err(|()| NameError::DateTime(s.to_owned()))?;
        Ok(SnapName {
            prefix,
            taken_at,
            kind,
        })
    }
}

/// `_YYYY-MM-DD_HH:MM:SS`: `None` when the shape is wrong, `Some(Err)` when the digits are
/// well placed but the date or time does not exist.
fn parse_stamp(stamp: &str) -> Option<Result<DateTime, ()>> {
    let b = stamp.as_bytes();
    let pattern = b"_dddd-dd-dd_dd:dd:dd";
    let shape_ok = b.len() == pattern.len()
        && b.iter().zip(pattern).all(|(&c, &p)| {
            if p == b'd' {
                c.is_ascii_digit()
            } else {
                c == p
            }
        });
    if !shape_ok {
        return None;
    }
    let num = |at: usize, len: usize| -> i16 {
        b[at..at + len]
            .iter()
            .fold(0, |n, &c| n * 10 + i16::from(c - b'0'))
    };
    let small = |at: usize| i8::try_from(num(at, 2)).expect("two digits fit in i8");
    let dt = DateTime::new(
        num(1, 4),
        small(6),
        small(9),
        small(12),
        small(15),
        small(18),
        0,
    );
    Some(dt.map_err(|_| ()))
}

/// The jiff zone for the configured clock: UTC, or the host's local zone.
pub fn zone(tz: Timezone) -> TimeZone {
    match tz {
        Timezone::Utc => TimeZone::UTC,
        Timezone::Local => TimeZone::system(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prefix(s: &str) -> SnapshotPrefix {
        s.parse().unwrap()
    }

    #[test]
    fn formats_like_sanoid() {
        let now: Timestamp = "2026-03-05T07:08:09.75Z".parse().unwrap();
        let n = SnapName::at(
            &prefix("autosnap"),
            now,
            &TimeZone::UTC,
            SnapKind::Period(Period::Hourly),
        );
        assert_eq!(n.to_string(), "autosnap_2026-03-05_07:08:09_hourly");
        let berlin = TimeZone::get("Europe/Berlin").unwrap();
        let s = SnapName::at(&prefix("zf"), now, &berlin, SnapKind::Stopped);
        assert_eq!(s.to_string(), "zf_2026-03-05_08:08:09_stopped");
    }

    #[test]
    fn parses_each_kind() {
        let table = [
            (
                "autosnap_2024-01-31_23:59:00_frequently",
                SnapKind::Period(Period::Frequently),
            ),
            (
                "autosnap_2024-01-31_23:59:00_hourly",
                SnapKind::Period(Period::Hourly),
            ),
            (
                "autosnap_2024-01-31_23:59:00_daily",
                SnapKind::Period(Period::Daily),
            ),
            (
                "autosnap_2024-01-31_23:59:00_weekly",
                SnapKind::Period(Period::Weekly),
            ),
            (
                "autosnap_2024-01-31_23:59:00_monthly",
                SnapKind::Period(Period::Monthly),
            ),
            (
                "autosnap_2024-01-31_23:59:00_yearly",
                SnapKind::Period(Period::Yearly),
            ),
            ("autosnap_2024-01-31_23:59:00_stopped", SnapKind::Stopped),
        ];
        for (text, kind) in table {
            let n: SnapName = text.parse().unwrap();
            assert_eq!(n.kind, kind, "{text}");
            assert_eq!(n.prefix.as_str(), "autosnap");
            assert_eq!(n.taken_at, jiff::civil::date(2024, 1, 31).at(23, 59, 0, 0));
            assert_eq!(n.to_string(), text);
        }
    }

    #[test]
    fn rejects_look_alikes() {
        let bad = [
            "autosnap_2024-01-31_23:59:00_hourlyx",
            "autosnap_2024-01-31_23:59:00_Hourly",
            "autosnap_2024-01-31_23:59_hourly",
            "autosnap_2024-1-31_23:59:00_hourly",
            "autosnap_2024-02-30_23:59:00_hourly",
            "autosnap_2024-01-31_24:00:00_hourly",
            "autosnap_2024-01-31_23:60:00_hourly",
            "autosnap_2024-01-31_23:59:60_hourly",
            "autosnap_2024-01-31T23:59:00_hourly",
            "autosnap_2024-01-31_23:59:00hourly",
            "autosnap-2024-01-31_23:59:00_hourly",
            "_2024-01-31_23:59:00_hourly",
            "auto_snap_2024-01-31_23:59:00_hourly",
            "autosnap_２024-01-31_23:59:00_hourly",
            "autosnap_+024-01-31_23:59:00_hourly",
            "autosnap_2024-01-31_23:59:00_",
            "syncoid_host_2024-01-31:23:59:00-GMT00:00",
            "hourly",
            "",
        ];
        for text in bad {
            assert!(text.parse::<SnapName>().is_err(), "{text} accepted");
        }
    }

    #[test]
    fn prefix_must_match_when_asked() {
        let p = prefix("autosnap");
        assert!(SnapName::parse_with_prefix("autosnap_2024-01-31_23:59:00_daily", &p).is_some());
        assert!(SnapName::parse_with_prefix("zferry_2024-01-31_23:59:00_daily", &p).is_none());
    }

    #[test]
    fn instant_resolves_folds_early_and_gaps_late() {
        let berlin = TimeZone::get("Europe/Berlin").unwrap();
        let fold: SnapName = "autosnap_2024-10-27_02:30:00_hourly".parse().unwrap();
        assert_eq!(
            fold.instant(&berlin).unwrap(),
            "2024-10-27T00:30:00Z".parse::<Timestamp>().unwrap()
        );
        let gap: SnapName = "autosnap_2024-03-31_02:30:00_hourly".parse().unwrap();
        assert_eq!(
            gap.instant(&berlin).unwrap(),
            "2024-03-31T01:30:00Z".parse::<Timestamp>().unwrap()
        );
    }
}
