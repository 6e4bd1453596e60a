//! Hole punching off the compare path. A punch is a synchronous metadata update (on ext4 a
//! journal transaction, a few ms each; ~325 of them cost 0.5–1.5 s of a 2 GiB sync that
//! otherwise keeps up with `cat`), so the comparer hands each zero run to one worker thread
//! and goes on. Runs are disjoint (every block is applied once), so punching them later and
//! in another thread changes no byte's final value. Where the target cannot punch, the worker
//! writes the zeros instead.
//!
//! The one read that could see a range before its queued punch is a [`crate::BlockSink`] block
//! put twice (zeros, then data equal to the old content). So before the comparer reads a range
//! that overlaps a queued punch, it waits until the worker has punched everything queued
//! ([`Puncher::settle_before_read`]).

use std::fs::File;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use crate::{BLOCK_SIZE_U64, Error, target};

/// Zero runs queued before the comparer waits for the worker.
const QUEUE: usize = 4096;

/// What the worker did, merged into the report at the end.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ZeroRunsDone {
    pub holes_punched: u64,
    pub bytes_punched: u64,
    /// Zero blocks written as zeros because the target cannot punch.
    pub blocks_zeroed: u64,
    pub bytes_zero_written: u64,
}

enum Job {
    /// Make `[offset, offset+len)` zeros: a hole, or written zeros.
    Zero { offset: u64, len: u64 },
    /// Everything queued before this is applied: answer.
    Barrier(SyncSender<()>),
}

/// The handle the comparer keeps: a queue into the worker and the worker's result.
#[derive(Debug)]
pub(crate) struct Puncher {
    queue: Option<SyncSender<Job>>,
    worker: Option<JoinHandle<Result<ZeroRunsDone, Error>>>,
    /// The span covering every run queued since the worker was last known to be idle.
    pending: Option<(u64, u64)>,
}

impl Puncher {
    /// Starts the worker on its own handle of `target`.
    pub fn spawn(target: &File) -> Result<Self, Error> {
        let file = target.try_clone().map_err(Error::target("dup", 0))?;
        let (tx, rx) = sync_channel::<Job>(QUEUE);
        let worker = std::thread::Builder::new()
            .name("blocksync-punch".into())
            .spawn(move || work(&file, &rx))
            .map_err(Error::target("spawn punch thread", 0))?;
        Ok(Puncher {
            queue: Some(tx),
            worker: Some(worker),
            pending: None,
        })
    }

    /// Queues `[offset, offset+len)` to become zeros. A worker that stopped on an error
    /// reports it here.
    pub fn punch(&mut self, offset: u64, len: u64) -> Result<(), Error> {
        self.send(Job::Zero { offset, len })?;
        let end = offset + len;
        self.pending = Some(match self.pending {
            Some((s, e)) => (s.min(offset), e.max(end)),
            None => (offset, end),
        });
        Ok(())
    }

    /// Call before reading `[offset, offset+len)` of the target: if a queued punch may touch
    /// that range, wait until the worker has applied everything queued.
    pub fn settle_before_read(&mut self, offset: u64, len: u64) -> Result<(), Error> {
        let Some((start, end)) = self.pending else {
            return Ok(());
        };
        if offset >= end || offset + len <= start {
            return Ok(());
        }
        let (ack_tx, ack_rx) = sync_channel(1);
        self.send(Job::Barrier(ack_tx))?;
        if ack_rx.recv().is_err() {
            return self.failed();
        }
        self.pending = None;
        Ok(())
    }

    fn send(&mut self, job: Job) -> Result<(), Error> {
        let sent = self.queue.as_ref().is_some_and(|q| q.send(job).is_ok());
        if sent { Ok(()) } else { self.failed() }
    }

    /// The worker only hangs up after an error; report that one.
    fn failed(&mut self) -> Result<(), Error> {
        self.join().and(Err(Error::WorkerPanicked))
    }

    /// Waits until every queued run is applied; what the worker did, or its first error.
    pub fn finish(mut self) -> Result<ZeroRunsDone, Error> {
        self.join()
    }

    fn join(&mut self) -> Result<ZeroRunsDone, Error> {
        self.queue = None;
        match self.worker.take() {
            Some(w) => w.join().map_err(|_| Error::WorkerPanicked)?,
            None => Err(Error::WorkerPanicked),
        }
    }
}

impl Drop for Puncher {
    /// On an error path the comparer drops the handle: close the queue and wait, so no punch
    /// lands after the caller has moved on (the ingest then rolls the dataset back).
    fn drop(&mut self) {
        self.queue = None;
        if let Some(w) = self.worker.take() {
            let _ = w.join();
        }
    }
}

/// The worker: apply jobs in order until the queue closes or one fails.
fn work(file: &File, jobs: &Receiver<Job>) -> Result<ZeroRunsDone, Error> {
    let mut done = ZeroRunsDone::default();
    let mut can_punch = true;
    for job in jobs {
        match job {
            Job::Zero { offset, len } => {
                apply_zero_run(file, offset, len, &mut can_punch, &mut done)?;
            }
            Job::Barrier(ack) => {
                let _ = ack.send(());
            }
        }
    }
    Ok(done)
}

