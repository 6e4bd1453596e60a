//! The relay: copies a stream from one pipe to another through zstd (compressing or
//! decompressing) and the bandwidth limit. Used where zferry has to touch the stream — on the
//! initiating node between the local `zfs` and `ssh`, and by `zferry wire` on the remote one;
//! without compression or a limit the kernel pipes the stream and no relay runs.
//!
//! The limit counts bytes on the wire: after compressing, before decompressing (for a
//! plain copy, the stream's bytes). The arithmetic is [`crate::rate`]; this file only sleeps
//! as it is told.

use std::io::{self, Read, Write};
use std::thread;
use std::time::Instant;

use crate::rate::TokenBucket;

/// zstd level on the wire: 3 is zstd's default, fast enough for a gigabit link on one core.
pub const WIRE_LEVEL: i32 = 3;

/// Bytes moved per read.
const CHUNK: usize = 128 * 1024;

/// What happens to the bytes on their way through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    /// Copied as they are.
    Copy,
    /// zstd-compressed at this level (the output goes on the wire).
    Compress(i32),
    /// zstd-decompressed (the input came off the wire).
    Decompress,
}

/// How one relay runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RelaySpec {
    pub codec: Codec,
    /// Wire bytes per second.
    pub limit: Option<u64>,
}

/// Totals of a finished relay.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Relayed {
    /// Bytes of the `zfs send` stream.
    pub stream: u64,
    /// Bytes on the wire (equal to `stream` for a copy).
    pub wire: u64,
}

/// Where a relay failed.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error("reading the stream failed: {0}")]
    Read(#[source] io::Error),
    #[error("writing the stream failed: {0}")]
    Write(#[source] io::Error),
    #[error("zstd failed: {0} (the stream is damaged or not zstd)")]
    Codec(#[source] io::Error),
}

impl RelayError {
    /// A broken pipe or cut stream: the peer went away (its own error says why).
    pub fn is_peer_gone(&self) -> bool {
        let e = match self {
            Self::Read(e) | Self::Write(e) | Self::Codec(e) => e,
        };
        matches!(
            e.kind(),
            io::ErrorKind::BrokenPipe | io::ErrorKind::UnexpectedEof
        )
    }
}

/// Copies `input` to `output` as `spec` says, until `input` ends.
pub fn relay(input: impl Read, output: impl Write, spec: RelaySpec) -> Result<Relayed, RelayError> {
    let limiter = Limiter::new(spec.limit);
    match spec.codec {
        Codec::Copy => {
            let mut input = Metered::new(input, limiter);
            let mut output = Metered::new(output, Limiter::new(None));
            let stream = pump(&mut input, &mut output)?;
            Ok(Relayed {
                stream,
                wire: stream,
            })
        }
        Codec::Compress(level) => {
            let mut input = Metered::new(input, Limiter::new(None));
            let wire = Metered::new(output, limiter);
            let mut encoder =
                zstd::stream::write::Encoder::new(wire, level).map_err(RelayError::Codec)?;
            let stream = pump(&mut input, &mut encoder).map_err(|e| match e {
                RelayError::Write(io) => io_or_codec(encoder.get_ref().failed, io, false),
                other => other,
            })?;
            let mut wire = encoder.finish().map_err(RelayError::Codec)?;
            wire.flush().map_err(RelayError::Write)?;
            Ok(Relayed {
                stream,
                wire: wire.bytes,
            })
        }
        Codec::Decompress => {
            let wire = Metered::new(input, limiter);
            let mut decoder = zstd::stream::read::Decoder::new(wire).map_err(RelayError::Codec)?;
            let mut output = Metered::new(output, Limiter::new(None));
            let stream = match pump(&mut decoder, &mut output) {
                Ok(n) => n,
                // Nothing at all arrived (the far end never started): an empty stream, as
                // an uncompressed pipe would deliver; the far end's error says why.
                Err(RelayError::Read(_)) if decoder.get_ref().get_ref().bytes == 0 => 0,
                Err(RelayError::Read(io)) => {
                    return Err(io_or_codec(decoder.get_ref().get_ref().failed, io, true));
                }
                Err(other) => return Err(other),
            };
            Ok(Relayed {
                stream,
                wire: decoder.get_ref().get_ref().bytes,
            })
        }
    }
}

/// An error out of zstd is the pipe's when the pipe below it failed, else the codec's.
fn io_or_codec(pipe_failed: bool, e: io::Error, reading: bool) -> RelayError {
    match (pipe_failed, reading) {
        (true, true) => RelayError::Read(e),
        (true, false) => RelayError::Write(e),
        (false, _) => RelayError::Codec(e),
    }
}

/// Reads to the end, writing everything; returns the bytes read.
fn pump(input: &mut impl Read, output: &mut impl Write) -> Result<u64, RelayError> {
    let mut buf = vec![0u8; CHUNK];
    let mut total = 0u64;
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(RelayError::Read(e)),
        };
        output.write_all(&buf[..n]).map_err(RelayError::Write)?;
        total += n as u64;
    }
    output.flush().map_err(RelayError::Write)?;
    Ok(total)
}

