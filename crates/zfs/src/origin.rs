//! Clones and their origins: `zfs list -H -o name,origin -t filesystem,volume -r <roots>`.
//!
//! A clone depends on the snapshot it was made from; destroying that snapshot (e.g. by
//! `zfs rollback -R`) destroys the clone too, so restore planning must know them.

use crate::command::ZfsCommand;
use crate::name::{DatasetName, SnapshotName};
use crate::parse::{Fields, ParseError, numbered_lines};

const COLUMNS: [&str; 2] = ["name", "origin"];

/// `zfs list -H -o name,origin -t filesystem,volume -r <roots…>`.
pub fn origins_argv(roots: &[DatasetName]) -> ZfsCommand {
    ZfsCommand::new("zfs")
        .args([
            "list",
            "-H",
            "-o",
            "name,origin",
            "-t",
            "filesystem,volume",
            "-r",
        ])
        .args(roots.iter().map(ToString::to_string))
}

/// Every clone in the output with the snapshot it was cloned from (datasets with origin
/// `-` are not clones and are left out).
pub fn parse_origins(stdout: &str) -> Result<Vec<(DatasetName, SnapshotName)>, ParseError> {
    let mut clones = Vec::new();
    for (n, line) in numbered_lines(stdout) {
        let f = Fields::split(n, line, &COLUMNS)?;
        let clone: DatasetName = f.parse(0)?;
        if let Some(origin) = f.parse_opt::<SnapshotName>(1)? {
            clones.push((clone, origin));
        }
    }
    Ok(clones)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argv_is_recursive_over_filesystems_and_volumes() {
        let root: DatasetName = "tank/a".parse().unwrap();
        assert_eq!(
            origins_argv(&[root]).argv().join(" "),
            "zfs list -H -o name,origin -t filesystem,volume -r tank/a"
        );
    }

    #[test]
    fn only_clones_are_returned() {
        let out = "tank/a\t-\ntank/a/c\ttank/a@s1\ntank/v\t-\n";
        let clones = parse_origins(out).unwrap();
        assert_eq!(clones.len(), 1);
        assert_eq!(clones[0].0.as_str(), "tank/a/c");
        assert_eq!(clones[0].1.as_str(), "tank/a@s1");
    }

    #[test]
    fn a_bad_origin_names_its_line() {
        let err = parse_origins("tank/a\t-\ntank/b\tnot a snapshot\n").unwrap_err();
        assert!(err.to_string().starts_with("line 2"), "{err}");
    }
}
