//! `ZfsObject`: one row of `zfs list`, and `ObjectName`, a name that is any of
//! dataset/snapshot/bookmark.
//!
//! This is the inventory record the planner works from: identity (`guid`), order (`createtxg`),
//! age (`creation`), space, and zferry's own user properties.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use crate::name::{BookmarkName, DatasetName, NameError, SnapshotName};
use crate::props::{Guid, ObjectType, Txg};

/// A filesystem/volume, snapshot or bookmark name, told apart by `@` / `#`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ObjectName {
    Dataset(DatasetName),
    Snapshot(SnapshotName),
    Bookmark(BookmarkName),
}

impl ObjectName {
    pub fn as_str(&self) -> &str {
        match self {
            Self::Dataset(n) => n.as_str(),
            Self::Snapshot(n) => n.as_str(),
            Self::Bookmark(n) => n.as_str(),
        }
    }

    /// The dataset this object is or belongs to.
    pub fn dataset(&self) -> DatasetName {
        match self {
            Self::Dataset(n) => n.clone(),
            Self::Snapshot(n) => n.dataset(),
            Self::Bookmark(n) => n.dataset(),
        }
    }
}

impl FromStr for ObjectName {
    type Err = NameError;
    fn from_str(s: &str) -> Result<Self, NameError> {
        if s.contains('@') {
            s.parse().map(Self::Snapshot)
        } else if s.contains('#') {
            s.parse().map(Self::Bookmark)
        } else {
            s.parse().map(Self::Dataset)
        }
    }
}

impl fmt::Display for ObjectName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl AsRef<str> for ObjectName {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl From<DatasetName> for ObjectName {
    fn from(n: DatasetName) -> Self {
        Self::Dataset(n)
    }
}
impl From<SnapshotName> for ObjectName {
    fn from(n: SnapshotName) -> Self {
        Self::Snapshot(n)
    }
}
impl From<BookmarkName> for ObjectName {
    fn from(n: BookmarkName) -> Self {
        Self::Bookmark(n)
    }
}

impl serde::Serialize for ObjectName {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for ObjectName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// One row of `zfs list -H -p -o name,type,guid,createtxg,creation,used,referenced,written,…`.
/// Values ZFS prints as `-` (not applicable, e.g. space columns of bookmarks, or an unset user
/// property) are `None`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ZfsObject {
    pub name: ObjectName,
    pub kind: ObjectType,
    pub guid: Guid,
    pub createtxg: Txg,
    /// Creation time, seconds since the Unix epoch.
    pub creation: u64,
    pub used: Option<u64>,
    pub referenced: Option<u64>,
    pub written: Option<u64>,
    /// Requested user properties, keyed by name; `None` when unset.
    pub user_props: BTreeMap<String, Option<String>>,
}
