//! What a replication run reports while it runs, as one serde enum: `zferry repl run --json`
//! writes each event as one JSON line, the run's summary last.
//!
//! Every line is an object with an `event` tag; pairs are named by the same `job`, `source`
//! (`node:dataset`) and `target` (`node:dataset`) fields as in the summary's `pairs`.

use serde::Serialize;

use crate::report::{PairReport, RunClass};

/// One event of a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum Event {
    /// The planner's decision for one pair, before anything runs.
    Plan {
        job: String,
        source: String,
        target: String,
        /// The outcome with its evidence, as in the text report.
        outcome: String,
    },
    /// One `zfs send | zfs recv` starts.
    TransferStart {
        job: String,
        source: String,
        target: String,
        /// The step, e.g. `-I @s1 @s4` or `full @s1`.
        step: String,
    },
    /// Bytes sent so far of the running transfer (at most one every few seconds per pair).
    Progress {
        job: String,
        source: String,
        target: String,
        sent: u64,
        /// zfs's estimate of the whole stream, once known.
        estimate: Option<u64>,
    },
    /// One `zfs send | zfs recv` finished.
    TransferEnd {
        job: String,
        source: String,
        target: String,
        step: String,
        bytes: u64,
        millis: u64,
    },
    /// A pair is done and fine (replicated, up to date, unchanged, or a dry run's plan).
    Pair(PairReport),
    /// A pair is done and failed or needs an admin; `message` says why and what to do.
    Error(PairReport),
    /// The whole run; always the last line.
    Summary(Summary),
}

impl Event {
    /// The result event of a pair: [`Event::Error`] for the statuses that make the run fail.
    pub fn result(report: &PairReport) -> Self {
        if report.status.is_error() {
            Event::Error(report.clone())
        } else {
            Event::Pair(report.clone())
        }
    }
}

/// The run's final report: the same object `--json` printed before events existed, plus
/// `"event": "summary"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub node: String,
    pub dry_run: bool,
    pub class: RunClass,
    pub exit_code: u8,
    pub pairs: Vec<PairReport>,
}

/// Receives events as they happen (from the run's thread and from transfer threads).
pub type EventSink = std::sync::Arc<dyn Fn(&Event) + Send + Sync>;

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use serde_json::json;

    use super::*;
    use crate::report::PairStatus;

    fn report(status: PairStatus, message: &str) -> PairReport {
        PairReport {
            job: "j".into(),
            source: "a:tank/x".into(),
            target_id: "b".into(),
            target: "b:backup/x".into(),
            status,
            message: message.into(),
            common: Some("s2".into()),
        }
    }

    #[test]
    fn every_event_is_one_flat_object_with_its_tag() {
        let start = Event::TransferStart {
            job: "j".into(),
            source: "a:tank/x".into(),
            target: "b:backup/x".into(),
            step: "-I @s1 @s2".into(),
        };
        assert_eq!(
            serde_json::to_value(&start).unwrap(),
            json!({"event": "transfer-start", "job": "j", "source": "a:tank/x",
                   "target": "b:backup/x", "step": "-I @s1 @s2"})
        );
        let progress = Event::Progress {
            job: "j".into(),
            source: "a:tank/x".into(),
            target: "b:backup/x".into(),
            sent: 10,
            estimate: None,
        };
        let v = serde_json::to_value(&progress).unwrap();
        assert_eq!(
            (v["event"].as_str(), v["sent"].as_u64()),
            (Some("progress"), Some(10))
        );
        assert!(v["estimate"].is_null());

        let failed = Event::result(&report(PairStatus::NeedsAdmin, "refused: diverged"));
        assert_eq!(
            serde_json::to_value(&failed).unwrap(),
            json!({"event": "error", "job": "j", "source": "a:tank/x", "target_id": "b",
                   "target": "b:backup/x", "status": "needs-admin",
                   "message": "refused: diverged", "common": "s2"})
        );
        let done = Event::result(&report(
            PairStatus::Replicated {
                steps: vec!["full @s1".into()],
                bytes: 5,
                millis: 7,
            },
            "",
        ));
        let v = serde_json::to_value(&done).unwrap();
        assert_eq!(
            (v["event"].as_str(), v["status"].as_str()),
            (Some("pair"), Some("replicated"))
        );
        assert_eq!(v["bytes"], 5);
    }

    #[test]
    fn the_summary_is_the_old_report_plus_its_tag() {
        let s = Event::Summary(Summary {
            node: "a".into(),
            dry_run: false,
            class: RunClass::Ok,
            exit_code: 0,
            pairs: vec![report(PairStatus::UpToDate, "")],
        });
        let line = serde_json::to_string(&s).unwrap();
        assert!(!line.contains('\n'), "{line}");
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["event"], "summary");
        assert_eq!(v["class"], "ok");
        assert_eq!(v["exit_code"], 0);
        assert_eq!(v["pairs"][0]["status"], "up-to-date");
    }
}
