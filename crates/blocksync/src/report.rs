//! What a sync did, in bytes and blocks; serialisable for `--json` output.

use std::time::Duration;

use serde::{Serialize, Serializer};

/// Counters of one sync. Invariant: the bytes of all changed blocks equal
/// `bytes_written + bytes_punched` (a final partial block counts with its length).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    /// Bytes taken from the source (stream bytes, or bytes put into a [`crate::BlockSink`]).
    pub bytes_read_source: u64,
    /// Bytes read from the target (only the part that existed before the sync).
    pub bytes_read_target: u64,
    /// Bytes compared: equals the source size.
    pub bytes_compared: u64,
    /// Blocks whose content differed (data or zero).
    pub blocks_changed: u64,
    /// Bytes written with pwrite: changed data blocks plus zero blocks written as zeros.
    pub bytes_written: u64,
    /// Changed zero blocks written as zeros because punching was off or unsupported.
    pub blocks_zeroed: u64,
    /// Changed zero blocks turned into holes.
    pub holes_punched: u64,
    /// Bytes of those holes.
    pub bytes_punched: u64,
    /// Source zero blocks left alone because the target block already read as zero.
    pub blocks_skipped_zero: u64,
    /// The target size after the sync (the source size).
    pub final_size: u64,
    /// The target size before the sync.
    pub initial_size: u64,
    /// Block devices cannot shrink: bytes past the source end left untouched.
    pub target_tail_untouched: u64,
    /// Whether this was a dry run (nothing written).
    pub dry_run: bool,
    /// Indexes of changed blocks, ascending for [`crate::sync`], when requested.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changed_blocks: Option<Vec<u64>>,
    /// Wall-clock time of the sync.
    #[serde(rename = "duration_secs", serialize_with = "as_secs")]
    pub duration: Duration,
}

fn as_secs<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialises_duration_as_seconds_and_hides_absent_block_list() {
        let r = Report {
            bytes_written: 4096,
            duration: Duration::from_millis(1500),
            ..Report::default()
        };
        let v = serde_json::to_value(&r).expect("serialise");
        assert_eq!(v["duration_secs"], 1.5);
        assert_eq!(v["bytes_written"], 4096);
        assert!(v.get("changed_blocks").is_none());
    }
}
