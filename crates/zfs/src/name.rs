//! Checked names for pools, datasets, snapshots and bookmarks.
//!
//! Every name that zferry hands to `zfs`/`zpool`, reads back from their output, or takes from a
//! config file goes through these newtypes, so a malformed name is rejected once, at the edge,
//! with an error that says exactly what is wrong and where.
//!
//! The rules follow OpenZFS 2.x (`module/zcommon/zfs_namecheck.c` and `zpool_name_valid` in
//! libzfs), tightened where ZFS is permissive for internal reasons:
//!
//! * allowed characters are `[A-Za-z0-9_.: -]` (space included); `/` separates dataset
//!   components, `@` introduces a snapshot part and `#` a bookmark part;
//! * `%` is refused: ZFS only uses it for its own temporary receive clones;
//! * control characters (and any other non-listed character) are refused;
//! * a full name is at most [`MAX_NAME_LEN`] bytes, a pool name at most [`MAX_POOL_NAME_LEN`];
//! * no leading or trailing `/`, no empty component, no `.` or `..` component;
//! * a pool name starts with a letter and is not reserved: exactly `mirror`, `raidz`, `draid`,
//!   `log`, or starting with `mirror`, `raidz`, `draid` or `spare` (the set `zpool create`
//!   refuses). OpenZFS 2.x no longer reserves disk-like names such as `c0d0`, so neither do we.
//!
//! The first component of every dataset, snapshot and bookmark name must itself be a valid pool
//! name. The nesting limit (`zfs_max_dataset_nesting`, 50 by default) is a tunable and is left to
//! ZFS.

use std::fmt;
use std::str::FromStr;

/// Longest full name ZFS accepts, in bytes (`ZFS_MAX_DATASET_NAME_LEN` 256 minus the NUL).
pub const MAX_NAME_LEN: usize = 255;

/// Longest pool name ZFS accepts, in bytes: room is kept for `pool/$ORIGIN@$ORIGIN`.
pub const MAX_POOL_NAME_LEN: usize = 239;

/// Why a string is not a valid ZFS name. Positions are byte offsets into the checked string.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("name is empty")]
    Empty,
    #[error("name is {len} bytes long; at most {max} are allowed")]
    TooLong { len: usize, max: usize },
    #[error("control character {ch:?} at byte {pos}")]
    ControlChar { ch: char, pos: usize },
    #[error("'%' at byte {pos} is reserved for ZFS-internal temporary names")]
    Percent { pos: usize },
    #[error(
        "invalid character {ch:?} at byte {pos} (allowed: letters, digits, '_', '-', '.', ':', space)"
    )]
    InvalidChar { ch: char, pos: usize },
    #[error("name starts with '/'")]
    LeadingSlash,
    #[error("name ends with '/'")]
    TrailingSlash,
    #[error("empty component at byte {pos}")]
    EmptyComponent { pos: usize },
    #[error("component '.' at byte {pos} is not allowed")]
    SelfReference { pos: usize },
    #[error("component '..' at byte {pos} is not allowed")]
    ParentReference { pos: usize },
    #[error("missing '{expected}' delimiter")]
    MissingDelimiter { expected: char },
    #[error("unexpected '{ch}' at byte {pos}")]
    UnexpectedDelimiter { ch: char, pos: usize },
    #[error("second '{ch}' delimiter at byte {pos}")]
    MultipleDelimiters { ch: char, pos: usize },
    #[error("'/' at byte {pos} after the '@'/'#' delimiter")]
    SlashAfterDelimiter { pos: usize },
    #[error("pool name must start with a letter, found {ch:?}")]
    PoolNoLetter { ch: char },
    #[error("pool name {name:?} is reserved by ZFS ({rule})")]
    PoolReserved { name: String, rule: &'static str },
}

/// Which shape of name is being checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Dataset,
    Snapshot,
    Bookmark,
}

impl Kind {
    fn delimiter(self) -> Option<char> {
        match self {
            Kind::Dataset => None,
            Kind::Snapshot => Some('@'),
            Kind::Bookmark => Some('#'),
        }
    }
}

