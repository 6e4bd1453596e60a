//! `snapshots_changed`: when a dataset's snapshot list last changed, and when that value can
//! be trusted to mean "nothing changed since".

/// How many seconds a `snapshots_changed` value must lie before the listing that read it to
/// count as evidence that nothing changed since. The property has one-second resolution: a
/// snapshot created, destroyed or renamed later in the same second as the listing leaves the
/// value as it was, and a remote host's clock may run a little behind ours. So a fresher
/// value is treated as unknown ([`settled`]), and that dataset is listed again on the next
/// run.
pub const SETTLED_AFTER: u64 = 10;

/// `value` if it is older than [`SETTLED_AFTER`] at `listed_at` (Unix seconds taken just
/// before the listing started), else `None`.
pub fn settled(value: Option<u64>, listed_at: u64) -> Option<u64> {
    value.filter(|v| v.saturating_add(SETTLED_AFTER) < listed_at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshots_changed_value_counts_only_once_settled() {
        // Changed in the listing's own second, or up to SETTLED_AFTER before it: unknown.
        assert_eq!(settled(Some(1_000), 1_000), None);
        assert_eq!(settled(Some(1_000), 1_000 + SETTLED_AFTER), None);
        // A clock ahead of ours makes the value look like the future: unknown too.
        assert_eq!(settled(Some(2_000), 1_000), None);
        assert_eq!(settled(Some(1_000), 1_001 + SETTLED_AFTER), Some(1_000));
        assert_eq!(settled(None, 5_000), None);
        assert_eq!(settled(Some(u64::MAX), 5_000), None);
    }
}
