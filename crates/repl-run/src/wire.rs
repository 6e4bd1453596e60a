//! How a stream crosses the wire (pure): where it is compressed and decompressed, and
//! whether a relay thread must touch it.
//!
//! zstd runs inside zferry on both ends, never as a separate program: on the initiating node
//! in the relay ([`crate::relay`]), on a remote node as `zferry wire compress -- <zfs send …>`
//! or `zferry wire decompress -- <zfs recv …>`. Under `zferry serve --stdio` those two
//! shapes are served around exactly the `zfs` argv serve would serve on its own; on a node
//! reached as plain root they run through the remote shell, so `zferry` must be in its
//! `PATH`. The remote argv is an argv like every other, quoted by `shell_join` only.
//!
//! | pair | send side | wire | receive side |
//! |---|---|---|---|
//! | push (local → ssh) | `zfs send` → relay: zstd + limit | zstd | `zferry wire decompress -- zfs recv` |
//! | pull (ssh → local) | `zferry wire compress -- zfs send` | zstd | relay: limit + unzstd → `zfs recv` |
//! | local (same node) | `zfs send` | kernel pipe, or relay: limit only | `zfs recv` |
//!
//! A local pair is never compressed (nothing crosses a network); its limit, if set, still
//! applies, since admins also use it to spare the disks.

use std::fmt::Write as _;

use zferry_exec::CommandSpec;

use crate::relay::{Codec, RelaySpec, WIRE_LEVEL};

/// The program word of the remote wrappers (looked up in the remote `PATH`; serve matches
/// this word and does the work itself).
pub const WIRE_PROGRAM: &str = "zferry";
/// The subcommand of the remote wrappers.
pub const WIRE_SUBCOMMAND: &str = "wire";
/// `zferry wire compress -- <zfs send …>`: run the send, compress its stdout.
pub const COMPRESS: &str = "compress";
/// `zferry wire decompress -- <zfs recv …>`: decompress stdin into the receive.
pub const DECOMPRESS: &str = "decompress";

/// A job's wire settings (`compress`, `bandwidth-limit`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WireOptions {
    /// zstd on the wire for pairs that cross ssh.
    pub compress: bool,
    /// Wire bytes per second, for every pair.
    pub limit: Option<u64>,
}

/// The two commands to run and the relay between them, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WirePlan {
    pub send: CommandSpec,
    pub recv: CommandSpec,
    /// `None`: the kernel pipes the sender's stdout straight into the receiver.
    pub relay: Option<RelaySpec>,
}

/// Wraps `inner` as `zferry wire <mode> -- <inner argv>`.
pub fn wrapped(mode: &str, inner: &CommandSpec) -> CommandSpec {
    let mut cmd = CommandSpec::new(WIRE_PROGRAM)
        .args([WIRE_SUBCOMMAND, mode, "--"])
        .args(inner.argv())
        .timeout(inner.timeout)
        .max_stderr(inner.max_stderr);
    cmd.label.clone_from(&inner.label);
    cmd
}

/// Plans one transfer of `send` into `recv` given which ends run over ssh.
pub fn plan(
    send: &CommandSpec,
    recv: &CommandSpec,
    source_remote: bool,
    target_remote: bool,
    opts: WireOptions,
) -> WirePlan {
    let compress = opts.compress && (source_remote || target_remote);
    let send = if compress && source_remote {
        wrapped(COMPRESS, send)
    } else {
        send.clone()
    };
    let recv = if compress && target_remote {
        wrapped(DECOMPRESS, recv)
    } else {
        recv.clone()
    };
    let codec = match (compress, source_remote, target_remote) {
        (true, false, true) => Codec::Compress(WIRE_LEVEL),
        (true, true, false) => Codec::Decompress,
        _ => Codec::Copy,
    };
    let relay = (codec != Codec::Copy || opts.limit.is_some()).then_some(RelaySpec {
        codec,
        limit: opts.limit,
    });
    WirePlan { send, recv, relay }
}