fn is_component_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':' | ' ')
}

/// Character pass over the whole string; `structural` lists separators allowed here.
fn check_chars(s: &str, structural: &[char]) -> Result<(), NameError> {
    for (pos, ch) in s.char_indices() {
        if ch.is_control() {
            return Err(NameError::ControlChar { ch, pos });
        }
        if ch == '%' {
            return Err(NameError::Percent { pos });
        }
        if !is_component_char(ch) && !structural.contains(&ch) {
            return Err(NameError::InvalidChar { ch, pos });
        }
    }
    Ok(())
}

fn check_len(s: &str, max: usize) -> Result<(), NameError> {
    if s.len() > max {
        return Err(NameError::TooLong { len: s.len(), max });
    }
    Ok(())
}

/// Reserved-name rule that `s` breaks, if any (the set `zpool create` refuses).
fn reserved_rule(s: &str) -> Option<&'static str> {
    const EXACT: [&str; 4] = ["mirror", "raidz", "draid", "log"];
    const PREFIX: [&str; 4] = ["mirror", "raidz", "draid", "spare"];
    if EXACT.contains(&s) {
        return Some("reserved vdev keyword");
    }
    if PREFIX.iter().any(|p| s.starts_with(p)) {
        return Some("starts with mirror, raidz, draid or spare");
    }
    None
}

fn check_pool(s: &str) -> Result<(), NameError> {
    if s.is_empty() {
        return Err(NameError::Empty);
    }
    check_chars(s, &[])?;
    check_len(s, MAX_POOL_NAME_LEN)?;
    let first = s.chars().next().unwrap_or_default();
    if !first.is_ascii_alphabetic() {
        return Err(NameError::PoolNoLetter { ch: first });
    }
    if let Some(rule) = reserved_rule(s) {
        return Err(NameError::PoolReserved {
            name: s.to_owned(),
            rule,
        });
    }
    Ok(())
}

/// Checks one `/`-free component starting at byte `pos` of the whole name.
fn check_component(c: &str, pos: usize) -> Result<(), NameError> {
    match c {
        "" => Err(NameError::EmptyComponent { pos }),
        "." => Err(NameError::SelfReference { pos }),
        ".." => Err(NameError::ParentReference { pos }),
        _ => Ok(()),
    }
}

/// Checks the dataset part (before any delimiter) of a name.
fn check_dataset_part(s: &str) -> Result<(), NameError> {
    if s.is_empty() {
        return Err(NameError::EmptyComponent { pos: 0 });
    }
    if s.starts_with('/') {
        return Err(NameError::LeadingSlash);
    }
    if s.ends_with('/') {
        return Err(NameError::TrailingSlash);
    }
    let mut pos = 0;
    for (i, comp) in s.split('/').enumerate() {
        check_component(comp, pos)?;
        if i == 0 {
            check_pool(comp)?;
        }
        pos += comp.len() + 1;
    }
    Ok(())
}

/// Full check of `s` as a name of `kind`; returns the delimiter's byte offset, if any.
fn check_entity(s: &str, kind: Kind) -> Result<Option<usize>, NameError> {
    if s.is_empty() {
        return Err(NameError::Empty);
    }
    check_chars(s, &['/', '@', '#'])?;
    check_len(s, MAX_NAME_LEN)?;
    let wanted = kind.delimiter();
    let mut delim: Option<usize> = None;
    for (pos, ch) in s.char_indices().filter(|&(_, c)| c == '@' || c == '#') {
        if Some(ch) != wanted {
            return Err(NameError::UnexpectedDelimiter { ch, pos });
        }
        if delim.is_some() {
            return Err(NameError::MultipleDelimiters { ch, pos });
        }
        delim = Some(pos);
    }
    let Some(expected) = wanted else {
        check_dataset_part(s)?;
        return Ok(None);
    };
    let Some(at) = delim else {
        return Err(NameError::MissingDelimiter { expected });
    };
    check_dataset_part(&s[..at])?;
    let tail = &s[at + 1..];
    if let Some(off) = tail.find('/') {
        return Err(NameError::SlashAfterDelimiter { pos: at + 1 + off });
    }
    check_component(tail, at + 1)?;
    Ok(Some(at))
}

