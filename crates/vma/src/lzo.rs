//! `.lzo` support: the lzop container (header, block framing, checksums) and
//! an LZO1X block decompressor written from the format description. Every
//! input and back-reference access is bounds-checked and output is capped at
//! the block's declared size, so corrupt input gives an error, never a panic.
//!
//! Why our own decompressor: the pure-Rust crates found either panic on
//! malformed input (out-of-range back references) or are GPL-2.0-only,
//! which cannot be combined with this GPL-3.0-or-later project.

use std::io::{self, ErrorKind, Read};

/// lzop file magic.
pub const LZOP_MAGIC: [u8; 9] = [0x89, b'L', b'Z', b'O', 0x00, 0x0d, 0x0a, 0x1a, 0x0a];
/// lzop's own upper bound on a block's uncompressed size.
const MAX_BLOCK_SIZE: u32 = 64 * 1024 * 1024;

const F_ADLER32_D: u32 = 0x0001;
const F_ADLER32_C: u32 = 0x0002;
const F_H_EXTRA_FIELD: u32 = 0x0040;
const F_CRC32_D: u32 = 0x0100;
const F_CRC32_C: u32 = 0x0200;
const F_H_FILTER: u32 = 0x0800;
const F_H_CRC32: u32 = 0x1000;

fn corrupt(msg: &str) -> io::Error {
    io::Error::new(ErrorKind::InvalidData, format!("lzo: {msg}"))
}

/// Adler-32 as lzop uses it (initial value 1).
pub fn adler32(data: &[u8]) -> u32 {
    const MOD: u32 = 65521;
    let (mut a, mut b) = (1u32, 0u32);
    for chunk in data.chunks(5552) {
        for &x in chunk {
            a += u32::from(x);
            b += a;
        }
        a %= MOD;
        b %= MOD;
    }
    (b << 16) | a
}

fn crc32(data: &[u8]) -> u32 {
    let mut c = flate2::Crc::new();
    c.update(data);
    c.sum()
}

#[allow(
    clippy::too_many_lines,
    reason = "one state machine over the instruction encoding reads best in one piece"
)]
/// Decompresses one LZO1X block into `out` (cleared first), which must end
/// up exactly `expected` bytes long.
pub fn lzo1x_decompress(input: &[u8], expected: usize, out: &mut Vec<u8>) -> io::Result<()> {
    out.clear();
    out.reserve(expected);
    let mut ip = 0usize;
    let byte = |ip: &mut usize| -> io::Result<usize> {
        let b = *input.get(*ip).ok_or_else(|| corrupt("input overrun"))?;
        *ip += 1;
        Ok(usize::from(b))
    };
    // Run length with zero-byte extension: each 0 adds 255, then base + byte.
    let ext = |ip: &mut usize, base: usize| -> io::Result<usize> {
        let mut n = 0usize;
        loop {
            let b = byte(ip)?;
            if b != 0 {
                return Ok(n + base + b);
            }
            n += 255;
            if n > expected {
                return Err(corrupt("run length exceeds block"));
            }
        }
    };
    let literals = |out: &mut Vec<u8>, ip: &mut usize, n: usize| -> io::Result<()> {
        let src = input
            .get(*ip..*ip + n)
            .ok_or_else(|| corrupt("input overrun"))?;
        if out.len() + n > expected {
            return Err(corrupt("output overrun"));
        }
        out.extend_from_slice(src);
        *ip += n;
        Ok(())
    };
    let copy_match = |out: &mut Vec<u8>, dist: usize, n: usize| -> io::Result<()> {
        if dist == 0 || dist > out.len() {
            return Err(corrupt("back reference before start"));
        }
        if out.len() + n > expected {
            return Err(corrupt("output overrun"));
        }
        let from = out.len() - dist;
        if dist >= n {
            out.extend_from_within(from..from + n);
        } else {
            for k in 0..n {
                let b = out[from + k];
                out.push(b);
            }
        }
        Ok(())
    };

    // `state`: literals copied after the last instruction (0..3, or 4 for a
    // run of >= 4); it selects the meaning of a short (t < 16) instruction.
    let mut state: usize;
    let mut t = byte(&mut ip)?;
    if t > 17 {
        let n = t - 17;
        literals(out, &mut ip, n)?;
        state = if n < 4 { n } else { 4 };
        t = byte(&mut ip)?;
    } else {
        state = 0;
    }
    loop {
        if t < 16 {
            match state {
                0 => {
                    // Literal run of 4 or more.
                    let n = if t == 0 { ext(&mut ip, 15)? } else { t } + 3;
                    literals(out, &mut ip, n)?;
                    state = 4;
                    t = byte(&mut ip)?;
                    continue;
                }
                4 => {
                    // 3-byte match, distance 2049..3072.
                    let d = 1 + 0x0800 + (t >> 2) + (byte(&mut ip)? << 2);
                    copy_match(out, d, 3)?;
                }
                _ => {
                    // 2-byte match, distance 1..1024.
                    let d = 1 + (t >> 2) + (byte(&mut ip)? << 2);
                    copy_match(out, d, 2)?;
                }
            }
        } else if t >= 64 {
            let d = 1 + ((t >> 2) & 7) + (byte(&mut ip)? << 3);
            copy_match(out, d, (t >> 5) + 1)?;
        } else if t >= 32 {
            let len = t & 31;
            let n = if len == 0 { ext(&mut ip, 31)? } else { len } + 2;
            let lo = byte(&mut ip)?;
            let hi = byte(&mut ip)?;
            copy_match(out, 1 + ((lo | (hi << 8)) >> 2), n)?;
        } else {
            let far = (t & 8) << 11;
            let len = t & 7;
            let n = if len == 0 { ext(&mut ip, 7)? } else { len } + 2;
            let lo = byte(&mut ip)?;
            let hi = byte(&mut ip)?;
            let d = far + ((lo | (hi << 8)) >> 2);
            if d == 0 {
                // End-of-stream marker (0x11 0x00 0x00).
                if n != 3 {
                    return Err(corrupt("bad end marker"));
                }
                if ip != input.len() {
                    return Err(corrupt("trailing bytes after end marker"));
                }
                if out.len() != expected {
                    return Err(corrupt("block decompressed to the wrong size"));
                }
                return Ok(());
            }
            copy_match(out, d + 0x4000, n)?;
        }
        // Low two bits of the byte two back: literals that follow a match.
        let n = usize::from(input[ip - 2] & 3);
        if n == 0 {
            state = 0;
        } else {
            literals(out, &mut ip, n)?;
            state = n;
        }
        t = byte(&mut ip)?;
    }
}

