//! `BoundedBuf`: keeps the head and tail of a byte stream up to a fixed size.
//!
//! Used for stderr so a chatty process cannot exhaust memory, while both the first
//! lines (usually the cause) and the last lines (usually the summary) survive.

use std::collections::VecDeque;

/// Head+tail byte buffer with a fixed capacity; counts what it dropped.
#[derive(Debug)]
pub(crate) struct BoundedBuf {
    head: Vec<u8>,
    head_cap: usize,
    tail: VecDeque<u8>,
    tail_cap: usize,
    elided: usize,
}

impl BoundedBuf {
    /// A buffer keeping at most `limit` bytes in total.
    pub(crate) fn new(limit: usize) -> Self {
        let head_cap = limit / 2;
        Self {
            head: Vec::new(),
            head_cap,
            tail: VecDeque::new(),
            tail_cap: limit - head_cap,
            elided: 0,
        }
    }

    /// Appends bytes, dropping from the middle when full.
    pub(crate) fn push(&mut self, mut bytes: &[u8]) {
        let room = self.head_cap - self.head.len();
        let take = room.min(bytes.len());
        self.head.extend_from_slice(&bytes[..take]);
        bytes = &bytes[take..];
        if bytes.len() >= self.tail_cap {
            self.elided += self.tail.len() + bytes.len() - self.tail_cap;
            self.tail.clear();
            bytes = &bytes[bytes.len() - self.tail_cap..];
        }
        let overflow = (self.tail.len() + bytes.len()).saturating_sub(self.tail_cap);
        self.tail.drain(..overflow);
        self.elided += overflow;
        self.tail.extend(bytes);
    }

    /// Renders as text (lossy UTF-8) with a marker where bytes were dropped.
    pub(crate) fn into_string(self) -> String {
        let tail: Vec<u8> = self.tail.into_iter().collect();
        if self.elided == 0 {
            let mut all = self.head;
            all.extend_from_slice(&tail);
            return String::from_utf8_lossy(&all).into_owned();
        }
        format!(
            "{}\n[… {} bytes elided …]\n{}",
            String::from_utf8_lossy(&self.head),
            self.elided,
            String::from_utf8_lossy(&tail)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fill(limit: usize, chunks: &[&[u8]]) -> String {
        let mut buf = BoundedBuf::new(limit);
        for chunk in chunks {
            buf.push(chunk);
        }
        buf.into_string()
    }

    #[test]
    fn under_limit_is_verbatim() {
        assert_eq!(fill(10, &[b"abc", b"def"]), "abcdef");
        assert_eq!(fill(10, &[b"0123456789"]), "0123456789");
    }

    #[test]
    fn over_limit_keeps_head_and_tail() {
        assert_eq!(
            fill(4, &[b"ab", b"cdef", b"gh"]),
            "ab\n[… 4 bytes elided …]\ngh"
        );
        assert_eq!(fill(4, &[b"abcdefgh"]), "ab\n[… 4 bytes elided …]\ngh");
        let many: Vec<&[u8]> = vec![b"x"; 100];
        assert_eq!(fill(6, &many), "xxx\n[… 94 bytes elided …]\nxxx");
    }

    #[test]
    fn zero_limit_elides_everything() {
        assert_eq!(fill(0, &[b"abc"]), "\n[… 3 bytes elided …]\n");
        assert_eq!(fill(0, &[]), "");
    }
}
