//! `backup ingest --watch <dir>`: which files in a vzdump target directory are complete
//! backups ready to ingest.
//!
//! # The rule
//! A file is ingested when all of these hold:
//! 1. its name is a finished vzdump archive (`vzdump-{qemu|lxc}-<vmid>-<time>.{vma|tar}[.zst|
//!    .gz|.lzo]`); vzdump writes to `….dat`/`….tmp` names and renames at the end, so in-flight
//!    files never match;
//! 2. its size is the same as at the previous poll (so every file waits at least one poll
//!    interval after it first appears);
//! 3. its vzdump `.log` says the backup finished (`INFO: Finished Backup of VM <vmid>`), **or**
//!    the archive has not been modified for the settle time (for targets where the log is
//!    missing, e.g. when only archives are copied there).
//!
//! A log that reports `ERROR:` marks a failed backup: the file is skipped, never ingested.
//! Files are ingested oldest first per guest (ingest refuses out-of-order backups); a file
//! already ingested is a cheap no-op, and a file whose ingest failed is retried only after it
//! changes (size or mtime).
//!
//! [`decide`] is the pure rule; [`scan`] reads the directory.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::Serialize;

use crate::ingest::companions;
use crate::name::{VzdumpName, parse_vzdump_name};

/// What the archive's vzdump `.log` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LogState {
    /// No `.log` next to the archive.
    Missing,
    /// The log exists but does not (yet) say finished.
    Running,
    /// `INFO: Finished Backup of VM <vmid>`.
    Finished,
    /// The log has an `ERROR:` line.
    Failed,
}

/// Reads a vzdump log's state from its text.
pub fn log_state(text: &str, vmid: u32) -> LogState {
    let finished = format!("Finished Backup of VM {vmid}");
    if text.lines().any(|l| l.contains("ERROR:")) {
        LogState::Failed
    } else if text.lines().any(|l| l.contains(&finished)) {
        LogState::Finished
    } else {
        LogState::Running
    }
}

/// One archive seen in the directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Candidate {
    pub path: PathBuf,
    pub name: VzdumpName,
    pub size: u64,
    /// Time since the last modification.
    #[serde(skip)]
    pub age: Duration,
    /// Last modification (to notice a changed file after a failed ingest).
    #[serde(skip)]
    pub mtime: SystemTime,
    pub log: LogState,
}

/// What to do with a candidate this poll.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Ingest,
    Wait(String),
    Skip(String),
}

/// The rule of the module docs. `previous_size`: the size seen at the previous poll.
pub fn decide(c: &Candidate, previous_size: Option<u64>, settle: Duration) -> Decision {
    if c.log == LogState::Failed {
        return Decision::Skip("its vzdump log reports an error".into());
    }
    if previous_size != Some(c.size) {
        return Decision::Wait(match previous_size {
            None => "first seen; waiting one poll for a stable size".into(),
            Some(p) => format!("size changed since the last poll ({p} → {})", c.size),
        });
    }
    if c.log == LogState::Finished || c.age >= settle {
        return Decision::Ingest;
    }
    Decision::Wait(format!(
        "log does not say finished and modified {}s ago (< {}s)",
        c.age.as_secs(),
        settle.as_secs()
    ))
}