/// Implements the string-like traits shared by every name type; parsing goes through `parse`.
macro_rules! string_name {
    ($ty:ident) => {
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl AsRef<str> for $ty {
            fn as_ref(&self) -> &str {
                self.as_str()
            }
        }
        impl FromStr for $ty {
            type Err = NameError;
            fn from_str(s: &str) -> Result<Self, NameError> {
                Self::parse(s.to_owned())
            }
        }
        impl TryFrom<String> for $ty {
            type Error = NameError;
            fn try_from(s: String) -> Result<Self, NameError> {
                Self::parse(s)
            }
        }
        impl TryFrom<&str> for $ty {
            type Error = NameError;
            fn try_from(s: &str) -> Result<Self, NameError> {
                s.parse()
            }
        }
        impl From<$ty> for String {
            fn from(n: $ty) -> String {
                n.as_str().to_owned()
            }
        }
        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::parse(s).map_err(serde::de::Error::custom)
            }
        }
    };
}

/// A pool name, e.g. `rpool`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PoolName(String);

impl PoolName {
    fn parse(s: String) -> Result<Self, NameError> {
        check_pool(&s)?;
        Ok(Self(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The pool's root dataset, which has the same name as the pool.
    pub fn root_dataset(&self) -> DatasetName {
        DatasetName(self.0.clone())
    }
}
string_name!(PoolName);

/// A filesystem or volume name, e.g. `rpool/data/vm-100-disk-0`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DatasetName(String);

impl DatasetName {
    fn parse(s: String) -> Result<Self, NameError> {
        check_entity(&s, Kind::Dataset)?;
        Ok(Self(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The pool this dataset lives in (its first component).
    pub fn pool(&self) -> PoolName {
        PoolName(self.components().next().unwrap_or_default().to_owned())
    }

    /// The parent dataset; `None` for a pool's root dataset.
    pub fn parent(&self) -> Option<DatasetName> {
        self.0
            .rsplit_once('/')
            .map(|(p, _)| DatasetName(p.to_owned()))
    }

    /// The `/`-separated components, pool first.
    pub fn components(&self) -> std::str::Split<'_, char> {
        self.0.split('/')
    }

    /// Number of `/` separators: 0 for a pool's root dataset.
    pub fn depth(&self) -> usize {
        self.0.matches('/').count()
    }

    /// Is this the pool's root dataset?
    pub fn is_root(&self) -> bool {
        !self.0.contains('/')
    }

    /// The child `self/component`; `component` must be a single valid component.
    pub fn join_child(&self, component: &str) -> Result<DatasetName, NameError> {
        if let Some(off) = component.find('/') {
            return Err(NameError::InvalidChar {
                ch: '/',
                pos: self.0.len() + 1 + off,
            });
        }
        DatasetName::parse(format!("{}/{component}", self.0))
    }

    /// True when `other` is a strict descendant of `self` (`tank` of `tank/a`, not `tanker`).
    pub fn is_ancestor_of(&self, other: &DatasetName) -> bool {
        self.relative_path_of(other).is_some()
    }

    /// The path of strict descendant `other` below `self`, e.g. `a/b` for `tank` and `tank/a/b`.
    pub fn relative_path_of<'a>(&self, other: &'a DatasetName) -> Option<&'a str> {
        other.0.strip_prefix(self.0.as_str())?.strip_prefix('/')
    }

    /// The snapshot `self@snap`.
    pub fn snapshot(&self, snap: &str) -> Result<SnapshotName, NameError> {
        SnapshotName::parse(format!("{}@{snap}", self.0))
    }

    /// The bookmark `self#mark`.
    pub fn bookmark(&self, mark: &str) -> Result<BookmarkName, NameError> {
        BookmarkName::parse(format!("{}#{mark}", self.0))
    }
}
string_name!(DatasetName);

/// A snapshot name, `dataset@snap`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SnapshotName {
    full: String,
    at: usize,
}

impl SnapshotName {
    fn parse(full: String) -> Result<Self, NameError> {
        let at = check_entity(&full, Kind::Snapshot)?.unwrap_or_default();
        Ok(Self { full, at })
    }

    pub fn as_str(&self) -> &str {
        &self.full
    }

    /// The snapshotted dataset.
    pub fn dataset(&self) -> DatasetName {
        DatasetName(self.full[..self.at].to_owned())
    }

    /// The part after `@`.
    pub fn snapshot_part(&self) -> &str {
        &self.full[self.at + 1..]
    }

    pub fn pool(&self) -> PoolName {
        self.dataset().pool()
    }
}
string_name!(SnapshotName);

/// A bookmark name, `dataset#mark`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BookmarkName {
    full: String,
    hash: usize,
}

impl BookmarkName {
    fn parse(full: String) -> Result<Self, NameError> {
        let hash = check_entity(&full, Kind::Bookmark)?.unwrap_or_default();
        Ok(Self { full, hash })
    }

