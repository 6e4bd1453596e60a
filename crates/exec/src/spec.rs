//! `CommandSpec`: the description of one process to run, as an argv vector (never a shell string).
//!
//! A spec is plain data built with a small builder; executors decide *where* it runs.

use std::time::Duration;

/// Default cap on captured stderr (64 KiB); see [`CommandSpec::max_stderr`].
pub const DEFAULT_MAX_STDERR: usize = 64 * 1024;

/// Default timeout (2 minutes); long-running callers must set their own.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_mins(2);

/// One external command: program, arguments, environment additions, stdin, limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandSpec {
    /// Program to execute (looked up in `PATH` if it has no slash).
    pub program: String,
    /// Arguments after the program, passed verbatim.
    pub args: Vec<String>,
    /// Environment variables added to (not replacing) the inherited environment.
    pub env: Vec<(String, String)>,
    /// Bytes written to the child's stdin; `None` connects stdin to `/dev/null`.
    pub stdin: Option<Vec<u8>>,
    /// Wall-clock limit; the process is killed with SIGKILL when it is exceeded.
    pub timeout: Duration,
    /// Maximum stderr bytes kept (head and tail); the middle is elided.
    pub max_stderr: usize,
    /// Free-form context for logs, e.g. the dataset the command acts on.
    pub label: Option<String>,
}

impl CommandSpec {
    /// A spec for `program` with no arguments and default limits.
    pub fn new(program: impl Into<String>) -> Self {
        Self {
            program: program.into(),
            args: Vec::new(),
            env: Vec::new(),
            stdin: None,
            timeout: DEFAULT_TIMEOUT,
            max_stderr: DEFAULT_MAX_STDERR,
            label: None,
        }
    }

    /// Appends one argument.
    #[must_use]
    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// Appends several arguments.
    #[must_use]
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Adds one environment variable for the child.
    #[must_use]
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Feeds these bytes to the child's stdin (then closes it).
    #[must_use]
    pub fn stdin(mut self, bytes: impl Into<Vec<u8>>) -> Self {
        self.stdin = Some(bytes.into());
        self
    }

    /// Sets the wall-clock timeout.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets how many stderr bytes are kept.
    #[must_use]
    pub fn max_stderr(mut self, bytes: usize) -> Self {
        self.max_stderr = bytes;
        self
    }

    /// Sets the log label (e.g. a dataset name).
    #[must_use]
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    /// The full argv: program followed by the arguments.
    pub fn argv(&self) -> Vec<String> {
        std::iter::once(self.program.clone())
            .chain(self.args.iter().cloned())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builder_collects_argv_and_settings() {
        let spec = CommandSpec::new("zfs")
            .arg("list")
            .args(["-H", "-o", "name"])
            .env("LC_ALL", "C")
            .stdin(b"x".to_vec())
            .timeout(Duration::from_secs(5))
            .max_stderr(10)
            .label("tank/a");
        assert_eq!(spec.argv(), ["zfs", "list", "-H", "-o", "name"]);
        assert_eq!(spec.env, [("LC_ALL".to_owned(), "C".to_owned())]);
        assert_eq!(spec.stdin.as_deref(), Some(&b"x"[..]));
        assert_eq!(spec.timeout, Duration::from_secs(5));
        assert_eq!(spec.max_stderr, 10);
        assert_eq!(spec.label.as_deref(), Some("tank/a"));
    }

    #[test]
    fn defaults() {
        let spec = CommandSpec::new("true");
        assert_eq!(spec.argv(), ["true"]);
        assert_eq!(spec.timeout, DEFAULT_TIMEOUT);
        assert_eq!(spec.max_stderr, 64 * 1024);
        assert!(spec.stdin.is_none() && spec.label.is_none() && spec.env.is_empty());
    }
}