/// The plan line for a pair (`None` when the stream goes as it always did: piped, full
/// speed, uncompressed).
pub fn describe(opts: WireOptions, crosses_ssh: bool) -> Option<String> {
    let compress = opts.compress && crosses_ssh;
    if !compress && opts.limit.is_none() {
        return None;
    }
    let mut line = String::from("wire:");
    if compress {
        let _ = write!(line, " zstd level {WIRE_LEVEL} over ssh");
    } else if opts.compress {
        line.push_str(" local pipe, not compressed");
    } else {
        line.push_str(" not compressed");
    }
    if let Some(limit) = opts.limit {
        let _ = write!(line, ", limited to {}/s", zferry_config::ByteSize(limit));
    }
    Some(line)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use zferry_exec::shell_join;

    fn send() -> CommandSpec {
        CommandSpec::new("zfs")
            .args(["send", "-v", "-P", "tank/my data@a"])
            .label("send")
    }

    fn recv() -> CommandSpec {
        CommandSpec::new("zfs").args(["recv", "-s", "-u", "backup/my data"])
    }

    const ZSTD: WireOptions = WireOptions {
        compress: true,
        limit: None,
    };

    #[test]
    fn push_compresses_here_and_decompresses_there() {
        let p = plan(&send(), &recv(), false, true, ZSTD);
        assert_eq!(p.send, send());
        assert_eq!(
            p.recv.argv(),
            [
                "zferry",
                "wire",
                "decompress",
                "--",
                "zfs",
                "recv",
                "-s",
                "-u",
                "backup/my data"
            ]
        );
        assert_eq!(
            p.relay,
            Some(RelaySpec {
                codec: Codec::Compress(3),
                limit: None
            })
        );
    }

    #[test]
    fn pull_compresses_there_and_decompresses_here() {
        let opts = WireOptions {
            compress: true,
            limit: Some(2 << 20),
        };
        let p = plan(&send(), &recv(), true, false, opts);
        assert_eq!(p.recv, recv());
        assert_eq!(
            p.send.argv()[..5],
            ["zferry", "wire", "compress", "--", "zfs"]
        );
        assert_eq!(p.send.label.as_deref(), Some("send"));
        assert_eq!(
            p.relay,
            Some(RelaySpec {
                codec: Codec::Decompress,
                limit: Some(2 << 20)
            })
        );
    }

    #[test]
    fn local_pairs_are_never_compressed_and_relay_only_for_a_limit() {
        let p = plan(&send(), &recv(), false, false, ZSTD);
        assert_eq!((p.send, p.recv, p.relay), (send(), recv(), None));
        let limited = WireOptions {
            compress: true,
            limit: Some(1000),
        };
        let p = plan(&send(), &recv(), false, false, limited);
        assert_eq!(
            p.relay,
            Some(RelaySpec {
                codec: Codec::Copy,
                limit: Some(1000)
            })
        );
        let off = plan(&send(), &recv(), false, true, WireOptions::default());
        assert_eq!((off.recv, off.relay), (recv(), None));
    }

    #[test]
    fn both_ends_remote_pass_the_compressed_stream_through_the_kernel() {
        let p = plan(&send(), &recv(), true, true, ZSTD);
        assert_eq!(p.send.argv()[2], "compress");
        assert_eq!(p.recv.argv()[2], "decompress");
        assert_eq!(p.relay, None);
    }

    #[test]
    fn wrapped_argv_survives_the_quoting_round_trip() {
        let p = plan(&send(), &recv(), true, true, ZSTD);
        for cmd in [p.send, p.recv] {
            let argv = cmd.argv();
            let line = shell_join(&argv).unwrap();
            assert!(line.starts_with("zferry wire "), "{line}");
            assert!(line.contains("'tank/my data@a'") || line.contains("'backup/my data'"));
        }
    }

    #[test]
    fn plan_lines_name_compression_and_limit() {
        assert_eq!(describe(WireOptions::default(), true), None);
        assert_eq!(describe(ZSTD, false), None);
        assert_eq!(
            describe(ZSTD, true).as_deref(),
            Some("wire: zstd level 3 over ssh")
        );
        let limited = WireOptions {
            compress: true,
            limit: Some(2 << 20),
        };
        assert_eq!(
            describe(limited, true).as_deref(),
            Some("wire: zstd level 3 over ssh, limited to 2M/s")
        );
        assert_eq!(
            describe(limited, false).as_deref(),
            Some("wire: local pipe, not compressed, limited to 2M/s")
        );
    }
}
