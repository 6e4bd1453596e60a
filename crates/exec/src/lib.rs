//! Runs external commands: one chokepoint for every process zferry starts, locally or over ssh.
//!
//! - [`CommandSpec`] describes a command as an argv vector (never a shell string).
//! - [`Executor`] runs it somewhere: [`LocalExecutor`] here, [`SshExecutor`] on another host.
//! - [`Output`] is what a finished command produced; non-zero exits are still `Ok` and
//!   [`Output::check`] turns them into [`ExecError::Failed`].
//! - [`shell_quote`]/[`shell_join`] are the only quoting used for anything sent over ssh.
//!
//! The trait is deliberately minimal: it runs a command to completion and buffers its
//! output. Streaming (piping `zfs send` into `zfs recv`) will be added by the replication
//! engine as a separate spawn-with-pipes entry point reusing [`KillOnDrop`].

mod bounded;
mod error;
mod kill_on_drop;
mod local;
mod output;
mod quote;
mod spec;
mod ssh;

use std::sync::Arc;

pub use error::{ExecError, RetryClass};
pub use kill_on_drop::KillOnDrop;
pub use local::LocalExecutor;
pub use output::{ExitStatusLike, Output};
pub use quote::{QuoteError, shell_join, shell_quote};
pub use spec::{CommandSpec, DEFAULT_MAX_STDERR, DEFAULT_TIMEOUT};
pub use ssh::{SshConfigError, SshExecutor, SshName, classify_ssh_output};

/// Something that runs commands on one host.
pub trait Executor: Send + Sync + std::fmt::Debug {
    /// The host commands run on, as shown in logs and errors.
    fn host(&self) -> &str;

    /// Runs `cmd` to completion. A non-zero exit is `Ok`; errors mean it could not be run,
    /// timed out, or (ssh) the connection failed.
    fn run(&self, cmd: &CommandSpec) -> Result<Output, ExecError>;
}

impl<E: Executor + ?Sized> Executor for &E {
    fn host(&self) -> &str {
        (**self).host()
    }

    fn run(&self, cmd: &CommandSpec) -> Result<Output, ExecError> {
        (**self).run(cmd)
    }
}

impl<E: Executor + ?Sized> Executor for Box<E> {
    fn host(&self) -> &str {
        (**self).host()
    }

    fn run(&self, cmd: &CommandSpec) -> Result<Output, ExecError> {
        (**self).run(cmd)
    }
}

impl<E: Executor + ?Sized> Executor for Arc<E> {
    fn host(&self) -> &str {
        (**self).host()
    }

    fn run(&self, cmd: &CommandSpec) -> Result<Output, ExecError> {
        (**self).run(cmd)
    }
}
