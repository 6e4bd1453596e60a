//! What the planner sees of one dataset: its snapshots and bookmarks, each with the identity
//! ZFS gives it (`guid`) and its position in the dataset's history (`createtxg`).
//!
//! Names are the short part after `@` or `#`; the dataset is implied by the caller. Ordering
//! within one side is by `createtxg` (never by name or creation time: clocks move, txgs don't).

use std::fmt;

use zferry_zfs::{Guid, ObjectType, Txg, ZfsObject};

/// Snapshot or bookmark.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EntryKind {
    Snapshot,
    Bookmark,
}

/// One snapshot or bookmark of a dataset.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Entry {
    pub kind: EntryKind,
    /// The part after `@` or `#`.
    pub name: String,
    /// Stable across send/receive and rename: the identity used to match both sides.
    pub guid: Guid,
    /// Transaction group of creation on this side's pool; orders one side's history.
    pub createtxg: Txg,
    /// Creation time, seconds since the Unix epoch (for display only).
    pub creation: u64,
}

impl Entry {
    pub fn snapshot(name: &str, guid: u64, createtxg: u64, creation: u64) -> Self {
        Self::new(EntryKind::Snapshot, name, guid, createtxg, creation)
    }

    pub fn bookmark(name: &str, guid: u64, createtxg: u64, creation: u64) -> Self {
        Self::new(EntryKind::Bookmark, name, guid, createtxg, creation)
    }

    fn new(kind: EntryKind, name: &str, guid: u64, createtxg: u64, creation: u64) -> Self {
        Self {
            kind,
            name: name.to_owned(),
            guid: Guid(guid),
            createtxg: Txg(createtxg),
            creation,
        }
    }

    /// Converts a listed snapshot or bookmark; `None` for filesystems and volumes.
    pub fn from_object(obj: &ZfsObject) -> Option<Self> {
        let (kind, name) = match (&obj.kind, obj.name.as_str().split_once(['@', '#'])) {
            (ObjectType::Snapshot, Some((_, n))) => (EntryKind::Snapshot, n),
            (ObjectType::Bookmark, Some((_, n))) => (EntryKind::Bookmark, n),
            _ => return None,
        };
        Some(Self {
            kind,
            name: name.to_owned(),
            guid: obj.guid,
            createtxg: obj.createtxg,
            creation: obj.creation,
        })
    }

    pub fn is_snapshot(&self) -> bool {
        self.kind == EntryKind::Snapshot
    }

    /// Sort key: history order; at equal txg a snapshot sorts after its bookmark, so the
    /// "newest" of a pair is the snapshot (a snapshot is the more capable send base).
    pub(crate) fn order_key(&self) -> (Txg, bool) {
        (self.createtxg, self.is_snapshot())
    }
}

impl fmt::Display for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sigil = if self.is_snapshot() { '@' } else { '#' };
        write!(f, "{sigil}{}", self.name)
    }
}

/// Snapshots of one side, oldest first.
pub(crate) fn sorted_snapshots(entries: &[Entry]) -> Vec<&Entry> {
    let mut v: Vec<&Entry> = entries.iter().filter(|e| e.is_snapshot()).collect();
    v.sort_by_key(|e| e.order_key());
    v
}

/// Display a list of entries as `@a, @b, #c` (or `(none)`).
pub(crate) struct List<'a>(pub &'a [Entry]);

impl fmt::Display for List<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("(none)");
        }
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use zferry_zfs::{ObjectType, ZfsObject};

    use super::*;

    fn obj(name: &str, kind: ObjectType) -> ZfsObject {
        ZfsObject {
            name: name.parse().unwrap(),
            kind,
            guid: Guid(42),
            createtxg: Txg(7),
            creation: 1_700_000_000,
            used: None,
            referenced: None,
            written: None,
            user_props: BTreeMap::new(),
        }
    }

    #[test]
    fn converts_listed_objects() {
        let s = Entry::from_object(&obj("tank/a b@snap 1", ObjectType::Snapshot)).unwrap();
        assert_eq!(s, Entry::snapshot("snap 1", 42, 7, 1_700_000_000));
        assert_eq!(s.to_string(), "@snap 1");
        let b = Entry::from_object(&obj("tank/a#mark", ObjectType::Bookmark)).unwrap();
        assert_eq!(
            (b.kind, b.to_string()),
            (EntryKind::Bookmark, "#mark".to_owned())
        );
        assert_eq!(
            Entry::from_object(&obj("tank/a", ObjectType::Filesystem)),
            None
        );
    }

    #[test]
    fn orders_by_txg_with_snapshot_after_its_bookmark() {
        let list = [
            Entry::snapshot("c", 3, 30, 0),
            Entry::bookmark("a", 1, 10, 0),
            Entry::snapshot("a", 1, 10, 0),
            Entry::snapshot("b", 2, 20, 0),
        ];
        let names: Vec<String> = sorted_snapshots(&list)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(names, ["@a", "@b", "@c"]);
        assert!(list[1].order_key() < list[2].order_key());
    }
}
