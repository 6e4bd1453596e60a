//! `ExecError` and `RetryClass`: what went wrong running a command, and whether retrying helps.
//!
//! Every variant names the host and what ran, so a log line alone is enough to act on.

use std::io;
use std::time::Duration;

use crate::quote::display_argv;

/// Whether an operation that failed this way is worth retrying.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RetryClass {
    /// Retrying the same operation will fail the same way.
    Permanent,
    /// The failure may clear up on its own (network, load, timeouts).
    Transient,
}

/// A failure to run a command, or a command that ran and failed.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// The process could not be started (missing binary, permissions, resource limits).
    #[error("failed to start `{program}` for host {host}: {source}")]
    Spawn {
        /// Host the command was meant for.
        host: String,
        /// Program that could not be started.
        program: String,
        /// Underlying OS error.
        #[source]
        source: io::Error,
    },
    /// The process exceeded its timeout and was killed.
    #[error("`{}` on {host} timed out after {after:?} and was killed", display_argv(.argv))]
    Timeout {
        /// Host the command ran on.
        host: String,
        /// What ran.
        argv: Vec<String>,
        /// The timeout that expired.
        after: Duration,
    },
    /// Talking to the process failed (pipes, waiting).
    #[error("I/O error {context} for `{}` on {host}: {source}", display_argv(.argv))]
    Io {
        /// Host the command ran on.
        host: String,
        /// What ran.
        argv: Vec<String>,
        /// Which step failed, e.g. "waiting for exit".
        context: &'static str,
        /// Underlying OS error.
        #[source]
        source: io::Error,
    },
    /// The process ran and exited unsuccessfully.
    #[error(
        "`{}` on {host} failed ({}): {}",
        display_argv(.argv),
        describe_status(*.code, *.signal),
        stderr.trim_end()
    )]
    Failed {
        /// Host the command ran on.
        host: String,
        /// What ran.
        argv: Vec<String>,
        /// Exit code, if it exited normally.
        code: Option<i32>,
        /// Signal that terminated it, if any.
        signal: Option<i32>,
        /// Captured (bounded) stderr.
        stderr: String,
    },
    /// ssh itself failed (exit 255): connection, authentication or host-key problems.
    #[error("ssh to {host} failed before or while running `{}`: {}", display_argv(.argv), stderr.trim_end())]
    Transport {
        /// Remote host.
        host: String,
        /// The remote command that was to run.
        argv: Vec<String>,
        /// ssh's stderr (bounded).
        stderr: String,
    },
}

impl ExecError {
    /// Classifies the error: timeouts, ssh transport failures and `EAGAIN` at spawn are transient.
    pub fn retry_class(&self) -> RetryClass {
        match self {
            Self::Timeout { .. } | Self::Transport { .. } => RetryClass::Transient,
            Self::Spawn { source, .. } if source.raw_os_error() == Some(libc::EAGAIN) => {
                RetryClass::Transient
            }
            Self::Spawn { .. } | Self::Io { .. } | Self::Failed { .. } => RetryClass::Permanent,
        }
    }

    /// The host this error concerns.
    pub fn host(&self) -> &str {
        match self {
            Self::Spawn { host, .. }
            | Self::Timeout { host, .. }
            | Self::Io { host, .. }
            | Self::Failed { host, .. }
            | Self::Transport { host, .. } => host,
        }
    }
}

/// Human wording for an exit status: "exit code 1", "killed by signal 9".
pub(crate) fn describe_status(code: Option<i32>, signal: Option<i32>) -> String {
    match (code, signal) {
        (Some(code), _) => format!("exit code {code}"),
        (None, Some(signal)) => format!("killed by signal {signal}"),
        (None, None) => "unknown exit status".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv() -> Vec<String> {
        vec!["zfs".into(), "destroy".into(), "tank/my data".into()]
    }

    #[test]
    fn failed_display_names_host_argv_status_and_stderr() {
        let err = ExecError::Failed {
            host: "pve1".into(),
            argv: argv(),
            code: Some(1),
            signal: None,
            stderr: "cannot destroy: dataset is busy\n".into(),
        };
        assert_eq!(
            err.to_string(),
            "`zfs destroy 'tank/my data'` on pve1 failed (exit code 1): \
             cannot destroy: dataset is busy"
        );
        assert_eq!(err.retry_class(), RetryClass::Permanent);
        assert_eq!(err.host(), "pve1");
    }

    #[test]
    fn timeout_and_transport_are_transient() {
        let timeout = ExecError::Timeout {
            host: "pve2".into(),
            argv: argv(),
            after: Duration::from_secs(3),
        };
        assert_eq!(
            timeout.to_string(),
            "`zfs destroy 'tank/my data'` on pve2 timed out after 3s and was killed"
        );
        assert_eq!(timeout.retry_class(), RetryClass::Transient);
        let transport = ExecError::Transport {
            host: "pve3".into(),
            argv: argv(),
            stderr: "ssh: connect to host pve3 port 22: No route to host\n".into(),
        };
        assert_eq!(
            transport.to_string(),
            "ssh to pve3 failed before or while running `zfs destroy 'tank/my data'`: \
             ssh: connect to host pve3 port 22: No route to host"
        );
        assert_eq!(transport.retry_class(), RetryClass::Transient);
    }

    #[test]
    fn spawn_eagain_is_transient_enoent_is_not() {
        let spawn = |errno| ExecError::Spawn {
            host: "h".into(),
            program: "zfs".into(),
            source: io::Error::from_raw_os_error(errno),
        };
        assert_eq!(spawn(libc::EAGAIN).retry_class(), RetryClass::Transient);
        assert_eq!(spawn(libc::ENOENT).retry_class(), RetryClass::Permanent);
        assert!(
            spawn(libc::ENOENT)
                .to_string()
                .starts_with("failed to start `zfs` for host h: ")
        );
    }

    #[test]
    fn signal_status_wording() {
        assert_eq!(describe_status(None, Some(9)), "killed by signal 9");
        assert_eq!(describe_status(None, None), "unknown exit status");
    }
}
