//! `LocalExecutor`: runs a [`CommandSpec`] as a child process of zferry.
//!
//! Stdout, stderr and stdin each get their own thread so no pipe can fill up and
//! deadlock the child; the calling thread polls for exit until the deadline and kills
//! the child (SIGKILL) when it passes. The same machinery backs the ssh executor.

use std::io::{self, Read, Write};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use crate::bounded::BoundedBuf;
use crate::kill_on_drop::{KillOnDrop, set_parent_death_signal};
use crate::{CommandSpec, ExecError, Executor, ExitStatusLike, Output};

/// Longest sleep between two exit polls.
const MAX_POLL: Duration = Duration::from_millis(50);

/// This machine's hostname, or `localhost` when it cannot be read or is empty.
pub fn system_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_owned())
        .ok()
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

/// Runs commands on this machine.
#[derive(Debug, Clone)]
pub struct LocalExecutor {
    host: String,
}

impl LocalExecutor {
    /// An executor named after this machine's hostname (or `localhost` if unknown).
    pub fn new() -> Self {
        Self {
            host: system_hostname(),
        }
    }

    /// An executor reporting `host` as its name in outputs, errors and logs.
    pub fn with_host(host: impl Into<String>) -> Self {
        Self { host: host.into() }
    }
}

impl Default for LocalExecutor {
    fn default() -> Self {
        Self::new()
    }
}

impl Executor for LocalExecutor {
    fn host(&self) -> &str {
        &self.host
    }

    fn run(&self, cmd: &CommandSpec) -> Result<Output, ExecError> {
        run_process(&self.host, cmd.argv(), cmd)
    }

    fn process_argv(&self, cmd: &CommandSpec) -> Result<Vec<String>, ExecError> {
        Ok(cmd.argv())
    }

    fn is_remote(&self) -> bool {
        false
    }
}

/// Runs `spec` locally, reporting it in results and errors as `argv` on `host`.
///
/// The ssh executor passes the remote host and the remote argv here while `spec` is the
/// local `ssh ...` invocation.
pub(crate) fn run_process(
    host: &str,
    argv: Vec<String>,
    spec: &CommandSpec,
) -> Result<Output, ExecError> {
    let local_argv = spec.argv();
    tracing::debug!(host, argv = ?argv, local_argv = ?local_argv, label = spec.label.as_deref(),
        timeout = ?spec.timeout, "running command");
    let io_err = |context: &'static str, source: io::Error| ExecError::Io {
        host: host.to_owned(),
        argv: argv.clone(),
        context,
        source,
    };

    let mut command = Command::new(&spec.program);
    command
        .args(&spec.args)
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .stdin(if spec.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    set_parent_death_signal(&mut command);

    let start = Instant::now();
    let deadline = start + spec.timeout;
    let child = command.spawn().map_err(|source| ExecError::Spawn {
        host: host.to_owned(),
        program: spec.program.clone(),
        source,
    })?;
    let mut guard = KillOnDrop::new(child);
    let pipes = Pipes::start(guard.child_mut(), spec);

    let status = match wait_until(guard.child_mut(), deadline) {
        Ok(Some(status)) => status,
        Ok(None) => return Err(timed_out(host, argv, spec, guard)),
        Err(source) => return Err(io_err("waiting for exit", source)),
    };
    let Some((stdout, stderr)) = pipes
        .collect(deadline)
        .map_err(|e| io_err("reading output", e))?
    else {
        // The child exited but something it started still holds its pipes open.
        return Err(timed_out(host, argv, spec, guard));
    };

    let output = Output {
        status,
        stdout,
        stderr,
        duration: start.elapsed(),
        host: host.to_owned(),
        argv,
    };
    tracing::debug!(host, argv = ?output.argv, duration = ?output.duration,
        code = output.status.code, signal = output.status.signal, "command finished");
    Ok(output)
}

/// Kills the child (if still running) and builds the timeout error.
fn timed_out(host: &str, argv: Vec<String>, spec: &CommandSpec, guard: KillOnDrop) -> ExecError {
    tracing::warn!(host, argv = ?argv, label = spec.label.as_deref(), timeout = ?spec.timeout,
        "command timed out; killing it");
    drop(guard);
    ExecError::Timeout {
        host: host.to_owned(),
        argv,
        after: spec.timeout,
    }
}

/// Polls the child until it exits or `deadline` passes (`Ok(None)`).
fn wait_until(child: &mut Child, deadline: Instant) -> io::Result<Option<ExitStatusLike>> {
    let mut pause = Duration::from_millis(1);
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status.into()));
        }
        let now = Instant::now();
        if now >= deadline {
            return Ok(None);
        }
        thread::sleep(pause.min(deadline - now));
        pause = (pause * 2).min(MAX_POLL);
    }
}

/// The reader/writer threads attached to a child's pipes.
struct Pipes {
    stdout: Receiver<io::Result<Vec<u8>>>,
    stderr: Receiver<io::Result<String>>,
}

impl Pipes {
    /// Starts one thread per pipe; threads are detached and end when their pipe closes.
    fn start(child: &mut Child, spec: &CommandSpec) -> Self {
        if let (Some(mut pipe), Some(bytes)) = (child.stdin.take(), spec.stdin.clone()) {
            // A child that exits without reading all of stdin gives EPIPE; that is its
            // business and shows up in its exit status, so the write result is ignored.
            thread::spawn(move || {
                let _ = pipe.write_all(&bytes);
            });
        }
        let (stdout_tx, stdout) = mpsc::sync_channel(1);
        if let Some(mut pipe) = child.stdout.take() {
            thread::spawn(move || {
                let mut buf = Vec::new();
                let _ = stdout_tx.send(pipe.read_to_end(&mut buf).map(|_| buf));
            });
        }
        let (stderr_tx, stderr) = mpsc::sync_channel(1);
        if let Some(mut pipe) = child.stderr.take() {
            let limit = spec.max_stderr;
            thread::spawn(move || {
                let _ = stderr_tx.send(read_bounded(&mut pipe, limit));
            });
        }
        Self { stdout, stderr }
    }

    /// Waits for both readers until `deadline`; `Ok(None)` if they did not finish in time.
    fn collect(self, deadline: Instant) -> io::Result<Option<(Vec<u8>, String)>> {
        let Some(stdout) = recv_until(&self.stdout, deadline)? else {
            return Ok(None);
        };
        let Some(stderr) = recv_until(&self.stderr, deadline)? else {
            return Ok(None);
        };
        Ok(Some((stdout, stderr)))
    }
}

fn recv_until<T>(rx: &Receiver<io::Result<T>>, deadline: Instant) -> io::Result<Option<T>> {
    let remaining = deadline.saturating_duration_since(Instant::now());
    match rx.recv_timeout(remaining) {
        Ok(result) => result.map(Some),
        Err(RecvTimeoutError::Timeout) => Ok(None),
        Err(RecvTimeoutError::Disconnected) => Err(io::Error::other("pipe reader thread died")),
    }
}

/// Reads a stream to its end, keeping at most `limit` bytes (head and tail).
fn read_bounded(reader: &mut impl Read, limit: usize) -> io::Result<String> {
    let mut buf = BoundedBuf::new(limit);
    let mut chunk = [0u8; 8192];
    loop {
        match reader.read(&mut chunk) {
            Ok(0) => return Ok(buf.into_string()),
            Ok(n) => buf.push(&chunk[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}
