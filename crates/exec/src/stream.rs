//! Streaming processes: a command whose stdin/stdout the caller wires to files or to another
//! process, for pipelines such as `zfs send | zfs recv` that must not pass through zferry's
//! memory.
//!
//! [`spawn`] starts the command where its [`Executor`] would run it (locally, or through
//! `ssh`), with the caller's stdin and stdout. Passing one child's [`ChildStdout`] as the next
//! child's stdin makes the kernel pipe the data directly: zero copies in zferry, the same
//! path as a shell pipeline. Stderr is read line by line on a thread: each line goes to an
//! optional observer (progress parsing) and, unless the observer consumes it, into the
//! bounded capture that ends up in [`Output::stderr`].
//!
//! There is no timeout: a stream runs as long as the data takes. A dead peer is detected by
//! the pipes (EPIPE/EOF) and, over ssh, by the keep-alives. Dropping a [`Spawned`] kills it.

use std::io::{self, BufRead, BufReader};
use std::process::{ChildStdin, ChildStdout, Command, Stdio};
use std::thread::{self, JoinHandle};
use std::time::Instant;

use crate::bounded::BoundedBuf;
use crate::kill_on_drop::{KillOnDrop, set_parent_death_signal};
use crate::ssh::classify_ssh_output;
use crate::{CommandSpec, ExecError, Executor, ExitStatusLike, Output};

/// Sees every stderr line (without its newline); returns `true` to keep it in the capture.
pub type LineObserver = Box<dyn FnMut(&str) -> bool + Send>;

/// A running streaming command.
#[derive(Debug)]
pub struct Spawned {
    host: String,
    argv: Vec<String>,
    remote: bool,
    guard: KillOnDrop,
    stderr: Option<JoinHandle<io::Result<String>>>,
    started: Instant,
}

/// Starts `cmd` on `exec`'s host with the given stdin and stdout.
///
/// `cmd.stdin` bytes and `cmd.timeout` are ignored: the caller owns the streams.
pub fn spawn(
    exec: &dyn Executor,
    cmd: &CommandSpec,
    stdin: Stdio,
    stdout: Stdio,
    observer: Option<LineObserver>,
) -> Result<Spawned, ExecError> {
    let host = exec.host().to_owned();
    let argv = cmd.argv();
    let local = exec.process_argv(cmd)?;
    tracing::debug!(host, argv = ?argv, local_argv = ?local, label = cmd.label.as_deref(),
        "starting streaming command");
    let (program, rest) = local.split_first().ok_or_else(|| ExecError::Spawn {
        host: host.clone(),
        program: String::new(),
        source: io::Error::new(io::ErrorKind::InvalidInput, "empty argv"),
    })?;
    let mut command = Command::new(program);
    command
        .args(rest)
        .stdin(stdin)
        .stdout(stdout)
        .stderr(Stdio::piped());
    if !exec.is_remote() {
        command.envs(cmd.env.iter().map(|(k, v)| (k, v)));
    }
    set_parent_death_signal(&mut command);
    let mut child = command.spawn().map_err(|source| ExecError::Spawn {
        host: host.clone(),
        program: program.clone(),
        source,
    })?;
    let stderr = child.stderr.take().map(|pipe| {
        let limit = cmd.max_stderr;
        thread::spawn(move || read_lines(pipe, limit, observer))
    });
    Ok(Spawned {
        host,
        argv,
        remote: exec.is_remote(),
        guard: KillOnDrop::new(child),
        stderr,
        started: Instant::now(),
    })
}

impl Spawned {
    /// The local process id (of `ssh` for a remote command).
    pub fn pid(&self) -> u32 {
        self.guard.id()
    }

    /// The stdout pipe, when spawned with `Stdio::piped()`; hand it to the next process.
    pub fn take_stdout(&mut self) -> Option<ChildStdout> {
        self.guard.child_mut().stdout.take()
    }

    /// The stdin pipe, when spawned with `Stdio::piped()`; write the stream into it.
    pub fn take_stdin(&mut self) -> Option<ChildStdin> {
        self.guard.child_mut().stdin.take()
    }

    /// Kills the process (SIGKILL); `wait` then reports the signal.
    pub fn kill(&mut self) {
        let _ = self.guard.child_mut().kill();
    }

