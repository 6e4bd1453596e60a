//! One `zfs send | zfs recv`, each end on its own host (locally or through ssh).
//!
//! The sender's stdout becomes the receiver's stdin: the kernel moves the data, zferry never
//! copies it (the same path as a shell pipeline, so throughput matches the raw baseline).
//! The sender's `-v -P` stderr feeds [`Progress`]; everything else on either stderr is kept
//! for the error report.

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use zferry_exec::{CommandSpec, ExecError, Executor, LineObserver, Output, RetryClass, spawn};
use zferry_zfs::{CommandFailure, ZfsErrorKind};

use crate::progress::Progress;
use crate::relay::{RelayError, RelaySpec, Relayed, relay};
use crate::wire::{self, WireOptions, WirePlan};

/// Called with the running totals whenever a progress line arrives.
pub type OnProgress = Arc<dyn Fn(&Progress) + Send + Sync>;

/// A finished transfer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transferred {
    /// Bytes as last reported by zfs (its final progress line, else its estimate).
    pub bytes: u64,
    /// Bytes on the wire, when a relay (compression, limit) ran.
    pub wire_bytes: Option<u64>,
    pub duration: Duration,
}

/// Why a transfer failed: each end's failure, if it failed, and the relay's.
#[derive(Debug, Default, thiserror::Error)]
#[error("{}", self.describe())]
pub struct TransferError {
    pub send: Option<Box<EndFailure>>,
    pub recv: Option<Box<EndFailure>>,
    /// The relay between them (zstd, limit) failed on its own account.
    pub relay: Option<Box<RelayFailure>>,
    /// What to do about it, when known.
    pub hint: Option<String>,
}

/// The relay thread's failure, with the node it ran on.
#[derive(Debug)]
pub struct RelayFailure {
    pub host: String,
    pub spec: RelaySpec,
    pub error: RelayError,
}

impl std::fmt::Display for RelayFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "relay on {} ({:?}", self.host, self.spec.codec)?;
        if let Some(limit) = self.spec.limit {
            write!(f, ", limit {limit} B/s")?;
        }
        write!(f, ") failed: {}", self.error)
    }
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

    /// Transient when any end failed transiently (ssh dropped, stream cut), or the relay
    /// lost a pipe (a damaged zstd stream is not transient).
    pub fn retry_class(&self) -> RetryClass {
        let relay_transient = self
            .relay
            .as_ref()
            .is_some_and(|r| !matches!(r.error, RelayError::Codec(_)));
        let transient = relay_transient
            || [&self.send, &self.recv]
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
        let mut parts = Vec::new();
        if let Some(s) = &self.send {
            parts.push(format!("send failed: {s}"));
        }
        if let Some(r) = &self.recv {
            parts.push(format!("receive failed: {r}"));
        }
        if let Some(r) = &self.relay {
            parts.push(r.to_string());
        }
        if parts.is_empty() {
            parts.push("transfer failed".to_owned());
        }
        if let Some(h) = &self.hint {
            parts.push(h.clone());
        }
        parts.join("; ")
    }
}

