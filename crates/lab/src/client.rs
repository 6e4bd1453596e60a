//! The host side of the control channel: run one command in the guest.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use crate::protocol::{ExitReport, Frame, PingReply, Request, read_frame};

/// What can go wrong talking to the guest.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot reach the lab agent at {addr}: {source} (is the lab up? try `zferry-lab up`)")]
    Connect { addr: SocketAddr, source: io::Error },
    #[error("lab connection to {addr} failed: {source}")]
    Io { addr: SocketAddr, source: io::Error },
    #[error("the lab agent refused the command: {0}")]
    Agent(String),
    #[error("the lab agent closed the connection before reporting an exit status")]
    NoExit,
}

/// Where the sinks for the command's output go.
pub trait OutputSink {
    fn stdout(&mut self, data: &[u8]);
    fn stderr(&mut self, data: &[u8]);
}

/// Forwards the guest command's output to this process's stdout/stderr as it arrives.
#[derive(Debug, Default)]
pub struct Passthrough;

impl OutputSink for Passthrough {
    fn stdout(&mut self, data: &[u8]) {
        let mut out = io::stdout().lock();
        let _ = out.write_all(data);
        let _ = out.flush();
    }
    fn stderr(&mut self, data: &[u8]) {
        let _ = io::stderr().lock().write_all(data);
    }
}

/// Collects the guest command's output in memory.
#[derive(Debug, Default, Clone)]
pub struct Captured {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl OutputSink for Captured {
    fn stdout(&mut self, data: &[u8]) {
        self.stdout.extend_from_slice(data);
    }
    fn stderr(&mut self, data: &[u8]) {
        self.stderr.extend_from_slice(data);
    }
}

/// A handle on a running lab guest's agent.
#[derive(Debug, Clone, Copy)]
pub struct Client {
    addr: SocketAddr,
}

impl Client {
    pub fn new(addr: SocketAddr) -> Self {
        Self { addr }
    }

    /// Asks the agent whether the guest is ready.
    pub fn ping(&self, timeout: Duration) -> Result<PingReply, ClientError> {
        let mut out = Captured::default();
        self.request(&Request::Ping, &mut out, Some(timeout))?;
        serde_json::from_slice(&out.stdout)
            .map_err(|e| ClientError::Agent(format!("bad ping reply: {e}")))
    }

    /// Runs `argv` in the guest, streaming its output into `sink`.
    pub fn exec(
        &self,
        argv: &[String],
        cwd: Option<&str>,
        env: BTreeMap<String, String>,
        sink: &mut dyn OutputSink,
    ) -> Result<ExitReport, ClientError> {
        let request = Request::Exec {
            argv: argv.to_vec(),
            cwd: cwd.map(str::to_owned),
            env,
        };
        self.request(&request, sink, None)
    }

    fn request(
        &self,
        request: &Request,
        sink: &mut dyn OutputSink,
        timeout: Option<Duration>,
    ) -> Result<ExitReport, ClientError> {
        let addr = self.addr;
        let io_err = |source| ClientError::Io { addr, source };
        let mut stream = match timeout {
            Some(t) => TcpStream::connect_timeout(&addr, t),
            None => TcpStream::connect(addr),
        }
        .map_err(|source| ClientError::Connect { addr, source })?;
        stream.set_read_timeout(timeout).map_err(io_err)?;
        stream.set_nodelay(true).map_err(io_err)?;
        let mut line = serde_json::to_vec(request).map_err(|e| io_err(io::Error::other(e)))?;
        line.push(b'\n');
        stream.write_all(&line).map_err(io_err)?;
        loop {
            match read_frame(&mut stream).map_err(io_err)? {
                Some(Frame::Stdout(d)) => sink.stdout(&d),
                Some(Frame::Stderr(d)) => sink.stderr(&d),
                Some(Frame::Exit(report)) => return Ok(report),
                Some(Frame::Error(msg)) => return Err(ClientError::Agent(msg)),
                None => return Err(ClientError::NoExit),
            }
        }
    }
}
