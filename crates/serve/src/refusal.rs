//! Why a command is refused: one typed value per reason, each printable on one line.

use zferry_zfs::NameError;

use crate::unquote::UnquoteError;

/// A refused command. `Display` is the reason the client sees after `zferry serve: refused:`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// sshd ran the forced command without a client command (an interactive login).
    #[error("no command: this key only runs zferry replication commands, not a shell")]
    NoCommand,
    /// The command line is not something `shell_join` produces.
    #[error("not a command line zferry sends: {0}")]
    Unquote(#[from] UnquoteError),
    /// An empty argv.
    #[error("empty command")]
    Empty,
    /// A program other than `zfs` (or `zferry --version`, `zferry wire`).
    #[error("program {0:?} is not served (only zfs, `zferry --version` and `zferry wire`)")]
    Program(String),
    /// A `zferry wire` command of the wrong shape (the inner `zfs` argv is checked as usual).
    #[error("`zferry wire`: {0}")]
    Wire(String),
    /// A `zfs` subcommand that is never served.
    #[error("`zfs {0}` is not served")]
    Subcommand(String),
    /// A served subcommand with options or operands outside its allowed shapes.
    #[error("`zfs {cmd}`: {reason}")]
    Usage { cmd: &'static str, reason: String },
    /// An operand that is not a valid ZFS name of the expected kind.
    #[error("`zfs {cmd}`: {word:?} is not a valid {kind} name: {source}")]
    Name {
        cmd: &'static str,
        word: String,
        kind: &'static str,
        source: NameError,
    },
    /// A valid name outside every dataset this node serves.
    #[error("{name} is outside the datasets node {node} serves for replication ({policy})")]
    Outside {
        name: String,
        node: String,
        policy: String,
    },
    /// `zfs receive -F` where no job allows destroying target data.
    #[error(
        "`zfs receive -F` into {dataset} needs allow-rollback-to-common or allow-force-full \
         in a job whose endpoint on this node covers it"
    )]
    ForceReceive { dataset: String },
    /// Rename/clone/promote of a diverged target where no job keeps diverged data aside.
    #[error(
        "keeping {dataset} aside (rename, clone, promote) needs on-divergence = \"preserve\" \
         in a job whose endpoint on this node covers it"
    )]
    Preserve { dataset: String },
    /// The node's config could not be loaded: nothing is served.
    #[error("config unusable, nothing is served: {0}")]
    Config(String),
    /// `SSH_ORIGINAL_COMMAND` is not UTF-8 text.
    #[error("command line is not UTF-8 text")]
    NotUtf8,
    /// A resume token whose snapshot could not be determined.
    #[error("resume token: {0}")]
    Token(String),
}

impl Refusal {
    pub(crate) fn usage(cmd: &'static str, reason: impl Into<String>) -> Self {
        Self::Usage {
            cmd,
            reason: reason.into(),
        }
    }
}