    pub fn as_str(&self) -> &str {
        &self.full
    }

    /// The dataset the bookmark belongs to.
    pub fn dataset(&self) -> DatasetName {
        DatasetName(self.full[..self.hash].to_owned())
    }

    /// The part after `#`.
    pub fn bookmark_part(&self) -> &str {
        &self.full[self.hash + 1..]
    }

    pub fn pool(&self) -> PoolName {
        self.dataset().pool()
    }
}
string_name!(BookmarkName);

#[cfg(test)]
mod tests {
    use super::*;
    use NameError as E;
    use proptest::prelude::*;

    fn ds(s: &str) -> DatasetName {
        s.parse().unwrap()
    }

    #[test]
    fn valid_datasets() {
        for s in [
            "tank",
            "rpool/data/vm-100-disk-0",
            "Tank_1/a b/c:d/e.f-g",
            "c0pool/x", // disk-like names are no longer reserved in OpenZFS 2.x
            "logs/x",
            "tank/...",
            "tank/.hidden",
        ] {
            assert_eq!(ds(s).as_str(), s);
        }
    }

    #[test]
    fn invalid_datasets() {
        let long = format!("tank/{}", "a".repeat(251));
        let cases: Vec<(&str, NameError)> = vec![
            ("", E::Empty),
            ("/tank", E::LeadingSlash),
            ("tank/", E::TrailingSlash),
            ("tank//a", E::EmptyComponent { pos: 5 }),
            ("tank/./a", E::SelfReference { pos: 5 }),
            ("tank/a/..", E::ParentReference { pos: 7 }),
            ("tank/a\tb", E::ControlChar { ch: '\t', pos: 6 }),
            (
                "tank/a\u{7f}",
                E::ControlChar {
                    ch: '\u{7f}',
                    pos: 6,
                },
            ),
            ("tank/%recv", E::Percent { pos: 5 }),
            ("tank/a!", E::InvalidChar { ch: '!', pos: 6 }),
            ("tank/é", E::InvalidChar { ch: 'é', pos: 5 }),
            ("tank@s", E::UnexpectedDelimiter { ch: '@', pos: 4 }),
            ("tank#b", E::UnexpectedDelimiter { ch: '#', pos: 4 }),
            ("1tank/a", E::PoolNoLetter { ch: '1' }),
            (
                "mirror/a",
                E::PoolReserved {
                    name: "mirror".into(),
                    rule: "reserved vdev keyword",
                },
            ),
            (&long, E::TooLong { len: 256, max: 255 }),
        ];
        for (s, want) in cases {
            assert_eq!(s.parse::<DatasetName>(), Err(want), "input {s:?}");
        }
    }

