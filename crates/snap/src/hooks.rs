//! Pre/post snapshot hooks: an argv (never a shell string) run with a timeout and the
//! datasets and snapshots in its environment.
//!
//! Environment: `ZFERRY_HOOK=pre|post`, `ZFERRY_DATASETS` and `ZFERRY_SNAPSHOTS`
//! (comma-separated). A hook belongs to a configured dataset and covers the planned snapshots
//! of that dataset and its descendants (the deepest configured hook wins). A failing pre-hook
//! removes those snapshots from the plan, with the reason in the plan's notes; a failing
//! post-hook is reported, nothing else.

use std::fmt;
use std::time::Duration;

use serde::Serialize;
use zferry_exec::{CommandSpec, Executor};
use zferry_zfs::{DatasetName, SnapshotName};

use crate::model::{Note, Plan};

/// One hook command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Hook {
    pub argv: Vec<String>,
    pub timeout: Duration,
}

impl From<&zferry_config::Hook> for Hook {
    fn from(h: &zferry_config::Hook) -> Self {
        Self {
            argv: h.argv.as_slice().to_vec(),
            timeout: h.timeout.into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Phase {
    Pre,
    Post,
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Pre => "pre",
            Self::Post => "post",
        })
    }
}

/// What one hook run did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HookRun {
    pub root: DatasetName,
    pub phase: Phase,
    pub snapshots: Vec<SnapshotName>,
    /// `None` on success, else why it failed.
    pub failure: Option<String>,
}

/// The command a hook runs for these snapshots.
pub fn hook_spec(hook: &Hook, phase: Phase, snapshots: &[SnapshotName]) -> CommandSpec {
    let mut datasets: Vec<String> = snapshots.iter().map(|s| s.dataset().to_string()).collect();
    datasets.dedup();
    let snaps: Vec<&str> = snapshots.iter().map(SnapshotName::as_str).collect();
    // An empty argv (config forbids it) fails at spawn, which counts as a hook failure.
    let (program, rest) = hook
        .argv
        .split_first()
        .map_or(("", &[][..]), |(p, r)| (p.as_str(), r));
    CommandSpec::new(program)
        .args(rest.iter().cloned())
        .env("ZFERRY_HOOK", phase.to_string())
        .env("ZFERRY_DATASETS", datasets.join(","))
        .env("ZFERRY_SNAPSHOTS", snaps.join(","))
        .timeout(hook.timeout)
}

fn run_one(
    exec: &dyn Executor,
    root: &DatasetName,
    hook: &Hook,
    phase: Phase,
    snapshots: Vec<SnapshotName>,
) -> HookRun {
    let spec = hook_spec(hook, phase, &snapshots);
    let failure = match exec.run(&spec).and_then(zferry_exec::Output::check) {
        Ok(_) => None,
        Err(e) => Some(e.to_string()),
    };
    match &failure {
        None => tracing::info!(dataset = %root, %phase, "snapshot hook ok"),
        Some(why) => tracing::warn!(dataset = %root, %phase, "snapshot hook failed: {why}"),
    }
    HookRun {
        root: root.clone(),
        phase,
        snapshots,
        failure,
    }
}

/// The deepest hook root covering `ds`.
fn owner<'a>(
    hooks: &'a [(DatasetName, Hook)],
    ds: &DatasetName,
) -> Option<&'a (DatasetName, Hook)> {
    hooks
        .iter()
        .filter(|(root, _)| root == ds || root.is_ancestor_of(ds))
        .max_by_key(|(root, _)| root.depth())
}

/// Groups `snapshots` by the hook that covers them, in hook order.
fn groups<'a>(
    hooks: &'a [(DatasetName, Hook)],
    snapshots: impl Iterator<Item = &'a SnapshotName>,
) -> Vec<(&'a (DatasetName, Hook), Vec<SnapshotName>)> {
    let mut out: Vec<(&(DatasetName, Hook), Vec<SnapshotName>)> = Vec::new();
    for s in snapshots {
        if let Some(h) = owner(hooks, &s.dataset()) {
            match out.iter_mut().find(|(o, _)| std::ptr::eq(*o, h)) {
                Some((_, v)) => v.push(s.clone()),
                None => out.push((h, vec![s.clone()])),
            }
        }
    }
    out
}

