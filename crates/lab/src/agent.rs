//! The guest side of the lab: serves [`Request`]s on a TCP port, one connection per command.
//!
//! Each command runs in its own process group with stdin from /dev/null; its stdout and
//! stderr are streamed back as they come. When the client disconnects before the command
//! ends (the caller went away, e.g. a test runner was interrupted), the whole process group
//! is killed so nothing keeps running against the pools.

use std::io::{BufRead, BufReader, Read};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

use crate::protocol::{ExitReport, Frame, MAX_REQUEST, PingReply, Request, write_frame};

/// Binds `listen` and serves forever.
pub fn serve(listen: &str) -> std::io::Result<()> {
    let listener = TcpListener::bind(listen)?;
    eprintln!("zferry-lab agent: listening on {listen}");
    serve_on(&listener)
}

/// Accepts connections on `listener` forever; one thread per command.
pub fn serve_on(listener: &TcpListener) -> std::io::Result<()> {
    for stream in listener.incoming() {
        match stream {
            Ok(stream) => {
                thread::spawn(move || {
                    if let Err(e) = handle(&stream) {
                        eprintln!("zferry-lab agent: connection error: {e}");
                    }
                });
            }
            Err(e) => eprintln!("zferry-lab agent: accept failed: {e}"),
        }
    }
    Ok(())
}

fn handle(stream: &TcpStream) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    let mut line = Vec::new();
    BufReader::new(stream.try_clone()?)
        .take(MAX_REQUEST as u64)
        .read_until(b'\n', &mut line)?;
    let writer = Arc::new(Mutex::new(stream.try_clone()?));
    let request: Request = match serde_json::from_slice(&line) {
        Ok(r) => r,
        Err(e) => return send(&writer, &Frame::Error(format!("bad request: {e}"))),
    };
    match request {
        Request::Ping => {
            let reply = PingReply {
                kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                    .unwrap_or_default()
                    .trim()
                    .to_owned(),
                zfs_loaded: std::path::Path::new("/dev/zfs").exists(),
            };
            send(&writer, &Frame::Stdout(serde_json::to_vec(&reply)?))?;
            send(
                &writer,
                &Frame::Exit(ExitReport {
                    code: Some(0),
                    signal: None,
                }),
            )
        }
        Request::Exec { argv, cwd, env } => run(stream, &writer, &argv, cwd.as_deref(), &env),
    }
}

fn send(writer: &Mutex<TcpStream>, frame: &Frame) -> std::io::Result<()> {
    let mut w = writer
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    write_frame(&mut *w, frame)
}

fn run(
    stream: &TcpStream,
    writer: &Arc<Mutex<TcpStream>>,
    argv: &[String],
    cwd: Option<&str>,
    env: &std::collections::BTreeMap<String, String>,
) -> std::io::Result<()> {
    let Some((program, rest)) = argv.split_first() else {
        return send(writer, &Frame::Error("empty argv".into()));
    };
    let mut cmd = Command::new(program);
    cmd.args(rest)
        .envs(env)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    if let Some(dir) = cwd {
        cmd.current_dir(dir);
    }
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return send(writer, &Frame::Error(format!("cannot run {program}: {e}"))),
    };
    let pgid = child.id();
    let pumps = [
        pump(child.stdout.take(), writer, Frame::Stdout),
        pump(child.stderr.take(), writer, Frame::Stderr),
    ];
    let finished = Arc::new(AtomicBool::new(false));
    let watchdog = watch_for_hangup(stream.try_clone()?, pgid, Arc::clone(&finished));
    let status = child.wait()?;
    finished.store(true, Ordering::SeqCst);
    for p in pumps {
        let _ = p.join();
    }
    let report = ExitReport {
        code: status.code(),
        signal: status.signal(),
    };
    let sent = send(writer, &Frame::Exit(report));
    let _ = stream.shutdown(Shutdown::Both);
    let _ = watchdog.join();
    sent
}

fn pump<R: Read + Send + 'static>(
    source: Option<R>,
    writer: &Arc<Mutex<TcpStream>>,
    wrap: fn(Vec<u8>) -> Frame,
) -> thread::JoinHandle<()> {
    let writer = Arc::clone(writer);
    thread::spawn(move || {
        let Some(mut source) = source else { return };
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match source.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    if send(&writer, &wrap(buf[..n].to_vec())).is_err() {
                        return;
                    }
                }
            }
        }
    })
}

/// The client never writes after its request: a read returning before the command finished
/// means it hung up, and the command's process group must not outlive the connection.
fn watch_for_hangup(
    mut stream: TcpStream,
    pgid: u32,
    finished: Arc<AtomicBool>,
) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        let mut byte = [0u8; 1];
        let _ = stream.read(&mut byte);
        if !finished.load(Ordering::SeqCst) {
            eprintln!("zferry-lab agent: client hung up; killing process group {pgid}");
            kill_group(pgid);
        }
    })
}

fn kill_group(pgid: u32) {
    if let Ok(pgid) = i32::try_from(pgid) {
        // Best effort: the group may already be gone.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{pgid}")])
            .stderr(Stdio::null())
            .status();
    }
}
