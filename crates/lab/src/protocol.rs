//! The lab's control channel: one TCP connection per command.
//!
//! The host connects to a port that qemu forwards into the guest, writes one JSON
//! [`Request`] line, and reads [`Frame`]s back until an exit or error frame. Closing the
//! connection early tells the agent the caller went away: it kills the command.
//! Frames are `kind: u8, len: u32 big-endian, payload`; payloads are bounded by
//! [`MAX_FRAME`] so neither side allocates on a peer's word alone.

use std::collections::BTreeMap;
use std::io::{self, Read, Write};

use serde::{Deserialize, Serialize};

/// Largest payload either side accepts in one frame.
pub const MAX_FRAME: u32 = 1 << 20;
/// Largest request line the agent accepts.
pub const MAX_REQUEST: usize = 1 << 20;

/// What the host asks the guest to do.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "op", rename_all = "kebab-case")]
pub enum Request {
    /// Report readiness: kernel release and whether `/dev/zfs` exists.
    Ping,
    /// Run `argv` in `cwd` with `env` added to the agent's environment.
    Exec {
        argv: Vec<String>,
        cwd: Option<String>,
        env: BTreeMap<String, String>,
    },
}

/// Answer to [`Request::Ping`], sent as the stdout frame of a ping.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PingReply {
    pub kernel: String,
    pub zfs_loaded: bool,
}

/// How a command ended.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct ExitReport {
    pub code: Option<i32>,
    pub signal: Option<i32>,
}

impl ExitReport {
    /// The exit status a shell would report: the code, or 128 + signal.
    pub fn shell_status(self) -> i32 {
        match (self.code, self.signal) {
            (Some(code), _) => code,
            (None, Some(sig)) => 128 + sig,
            (None, None) => 255,
        }
    }
}

/// One message from the agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    Stdout(Vec<u8>),
    Stderr(Vec<u8>),
    Exit(ExitReport),
    /// The agent could not run the command at all (spawn failed, bad request).
    Error(String),
}

const KIND_STDOUT: u8 = 1;
const KIND_STDERR: u8 = 2;
const KIND_EXIT: u8 = 3;
const KIND_ERROR: u8 = 4;

/// Writes one frame.
pub fn write_frame(w: &mut impl Write, frame: &Frame) -> io::Result<()> {
    let (kind, payload): (u8, std::borrow::Cow<'_, [u8]>) = match frame {
        Frame::Stdout(b) => (KIND_STDOUT, b.into()),
        Frame::Stderr(b) => (KIND_STDERR, b.into()),
        Frame::Exit(e) => (
            KIND_EXIT,
            serde_json::to_vec(e).map_err(io::Error::other)?.into(),
        ),
        Frame::Error(m) => (KIND_ERROR, m.as_bytes().into()),
    };
    let len = u32::try_from(payload.len())
        .ok()
        .filter(|&l| l <= MAX_FRAME)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "frame too large"))?;
    let mut header = [0u8; 5];
    header[0] = kind;
    header[1..].copy_from_slice(&len.to_be_bytes());
    w.write_all(&header)?;
    w.write_all(&payload)?;
    w.flush()
}

/// Reads one frame; `Ok(None)` on a clean end of stream before a header.
pub fn read_frame(r: &mut impl Read) -> io::Result<Option<Frame>> {
    let mut header = [0u8; 5];
    match r.read_exact(&mut header) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = u32::from_be_bytes([header[1], header[2], header[3], header[4]]);
    if len > MAX_FRAME {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("frame of {len} bytes exceeds the {MAX_FRAME}-byte limit"),
        ));
    }
    let mut payload = vec![0u8; len as usize];
    r.read_exact(&mut payload)?;
    let frame = match header[0] {
        KIND_STDOUT => Frame::Stdout(payload),
        KIND_STDERR => Frame::Stderr(payload),
        KIND_EXIT => Frame::Exit(serde_json::from_slice(&payload).map_err(io::Error::other)?),
        KIND_ERROR => Frame::Error(String::from_utf8_lossy(&payload).into_owned()),
        other => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("unknown frame kind {other}"),
            ));
        }
    };
    Ok(Some(frame))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn round_trip(frame: &Frame) -> Frame {
        let mut buf = Vec::new();
        write_frame(&mut buf, frame).unwrap();
        let mut cursor = io::Cursor::new(buf);
        let back = read_frame(&mut cursor).unwrap().unwrap();
        assert_eq!(read_frame(&mut cursor).unwrap(), None, "trailing bytes");
        back
    }

    #[test]
    fn exit_and_error_frames_round_trip() {
        let exit = Frame::Exit(ExitReport {
            code: Some(3),
            signal: None,
        });
        assert_eq!(round_trip(&exit), exit);
        let err = Frame::Error("spawn failed: No such file".into());
        assert_eq!(round_trip(&err), err);
    }

    #[test]
    fn oversized_header_is_rejected_before_allocating() {
        let mut bytes = vec![KIND_STDOUT];
        bytes.extend_from_slice(&(MAX_FRAME + 1).to_be_bytes());
        let err = read_frame(&mut io::Cursor::new(bytes)).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    }

    #[test]
    fn unknown_kind_is_rejected() {
        let bytes = [9u8, 0, 0, 0, 0];
        assert!(read_frame(&mut io::Cursor::new(bytes)).is_err());
    }

    #[test]
    fn truncated_payload_is_an_error_not_a_clean_end() {
        let bytes = [KIND_STDOUT, 0, 0, 0, 4, b'a'];
        assert!(read_frame(&mut io::Cursor::new(bytes)).is_err());
    }

    #[test]
    fn shell_status_follows_shell_convention() {
        assert_eq!(
            ExitReport {
                code: Some(0),
                signal: None
            }
            .shell_status(),
            0
        );
        assert_eq!(
            ExitReport {
                code: None,
                signal: Some(9)
            }
            .shell_status(),
            137
        );
    }

    #[test]
    fn request_json_is_tagged() {
        let req = Request::Exec {
            argv: vec!["zpool".into(), "list".into()],
            cwd: None,
            env: BTreeMap::new(),
        };
        let json = serde_json::to_string(&req).unwrap();
        assert!(json.starts_with(r#"{"op":"exec""#), "{json}");
        assert_eq!(serde_json::from_str::<Request>(&json).unwrap(), req);
    }

    proptest! {
        #[test]
        fn data_frames_round_trip(data in proptest::collection::vec(any::<u8>(), 0..4096), out in any::<bool>()) {
            let frame = if out { Frame::Stdout(data) } else { Frame::Stderr(data) };
            prop_assert_eq!(round_trip(&frame), frame);
        }
    }
}