/// Runs the pre-hooks for the plan's creates; snapshots whose pre-hook failed are removed
/// from the plan (with a note naming the hook's error).
pub fn run_pre_hooks(
    exec: &dyn Executor,
    mut plan: Plan,
    hooks: &[(DatasetName, Hook)],
) -> (Plan, Vec<HookRun>) {
    let runs: Vec<HookRun> = groups(hooks, plan.create.iter().map(|c| &c.snapshot))
        .into_iter()
        .map(|((root, hook), snaps)| run_one(exec, root, hook, Phase::Pre, snaps))
        .collect();
    for run in &runs {
        if let Some(why) = &run.failure {
            plan.create.retain(|c| !run.snapshots.contains(&c.snapshot));
            plan.notes.push(Note {
                dataset: Some(run.root.clone()),
                message: format!(
                    "pre-snapshot hook failed, {} snapshots not taken: {why}",
                    run.snapshots.len()
                ),
            });
        }
    }
    (plan, runs)
}

/// Runs the post-hooks for snapshots that were created.
pub fn run_post_hooks(
    exec: &dyn Executor,
    created: &[SnapshotName],
    hooks: &[(DatasetName, Hook)],
) -> Vec<HookRun> {
    groups(hooks, created.iter())
        .into_iter()
        .map(|((root, hook), snaps)| run_one(exec, root, hook, Phase::Post, snaps))
        .collect()
}

#[cfg(test)]
mod tests {
    use zferry_exec::LocalExecutor;

    use super::*;
    use crate::model::Create;

    fn create(s: &str) -> Create {
        Create {
            snapshot: s.parse().unwrap(),
            period: None,
            reason: "due".into(),
        }
    }

    fn hook(argv: &[&str]) -> Hook {
        Hook {
            argv: argv.iter().map(|s| (*s).to_owned()).collect(),
            timeout: Duration::from_secs(5),
        }
    }

    #[test]
    fn spec_carries_the_environment() {
        let spec = hook_spec(
            &hook(&["/bin/true", "x"]),
            Phase::Pre,
            &["p/a@s".parse().unwrap(), "p/b@s".parse().unwrap()],
        );
        assert_eq!(spec.argv(), ["/bin/true", "x"]);
        assert_eq!(
            spec.env,
            [
                ("ZFERRY_HOOK".to_owned(), "pre".to_owned()),
                ("ZFERRY_DATASETS".to_owned(), "p/a,p/b".to_owned()),
                ("ZFERRY_SNAPSHOTS".to_owned(), "p/a@s,p/b@s".to_owned()),
            ]
        );
        assert_eq!(spec.timeout, Duration::from_secs(5));
    }

    #[test]
    fn failing_pre_hook_drops_only_its_snapshots() {
        // Real processes: `false` fails, `env` prints what the hook saw.
        let exec = LocalExecutor::with_host("test");
        let hooks = vec![
            ("p/db".parse().unwrap(), hook(&["/bin/false"])),
            ("p".parse().unwrap(), hook(&["/usr/bin/env"])),
        ];
        let plan = Plan {
            create: vec![create("p/db@s"), create("p/db/log@s"), create("p/web@s")],
            ..Plan::default()
        };
        let (plan, runs) = run_pre_hooks(&exec, plan, &hooks);
        let left: Vec<&str> = plan.create.iter().map(|c| c.snapshot.as_str()).collect();
        assert_eq!(left, ["p/web@s"]);
        assert_eq!(runs.len(), 2);
        assert_eq!(runs[0].snapshots.len(), 2);
        assert!(runs[0].failure.as_deref().unwrap().contains("exit code 1"));
        assert!(runs[1].failure.is_none());
        assert!(
            plan.notes[0]
                .message
                .starts_with("pre-snapshot hook failed, 2 snapshots not taken")
        );
    }

    #[test]
    fn hook_timeout_is_a_failure() {
        let exec = LocalExecutor::with_host("test");
        let mut h = hook(&["/bin/sleep", "5"]);
        h.timeout = Duration::from_millis(100);
        let runs = run_post_hooks(
            &exec,
            &["p/a@s".parse().unwrap()],
            &[("p/a".parse().unwrap(), h)],
        );
        assert!(
            runs[0].failure.as_deref().unwrap().contains("timed out"),
            "{runs:?}"
        );
    }
}
