//! Shared test helpers: a one-line summary of an outcome, for readable tables.

#![allow(dead_code)] // each test binary uses a subset

use zferry_repl::dsl::guid_of;
use zferry_repl::{Destruction, Outcome, Step};

pub fn names(entries: &[zferry_repl::Entry]) -> String {
    entries
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(" ")
}

pub fn steps(steps: &[Step]) -> String {
    steps
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// `up-to-date @b`, `send full @a; -I @a @c`, `diverged @b | @c | @x`, …
pub fn summary(o: &Outcome) -> String {
    match o {
        Outcome::UpToDate { common } => format!("up-to-date {}", common.source),
        Outcome::Send {
            steps: s,
            destruction,
        } => {
            let d = match destruction {
                Destruction::None => String::new(),
                Destruction::Rollback { to, destroys } => {
                    format!(" | rollback to @{} destroys {}", to.name, names(destroys))
                }
                Destruction::Replace { snapshots } => {
                    format!(" | replace destroys {}", names(snapshots))
                }
            };
            format!("send {}{d}", steps(s))
        }
        Outcome::Preserve {
            common,
            target_only,
            modified,
            steps: s,
        } => {
            let writes = if *modified { " +writes" } else { "" };
            format!(
                "preserve {} | {}{writes} | {}",
                common.source,
                names(target_only),
                steps(s)
            )
        }
        Outcome::NoCommonSnapshot {
            source_newest,
            target_snapshots,
        } => {
            format!("no-common {source_newest} | {}", names(target_snapshots))
        }
        Outcome::Diverged {
            common,
            source_only,
            target_only,
        } => {
            format!(
                "diverged {} | {} | {}",
                common.source,
                names(source_only),
                names(target_only)
            )
        }
        Outcome::TargetHasNewer {
            common,
            target_only,
        } => {
            format!(
                "target-has-newer {} | {}",
                common.source,
                names(target_only)
            )
        }
        Outcome::ResumeAvailable { token } => format!("resume {}", token.as_str()),
        Outcome::Refused { .. } => "refused".to_owned(),
    }
}

/// `@name=gN` with the GUID the DSL derives for `of`: a renamed copy of `@of`.
pub fn renamed(new_name: &str, of: &str, txg: u64) -> String {
    format!("@{new_name}=g{},{txg}", guid_of(of))
}

/// The cursor bookmark token of `target` at snapshot `of` (DSL notation).
pub fn cursor(target: &str, of: &str, txg: u64) -> String {
    format!(
        "#zferry_v1_{target}_{:016x}=g{},{txg}",
        guid_of(of),
        guid_of(of)
    )
}
