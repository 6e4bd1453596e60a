//! Progress of long operations (ingest, restore, block sync, VMA extract/verify/create),
//! without any rendering: the library crates count bytes into a [`Meter`], and the meter
//! tells an observer ([`Progress`]) the running [`Totals`]. The CLI renders them (a bar on a
//! terminal, a log line every 30 s otherwise); tests observe them directly.
//!
//! Cost on the hot path: counting is one relaxed atomic add per read call or per
//! chunk/extent/file, never per 4 KiB block through a lock; the observer is called at most
//! once per [`Meter::STEP`] bytes of input read (and once more by [`Meter::finish`]).
//!
//! Order: the observer is called only from the thread that reads the input (the one calling
//! [`Meter::add_read`]) and by [`Meter::finish`] after reading ended, so it sees `read`
//! growing monotonically; `compared` and `written` are loaded at each call and grow too.

use std::io::{self, Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Running totals of one operation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    /// Bytes of the input consumed, as stored (compressed bytes for a `.zst` archive).
    pub read: u64,
    /// The input's size, when known (not for a pipe).
    pub total: Option<u64>,
    /// Bytes compared with what the target already held (uncompressed).
    pub compared: u64,
    /// Bytes written to the target or output.
    pub written: u64,
}

/// Receives the running totals of one operation. Called from the input's reading thread
/// (which may be a background thread), hence `Send + Sync`.
pub trait Progress: Send + Sync {
    fn update(&self, totals: &Totals);
}

impl<F: Fn(&Totals) + Send + Sync> Progress for F {
    fn update(&self, totals: &Totals) {
        self(totals);
    }
}

/// The byte counters of one operation and where to report them.
pub struct Meter {
    read: AtomicU64,
    compared: AtomicU64,
    written: AtomicU64,
    total: Option<u64>,
    sink: Option<Arc<dyn Progress>>,
}

impl std::fmt::Debug for Meter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Meter")
            .field("totals", &self.totals())
            .field("observed", &self.sink.is_some())
            .finish_non_exhaustive()
    }
}

impl Meter {
    /// The observer is told at most once per this many bytes of input read.
    pub const STEP: u64 = 1 << 20;

    /// A meter for an input of `total` bytes (if known), reporting to `sink` (if any).
    pub fn new(total: Option<u64>, sink: Option<Arc<dyn Progress>>) -> Arc<Self> {
        Arc::new(Meter {
            read: AtomicU64::new(0),
            compared: AtomicU64::new(0),
            written: AtomicU64::new(0),
            total,
            sink,
        })
    }

    /// Counts `n` bytes of input read; tells the observer when a [`Meter::STEP`] boundary
    /// was crossed. Call it from one thread only (the input reader).
    pub fn add_read(&self, n: u64) {
        let before = self.read.fetch_add(n, Ordering::Relaxed);
        if self.sink.is_some() && before / Self::STEP != (before + n) / Self::STEP {
            self.report();
        }
    }

    /// Counts `n` bytes compared with the target.
    pub fn add_compared(&self, n: u64) {
        self.compared.fetch_add(n, Ordering::Relaxed);
    }

    /// Counts `n` bytes written.
    pub fn add_written(&self, n: u64) {
        self.written.fetch_add(n, Ordering::Relaxed);
    }

    /// The totals now.
    pub fn totals(&self) -> Totals {
        Totals {
            read: self.read.load(Ordering::Relaxed),
            total: self.total,
            compared: self.compared.load(Ordering::Relaxed),
            written: self.written.load(Ordering::Relaxed),
        }
    }

    /// Tells the observer the final totals; call once the input was read (successfully).
    pub fn finish(&self) {
        self.report();
    }

    fn report(&self) {
        if let Some(s) = &self.sink {
            s.update(&self.totals());
        }
    }
}

/// A reader that counts the bytes it returns into a meter's `read` (one atomic add per
/// `read` call: wrap the file under the buffering and decompression, not above it).
#[derive(Debug)]
pub struct CountingReader<R> {
    inner: R,
    meter: Arc<Meter>,
}

impl<R> CountingReader<R> {
    pub fn new(inner: R, meter: Arc<Meter>) -> Self {
        CountingReader { inner, meter }
    }
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.meter.add_read(n as u64);
        Ok(n)
    }
}

/// A writer that counts the bytes it accepts into a meter's `written`.
#[derive(Debug)]
pub struct CountingWriter<W> {
    inner: W,
    meter: Arc<Meter>,
}

impl<W> CountingWriter<W> {
    pub fn new(inner: W, meter: Arc<Meter>) -> Self {
        CountingWriter { inner, meter }
    }

    pub fn into_inner(self) -> W {
        self.inner
    }
}

impl<W: Write> Write for CountingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.meter.add_written(n as u64);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    fn recorder() -> (Arc<Mutex<Vec<Totals>>>, Arc<dyn Progress>) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = Arc::clone(&seen);
        let sink: Arc<dyn Progress> = Arc::new(move |t: &Totals| {
            s.lock().expect("lock").push(*t);
        });
        (seen, sink)
    }

    #[test]
    fn observer_is_told_once_per_step_and_at_finish() {
        let (seen, sink) = recorder();
        let data = vec![7u8; 3 * 1024 * 1024 + 10];
        let meter = Meter::new(Some(data.len() as u64), Some(sink));
        let mut r = CountingReader::new(&data[..], Arc::clone(&meter));
        let mut buf = [0u8; 4096];
        while r.read(&mut buf).expect("read") > 0 {
            meter.add_compared(4096);
        }
        meter.finish();
        let seen = seen.lock().expect("lock");
        assert_eq!(seen.len(), 4, "3 step crossings + finish: {seen:?}");
        assert!(seen.windows(2).all(|w| w[0].read <= w[1].read));
        assert_eq!(seen.last().map(|t| t.read), Some(data.len() as u64));
        assert_eq!(seen[0].total, Some(data.len() as u64));
    }

    #[test]
    fn writer_counts_written_bytes_and_no_observer_is_fine() {
        let meter = Meter::new(None, None);
        let mut w = CountingWriter::new(Vec::new(), Arc::clone(&meter));
        w.write_all(b"hello").expect("write");
        meter.add_read(5 * Meter::STEP);
        meter.finish();
        assert_eq!(w.into_inner(), b"hello");
        assert_eq!(
            meter.totals(),
            Totals {
                read: 5 * Meter::STEP,
                total: None,
                compared: 0,
                written: 5
            }
        );
    }
}