    /// Waits for the exit. A non-zero exit is `Ok` (check it with [`Output::check`]); over
    /// ssh, ssh's own failure (255) is [`ExecError::Transport`].
    pub fn wait(mut self) -> Result<Output, ExecError> {
        let io_err = |s: &Self, context: &'static str, source: io::Error| ExecError::Io {
            host: s.host.clone(),
            argv: s.argv.clone(),
            context,
            source,
        };
        let status = match self.guard.child_mut().wait() {
            Ok(status) => ExitStatusLike::from(status),
            Err(e) => return Err(io_err(&self, "waiting for exit", e)),
        };
        let stderr = match self.stderr.take().map(JoinHandle::join) {
            None => String::new(),
            Some(Ok(Ok(text))) => text,
            Some(Ok(Err(e))) => return Err(io_err(&self, "reading stderr", e)),
            Some(Err(_)) => {
                return Err(io_err(
                    &self,
                    "reading stderr",
                    io::Error::other("stderr reader panicked"),
                ));
            }
        };
        let output = Output {
            status,
            stdout: Vec::new(),
            stderr,
            duration: self.started.elapsed(),
            host: self.host.clone(),
            argv: self.argv.clone(),
        };
        tracing::debug!(host = output.host, argv = ?output.argv, duration = ?output.duration,
            code = output.status.code, signal = output.status.signal, "streaming command finished");
        if self.remote {
            classify_ssh_output(output)
        } else {
            Ok(output)
        }
    }
}

/// Reads stderr line by line (`\n` or `\r` ends a line), feeding the observer and keeping
/// what it does not consume.
fn read_lines(
    pipe: impl io::Read,
    limit: usize,
    mut observer: Option<LineObserver>,
) -> io::Result<String> {
    let mut reader = BufReader::new(pipe);
    let mut kept = BoundedBuf::new(limit);
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = read_line(&mut reader, &mut line)?;
        if n == 0 {
            return Ok(kept.into_string());
        }
        let text = String::from_utf8_lossy(&line);
        let body = text.trim_end_matches(['\n', '\r']);
        let keep = observer.as_mut().is_none_or(|see| see(body));
        if keep {
            kept.push(&line);
        }
    }
}

/// Appends bytes up to and including the next `\n` or `\r`; returns how many were read.
fn read_line(reader: &mut impl BufRead, line: &mut Vec<u8>) -> io::Result<usize> {
    let mut total = 0;
    loop {
        let buf = match reader.fill_buf() {
            Ok(buf) => buf,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if buf.is_empty() {
            return Ok(total);
        }
        let (take, done) = match buf.iter().position(|&b| b == b'\n' || b == b'\r') {
            Some(i) => (i + 1, true),
            None => (buf.len(), false),
        };
        line.extend_from_slice(&buf[..take]);
        reader.consume(take);
        total += take;
        if done {
            return Ok(total);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::LocalExecutor;

    #[test]
    fn pipes_one_process_into_another_without_copying_through_zferry() {
        let exec = LocalExecutor::with_host("here");
        let mut producer = spawn(
            &exec,
            &CommandSpec::new("printf").arg("a\\nb\\nc\\n"),
            Stdio::null(),
            Stdio::piped(),
            None,
        )
        .unwrap();
        let pipe = producer.take_stdout().unwrap();
        let dir = tempfile_dir();
        let out = dir.join("out");
        let consumer = spawn(
            &exec,
            &CommandSpec::new("sh")
                .arg("-c")
                .arg("cat > \"$1\"")
                .arg("sh")
                .arg(out.display().to_string()),
            Stdio::from(pipe),
            Stdio::null(),
            None,
        )
        .unwrap();
        assert!(producer.wait().unwrap().success());
        assert!(consumer.wait().unwrap().success());
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "a\nb\nc\n");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn observer_sees_every_line_and_consumed_lines_are_not_captured() {
        let exec = LocalExecutor::with_host("here");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&seen);
        let observer: LineObserver = Box::new(move |line| {
            sink.lock().unwrap().push(line.to_owned());
            !line.starts_with("progress")
        });
        let child = spawn(
            &exec,
            &CommandSpec::new("sh")
                .arg("-c")
                .arg("printf 'progress 1\\rprogress 2\\nreal error\\n' >&2; exit 3"),
            Stdio::null(),
            Stdio::null(),
            Some(observer),
        )
        .unwrap();
        let out = child.wait().unwrap();
        assert_eq!(out.status.code, Some(3));
        assert_eq!(out.stderr, "real error\n");
        assert_eq!(
            *seen.lock().unwrap(),
            ["progress 1", "progress 2", "real error"]
        );
        assert!(out.check().is_err());
    }

    #[test]
    fn killed_process_reports_the_signal() {
        let exec = LocalExecutor::with_host("here");
        let mut child = spawn(
            &exec,
            &CommandSpec::new("sleep").arg("30"),
            Stdio::null(),
            Stdio::null(),
            None,
        )
        .unwrap();
        child.kill();
        let out = child.wait().unwrap();
        assert_eq!(out.status.signal, Some(libc::SIGKILL));
    }

    #[test]
    fn missing_program_is_a_spawn_error_naming_the_host() {
        let exec = LocalExecutor::with_host("nodeA");
        let err = spawn(
            &exec,
            &CommandSpec::new("/nonexistent/zfs"),
            Stdio::null(),
            Stdio::null(),
            None,
        )
        .unwrap_err();
        assert!(err.to_string().contains("nodeA"), "{err}");
    }

    fn tempfile_dir() -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "zferry-stream-{}-{:?}",
            std::process::id(),
            thread::current().id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
