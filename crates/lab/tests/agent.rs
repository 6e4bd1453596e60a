//! The agent and client over real TCP on the host (no VM needed): output and exit status
//! come back intact, and a client that hangs up takes its command down with it.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::collections::BTreeMap;
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use zferry_lab::client::{Captured, Client};
use zferry_lab::protocol::{Frame, Request, read_frame};

fn start_agent() -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || zferry_lab::agent::serve_on(&listener));
    addr
}

fn argv(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| (*w).to_owned()).collect()
}

#[test]
fn exec_returns_stdout_stderr_and_status() {
    let client = Client::new(start_agent());
    let mut out = Captured::default();
    let report = client
        .exec(
            &argv(&["bash", "-c", "echo out; echo err >&2; exit 7"]),
            Some("/"),
            BTreeMap::new(),
            &mut out,
        )
        .unwrap();
    assert_eq!(report.code, Some(7));
    assert_eq!(out.stdout, b"out\n");
    assert_eq!(out.stderr, b"err\n");
}

#[test]
fn exec_carries_cwd_and_env() {
    let client = Client::new(start_agent());
    let mut out = Captured::default();
    let env = BTreeMap::from([("ZFERRY_T".to_owned(), "v 1".to_owned())]);
    let report = client
        .exec(
            &argv(&["bash", "-c", "pwd; echo \"$ZFERRY_T\""]),
            Some("/usr"),
            env,
            &mut out,
        )
        .unwrap();
    assert_eq!(report.code, Some(0));
    assert_eq!(String::from_utf8(out.stdout).unwrap(), "/usr\nv 1\n");
}

#[test]
fn large_output_arrives_whole() {
    let client = Client::new(start_agent());
    let mut out = Captured::default();
    client
        .exec(
            &argv(&["head", "-c", "3000000", "/dev/zero"]),
            None,
            BTreeMap::new(),
            &mut out,
        )
        .unwrap();
    assert_eq!(out.stdout.len(), 3_000_000);
}

#[test]
fn a_missing_program_is_an_agent_error_not_a_hang() {
    let client = Client::new(start_agent());
    let err = client
        .exec(
            &argv(&["/nonexistent/prog"]),
            None,
            BTreeMap::new(),
            &mut Captured::default(),
        )
        .unwrap_err();
    assert!(err.to_string().contains("/nonexistent/prog"), "{err}");
}

#[test]
fn hanging_up_kills_the_command() {
    let addr = start_agent();
    let mut stream = TcpStream::connect(addr).unwrap();
    let request = Request::Exec {
        argv: argv(&["bash", "-c", "echo $$; exec sleep 60"]),
        cwd: None,
        env: BTreeMap::new(),
    };
    let mut line = serde_json::to_vec(&request).unwrap();
    line.push(b'\n');
    stream.write_all(&line).unwrap();
    let Some(Frame::Stdout(pid)) = read_frame(&mut stream).unwrap() else {
        panic!("expected the pid")
    };
    let pid = String::from_utf8(pid).unwrap().trim().to_owned();
    assert!(Path::new(&format!("/proc/{pid}")).exists());
    drop(stream);
    let deadline = Instant::now() + Duration::from_secs(10);
    while Path::new(&format!("/proc/{pid}")).exists() && !is_zombie(&pid) {
        assert!(
            Instant::now() < deadline,
            "command {pid} outlived its client"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn is_zombie(pid: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z')
    })
}