    #[test]
    fn pool_rules() {
        for ok in [
            "tank",
            "rpool",
            "Z",
            "logs",
            "c0t0d0",
            "spar",
            "mirro",
            "a.b:c d-e_f",
        ] {
            assert!(ok.parse::<PoolName>().is_ok(), "{ok:?} should be valid");
        }
        for bad in [
            "mirror", "mirror-0", "raidz", "raidz2", "draid", "draid1x", "spare", "spares", "log",
        ] {
            assert!(
                matches!(bad.parse::<PoolName>(), Err(NameError::PoolReserved { .. })),
                "{bad:?} should be reserved"
            );
        }
        assert_eq!(
            "_x".parse::<PoolName>(),
            Err(NameError::PoolNoLetter { ch: '_' })
        );
        assert_eq!(
            "a/b".parse::<PoolName>(),
            Err(NameError::InvalidChar { ch: '/', pos: 1 })
        );
        let long = "p".repeat(240);
        assert_eq!(
            long.parse::<PoolName>(),
            Err(NameError::TooLong { len: 240, max: 239 })
        );
        assert!("p".repeat(239).parse::<PoolName>().is_ok());
    }

    #[test]
    fn snapshot_rules() {
        let s: SnapshotName = "rpool/data@zferry_2024-01-01T00:00".parse().unwrap();
        assert_eq!(s.dataset(), ds("rpool/data"));
        assert_eq!(s.snapshot_part(), "zferry_2024-01-01T00:00");
        assert_eq!(s.pool().as_str(), "rpool");
        let cases = [
            ("tank", E::MissingDelimiter { expected: '@' }),
            ("tank@", E::EmptyComponent { pos: 5 }),
            ("@s", E::EmptyComponent { pos: 0 }),
            ("tank@a@b", E::MultipleDelimiters { ch: '@', pos: 6 }),
            ("tank@a#b", E::UnexpectedDelimiter { ch: '#', pos: 6 }),
            ("tank@a/b", E::SlashAfterDelimiter { pos: 6 }),
            ("tank/@s", E::TrailingSlash),
            ("tank@..", E::ParentReference { pos: 5 }),
            ("tank@%x", E::Percent { pos: 5 }),
        ];
        for (s, want) in cases {
            assert_eq!(s.parse::<SnapshotName>(), Err(want), "input {s:?}");
        }
    }

    #[test]
    fn bookmark_rules() {
        let b: BookmarkName = "tank/a#m1".parse().unwrap();
        assert_eq!(b.dataset(), ds("tank/a"));
        assert_eq!(b.bookmark_part(), "m1");
        assert_eq!(
            "tank/a@m1".parse::<BookmarkName>(),
            Err(NameError::UnexpectedDelimiter { ch: '@', pos: 6 })
        );
        assert_eq!(
            "tank/a".parse::<BookmarkName>(),
            Err(NameError::MissingDelimiter { expected: '#' })
        );
    }

    #[test]
    fn accessors() {
        let d = ds("rpool/data/vm-100-disk-0");
        assert_eq!(d.pool().as_str(), "rpool");
        assert_eq!(d.parent(), Some(ds("rpool/data")));
        assert_eq!(ds("rpool").parent(), None);
        assert_eq!(
            d.components().collect::<Vec<_>>(),
            ["rpool", "data", "vm-100-disk-0"]
        );
        assert_eq!(d.depth(), 2);
        assert!(ds("rpool").is_root());
        assert!(ds("rpool").is_ancestor_of(&d));
        assert!(ds("rpool/data").is_ancestor_of(&d));
        assert!(!d.is_ancestor_of(&d));
        assert!(!ds("rpool/dat").is_ancestor_of(&d));
        assert!(!ds("rpool/data/vm").is_ancestor_of(&ds("rpool/data/vm-1")));
        assert_eq!(ds("rpool").relative_path_of(&d), Some("data/vm-100-disk-0"));
        assert_eq!(d.join_child("x").unwrap(), ds("rpool/data/vm-100-disk-0/x"));
        assert_eq!(
            ds("tank").join_child("a/b"),
            Err(NameError::InvalidChar { ch: '/', pos: 6 })
        );
        assert_eq!(
            ds("tank").join_child(".."),
            Err(NameError::ParentReference { pos: 5 })
        );
        assert_eq!(
            d.snapshot("s1").unwrap().as_str(),
            "rpool/data/vm-100-disk-0@s1"
        );
        assert!(d.snapshot("a@b").is_err());
        assert_eq!(
            d.bookmark("b1").unwrap().as_str(),
            "rpool/data/vm-100-disk-0#b1"
        );
        assert_eq!(
            PoolName::from_str("tank").unwrap().root_dataset(),
            ds("tank")
        );
    }

