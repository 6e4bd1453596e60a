//! Resume tokens: which snapshot does `zfs send -t <token>` send?
//!
//! The token is an opaque, compressed nvlist; rather than decode it, serve asks ZFS with a dry
//! run (`zfs send -n -v -t <token>`, which sends nothing) and reads the snapshot name from its
//! output, then authorizes that snapshot like any other.

use zferry_zfs::SnapshotName;

use crate::request::ResumeToken;

/// The `zfs` arguments of the dry run for `token`.
pub fn dry_run_args(token: &ResumeToken) -> Vec<String> {
    ["send", "-n", "-v", "-t", token.as_str()]
        .into_iter()
        .map(str::to_owned)
        .collect()
}

/// The snapshot named by the dry run's output (stdout and stderr together).
pub fn snapshot_of_dry_run(output: &str) -> Option<SnapshotName> {
    output.lines().find_map(|line| {
        let value = line.trim().strip_prefix("toname = ")?;
        value.parse().ok()
    })
}