/// Streaming reader of an lzop file (one member), yielding the original bytes.
#[derive(Debug)]
pub struct LzopReader<R> {
    inner: R,
    flags: u32,
    block: Vec<u8>,
    packed: Vec<u8>,
    pos: usize,
    done: bool,
}

impl<R: Read> LzopReader<R> {
    /// Reads and checks the lzop header.
    pub fn new(mut inner: R) -> io::Result<Self> {
        let mut magic = [0u8; 9];
        inner.read_exact(&mut magic)?;
        if magic != LZOP_MAGIC {
            return Err(corrupt("not an lzop file"));
        }
        // Everything from `version` through the name is covered by the
        // header checksum; keep the bytes.
        let mut h = HeaderBytes {
            r: &mut inner,
            bytes: Vec::new(),
        };
        let version = h.u16()?;
        let _lib_version = h.u16()?;
        if version >= 0x0940 {
            let needed = h.u16()?;
            if needed > 0x1040 {
                return Err(corrupt("needs a newer lzop to extract"));
            }
        }
        let method = h.u8()?;
        if !(1..=3).contains(&method) {
            return Err(corrupt("unsupported method (only LZO1X is supported)"));
        }
        if version >= 0x0940 {
            let _level = h.u8()?;
        }
        let flags = h.u32()?;
        if flags & F_H_FILTER != 0 {
            let _filter = h.u32()?;
        }
        let _mode = h.u32()?;
        let _mtime_low = h.u32()?;
        if version >= 0x0940 {
            let _mtime_high = h.u32()?;
        }
        let name_len = h.u8()?;
        let mut name = vec![0u8; usize::from(name_len)];
        h.bytes_exact(&mut name)?;
        let bytes = std::mem::take(&mut h.bytes);
        let stored = read_u32(&mut inner)?;
        let computed = if flags & F_H_CRC32 != 0 {
            crc32(&bytes)
        } else {
            adler32(&bytes)
        };
        if stored != computed {
            return Err(corrupt("header checksum mismatch"));
        }
        if flags & F_H_EXTRA_FIELD != 0 {
            let len = read_u32(&mut inner)?;
            io::copy(&mut (&mut inner).take(u64::from(len)), &mut io::sink())?;
            let _checksum = read_u32(&mut inner)?;
        }
        Ok(Self {
            inner,
            flags,
            block: Vec::new(),
            packed: Vec::new(),
            pos: 0,
            done: false,
        })
    }

