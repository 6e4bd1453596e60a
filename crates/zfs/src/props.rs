//! Typed property values and property names: `Guid`, `Txg`, `ObjectType`, `UserPropName`,
//! `PropertyName`.
//!
//! Snapshot identity across hosts is the GUID, ordering within a dataset is the creation TXG;
//! giving them distinct types keeps the replication logic from mixing them up.

use std::fmt;
use std::str::FromStr;

/// A dataset/snapshot/bookmark/pool GUID (`guid` property, decimal in `-p` output).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct Guid(pub u64);

/// A transaction group number, e.g. `createtxg`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct Txg(pub u64);

macro_rules! u64_newtype {
    ($ty:ident) => {
        impl FromStr for $ty {
            type Err = std::num::ParseIntError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                s.parse().map(Self)
            }
        }
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}
u64_newtype!(Guid);
u64_newtype!(Txg);

/// The `type` property of a listed object.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum ObjectType {
    Filesystem,
    Volume,
    Snapshot,
    Bookmark,
}

impl ObjectType {
    pub const ALL: [ObjectType; 4] = [
        Self::Filesystem,
        Self::Volume,
        Self::Snapshot,
        Self::Bookmark,
    ];

    /// The spelling `zfs` uses in `-t` and in the `type` column.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Filesystem => "filesystem",
            Self::Volume => "volume",
            Self::Snapshot => "snapshot",
            Self::Bookmark => "bookmark",
        }
    }
}

impl fmt::Display for ObjectType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown `type` value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown object type {0:?} (expected filesystem, volume, snapshot or bookmark)")]
pub struct UnknownObjectType(pub String);

impl FromStr for ObjectType {
    type Err = UnknownObjectType;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| UnknownObjectType(s.to_owned()))
    }
}

/// Why a string is not a valid property name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PropNameError {
    #[error("property name is empty")]
    Empty,
    #[error("property name is {len} bytes long; at most {max} are allowed")]
    TooLong { len: usize, max: usize },
    #[error("invalid character {ch:?} at byte {pos} in property name")]
    InvalidChar { ch: char, pos: usize },
    #[error("user property name {0:?} must contain ':' (e.g. \"zferry:owner\")")]
    MissingColon(String),
    #[error("property name must start with a lowercase letter, found {0:?}")]
    BadStart(char),
}

/// Longest property name ZFS stores (`ZAP_MAXNAMELEN` 256 minus the NUL).
pub const MAX_PROP_NAME_LEN: usize = 255;

fn check_prop_chars(s: &str, ok: impl Fn(char) -> bool) -> Result<(), PropNameError> {
    if s.is_empty() {
        return Err(PropNameError::Empty);
    }
    if let Some((pos, ch)) = s.char_indices().find(|&(_, c)| !ok(c)) {
        return Err(PropNameError::InvalidChar { ch, pos });
    }
    if s.len() > MAX_PROP_NAME_LEN {
        return Err(PropNameError::TooLong {
            len: s.len(),
            max: MAX_PROP_NAME_LEN,
        });
    }
    Ok(())
}

fn is_user_prop_char(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.' | ':')
}

/// A user property name such as `zferry:policy`: `[a-z0-9_.:-]`, containing at least one `:`
/// (OpenZFS `zfs_prop_user`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UserPropName(String);

impl UserPropName {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for UserPropName {
    type Err = PropNameError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        check_prop_chars(s, is_user_prop_char)?;
        if !s.contains(':') {
            return Err(PropNameError::MissingColon(s.to_owned()));
        }
        Ok(Self(s.to_owned()))
    }
}

/// Any property name accepted by `zfs get`/`zfs list -o`: a user property, or a native one
/// (`[a-z][a-z0-9_]*`, e.g. `receive_resume_token`), or `userquota@`-style names whose part
/// after `@` is a user/group (letters, digits, `_.-@`). Commas and whitespace are never allowed,
/// so a list of these can be joined with `,` safely.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PropertyName(String);

impl PropertyName {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// True for user properties (those containing `:` and no `@`).
    pub fn is_user(&self) -> bool {
        self.0.contains(':') && !self.0.contains('@')
    }
}

impl FromStr for PropertyName {
    type Err = PropNameError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (head, who) = match s.split_once('@') {
            Some((h, w)) => (h, Some(w)),
            None => (s, None),
        };
        check_prop_chars(head, is_user_prop_char)?;
        let first = head.chars().next().unwrap_or_default();
        if !first.is_ascii_lowercase() {
            return Err(PropNameError::BadStart(first));
        }
        if let Some(who) = who {
            let off = head.len() + 1;
            let ok = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | '@');
            check_prop_chars(who, ok).map_err(|e| match e {
                PropNameError::InvalidChar { ch, pos } => {
                    PropNameError::InvalidChar { ch, pos: pos + off }
                }
                other => other,
            })?;
        }
        Ok(Self(s.to_owned()))
    }
}

impl From<UserPropName> for PropertyName {
    fn from(u: UserPropName) -> Self {
        Self(u.0)
    }
}

macro_rules! str_traits {
    ($ty:ident) => {
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl AsRef<str> for $ty {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }
        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}
str_traits!(UserPropName);
str_traits!(PropertyName);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_prop_names() {
        assert!("zferry:policy".parse::<UserPropName>().is_ok());
        assert!("com.example:a-b_c.d".parse::<UserPropName>().is_ok());
        assert_eq!(
            "zferry".parse::<UserPropName>(),
            Err(PropNameError::MissingColon("zferry".into()))
        );
        assert_eq!(
            "Zferry:x".parse::<UserPropName>(),
            Err(PropNameError::InvalidChar { ch: 'Z', pos: 0 })
        );
        assert_eq!(
            "a:b,c".parse::<UserPropName>(),
            Err(PropNameError::InvalidChar { ch: ',', pos: 3 })
        );
        assert_eq!("".parse::<UserPropName>(), Err(PropNameError::Empty));
        let long = format!("a:{}", "b".repeat(254));
        assert!(matches!(
            long.parse::<UserPropName>(),
            Err(PropNameError::TooLong { .. })
        ));
    }

    #[test]
    fn property_names() {
        for ok in [
            "guid",
            "receive_resume_token",
            "zferry:x",
            "userquota@alice",
            "userused@S-1-5@dom",
        ] {
            assert!(ok.parse::<PropertyName>().is_ok(), "{ok}");
        }
        assert_eq!(
            "1abc".parse::<PropertyName>(),
            Err(PropNameError::BadStart('1'))
        );
        assert_eq!(
            "userquota@a b".parse::<PropertyName>(),
            Err(PropNameError::InvalidChar { ch: ' ', pos: 11 })
        );
        assert!("zferry:x".parse::<PropertyName>().unwrap().is_user());
        assert!(!"guid".parse::<PropertyName>().unwrap().is_user());
    }

    #[test]
    fn typed_values() {
        assert_eq!(
            "12345678901234567890".parse::<Guid>().unwrap(),
            Guid(12_345_678_901_234_567_890)
        );
        assert!("-".parse::<Txg>().is_err());
        assert_eq!("volume".parse::<ObjectType>().unwrap(), ObjectType::Volume);
        assert!("snap".parse::<ObjectType>().is_err());
        assert_eq!(
            serde_json::to_string(&ObjectType::Bookmark).unwrap(),
            "\"bookmark\""
        );
    }
}
