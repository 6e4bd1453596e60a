//! Names of the objects zferry owns for replication cursors, as format/parse pairs.
//!
//! - Cursor bookmark on the source, one per target: `zferry_v1_<target-id>_<guid>` where
//!   `<guid>` is the bookmarked snapshot's GUID as 16 lowercase hex digits. The bookmark keeps
//!   the increment for that target possible after the snapshot is pruned. The GUID in the name
//!   makes each cursor unique per snapshot (create-new-then-release-old never collides) and
//!   lets the shell verify a bookmark really is ours (name GUID == bookmark's `guid`).
//! - Hold tag on the target's newest common snapshot: `zferry:<target-id>`; it keeps the
//!   target's pruning away from the base.
//!
//! Target ids are 1–32 characters of `[a-z0-9-]`, starting with a letter or digit: no `_`,
//! so a cursor name splits unambiguously. Anything else (other versions, upper-case hex,
//! snapshot-manager names like `zferry_2024-01-31_…`) parses as "not a cursor".

use std::fmt;
use std::str::FromStr;

use zferry_zfs::Guid;

/// The version tag in cursor names; bump it when the format changes.
const CURSOR_PREFIX: &str = "zferry_v1_";
const HOLD_PREFIX: &str = "zferry:";
const MAX_ID_LEN: usize = 32;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CursorError {
    #[error("invalid target id {0:?}: expected 1-32 of [a-z0-9-], starting with a letter or digit")]
    BadTargetId(String),
    #[error(
        "{0:?} is not a zferry v1 cursor bookmark name (zferry_v1_<target-id>_<16 hex digits>)"
    )]
    NotACursor(String),
    #[error("{0:?} is not a zferry hold tag (zferry:<target-id>)")]
    NotAHold(String),
}

/// A replication target's id, as used in cursor and hold names.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TargetId(String);

impl FromStr for TargetId {
    type Err = CursorError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let ok_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-';
        let ok =
            !s.is_empty() && s.len() <= MAX_ID_LEN && s.chars().all(ok_char) && !s.starts_with('-');
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(CursorError::BadTargetId(s.to_owned()))
        }
    }
}

impl TargetId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TargetId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The short name of a cursor bookmark (the part after `#`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CursorBookmark {
    pub target: TargetId,
    pub guid: Guid,
}

impl CursorBookmark {
    pub fn new(target: TargetId, guid: Guid) -> Self {
        Self { target, guid }
    }

    /// `Some` when `short_name` is a v1 cursor, `None` for any other bookmark.
    pub fn parse(short_name: &str) -> Option<Self> {
        short_name.parse().ok()
    }
}

impl fmt::Display for CursorBookmark {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{CURSOR_PREFIX}{}_{:016x}", self.target, self.guid.0)
    }
}

impl FromStr for CursorBookmark {
    type Err = CursorError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let not = || CursorError::NotACursor(s.to_owned());
        let rest = s.strip_prefix(CURSOR_PREFIX).ok_or_else(not)?;
        let (id, hex) = rest.rsplit_once('_').ok_or_else(not)?;
        let hex_ok = hex.len() == 16 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if !hex_ok {
            return Err(not());
        }
        let guid = u64::from_str_radix(hex, 16).map_err(|_| not())?;
        let target = id.parse().map_err(|_| not())?;
        Ok(Self {
            target,
            guid: Guid(guid),
        })
    }
}

/// The user-hold tag on the target's newest common snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HoldTag(pub TargetId);

impl fmt::Display for HoldTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{HOLD_PREFIX}{}", self.0)
    }
}

impl FromStr for HoldTag {
    type Err = CursorError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let id = s
            .strip_prefix(HOLD_PREFIX)
            .ok_or_else(|| CursorError::NotAHold(s.to_owned()))?;
        id.parse()
            .map(Self)
            .map_err(|_| CursorError::NotAHold(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn id(s: &str) -> TargetId {
        s.parse().expect("valid target id")
    }

    #[test]
    fn formats_known_names() {
        let c = CursorBookmark::new(id("site-c"), Guid(0xdead_beef));
        assert_eq!(c.to_string(), "zferry_v1_site-c_00000000deadbeef");
        assert_eq!(HoldTag(id("site-c")).to_string(), "zferry:site-c");
        assert_eq!(
            "zferry_v1_site-c_00000000deadbeef".parse::<CursorBookmark>(),
            Ok(c)
        );
        assert_eq!("zferry:b".parse::<HoldTag>(), Ok(HoldTag(id("b"))));
    }

    #[test]
    fn rejects_look_alikes() {
        for s in [
            "zferry_site-c_00000000deadbeef",      // unversioned
            "zferry_v2_site-c_00000000deadbeef",   // future version
            "zferry_v1_site-c_00000000DEADBEEF",   // upper-case hex
            "zferry_v1_site-c_deadbeef",           // short guid
            "zferry_v1_site-c_000000000deadbeef0", // long guid
            "zferry_v1_site_c_00000000deadbeef",   // '_' in the id
            "zferry_v1__00000000deadbeef",         // empty id
            "zferry_v1_-c_00000000deadbeef",       // id starts with '-'
            "zferry_v1_Site_00000000deadbeef",     // upper-case id
            "zferry_2024-01-31_23:59:00_daily",    // snapshot-manager name
            "autosnap_2024-01-31_23:59:00_daily",
            "Zferry_v1_c_00000000deadbeef",
            "",
        ] {
            assert!(
                CursorBookmark::parse(s).is_none(),
                "{s:?} parsed as a cursor"
            );
        }
        for s in [
            "zferry:",
            "zferry:A",
            "zferry-b",
            "zferry:b c",
            "zrepl:b",
            "zferry:b_c",
        ] {
            assert!(s.parse::<HoldTag>().is_err(), "{s:?} parsed as a hold");
        }
        let long = "a".repeat(33);
        assert!(long.parse::<TargetId>().is_err());
        assert!("a".repeat(32).parse::<TargetId>().is_ok());
    }

    proptest! {
        #[test]
        fn cursor_round_trip(target in "[a-z0-9][a-z0-9-]{0,31}", guid in any::<u64>()) {
            let c = CursorBookmark::new(id(&target), Guid(guid));
            let s = c.to_string();
            prop_assert_eq!(CursorBookmark::parse(&s), Some(c.clone()));
            let h = HoldTag(c.target.clone());
            prop_assert_eq!(h.to_string().parse::<HoldTag>(), Ok(h));
        }

        #[test]
        fn parse_accepts_only_what_format_produces(s in "zferry_v1_[a-zA-Z0-9_-]{0,12}_[0-9a-fA-F]{15,17}") {
            if let Some(c) = CursorBookmark::parse(&s) {
                prop_assert_eq!(c.to_string(), s);
            }
        }
    }
}
