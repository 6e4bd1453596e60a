//! What the last runs of a job left behind, per (source dataset, target): the sizes the shrink
//! guard compares against, the `snapshots_changed` values that let an unchanged dataset be
//! skipped without listing its snapshots, and the last result for `zferry repl status`.
//!
//! One JSON file per job under `<state-dir>/repl/`, replaced atomically (write, fsync,
//! rename), so a crash leaves either the old or the new record.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The record of one job.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobState {
    /// Keyed by `<source dataset> -> <target id>:<target dataset>`.
    pub pairs: BTreeMap<String, PairState>,
}

/// The record of one source dataset and one target.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PairState {
    /// Unix time of the last run that ended with the target up to date.
    pub last_success: Option<u64>,
    /// Source `referenced` bytes at the last success (shrink guard).
    pub source_referenced: Option<u64>,
    /// Source and target `snapshots_changed` as seen at the last success; `None` = unknown.
    pub source_snapshots_changed: Option<u64>,
    pub target_snapshots_changed: Option<u64>,
    /// Newest common snapshot (short name) and its creation time, at the last success.
    pub common: Option<String>,
    pub common_creation: Option<u64>,
    /// Unix time and text of the last failure or refusal; cleared by a success.
    pub last_error: Option<(u64, String)>,
}

/// The key of a pair in [`JobState::pairs`].
pub fn pair_key(source: &str, target_id: &str, target: &str) -> String {
    format!("{source} -> {target_id}:{target}")
}

/// `<state-dir>/repl/<job>.json`.
pub fn state_path(state_dir: &Path, job: &str) -> PathBuf {
    state_dir.join("repl").join(format!("{job}.json"))
}

/// Reads a job's state; a missing file is an empty state.
pub fn load(path: &Path) -> std::io::Result<JobState> {
    load_json(path)
}

/// Replaces the job's state atomically.
pub fn save(path: &Path, state: &JobState) -> std::io::Result<()> {
    save_json(path, state)
}

/// Reads a JSON record; a missing file is the default record.
pub fn load_json<T: serde::de::DeserializeOwned + Default>(path: &Path) -> std::io::Result<T> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{}: {e}", path.display()),
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(T::default()),
        Err(e) => Err(e),
    }
}

/// Replaces a JSON record atomically (write, fsync, rename).
pub fn save_json<T: serde::Serialize>(path: &Path, record: &T) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let tmp = path.with_extension("json.tmp");
    let mut file = std::fs::File::create(&tmp)?;
    file.write_all(&serde_json::to_vec_pretty(record).map_err(std::io::Error::other)?)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn round_trips_and_missing_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        let path = state_path(dir.path(), "nfs");
        assert_eq!(load(&path).unwrap(), JobState::default());
        let mut state = JobState::default();
        state.pairs.insert(
            pair_key("tank/a", "nodeb", "backup/a"),
            PairState {
                last_success: Some(5),
                source_referenced: Some(1 << 30),
                common: Some("autosnap_x".into()),
                last_error: Some((6, "ssh failed".into())),
                ..PairState::default()
            },
        );
        save(&path, &state).unwrap();
        assert_eq!(load(&path).unwrap(), state);
    }

    #[test]
    fn corrupt_state_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = state_path(dir.path(), "nfs");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, "{").unwrap();
        assert!(load(&path).unwrap_err().to_string().contains("nfs.json"));
    }
}
