//! One replication run per pool at a time, across processes: an advisory `flock` on
//! `<lock-dir>/repl-<host>-<pool>.lock`, released when the process ends (even by SIGKILL).
//!
//! A second run waits up to its `--lock-wait` and then refuses, naming the holder's pid
//! (written into the file) so the admin can see what is running.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use rustix::fs::{FlockOperation, flock};

/// A held pool lock; dropping it releases the lock.
#[derive(Debug)]
pub struct PoolLock {
    _file: File,
    pub path: PathBuf,
}

/// Another run holds the lock.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "another zferry replication run (pid {holder}) holds {path}; waited {waited:?}. \
         Let it finish, or pass --lock-wait <seconds> to wait longer"
    )]
    Busy {
        path: PathBuf,
        holder: String,
        waited: Duration,
    },
    #[error("cannot open lock file {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The lock file name for `pool` on `host` (both validated names: no `/`).
pub fn lock_path(dir: &Path, host: &str, pool: &str) -> PathBuf {
    dir.join(format!("repl-{host}-{pool}.lock"))
}

/// Takes the lock at `path`, polling until `wait` has passed.
pub fn acquire(path: &Path, wait: Duration) -> Result<PoolLock, LockError> {
    let io = |source| LockError::Io {
        path: path.to_owned(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(io)?;
    let start = Instant::now();
    loop {
        match flock(&file, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => break,
            Err(e) if e == rustix::io::Errno::WOULDBLOCK && start.elapsed() < wait => {
                thread::sleep(Duration::from_millis(200));
            }
            Err(e) if e == rustix::io::Errno::WOULDBLOCK => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                return Err(LockError::Busy {
                    path: path.to_owned(),
                    holder: holder.trim().to_owned(),
                    waited: start.elapsed(),
                });
            }
            Err(e) => return Err(io(e.into())),
        }
    }
    file.set_len(0).map_err(io)?;
    file.rewind().map_err(io)?;
    writeln!(file, "{}", std::process::id()).map_err(io)?;
    Ok(PoolLock {
        _file: file,
        path: path.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn second_holder_is_refused_with_the_first_pid_and_gets_it_after_release() {
        let dir = tempfile::tempdir().unwrap();
        let path = lock_path(dir.path(), "nodea", "tank");
        let first = acquire(&path, Duration::ZERO).unwrap();
        // flock locks belong to the open file description, so a second open conflicts even
        // within one process, exactly like a second zferry process.
        let err = acquire(&path, Duration::from_millis(300)).unwrap_err();
        let text = err.to_string();
        assert!(text.contains(&std::process::id().to_string()), "{text}");
        assert!(text.contains("--lock-wait"), "{text}");
        drop(first);
        acquire(&path, Duration::ZERO).unwrap();
    }
}