    #[test]
    fn serde_goes_through_check() {
        let d: DatasetName = serde_json::from_str("\"tank/a\"").unwrap();
        assert_eq!(serde_json::to_string(&d).unwrap(), "\"tank/a\"");
        let err = serde_json::from_str::<DatasetName>("\"tank//a\"").unwrap_err();
        assert!(
            err.to_string().contains("empty component at byte 5"),
            "{err}"
        );
        assert!(serde_json::from_str::<SnapshotName>("\"tank\"").is_err());
        assert!(serde_json::from_str::<PoolName>("\"raidz\"").is_err());
    }

    #[test]
    fn error_messages_are_specific() {
        let e = "tank/a\u{1b}b".parse::<DatasetName>().unwrap_err();
        assert_eq!(e.to_string(), "control character '\\u{1b}' at byte 6");
    }

    fn pool_strategy() -> impl Strategy<Value = String> {
        "[a-zA-Z][a-zA-Z0-9_.: -]{0,15}".prop_filter("reserved", |p| reserved_rule(p).is_none())
    }

    fn component_strategy() -> impl Strategy<Value = String> {
        "[a-zA-Z0-9_.: -]{1,20}".prop_filter("dot refs", |c| c != "." && c != "..")
    }

    fn dataset_strategy() -> impl Strategy<Value = String> {
        (
            pool_strategy(),
            proptest::collection::vec(component_strategy(), 0..6),
        )
            .prop_map(|(p, cs)| std::iter::once(p).chain(cs).collect::<Vec<_>>().join("/"))
    }

    proptest! {
        #[test]
        fn valid_names_round_trip(d in dataset_strategy(), snap in component_strategy()) {
            let parsed: DatasetName = d.parse().unwrap();
            prop_assert_eq!(parsed.to_string(), d.clone());
            prop_assert_eq!(parsed.components().count(), d.split('/').count());
            let s: SnapshotName = format!("{d}@{snap}").parse().unwrap();
            prop_assert_eq!(s.dataset(), parsed.clone());
            prop_assert_eq!(s.snapshot_part(), snap.as_str());
            let b: BookmarkName = format!("{d}#{snap}").parse().unwrap();
            prop_assert_eq!(b.bookmark_part(), snap.as_str());
            let json = serde_json::to_string(&parsed).unwrap();
            prop_assert_eq!(serde_json::from_str::<DatasetName>(&json).unwrap(), parsed);
        }

        #[test]
        fn control_chars_always_rejected(
            d in dataset_strategy(),
            idx in any::<prop::sample::Index>(),
            ch in prop_oneof![0u32..0x20, 0x7fu32..0xa0].prop_map(|c| char::from_u32(c).unwrap()),
        ) {
            let pos = idx.index(d.len() + 1);
            let mut bad = d.clone();
            bad.insert(pos, ch);
            let want: Result<(), NameError> = Err(NameError::ControlChar { ch, pos });
            prop_assert_eq!(bad.parse::<DatasetName>().map(|_| ()), want.clone());
            prop_assert_eq!(format!("{bad}@s").parse::<SnapshotName>().map(|_| ()), want.clone());
            prop_assert_eq!(format!("{bad}#b").parse::<BookmarkName>().map(|_| ()), want);
            prop_assert!(bad.parse::<PoolName>().is_err());
        }
    }
}