/// Punches one run, or writes zeros where punching is unsupported (remembered in `can_punch`).
fn apply_zero_run(
    file: &File,
    offset: u64,
    len: u64,
    can_punch: &mut bool,
    done: &mut ZeroRunsDone,
) -> Result<(), Error> {
    let blocks = len.div_ceil(BLOCK_SIZE_U64);
    if *can_punch {
        if target::punch_hole(file, offset, len)? {
            done.holes_punched += blocks;
            done.bytes_punched += len;
            return Ok(());
        }
        tracing::debug!("hole punching unsupported on target; writing zeros instead");
        *can_punch = false;
    }
    let zeros = vec![0u8; usize::try_from(len.min(1 << 20)).unwrap_or(1 << 20)];
    let mut at = 0;
    while at < len {
        let n = (len - at).min(zeros.len() as u64);
        target::write_at(file, offset + at, &zeros[..usize::try_from(n).unwrap_or(0)])?;
        at += n;
    }
    done.blocks_zeroed += blocks;
    done.bytes_zero_written += len;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::io::Write;
    use std::os::unix::fs::FileExt;

    use super::*;

    fn file_of(byte: u8, len: usize) -> File {
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(&vec![byte; len]).unwrap();
        f
    }

    fn read_all(f: &File, len: usize) -> Vec<u8> {
        let mut buf = vec![0; len];
        f.read_exact_at(&mut buf, 0).unwrap();
        buf
    }

    #[test]
    fn queued_runs_become_zeros_and_are_counted_once_finished() {
        let f = file_of(0xAB, 64 * 1024);
        let mut p = Puncher::spawn(&f).unwrap();
        p.punch(4096, 8192).unwrap();
        p.punch(40960, 4096).unwrap();
        let done = p.finish().unwrap();
        assert_eq!(
            done.holes_punched + done.blocks_zeroed,
            3,
            "three 4 KiB blocks: {done:?}"
        );
        assert_eq!(done.bytes_punched + done.bytes_zero_written, 12288);
        let data = read_all(&f, 64 * 1024);
        for (i, b) in data.chunks(4096).enumerate() {
            let zero = matches!(i, 1 | 2 | 10);
            assert!(
                b.iter().all(|&x| x == if zero { 0 } else { 0xAB }),
                "block {i}"
            );
        }
    }

    #[test]
    fn a_read_of_a_queued_range_waits_for_it_and_others_do_not() {
        let f = file_of(0xAB, 1 << 20);
        let mut p = Puncher::spawn(&f).unwrap();
        for block in 0..64u64 {
            p.punch(block * 8192, 4096).unwrap();
        }
        assert_eq!(p.pending, Some((0, 63 * 8192 + 4096)));
        // Beyond the span: no wait, the span stays.
        p.settle_before_read(64 * 8192, 4096).unwrap();
        assert!(p.pending.is_some());
        // Overlapping: after the wait every queued punch is visible.
        p.settle_before_read(8192, 4096).unwrap();
        assert_eq!(p.pending, None);
        let data = read_all(&f, 64 * 8192);
        for (i, b) in data.chunks(4096).enumerate() {
            let want = if i % 2 == 0 { 0 } else { 0xAB };
            assert!(b.iter().all(|&x| x == want), "block {i}");
        }
        p.finish().unwrap();
    }

    #[test]
    fn without_punching_the_zeros_are_written() {
        let f = file_of(0xCD, 3 * 4096 + 100);
        let mut done = ZeroRunsDone::default();
        let mut can_punch = false;
        apply_zero_run(&f, 4096, 2 * 4096 + 100, &mut can_punch, &mut done).unwrap();
        assert_eq!(
            done,
            ZeroRunsDone {
                blocks_zeroed: 3,
                bytes_zero_written: 2 * 4096 + 100,
                ..ZeroRunsDone::default()
            }
        );
        let data = read_all(&f, 3 * 4096 + 100);
        assert!(data[..4096].iter().all(|&x| x == 0xCD));
        assert!(data[4096..].iter().all(|&x| x == 0));
    }

    #[test]
    fn a_failing_worker_reports_its_error() {
        // A read-only handle: the first punch (or zero write) fails with EBADF.
        let path = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(path.path(), vec![1u8; 8192]).unwrap();
        let ro = File::open(path.path()).unwrap();
        let mut p = Puncher::spawn(&ro).unwrap();
        let mut first_err = None;
        for _ in 0..QUEUE * 2 {
            if let Err(e) = p.punch(0, 4096) {
                first_err = Some(e);
                break;
            }
        }
        let err = match first_err {
            Some(e) => e,
            None => p.finish().unwrap_err(),
        };
        assert!(err.to_string().contains("punch"), "{err}");
    }
}
