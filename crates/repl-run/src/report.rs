//! What a run did for each (source dataset, target) pair, and the run's exit class.

use std::fmt;

use serde::Serialize;

/// The result of one pair.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "status")]
pub enum PairStatus {
    /// Skipped without listing snapshots: neither side's `snapshots_changed` moved since the
    /// last success.
    Unchanged,
    /// The target already holds the newest wanted snapshot.
    UpToDate,
    /// `--dry-run`: what would be sent.
    WouldSend { steps: Vec<String> },
    /// Sent; `bytes` as reported by zfs.
    Replicated {
        steps: Vec<String>,
        bytes: u64,
        millis: u64,
    },
    /// Refused or impossible without an admin's decision (diverged, guard, no base…).
    NeedsAdmin,
    /// Failed in a way that may clear up (ssh dropped, stream cut): retry later.
    Transient,
    /// Failed permanently (a zfs error that retrying will not fix).
    Failed,
}

impl PairStatus {
    /// The statuses that make the run fail (an admin must act, or retry later).
    pub fn is_error(&self) -> bool {
        matches!(
            self,
            PairStatus::NeedsAdmin | PairStatus::Transient | PairStatus::Failed
        )
    }
}

/// One pair's line in the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PairReport {
    pub job: String,
    pub source: String,
    pub target_id: String,
    pub target: String,
    #[serde(flatten)]
    pub status: PairStatus,
    /// The planner's outcome or the error, with its evidence and what to do.
    pub message: String,
    /// Newest common snapshot after the run, if known.
    pub common: Option<String>,
}

/// How the whole run ended; maps to the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunClass {
    /// Everything is replicated or up to date.
    Ok,
    /// Some pair failed transiently: retry.
    Transient,
    /// Some pair needs an admin (refused, diverged, permanent failure).
    NeedsAdmin,
}

impl RunClass {
    /// 0 ok, 1 needs an admin, 75 (EX_TEMPFAIL) retry later.
    pub fn exit_code(self) -> u8 {
        match self {
            Self::Ok => 0,
            Self::NeedsAdmin => 1,
            Self::Transient => 75,
        }
    }
}

/// The class of a set of pair results: the worst one wins, a needed admin over a retry.
pub fn classify(pairs: &[PairReport]) -> RunClass {
    pairs
        .iter()
        .map(|p| match p.status {
            PairStatus::NeedsAdmin | PairStatus::Failed => RunClass::NeedsAdmin,
            PairStatus::Transient => RunClass::Transient,
            _ => RunClass::Ok,
        })
        .max()
        .unwrap_or(RunClass::Ok)
}

impl PairReport {
    /// The source dataset (`source` is `node:dataset`).
    pub fn source_dataset(&self) -> &str {
        self.source.split_once(':').map_or(&self.source, |(_, d)| d)
    }

    /// The source dataset's pool.
    pub fn source_pool(&self) -> &str {
        let ds = self.source_dataset();
        ds.split_once('/').map_or(ds, |(p, _)| p)
    }
}

impl fmt::Display for PairReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match &self.status {
            PairStatus::Unchanged => "unchanged".to_owned(),
            PairStatus::UpToDate => "up to date".to_owned(),
            PairStatus::WouldSend { steps } => format!("would send: {}", steps.join("; ")),
            PairStatus::Replicated {
                steps,
                bytes,
                millis,
            } => format!(
                "replicated {} in {}.{:03} s: {}",
                human_bytes(*bytes),
                millis / 1000,
                millis % 1000,
                steps.join("; ")
            ),
            PairStatus::NeedsAdmin => "NEEDS ADMIN".to_owned(),
            PairStatus::Transient => "FAILED (transient, will retry)".to_owned(),
            PairStatus::Failed => "FAILED".to_owned(),
        };
        write!(
            f,
            "[{}] {} -> {} ({}): {what}",
            self.job, self.source, self.target, self.target_id
        )?;
        if !self.message.is_empty() && !matches!(self.status, PairStatus::Unchanged) {
            write!(f, "\n    {}", self.message.replace('\n', "\n    "))?;
        }
        Ok(())
    }
}

fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n;
    let mut unit = 0;
    while value >= 10 * 1024 && unit + 1 < UNITS.len() {
        value /= 1024;
        unit += 1;
    }
    format!("{value} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_source_dataset_and_pool_come_from_node_colon_dataset() {
        let mut p = pair(PairStatus::UpToDate);
        p.source = "pve1:zpool1/data/sub".into();
        assert_eq!(p.source_dataset(), "zpool1/data/sub");
        assert_eq!(p.source_pool(), "zpool1");
        p.source = "pve1:tank".into();
        assert_eq!((p.source_dataset(), p.source_pool()), ("tank", "tank"));
    }

    fn pair(status: PairStatus) -> PairReport {
        PairReport {
            job: "j".into(),
            source: "a:tank/x".into(),
            target_id: "b".into(),
            target: "b:backup/x".into(),
            status,
            message: String::new(),
            common: None,
        }
    }

    #[test]
    fn needs_admin_outranks_transient_outranks_ok() {
        let ok = pair(PairStatus::UpToDate);
        let retry = pair(PairStatus::Transient);
        let admin = pair(PairStatus::NeedsAdmin);
        assert_eq!(classify(&[]), RunClass::Ok);
        assert_eq!(
            classify(&[ok.clone(), pair(PairStatus::Unchanged)]),
            RunClass::Ok
        );
        assert_eq!(classify(&[ok.clone(), retry.clone()]), RunClass::Transient);
        assert_eq!(classify(&[retry, admin, ok]).exit_code(), 1);
        assert_eq!(RunClass::Transient.exit_code(), 75);
    }

    #[test]
    fn json_is_flat_with_a_status_tag() {
        let p = pair(PairStatus::Replicated {
            steps: vec!["full @a".into()],
            bytes: 5,
            millis: 7,
        });
        let v = serde_json::to_value(&p).unwrap_or_default();
        assert_eq!(v["status"], "replicated");
        assert_eq!(v["bytes"], 5);
        assert_eq!(v["target_id"], "b");
    }
}
