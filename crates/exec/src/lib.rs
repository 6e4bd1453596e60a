//! Runs external commands: one chokepoint for every process zferry starts, locally or over ssh.
//!
//! - [`CommandSpec`] describes a command as an argv vector (never a shell string).
//! - [`Executor`] runs it somewhere: [`LocalExecutor`] here, [`SshExecutor`] on another host.
//! - [`Output`] is what a finished command produced; non-zero exits are still `Ok` and
//!   [`Output::check`] turns them into [`ExecError::Failed`].
//! - [`shell_quote`]/[`shell_join`] are the only quoting used for anything sent over ssh.
//!
//! - [`stream::spawn`] starts a command with caller-wired stdin/stdout, for pipelines such as
//!   `zfs send | zfs recv` (the kernel pipes the data; zferry never copies it).
//!
//! [`Executor::run`] runs a command to completion and buffers its output;
//! [`Executor::process_argv`] tells [`stream::spawn`] what to start locally for it.

mod bounded;
mod error;
mod kill_on_drop;
mod local;
mod output;
mod quote;
mod spec;
mod ssh;
pub mod stream;

use std::sync::Arc;

pub use error::{ExecError, RetryClass};
pub use kill_on_drop::KillOnDrop;
pub use local::{LocalExecutor, system_hostname};
pub use output::{ExitStatusLike, Output};
pub use quote::{QuoteError, shell_join, shell_quote};
pub use spec::{CommandSpec, DEFAULT_MAX_STDERR, DEFAULT_TIMEOUT};
pub use ssh::{SshConfigError, SshExecutor, SshName, classify_ssh_output};
pub use stream::{LineObserver, Spawned, spawn};

/// Something that runs commands on one host.
pub trait Executor: Send + Sync + std::fmt::Debug {
    /// The host commands run on, as shown in logs and errors.
    fn host(&self) -> &str;

    /// Runs `cmd` to completion. A non-zero exit is `Ok`; errors mean it could not be run,
    /// timed out, or (ssh) the connection failed.
    fn run(&self, cmd: &CommandSpec) -> Result<Output, ExecError>;

    /// The local argv that starts `cmd` on this host (the command itself, or `ssh … -- cmd`).
    /// Wrappers must forward it; the default suits executors that run commands locally.
    fn process_argv(&self, cmd: &CommandSpec) -> Result<Vec<String>, ExecError> {
        Ok(cmd.argv())
    }

    /// True when commands run on another machine (through ssh).
    fn is_remote(&self) -> bool {
        false
    }
}

impl<E: Executor + ?Sized> Executor for &E {
    fn host(&self) -> &str {
        (**self).host()
    }

    fn run(&self, cmd: &CommandSpec) -> Result<Output, ExecError> {
        (**self).run(cmd)
    }

    fn process_argv(&self, cmd: &CommandSpec) -> Result<Vec<String>, ExecError> {
        (**self).process_argv(cmd)
    }

    fn is_remote(&self) -> bool {
        (**self).is_remote()
    }
}

impl<E: Executor + ?Sized> Executor for Box<E> {
    fn host(&self) -> &str {
        (**self).host()
    }

    fn run(&self, cmd: &CommandSpec) -> Result<Output, ExecError> {
        (**self).run(cmd)
    }

    fn process_argv(&self, cmd: &CommandSpec) -> Result<Vec<String>, ExecError> {
        (**self).process_argv(cmd)
    }

    fn is_remote(&self) -> bool {
        (**self).is_remote()
    }
}

impl<E: Executor + ?Sized> Executor for Arc<E> {
    fn host(&self) -> &str {
        (**self).host()
    }

    fn run(&self, cmd: &CommandSpec) -> Result<Output, ExecError> {
        (**self).run(cmd)
    }

    fn process_argv(&self, cmd: &CommandSpec) -> Result<Vec<String>, ExecError> {
        (**self).process_argv(cmd)
    }

    fn is_remote(&self) -> bool {
        (**self).is_remote()
    }
}
