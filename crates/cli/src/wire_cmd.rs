//! `zferry wire compress|decompress -- <zfs argv>`: the remote end of a compressed stream.
//!
//! The replication engine sends this shape to a remote node when a job has
//! `compress = "zstd"`. Under `zferry serve --stdio` serve authorizes it and calls [`pump`];
//! on a node reached as plain root the remote shell starts `zferry wire` itself, which checks
//! the same argv shapes (not the node's jobs: that account may run anything anyway) and calls
//! [`pump`]. zstd runs here, in-process: the node needs no `zstd` program.
//!
//! `compress` runs the `zfs send` with its stdout into zstd and out on our stdout; `decompress`
//! runs the `zfs receive` with zstd's output on its stdin. `zfs`'s stderr is ours (the
//! sender's `-v -P` progress reaches the initiating node unchanged). The exit status is
//! `zfs`'s; when `zfs` succeeded but the stream could not be moved, 1 with one line on
//! stderr naming the node and the command.

use std::fs::File;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};

use anyhow::{Context, Result};
use zferry_repl_run::relay::{Codec, RelaySpec, WIRE_LEVEL, relay};
use zferry_serve::{Refusal, Request, WireMode};

use crate::cli::{WireArgs, WireModeArg};

/// Where `zfs` is looked for: sshd's forced command may run with a minimal PATH.
const ZFS_PATHS: [&str; 4] = ["/usr/sbin/zfs", "/sbin/zfs", "/usr/bin/zfs", "/bin/zfs"];

/// The `zfs` binary.
pub fn zfs_path() -> Result<PathBuf> {
    ZFS_PATHS
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .with_context(|| format!("no zfs binary in {}", ZFS_PATHS.join(", ")))
}

/// `zferry wire …` started by a remote shell.
pub fn run(args: &WireArgs) -> Result<u8> {
    let mode = match args.mode {
        WireModeArg::Compress => "compress",
        WireModeArg::Decompress => "decompress",
    };
    let mut words = vec!["zferry".to_owned(), "wire".to_owned(), mode.to_owned()];
    words.push("--".to_owned());
    words.extend(args.argv.iter().cloned());
    match Request::parse(&words) {
        Ok(request @ Request::Wire { .. }) => pump(&request),
        Ok(_) => unreachable!("`zferry wire` parses only as a wire request"),
        Err(refusal) => {
            eprintln!("zferry wire: refused: {refusal}");
            Ok(crate::serve_cmd::REFUSED)
        }
    }
}

/// Runs the wrapped `zfs` of a [`Request::Wire`] with zstd on its stream.
pub fn pump(request: &Request) -> Result<u8> {
    let Request::Wire { mode, inner } = request else {
        return Err(anyhow::anyhow!(Refusal::Wire(format!(
            "not a wire request: {request}"
        ))));
    };
    let zfs = zfs_path()?;
    let args = inner.zfs_args();
    let host = zferry_exec::system_hostname();
    tracing::debug!(%request, "wire: running");
    let (status, moved) = match mode {
        WireMode::Compress => compress(&zfs, &args)?,
        WireMode::Decompress => decompress(&zfs, &args)?,
    };
    if let Err(e) = &moved
        && (status.success() || !e.is_peer_gone())
    {
        eprintln!("zferry wire on {host}: `{inner}`: {e}");
    }
    Ok(match (status.success(), moved) {
        (false, _) => exit_code(status),
        (true, Ok(())) => crate::exit::OK,
        (true, Err(_)) => crate::exit::PROBLEM,
    })
}

type Moved = std::result::Result<(), zferry_repl_run::relay::RelayError>;

/// `zfs send` → zstd → stdout.
fn compress(zfs: &Path, args: &[String]) -> Result<(ExitStatus, Moved)> {
    let mut child = Command::new(zfs)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot run {}", zfs.display()))?;
    let from = child.stdout.take().expect("stdout was piped");
    let to = own(std::io::stdout().as_fd())?;
    let moved = relay(
        from,
        to,
        RelaySpec {
            codec: Codec::Compress(WIRE_LEVEL),
            limit: None,
        },
    );
    if moved.is_err() {
        // Our stdout is gone (ssh closed): the send has nowhere to go.
        let _ = child.kill();
    }
    let status = child.wait().context("waiting for zfs send")?;
    Ok((status, moved.map(drop)))
}

/// stdin → unzstd → `zfs receive`.
fn decompress(zfs: &Path, args: &[String]) -> Result<(ExitStatus, Moved)> {
    let mut child = Command::new(zfs)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .with_context(|| format!("cannot run {}", zfs.display()))?;
    let to = child.stdin.take().expect("stdin was piped");
    let from = own(std::io::stdin().as_fd())?;
    // A cut or damaged stream closes the receive's stdin: zfs reports the incomplete
    // stream and keeps its resumable state.
    let moved = relay(
        from,
        to,
        RelaySpec {
            codec: Codec::Decompress,
            limit: None,
        },
    );
    let status = child.wait().context("waiting for zfs receive")?;
    Ok((status, moved.map(drop)))
}

/// An unbuffered file on one of our standard descriptors.
fn own(fd: std::os::fd::BorrowedFd<'_>) -> Result<File> {
    Ok(File::from(
        fd.try_clone_to_owned()
            .context("duplicating a standard descriptor")?,
    ))
}

/// `zfs`'s exit code, or 128 + the signal that ended it.
fn exit_code(status: ExitStatus) -> u8 {
    use std::os::unix::process::ExitStatusExt;
    let code = status
        .code()
        .or_else(|| status.signal().map(|s| 128 + s))
        .unwrap_or(1);
    u8::try_from(code).unwrap_or(1)
}