/// The bucket and the clock it is read with.
struct Limiter {
    bucket: Option<TokenBucket>,
    start: Instant,
}

impl Limiter {
    fn new(limit: Option<u64>) -> Self {
        Self {
            bucket: limit.map(TokenBucket::for_rate),
            start: Instant::now(),
        }
    }

    /// Sleeps until `bytes` may pass.
    fn pass(&mut self, bytes: usize) {
        if let Some(bucket) = &mut self.bucket {
            let wait = bucket.take(self.start.elapsed(), bytes as u64);
            if !wait.is_zero() {
                thread::sleep(wait);
            }
        }
    }
}

/// A pipe end that counts its bytes, keeps to the limit and remembers whether it failed.
struct Metered<T> {
    inner: T,
    limiter: Limiter,
    bytes: u64,
    failed: bool,
}

impl<T> Metered<T> {
    fn new(inner: T, limiter: Limiter) -> Self {
        Self {
            inner,
            limiter,
            bytes: 0,
            failed: false,
        }
    }

    fn note<R>(&mut self, r: io::Result<R>) -> io::Result<R> {
        if r.as_ref()
            .is_err_and(|e| e.kind() != io::ErrorKind::Interrupted)
        {
            self.failed = true;
        }
        r
    }
}

impl<T: Read> Read for Metered<T> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let r = self.inner.read(buf);
        let n = self.note(r)?;
        self.bytes += n as u64;
        self.limiter.pass(n);
        Ok(n)
    }
}

impl<T: Write> Write for Metered<T> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.limiter.pass(buf.len().min(CHUNK));
        let r = self.inner.write(&buf[..buf.len().min(CHUNK)]);
        let n = self.note(r)?;
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        let r = self.inner.flush();
        self.note(r)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::time::Duration;

    use super::*;

    fn noise(n: usize) -> Vec<u8> {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x.to_le_bytes()[0]
            })
            .collect()
    }

    #[test]
    fn compress_then_decompress_gives_the_stream_back() {
        let data: Vec<u8> = b"zfs stream ".repeat(50_000);
        let mut wire = Vec::new();
        let out = relay(
            &data[..],
            &mut wire,
            RelaySpec {
                codec: Codec::Compress(WIRE_LEVEL),
                limit: None,
            },
        )
        .unwrap();
        assert_eq!(out.stream, data.len() as u64);
        assert_eq!(out.wire, wire.len() as u64);
        assert!(out.wire * 50 < out.stream, "{out:?}");
        let mut back = Vec::new();
        let inn = relay(
            &wire[..],
            &mut back,
            RelaySpec {
                codec: Codec::Decompress,
                limit: None,
            },
        )
        .unwrap();
        assert_eq!(back, data);
        assert_eq!(inn, out);
    }

    #[test]
    fn damaged_and_cut_streams_are_codec_errors() {
        let data = noise(300_000);
        let mut wire = Vec::new();
        let spec = RelaySpec {
            codec: Codec::Compress(1),
            limit: None,
        };
        relay(&data[..], &mut wire, spec).unwrap();
        let un = RelaySpec {
            codec: Codec::Decompress,
            limit: None,
        };
        let cut = relay(&wire[..wire.len() / 2], io::sink(), un).unwrap_err();
        assert!(matches!(cut, RelayError::Codec(_)), "{cut:?}");
        let err = relay(&b"not zstd at all"[..], io::sink(), un).unwrap_err();
        assert!(matches!(err, RelayError::Codec(_)), "{err:?}");
    }

    #[test]
    fn an_empty_input_is_an_empty_stream_both_ways() {
        for codec in [Codec::Copy, Codec::Compress(3), Codec::Decompress] {
            let mut out = Vec::new();
            let done = relay(&b""[..], &mut out, RelaySpec { codec, limit: None }).unwrap();
            assert_eq!(done.stream, 0, "{codec:?}");
        }
    }

    #[test]
    fn a_closed_output_is_a_write_error() {
        struct Closed;
        impl Write for Closed {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::ErrorKind::BrokenPipe.into())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        for codec in [Codec::Copy, Codec::Compress(1)] {
            let data = noise(400_000);
            let err = relay(&data[..], Closed, RelaySpec { codec, limit: None }).unwrap_err();
            assert!(matches!(err, RelayError::Write(_)), "{codec:?}: {err:?}");
            assert!(err.is_peer_gone());
        }
    }

    #[test]
    fn the_limit_slows_the_copy_to_its_rate() {
        let data = noise(512 * 1024);
        let started = Instant::now();
        let mut out = Vec::new();
        let done = relay(
            &data[..],
            &mut out,
            RelaySpec {
                codec: Codec::Copy,
                limit: Some(1024 * 1024),
            },
        )
        .unwrap();
        let took = started.elapsed();
        assert_eq!(out, data);
        assert_eq!(done.wire, 512 * 1024);
        // 512 KiB at 1 MiB/s, less the 64 KiB allowance: 437.5 ms.
        assert!(took >= Duration::from_millis(430), "{took:?}");
        assert!(took < Duration::from_secs(3), "{took:?}");
    }
}
