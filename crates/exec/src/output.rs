//! `Output` and `ExitStatusLike`: the result of a command that ran to completion.
//!
//! A non-zero exit is still an `Output`; callers decide whether it is an error via
//! [`Output::check`].

use std::fmt;
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::time::Duration;

use crate::error::{ExecError, describe_status};

/// Exit status that can be built by hand (for tests and remote results).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ExitStatusLike {
    /// Exit code if the process exited normally.
    pub code: Option<i32>,
    /// Terminating signal if the process was killed.
    pub signal: Option<i32>,
}

impl ExitStatusLike {
    /// A normal exit with `code`.
    pub fn from_code(code: i32) -> Self {
        Self {
            code: Some(code),
            signal: None,
        }
    }

    /// True for exit code 0.
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }
}

impl From<ExitStatus> for ExitStatusLike {
    fn from(status: ExitStatus) -> Self {
        Self {
            code: status.code(),
            signal: status.signal(),
        }
    }
}

impl fmt::Display for ExitStatusLike {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&describe_status(self.code, self.signal))
    }
}

/// What a finished command produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    /// How it exited.
    pub status: ExitStatusLike,
    /// Everything written to stdout.
    pub stdout: Vec<u8>,
    /// Stderr as text, bounded: head and tail kept, the middle replaced by a marker.
    pub stderr: String,
    /// Wall-clock time from spawn to exit.
    pub duration: Duration,
    /// Host the command ran on.
    pub host: String,
    /// What ran (the caller's argv, not the ssh wrapper).
    pub argv: Vec<String>,
}

impl Output {
    /// True for exit code 0.
    pub fn success(&self) -> bool {
        self.status.success()
    }

    /// Stdout decoded as UTF-8, with invalid sequences replaced.
    pub fn stdout_lossy(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// The error describing this output if it did not succeed.
    pub fn failure(&self) -> Option<ExecError> {
        (!self.success()).then(|| ExecError::Failed {
            host: self.host.clone(),
            argv: self.argv.clone(),
            code: self.status.code,
            signal: self.status.signal,
            stderr: self.stderr.clone(),
        })
    }

    /// `Ok(self)` on success, otherwise [`ExecError::Failed`] with host, argv, status, stderr.
    pub fn check(self) -> Result<Self, ExecError> {
        match self.failure() {
            None => Ok(self),
            Some(err) => Err(err),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn output(code: i32) -> Output {
        Output {
            status: ExitStatusLike::from_code(code),
            stdout: b"out".to_vec(),
            stderr: "bad thing".into(),
            duration: Duration::from_millis(5),
            host: "pve1".into(),
            argv: vec!["zpool".into(), "status".into()],
        }
    }

    #[test]
    fn success_passes_check() {
        let out = output(0).check().unwrap();
        assert_eq!(out.stdout_lossy(), "out");
    }

    #[test]
    fn failure_becomes_failed_error() {
        let err = output(2).check().unwrap_err();
        match &err {
            ExecError::Failed {
                host,
                argv,
                code,
                signal,
                stderr,
            } => {
                assert_eq!(host, "pve1");
                assert_eq!(argv, &["zpool", "status"]);
                assert_eq!((*code, *signal), (Some(2), None));
                assert_eq!(stderr, "bad thing");
            }
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(
            err.to_string(),
            "`zpool status` on pve1 failed (exit code 2): bad thing"
        );
    }

    #[test]
    fn status_from_real_exit_status() {
        let killed = ExitStatusLike::from(ExitStatus::from_raw(9));
        assert_eq!((killed.code, killed.signal), (None, Some(9)));
        assert!(!killed.success());
        assert_eq!(killed.to_string(), "killed by signal 9");
        let ok = ExitStatusLike::from(ExitStatus::from_raw(0));
        assert!(ok.success());
    }
}