    fn next_block(&mut self) -> io::Result<bool> {
        let dst_len = read_u32(&mut self.inner)?;
        if dst_len == 0 {
            return Ok(false);
        }
        if dst_len > MAX_BLOCK_SIZE {
            return Err(corrupt("block larger than 64 MiB"));
        }
        let src_len = read_u32(&mut self.inner)?;
        if src_len > dst_len || src_len == 0 {
            return Err(corrupt("bad compressed block length"));
        }
        let d_adler = (self.flags & F_ADLER32_D != 0)
            .then(|| read_u32(&mut self.inner))
            .transpose()?;
        let d_crc = (self.flags & F_CRC32_D != 0)
            .then(|| read_u32(&mut self.inner))
            .transpose()?;
        let compressed = src_len < dst_len;
        let c_adler = (compressed && self.flags & F_ADLER32_C != 0)
            .then(|| read_u32(&mut self.inner))
            .transpose()?;
        let c_crc = (compressed && self.flags & F_CRC32_C != 0)
            .then(|| read_u32(&mut self.inner))
            .transpose()?;
        // Grow in steps as bytes arrive, so a lying length cannot make us
        // allocate 64 MiB for a tiny input.
        self.packed.clear();
        let got = (&mut self.inner)
            .take(u64::from(src_len))
            .read_to_end(&mut self.packed)?;
        if got != src_len as usize {
            return Err(io::Error::new(
                ErrorKind::UnexpectedEof,
                "lzo: truncated block",
            ));
        }
        if c_adler.is_some_and(|c| c != adler32(&self.packed))
            || c_crc.is_some_and(|c| c != crc32(&self.packed))
        {
            return Err(corrupt("compressed block checksum mismatch"));
        }
        if compressed {
            lzo1x_decompress(&self.packed, dst_len as usize, &mut self.block)?;
        } else {
            std::mem::swap(&mut self.block, &mut self.packed);
        }
        if d_adler.is_some_and(|c| c != adler32(&self.block))
            || d_crc.is_some_and(|c| c != crc32(&self.block))
        {
            return Err(corrupt("block checksum mismatch"));
        }
        self.pos = 0;
        Ok(true)
    }
}

impl<R: Read> Read for LzopReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos >= self.block.len() {
            if self.done || !self.next_block()? {
                self.done = true;
                return Ok(0);
            }
        }
        let n = buf.len().min(self.block.len() - self.pos);
        buf[..n].copy_from_slice(&self.block[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

fn read_u32<R: Read>(r: &mut R) -> io::Result<u32> {
    let mut b = [0u8; 4];
    r.read_exact(&mut b)?;
    Ok(u32::from_be_bytes(b))
}

/// Reads header fields while remembering their bytes for the checksum.
struct HeaderBytes<'a, R> {
    r: &'a mut R,
    bytes: Vec<u8>,
}

impl<R: Read> HeaderBytes<'_, R> {
    fn bytes_exact(&mut self, buf: &mut [u8]) -> io::Result<()> {
        self.r.read_exact(buf)?;
        self.bytes.extend_from_slice(buf);
        Ok(())
    }
    fn u8(&mut self) -> io::Result<u8> {
        let mut b = [0u8; 1];
        self.bytes_exact(&mut b)?;
        Ok(b[0])
    }
    fn u16(&mut self) -> io::Result<u16> {
        let mut b = [0u8; 2];
        self.bytes_exact(&mut b)?;
        Ok(u16::from_be_bytes(b))
    }
    fn u32(&mut self) -> io::Result<u32> {
        let mut b = [0u8; 4];
        self.bytes_exact(&mut b)?;
        Ok(u32::from_be_bytes(b))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adler32_known_value() {
        // RFC 1950 example value for "Wikipedia".
        assert_eq!(adler32(b"Wikipedia"), 0x11E6_0398);
    }

    #[test]
    fn literal_only_block() {
        // 0x11+5 = 22: five literals, then the end marker.
        let input = [22, b'h', b'e', b'l', b'l', b'o', 0x11, 0, 0];
        let mut out = Vec::new();
        lzo1x_decompress(&input, 5, &mut out).expect("valid block");
        assert_eq!(out, b"hello");
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let mut out = Vec::new();
        for seed in 0u32..2000 {
            let input: Vec<u8> = (0..(seed % 64))
                .map(|i| (seed.wrapping_mul(2_654_435_761).wrapping_add(i * 40503) >> 11) as u8)
                .collect();
            let _ = lzo1x_decompress(&input, 4096, &mut out);
        }
    }
}
