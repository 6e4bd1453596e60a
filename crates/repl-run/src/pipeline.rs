//! One `zfs send | zfs recv`, each end on its own host (locally or through ssh).
//!
//! The sender's stdout becomes the receiver's stdin: the kernel moves the data, zferry never
//! copies it (the same path as a shell pipeline, so throughput matches the raw baseline).
//! The sender's `-v -P` stderr feeds [`Progress`]; everything else on either stderr is kept
//! for the error report.

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use zferry_exec::{CommandSpec, ExecError, Executor, LineObserver, Output, RetryClass, spawn};
use zferry_zfs::{CommandFailure, ZfsErrorKind};

use crate::progress::Progress;

/// Called with the running totals whenever a progress line arrives.
pub type OnProgress = Arc<dyn Fn(&Progress) + Send + Sync>;

/// A finished transfer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transferred {
    /// Bytes as last reported by zfs (its final progress line, else its estimate).
    pub bytes: u64,
    pub duration: Duration,
}

/// Why a transfer failed: each end's failure, if it failed.
#[derive(Debug, thiserror::Error)]
#[error("{}", self.describe())]
pub struct TransferError {
    pub send: Option<Box<EndFailure>>,
    pub recv: Option<Box<EndFailure>>,
}

/// How one end of the pipe failed.
#[derive(Debug)]
pub enum EndFailure {
    /// It could not be started, or ssh failed.
    Exec(ExecError),
    /// It ran and exited non-zero (classified from stderr).
    Command(CommandFailure),
}

impl EndFailure {
    fn kind(&self) -> Option<ZfsErrorKind> {
        match self {
            Self::Command(c) => Some(c.kind),
            Self::Exec(_) => None,
        }
    }

    fn retry_class(&self) -> RetryClass {
        match self {
            Self::Command(c) => c.kind.retry_class(),
            Self::Exec(e) => e.retry_class(),
        }
    }
}

impl std::fmt::Display for EndFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Exec(e) => e.fmt(f),
            Self::Command(c) => c.fmt(f),
        }
    }
}

impl TransferError {
    /// The root cause's kind: the sender's when it failed for a reason of its own (a stale
    /// token, a missing snapshot), else the receiver's.
    pub fn kind(&self) -> Option<ZfsErrorKind> {
        let own = |e: &Option<Box<EndFailure>>| {
            e.as_deref()
                .and_then(EndFailure::kind)
                .filter(|k| !matches!(k, ZfsErrorKind::Unknown | ZfsErrorKind::IoError))
        };
        own(&self.send).or_else(|| own(&self.recv))
    }

    /// Transient when any end failed transiently (ssh dropped, stream cut).
    pub fn retry_class(&self) -> RetryClass {
        let transient = [&self.send, &self.recv]
            .into_iter()
            .flatten()
            .any(|e| e.retry_class() == RetryClass::Transient);
        if transient {
            RetryClass::Transient
        } else {
            RetryClass::Permanent
        }
    }

    fn describe(&self) -> String {
        match (&self.send, &self.recv) {
            (Some(s), Some(r)) => format!("send failed: {s}; receive failed: {r}"),
            (Some(s), None) => format!("send failed: {s}"),
            (None, Some(r)) => format!("receive failed: {r}"),
            (None, None) => "transfer failed".to_owned(),
        }
    }
}

/// Runs `send` on `source` piped into `recv` on `target`.
pub fn transfer(
    source: &dyn Executor,
    send: &CommandSpec,
    target: &dyn Executor,
    recv: &CommandSpec,
    on_progress: Option<OnProgress>,
) -> Result<Transferred, TransferError> {
    let started = Instant::now();
    let progress = Arc::new(Mutex::new(Progress::default()));
    let observer: LineObserver = {
        let progress = Arc::clone(&progress);
        Box::new(move |line| {
            let mut p = progress
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let consumed = p.feed(line);
            if consumed && let Some(report) = &on_progress {
                report(&p);
            }
            !consumed
        })
    };
    let fail_send = |e| TransferError {
        send: Some(Box::new(EndFailure::Exec(e))),
        recv: None,
    };
    let mut sender =
        spawn(source, send, Stdio::null(), Stdio::piped(), Some(observer)).map_err(fail_send)?;
    let pipe = sender.take_stdout().expect("stdout was piped");
    let receiver = match spawn(target, recv, Stdio::from(pipe), Stdio::null(), None) {
        Ok(r) => r,
        Err(e) => {
            sender.kill();
            let _ = sender.wait();
            return Err(TransferError {
                send: None,
                recv: Some(Box::new(EndFailure::Exec(e))),
            });
        }
    };
    // Wait for the receiver first: if it dies, the sender gets EPIPE and ends too.
    let recv_out = receiver.wait();
    let send_out = sender.wait();
    let send_err = end_failure(send_out);
    let recv_err = end_failure(recv_out);
    if send_err.is_some() || recv_err.is_some() {
        return Err(TransferError {
            send: send_err,
            recv: recv_err,
        });
    }
    let p = progress
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let bytes = match p.sent() {
        0 => p.estimate.unwrap_or(0),
        n => n.max(p.estimate.unwrap_or(0)),
    };
    Ok(Transferred {
        bytes,
        duration: started.elapsed(),
    })
}

fn end_failure(out: Result<Output, ExecError>) -> Option<Box<EndFailure>> {
    match out {
        Err(e) => Some(Box::new(EndFailure::Exec(e))),
        Ok(out) => CommandFailure::from_output(&out).map(|c| Box::new(EndFailure::Command(c))),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use zferry_exec::LocalExecutor;

    fn sh(script: &str) -> CommandSpec {
        CommandSpec::new("sh").arg("-c").arg(script.to_owned())
    }

    #[test]
    fn data_flows_and_progress_is_reported() {
        let here = LocalExecutor::with_host("here");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&seen);
        let report: OnProgress = Arc::new(move |p: &Progress| sink.lock().unwrap().push(p.sent()));
        let send = sh("printf 'size\\t6\\n' >&2; printf 'abcdef'; \
                       printf '00:00:01\\t6\\tp/a@s\\n' >&2");
        let recv = sh("test \"$(cat)\" = abcdef");
        let done = transfer(&here, &send, &here, &recv, Some(report)).unwrap();
        assert_eq!(done.bytes, 6);
        assert_eq!(*seen.lock().unwrap(), [0, 6]);
    }

    #[test]
    fn receiver_failure_is_classified_and_stops_the_sender() {
        let here = LocalExecutor::with_host("nodeB");
        let send = sh("yes");
        let recv = sh("head -c 10 >/dev/null; \
            echo \"cannot receive incremental stream: destination p/t has been modified\" >&2; \
            echo \"since most recent snapshot\" >&2; exit 1");
        let err = transfer(&here, &send, &here, &recv, None).unwrap_err();
        assert_eq!(err.kind(), Some(ZfsErrorKind::ReceiveDestinationModified));
        assert!(err.to_string().contains("nodeB"), "{err}");
    }

    #[test]
    fn sender_cause_wins_over_the_receivers_incomplete_stream() {
        let here = LocalExecutor::with_host("here");
        let send = sh(
            "echo \"cannot resume send: 'p/a@s' used in the initial send no longer exists\" >&2; exit 255",
        );
        let recv =
            sh("cat >/dev/null; echo 'cannot receive: failed to read from stream' >&2; exit 1");
        let err = transfer(&here, &send, &here, &recv, None).unwrap_err();
        assert_eq!(err.kind(), Some(ZfsErrorKind::ResumeTokenStale));
        assert!(err.send.is_some() && err.recv.is_some());
    }
}
