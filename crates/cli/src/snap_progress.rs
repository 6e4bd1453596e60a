//! `zferry snap run` progress on a terminal: one spinner per pool with its current step and
//! elapsed time (indicatif). Off a terminal, or with --json, the core's log lines are used.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use zferry_snap::progress::{Progress, Step};
use zferry_zfs::PoolName;

/// Spinners on stderr, one per pool, in the order pools start.
#[derive(Debug, Default)]
pub struct TtyProgress {
    multi: MultiProgress,
    bars: Mutex<BTreeMap<PoolName, ProgressBar>>,
}

impl TtyProgress {
    fn bar(&self, pool: &PoolName) -> ProgressBar {
        let mut bars = self
            .bars
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        bars.entry(pool.clone())
            .or_insert_with(|| {
                let bar = self.multi.add(ProgressBar::new_spinner());
                bar.set_style(
                    ProgressStyle::with_template("{spinner} {prefix}: {msg} [{elapsed}]")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                bar.set_prefix(pool.to_string());
                bar.enable_steady_tick(Duration::from_millis(120));
                bar
            })
            .clone()
    }
}

impl Progress for TtyProgress {
    fn step(&self, pool: &PoolName, step: &Step) {
        self.bar(pool).set_message(step.to_string());
    }

    fn done(&self, pool: &PoolName, ok: bool, summary: &str) {
        let mark = if ok { "done" } else { "FAILED" };
        self.bar(pool)
            .finish_with_message(format!("{mark}: {summary}"));
    }
}
