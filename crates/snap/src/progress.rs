//! Progress of a run as the core reports it; the caller renders it (a spinner per pool on a
//! terminal, log lines otherwise). No terminal code here.

use std::fmt;

use zferry_zfs::PoolName;

/// What a pool's run is doing now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Reading the pool's datasets and snapshots (one `zfs list`).
    Listing,
    /// One channel program: create round `round` of `rounds` (1-based), with `destroy`
    /// destroys riding in it; a dry run's check program is round 1 of 1.
    Program {
        round: usize,
        rounds: usize,
        create: usize,
        destroy: usize,
        dry_run: bool,
    },
    /// Plain `zfs` commands (no channel programs): `what` for `count` items.
    Command { what: &'static str, count: usize },
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Listing => f.write_str("listing datasets and snapshots"),
            Self::Program {
                round,
                rounds,
                create,
                destroy,
                dry_run,
            } => {
                let mut parts = Vec::new();
                if *create > 0 {
                    parts.push(if *dry_run {
                        format!("checking {create} creates")
                    } else {
                        format!("creating {create} snapshots")
                    });
                }
                if *destroy > 0 {
                    parts.push(if *dry_run {
                        format!("checking {destroy} destroys")
                    } else {
                        format!("pruning {destroy} snapshots")
                    });
                }
                if parts.is_empty() {
                    parts.push("setting properties".to_owned());
                }
                write!(f, "{} (channel program {round}/{rounds})", parts.join(", "))
            }
            Self::Command { what, count } => write!(f, "zfs {what}: {count}"),
        }
    }
}

/// Receives a run's progress. Calls come from the thread running the pool.
pub trait Progress {
    /// `pool` started `step`.
    fn step(&self, pool: &PoolName, step: &Step);
    /// `pool` is finished; `summary` says what was done (or the error).
    fn done(&self, pool: &PoolName, ok: bool, summary: &str);
}

/// Reports nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn step(&self, _: &PoolName, _: &Step) {}
    fn done(&self, _: &PoolName, _: bool, _: &str) {}
}

/// One structured log line per step (for logs and non-terminal runs).
#[derive(Debug, Clone, Copy, Default)]
pub struct LogProgress;

impl Progress for LogProgress {
    fn step(&self, pool: &PoolName, step: &Step) {
        tracing::info!(pool = %pool, step = %step, "snap run step");
    }
    fn done(&self, pool: &PoolName, ok: bool, summary: &str) {
        tracing::info!(pool = %pool, ok, "{summary}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_read_as_phrases() {
        let program = Step::Program {
            round: 2,
            rounds: 2,
            create: 201,
            destroy: 201,
            dry_run: false,
        };
        assert_eq!(
            program.to_string(),
            "creating 201 snapshots, pruning 201 snapshots (channel program 2/2)"
        );
        let check = Step::Program {
            round: 1,
            rounds: 1,
            create: 3,
            destroy: 0,
            dry_run: true,
        };
        assert_eq!(
            check.to_string(),
            "checking 3 creates (channel program 1/1)"
        );
        assert_eq!(
            Step::Command {
                what: "destroy",
                count: 4
            }
            .to_string(),
            "zfs destroy: 4"
        );
    }
}