/// Archives in `dir` (not recursive), oldest first per guest: sorted by (vmid, time).
pub fn scan(dir: &Path, now: SystemTime) -> std::io::Result<Vec<Candidate>> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let Some(name) = entry.file_name().to_str().and_then(parse_vzdump_name) else {
            continue;
        };
        let path = entry.path();
        let Ok(meta) = fs::metadata(&path) else {
            continue; // removed meanwhile
        };
        if !meta.is_file() {
            continue;
        }
        let mtime = meta.modified()?;
        let log = match companions(&path).0.map(fs::read_to_string) {
            Some(Ok(text)) => log_state(&text, name.vmid),
            _ => LogState::Missing,
        };
        out.push(Candidate {
            path,
            size: meta.len(),
            age: now.duration_since(mtime).unwrap_or_default(),
            mtime,
            log,
            name,
        });
    }
    out.sort_by_key(|c| (c.name.vmid, c.name.time));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cand(size: u64, age_s: u64, log: LogState) -> Candidate {
        Candidate {
            path: PathBuf::from("/d/vzdump-qemu-100-2026_11_21-01_00_00.vma.zst"),
            name: parse_vzdump_name("vzdump-qemu-100-2026_11_21-01_00_00.vma.zst")
                .expect("valid name"),
            size,
            age: Duration::from_secs(age_s),
            mtime: SystemTime::UNIX_EPOCH,
            log,
        }
    }

    #[test]
    fn the_watch_rule_table() {
        use Decision::{Ingest, Skip, Wait};
        use LogState::{Failed, Finished, Missing, Running};
        let settle = Duration::from_mins(1);
        let cases = [
            (
                "first sight waits even when finished",
                cand(10, 999, Finished),
                None,
                "wait",
            ),
            ("growing file waits", cand(20, 0, Running), Some(10), "wait"),
            (
                "stable and log finished",
                cand(10, 1, Finished),
                Some(10),
                "ingest",
            ),
            (
                "stable, no log, settled",
                cand(10, 60, Missing),
                Some(10),
                "ingest",
            ),
            (
                "stable, no log, too fresh",
                cand(10, 59, Missing),
                Some(10),
                "wait",
            ),
            (
                "stable, log running, settled",
                cand(10, 600, Running),
                Some(10),
                "ingest",
            ),
            (
                "failed backup never ingested",
                cand(10, 999, Failed),
                Some(10),
                "skip",
            ),
        ];
        for (what, c, prev, want) in cases {
            let got = match decide(&c, prev, settle) {
                Ingest => "ingest",
                Wait(_) => "wait",
                Skip(_) => "skip",
            };
            assert_eq!(got, want, "{what}");
        }
    }

    #[test]
    fn log_states_from_vzdump_lines() {
        let ok = "INFO: starting new backup job: vzdump 100\nINFO: Finished Backup of VM 100 (00:00:12)\n";
        assert_eq!(log_state(ok, 100), LogState::Finished);
        assert_eq!(log_state(ok, 101), LogState::Running);
        assert_eq!(
            log_state("INFO: status = running\n", 100),
            LogState::Running
        );
        assert_eq!(
            log_state("ERROR: Backup of VM 100 failed - interrupted\n", 100),
            LogState::Failed
        );
    }

    #[test]
    fn scan_finds_archives_only_ordered_by_guest_and_time() {
        let dir = tempfile::tempdir().expect("tempdir");
        for n in [
            "vzdump-qemu-101-2026_11_21-01_00_00.vma.zst",
            "vzdump-qemu-100-2026_11_22-01_00_00.vma.zst",
            "vzdump-qemu-100-2026_11_21-01_00_00.vma.zst",
            "vzdump-qemu-100-2026_11_23-01_00_00.vma.dat",
            "vzdump-lxc-102-2026_11_21-01_00_00.tar.zst",
            "vzdump-qemu-100-2026_11_21-01_00_00.log",
        ] {
            fs::write(dir.path().join(n), b"x").expect("write");
        }
        fs::write(
            dir.path().join("vzdump-qemu-100-2026_11_21-01_00_00.log"),
            "INFO: Finished Backup of VM 100 (00:01:00)\n",
        )
        .expect("write");
        let got = scan(dir.path(), SystemTime::now()).expect("scan");
        let names: Vec<String> = got
            .iter()
            .map(|c| {
                c.path
                    .file_name()
                    .expect("name")
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        assert_eq!(
            names,
            [
                "vzdump-qemu-100-2026_11_21-01_00_00.vma.zst",
                "vzdump-qemu-100-2026_11_22-01_00_00.vma.zst",
                "vzdump-qemu-101-2026_11_21-01_00_00.vma.zst",
                "vzdump-lxc-102-2026_11_21-01_00_00.tar.zst",
            ]
        );
        assert_eq!(got[0].log, LogState::Finished);
        assert_eq!(got[1].log, LogState::Missing);
    }
}
