//! `KillOnDrop`: a child process that is killed and reaped if its owner goes away early.
//!
//! Covers the in-process case (a panic unwinding through a run, an early `?` return);
//! [`set_parent_death_signal`] covers the whole process dying.

use std::io;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command};

/// Owns a [`Child`]; on drop, a child that is still running is sent SIGKILL and reaped.
#[derive(Debug)]
pub struct KillOnDrop {
    child: Option<Child>,
}

impl KillOnDrop {
    /// Takes ownership of `child`.
    pub fn new(child: Child) -> Self {
        Self { child: Some(child) }
    }

    /// The child's process id.
    pub fn id(&self) -> u32 {
        self.child().id()
    }

    /// Shared access to the child.
    pub fn child(&self) -> &Child {
        self.child
            .as_ref()
            .expect("child is present until into_inner")
    }

    /// Mutable access to the child (pipes, `try_wait`, `kill`).
    pub fn child_mut(&mut self) -> &mut Child {
        self.child
            .as_mut()
            .expect("child is present until into_inner")
    }

    /// Disarms the guard and hands the child back.
    pub fn into_inner(mut self) -> Child {
        self.child
            .take()
            .expect("child is present until into_inner")
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let Some(child) = self.child.as_mut() else {
            return;
        };
        // `try_wait` returns the cached status once the child has been reaped, so a finished
        // run is a no-op here; only a still-running child is killed.
        if let Ok(None) = child.try_wait() {
            tracing::warn!(
                pid = child.id(),
                "killing child process abandoned by its owner"
            );
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Makes the kernel send SIGKILL to the child when the thread that spawned it exits.
///
/// Runs in the forked child before `exec`. If the parent already died before the
/// `prctl` took effect, the spawn fails with `ESRCH` instead of leaving an orphan.
#[allow(unsafe_code)] // the one place zferry needs pre_exec; see SAFETY below
pub(crate) fn set_parent_death_signal(command: &mut Command) {
    let parent = libc::pid_t::try_from(std::process::id()).unwrap_or(0);
    // SAFETY: the closure runs between fork and exec, where only async-signal-safe
    // operations are allowed. It calls only `prctl` and `getppid` (both plain syscalls,
    // async-signal-safe) and builds an `io::Error` from a raw errno, which does not allocate.
    // It touches no locks, no allocator and no shared state of the parent.
    unsafe {
        command.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) != 0 {
                return Err(io::Error::last_os_error());
            }
            if libc::getppid() != parent {
                return Err(io::Error::from_raw_os_error(libc::ESRCH));
            }
            Ok(())
        });
    }
}
