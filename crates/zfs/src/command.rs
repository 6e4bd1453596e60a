//! `ZfsCommand`: an argv that a builder produced and an executor will run.
//!
//! Builders in this crate are pure; they return this value instead of running anything, so the
//! exact argv can be asserted in tests and logged before execution.

use std::fmt;

/// A program (`zfs` or `zpool`) and its arguments. Never a shell string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZfsCommand {
    pub program: &'static str,
    pub args: Vec<String>,
}

impl ZfsCommand {
    pub(crate) fn new(program: &'static str) -> Self {
        Self {
            program,
            args: Vec::new(),
        }
    }

    pub(crate) fn arg(mut self, a: impl Into<String>) -> Self {
        self.args.push(a.into());
        self
    }

    pub(crate) fn args<I, S>(mut self, items: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args.extend(items.into_iter().map(Into::into));
        self
    }

    /// The full argv, program first.
    pub fn argv(&self) -> Vec<String> {
        std::iter::once(self.program.to_owned())
            .chain(self.args.iter().cloned())
            .collect()
    }
}

/// Space-joined argv, for logs only (not shell-quoted, never executed).
impl fmt::Display for ZfsCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.program)?;
        for a in &self.args {
            write!(f, " {a}")?;
        }
        Ok(())
    }
}