/// Runs `send` on `source` piped into `recv` on `target`, over the wire as `wire` says
/// (see [`crate::wire`]): kernel-piped when nothing touches the stream, else through a relay
/// thread here (zstd, bandwidth limit).
pub fn transfer(
    source: &dyn Executor,
    send: &CommandSpec,
    target: &dyn Executor,
    recv: &CommandSpec,
    wire: WireOptions,
    on_progress: Option<OnProgress>,
) -> Result<Transferred, TransferError> {
    let started = Instant::now();
    let plan = wire::plan(send, recv, source.is_remote(), target.is_remote(), wire);
    let progress = Arc::new(Mutex::new(Progress::default()));
    let observer = progress_observer(Arc::clone(&progress), on_progress);
    let fail_send = |e| TransferError {
        send: Some(Box::new(EndFailure::Exec(e))),
        ..TransferError::default()
    };
    let mut sender = spawn(
        source,
        &plan.send,
        Stdio::null(),
        Stdio::piped(),
        Some(observer),
    )
    .map_err(fail_send)?;
    let pipe = sender.take_stdout().expect("stdout was piped");
    let (recv_stdin, relay_input) = if plan.relay.is_some() {
        (Stdio::piped(), Some(pipe))
    } else {
        (Stdio::from(pipe), None)
    };
    let mut receiver = match spawn(target, &plan.recv, recv_stdin, Stdio::null(), None) {
        Ok(r) => r,
        Err(e) => {
            sender.kill();
            let _ = sender.wait();
            return Err(TransferError {
                recv: Some(Box::new(EndFailure::Exec(e))),
                ..TransferError::default()
            });
        }
    };
    let mut relayed = None;
    let mut relay_failure = None;
    if let Some(spec) = plan.relay {
        let input = relay_input.expect("kept for the relay");
        let output = receiver.take_stdin().expect("stdin was piped");
        match run_relay(input, output, spec) {
            Ok(done) => relayed = Some(done),
            Err(e) => {
                // Neither end may outlive the relay: no hang on a half-open pipe.
                sender.kill();
                receiver.kill();
                relay_failure = Some(e);
            }
        }
    }
    let killed = relay_failure.is_some();
    // Wait for the receiver first: if it dies, the sender gets EPIPE and ends too.
    let recv_out = receiver.wait();
    let send_out = sender.wait();
    let send_err = end_failure(send_out, killed);
    let recv_err = end_failure(recv_out, killed);
    // A relay that only saw its peer go away adds nothing to that peer's own error.
    let relay_err = relay_failure
        .filter(|e| !(e.is_peer_gone() && (send_err.is_some() || recv_err.is_some())))
        .map(|error| {
            Box::new(RelayFailure {
                host: local_host(source, target),
                spec: plan.relay.expect("a relay ran"),
                error,
            })
        });
    if send_err.is_some() || recv_err.is_some() || relay_err.is_some() {
        let hint = missing_zferry_hint(
            &plan,
            source,
            send_err.as_deref(),
            target,
            recv_err.as_deref(),
        );
        return Err(TransferError {
            send: send_err,
            recv: recv_err,
            relay: relay_err,
            hint,
        });
    }
    let p = progress
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let bytes = match p.sent() {
        0 => p.estimate.unwrap_or(0),
        n => n.max(p.estimate.unwrap_or(0)),
    };
    if let Some(r) = relayed {
        tracing::info!(stream = r.stream, wire = r.wire, codec = ?plan.relay.map(|s| s.codec),
            "relayed");
    }
    Ok(Transferred {
        bytes,
        wire_bytes: relayed.map(|r| r.wire),
        duration: started.elapsed(),
    })
}

/// Feeds the sender's stderr to `progress`; consumed lines stay out of the error capture.
fn progress_observer(
    progress: Arc<Mutex<Progress>>,
    on_progress: Option<OnProgress>,
) -> LineObserver {
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
}

/// Runs the relay on its own thread and waits for it (the caller's thread stays free of
/// its panics).
fn run_relay(
    input: std::process::ChildStdout,
    output: std::process::ChildStdin,
    spec: RelaySpec,
) -> Result<Relayed, RelayError> {
    thread::Builder::new()
        .name("zferry-relay".into())
        .spawn(move || relay(input, output, spec))
        .map_err(RelayError::Read)
        .and_then(|h| {
            h.join().unwrap_or_else(|_| {
                Err(RelayError::Codec(std::io::Error::other(
                    "relay thread panicked",
                )))
            })
        })
}

/// The node the relay runs on (the local end's).
fn local_host(source: &dyn Executor, target: &dyn Executor) -> String {
    if source.is_remote() {
        target.host().to_owned()
    } else {
        source.host().to_owned()
    }
}

/// A wrapped end that exited 127 ran on a node without `zferry` in its `PATH`.
fn missing_zferry_hint(
    plan: &WirePlan,
    source: &dyn Executor,
    send: Option<&EndFailure>,
    target: &dyn Executor,
    recv: Option<&EndFailure>,
) -> Option<String> {
    let not_found = |cmd: &CommandSpec, end: Option<&EndFailure>| {
        cmd.program == wire::WIRE_PROGRAM
            && matches!(end, Some(EndFailure::Command(c)) if c.exit_code == Some(127))
    };
    [(&plan.send, source, send), (&plan.recv, target, recv)]
        .into_iter()
        .find(|(cmd, _, end)| not_found(cmd, *end))
        .map(|(_, exec, _)| {
            format!(
                "{} has no `zferry` in its PATH for compressed streams: install zferry there \
                 (e.g. /usr/local/bin), pin the key to `zferry serve --stdio`, or set \
                 compress = \"none\" for this job",
                exec.host()
            )
        })
}

