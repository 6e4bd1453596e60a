//! Resume tokens: which snapshot does `zfs send -t <token>` send?
//!
//! The token is an opaque, compressed nvlist; rather than decode it, serve asks ZFS with a dry
//! run (`zfs send -n -v -t <token>`, which sends nothing) and reads the snapshot name from the
//! `toname = …` line of the token contents it prints, then authorizes that snapshot like any
//! other. `zfs send -t` looks the snapshot up by exactly that name (and checks its GUID), so
//! the authorized name is the one sent. A client can craft a token, so the output is read
//! strictly: exactly one `toname` line, and it must be a valid snapshot name.

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
    let mut names = output
        .lines()
        .filter_map(|line| line.trim_start().strip_prefix("toname = "));
    let name = names.next()?;
    if names.next().is_some() {
        return None;
    }
    name.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `zfs send -n -v -t <token>` (OpenZFS 2.3.2, lab) for a cut full receive of `t/data@s1`.
    const DRY_RUN: &str = "resume token contents:
nvlist version: 0
\tobject = 0x2
\toffset = 0x60000
\tbytes = 0x80ee0
\ttoguid = 0x2bd0b7809f194469
\ttoname = t/data@s1
full send of t/data@s1 estimated size is 3.52M
total estimated size is 3.52M
";

    #[test]
    fn reads_the_toname_line() {
        assert_eq!(snapshot_of_dry_run(DRY_RUN).unwrap().as_str(), "t/data@s1");
    }

    #[test]
    fn anything_unclear_names_nothing() {
        assert!(snapshot_of_dry_run("").is_none());
        assert!(
            snapshot_of_dry_run("cannot resume send: resume token is corrupt (incorrect checksum)")
                .is_none()
        );
        assert!(snapshot_of_dry_run("\ttoname = t/data").is_none());
        // A crafted name spanning lines shows up as two `toname` lines.
        assert!(snapshot_of_dry_run("\ttoname = x y\n\ttoname = t/data@s1\n").is_none());
    }

    #[test]
    fn dry_run_sends_nothing() {
        let token = ResumeToken::parse("1-abc-de-789c").unwrap();
        assert_eq!(
            dry_run_args(&token),
            ["send", "-n", "-v", "-t", "1-abc-de-789c"]
        );
    }
}
