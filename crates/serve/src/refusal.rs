//! Why a command is refused: one typed value per reason, each printable on one line.

use zferry_repl::Epoch;
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
    /// A receive into a dataset fenced at a newer epoch than the stream's (or a stream that
    /// names no epoch into a fenced dataset).
    #[error("{}", fenced_message(dataset, *stream, *own))]
    Fenced {
        dataset: String,
        stream: Option<Epoch>,
        own: Epoch,
    },
    /// A receive into a dataset of a service this node is the master of: a master receives
    /// nothing, so a node that wrongly believes it is master cannot overwrite it.
    #[error(
        "this node is the master of service `{service}`: {dataset} receives no stream (the \
         sender believes it is master; compare `zferry ha status` on both nodes)"
    )]
    ServiceMaster { dataset: String, service: String },
    /// The target's `zferry:epoch` could not be read, so the receive cannot be checked.
    #[error(
        "cannot read the fencing epoch (zferry:epoch) of {dataset}: {reason}; nothing is \
         received until it can be checked"
    )]
    EpochUnreadable { dataset: String, reason: String },
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

fn fenced_message(dataset: &str, stream: Option<Epoch>, own: Epoch) -> String {
    let own = own.0;
    match stream {
        Some(stream) => format!(
            "{dataset} is at fencing epoch {own}, the stream at epoch {}: the sender is an old \
             master and must not overwrite the newer master's data. Make the sending node a \
             standby, or, if it really is the master, raise its dataset's epoch above {own} \
             (`zfs set zferry:epoch={} <dataset>` on the sender)",
            stream.0,
            own.saturating_add(1)
        ),
        None => format!(
            "{dataset} is at fencing epoch {own} and the receive carries no epoch \
             (-o zferry:epoch=<n>): a fenced dataset accepts streams only from a \
             fencing-aware master; update zferry on the sending node"
        ),
    }
}

impl Refusal {
    pub(crate) fn usage(cmd: &'static str, reason: impl Into<String>) -> Self {
        Self::Usage {
            cmd,
            reason: reason.into(),
        }
    }
}