/// How an end failed; with `killed`, zferry's own SIGKILL (after a relay failure) is not
/// the end's failure.
fn end_failure(out: Result<Output, ExecError>, killed: bool) -> Option<Box<EndFailure>> {
    match out {
        Err(e) => Some(Box::new(EndFailure::Exec(e))),
        Ok(out) if killed && out.status.signal == Some(SIGKILL) => None,
        Ok(out) => CommandFailure::from_output(&out).map(|c| Box::new(EndFailure::Command(c))),
    }
}

/// SIGKILL's number (9 on every Linux architecture).
const SIGKILL: i32 = 9;

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
        let done = transfer(
            &here,
            &send,
            &here,
            &recv,
            WireOptions::default(),
            Some(report),
        )
        .unwrap();
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
        let err = transfer(&here, &send, &here, &recv, WireOptions::default(), None).unwrap_err();
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
        let err = transfer(&here, &send, &here, &recv, WireOptions::default(), None).unwrap_err();
        assert_eq!(err.kind(), Some(ZfsErrorKind::ResumeTokenStale));
        assert!(err.send.is_some() && err.recv.is_some());
    }

    #[test]
    fn a_limited_local_pair_is_relayed_at_its_rate() {
        let here = LocalExecutor::with_host("here");
        let send = sh("head -c 393216 /dev/zero");
        let recv = sh("test \"$(wc -c)\" = 393216");
        let started = Instant::now();
        let wire = WireOptions {
            compress: true,
            limit: Some(512 * 1024),
        };
        let done = transfer(&here, &send, &here, &recv, wire, None).unwrap();
        // 384 KiB at 512 KiB/s less the 64 KiB allowance: 625 ms; never compressed locally.
        assert!(started.elapsed() >= Duration::from_millis(600), "{done:?}");
        assert_eq!(done.wire_bytes, Some(393_216));
    }

    /// Runs a fixed script wherever it is asked to run anything, and says it is remote, so
    /// the transfer wraps its argv and relays as for a real ssh end.
    #[derive(Debug)]
    struct FarScript {
        host: &'static str,
        script: &'static str,
    }

    impl Executor for FarScript {
        fn host(&self) -> &str {
            self.host
        }

        fn run(&self, cmd: &CommandSpec) -> Result<Output, ExecError> {
            LocalExecutor::with_host(self.host).run(cmd)
        }

        fn process_argv(&self, _cmd: &CommandSpec) -> Result<Vec<String>, ExecError> {
            Ok(vec!["sh".into(), "-c".into(), self.script.into()])
        }

        fn is_remote(&self) -> bool {
            true
        }
    }

    #[test]
    fn a_relay_failure_kills_both_ends_and_names_the_relay() {
        let far = FarScript {
            host: "nodeA",
            script: "printf 'this is not zstd'; exec sleep 60",
        };
        let here = LocalExecutor::with_host("nodeB");
        let started = Instant::now();
        let err = transfer(
            &far,
            &CommandSpec::new("zfs").args(["send", "p/a@s"]),
            &here,
            &sh("exec sleep 60"),
            WireOptions {
                compress: true,
                limit: None,
            },
            None,
        )
        .unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(20), "{err}");
        assert!(err.send.is_none() && err.recv.is_none(), "{err}");
        let text = err.to_string();
        assert!(
            text.contains("relay on nodeB (Decompress) failed: zstd"),
            "{text}"
        );
        assert_eq!(err.retry_class(), RetryClass::Permanent);
    }

    #[test]
    fn a_remote_without_zferry_gets_a_hint() {
        let far = FarScript {
            host: "nodeC",
            script: "echo 'sh: 1: zferry: not found' >&2; exit 127",
        };
        let here = LocalExecutor::with_host("nodeB");
        let err = transfer(
            &here,
            &sh("printf abc"),
            &far,
            &CommandSpec::new("zfs").args(["recv", "-s", "p/t"]),
            WireOptions {
                compress: true,
                limit: None,
            },
            None,
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("nodeC has no `zferry` in its PATH"), "{text}");
        assert!(
            text.contains("zferry wire decompress -- zfs recv"),
            "{text}"
        );
    }
}
