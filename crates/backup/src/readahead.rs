//! Decompression on its own thread: a reader that a background thread fills with 1 MiB
//! chunks of the decompressed archive (at most a few chunks ahead), so zstd/gzip/lzop
//! decompression overlaps with the file compare and writes of an LXC ingest instead of
//! alternating with them. (A VMA ingest uses `zferry_vma::PrefetchReader`, which also avoids
//! this reader's copy.) Errors of the inner reader are passed on in
//! order; dropping the reader stops the thread at its next chunk.

use std::io::{self, Read};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

const CHUNK: usize = 1 << 20;
const DEPTH: usize = 4;

/// A [`Read`] fed by a background thread reading `inner`.
#[derive(Debug)]
pub struct Readahead {
    rx: Option<Receiver<io::Result<Vec<u8>>>>,
    /// Chunks handed back to the thread for reuse.
    free: SyncSender<Vec<u8>>,
    buf: Vec<u8>,
    pos: usize,
    done: bool,
}

fn pump<R: Read>(mut inner: R, tx: &SyncSender<io::Result<Vec<u8>>>, free: &Receiver<Vec<u8>>) {
    loop {
        // Reuse a chunk the reader is done with: a fresh zeroed 1 MiB per chunk costs page
        // faults and a memory pass over the whole stream.
        let mut chunk = free.try_recv().unwrap_or_default();
        chunk.resize(CHUNK, 0);
        let mut filled = 0;
        let result = loop {
            match inner.read(&mut chunk[filled..]) {
                Ok(0) => break Ok(()),
                Ok(n) => {
                    filled += n;
                    if filled == CHUNK {
                        break Ok(());
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => break Err(e),
            }
        };
        chunk.truncate(filled);
        let eof = filled == 0;
        if filled > 0 && tx.send(Ok(chunk)).is_err() {
            return; // reader dropped
        }
        if let Err(e) = result {
            let _ = tx.send(Err(e));
            return;
        }
        if eof {
            return; // dropping tx signals the end
        }
    }
}

impl Readahead {
    pub fn new<R: Read + Send + 'static>(inner: R) -> Self {
        let (tx, rx) = sync_channel(DEPTH);
        let (free_tx, free_rx) = sync_channel(DEPTH + 2);
        // Detached: it ends at EOF, on an error, or at its next send after the reader is
        // dropped (never joined, so a drop cannot wait on a blocked read, e.g. of a FIFO).
        std::thread::Builder::new()
            .name("zferry-decompress".into())
            .spawn(move || pump(inner, &tx, &free_rx))
            .expect("spawning the decompression thread");
        Readahead {
            rx: Some(rx),
            free: free_tx,
            buf: Vec::new(),
            pos: 0,
            done: false,
        }
    }
}

impl Read for Readahead {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.buf.len() {
            if self.done {
                return Ok(0);
            }
            match self.rx.as_ref().map(Receiver::recv) {
                Some(Ok(Ok(chunk))) => {
                    let old = std::mem::replace(&mut self.buf, chunk);
                    let _ = self.free.try_send(old); // full or thread gone: just drop it
                    self.pos = 0;
                }
                Some(Ok(Err(e))) => {
                    self.done = true;
                    return Err(e);
                }
                Some(Err(_)) | None => self.done = true,
            }
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passes_bytes_through_in_order_and_ends() {
        let data: Vec<u8> = (0..3 * CHUNK + 123)
            .map(|i| i.to_le_bytes()[0] ^ 0x5a)
            .collect();
        let mut r = Readahead::new(io::Cursor::new(data.clone()));
        let mut got = Vec::new();
        r.read_to_end(&mut got).expect("read");
        assert_eq!(got, data);
    }

    #[test]
    fn passes_errors_on_after_the_data_before_them() {
        let inner = io::Cursor::new(vec![7u8; 10]).chain(FailingReader);
        let mut r = Readahead::new(inner);
        let mut got = vec![0u8; 10];
        r.read_exact(&mut got).expect("data first");
        assert_eq!(got, [7u8; 10]);
        let err = r.read(&mut [0u8; 1]).expect_err("then the error");
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    }

    #[test]
    fn dropping_early_stops_the_thread() {
        let r = Readahead::new(io::repeat(1));
        drop(r); // must not hang
    }

    struct FailingReader;
    impl Read for FailingReader {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            Err(io::Error::new(io::ErrorKind::InvalidData, "bad frame"))
        }
    }
}
