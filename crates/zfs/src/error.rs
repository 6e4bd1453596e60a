//! Typed failures of `zfs`/`zpool` commands, classified from their stderr.
//!
//! libzfs prints `<action>: <description>` on stderr and exits 1; the description is the only
//! machine-readable signal. [`classify`] maps it to a [`ZfsErrorKind`] through one table,
//! [`STDERR_FRAGMENTS`], whose entries are message texts from OpenZFS 2.x libzfs
//! (`libzfs_util.c`, `libzfs_dataset.c`, `libzfs_sendrecv.c`, `zfs_main.c`). Adding a case
//! captured on real ZFS is one line in that table plus one test. Each kind says whether
//! retrying the same command can help ([`RetryClass`]).

use std::fmt;

pub use zferry_exec::RetryClass;
use zferry_exec::{ExecError, Output};

use crate::parse::ParseError;

/// What went wrong, as far as the stderr text tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ZfsErrorKind {
    DatasetNotFound,
    DatasetExists,
    /// `zfs receive` of a full stream onto a destination that has snapshots.
    DestinationHasSnapshots,
    NoSuchPool,
    PermissionDenied,
    /// Dataset or pool busy, or pool I/O suspended.
    Busy,
    OutOfSpace,
    /// Snapshot (or filesystem) has dependent clones.
    SnapshotHasClones,
    /// Filesystem/volume has children (`-r` needed).
    HasChildren,
    /// The snapshot a resume token refers to is gone or was replaced.
    ResumeTokenStale,
    ResumeTokenCorrupt,
    /// The destination holds a partial `zfs receive -s`; resume it or abort it (`recv -A`).
    ResumableReceiveInProgress,
    /// Incremental receive refused: the destination changed since its latest snapshot.
    ReceiveDestinationModified,
    /// Incremental receive refused: the destination's latest snapshot is not the stream's base.
    IncrementalSourceMismatch,
    /// The stream ended early or was corrupted in transit (a resumable receive keeps state).
    StreamInterrupted,
    InvalidName,
    PropertyInvalid,
    ChannelProgramError,
    IoError,
    Interrupted,
    Unknown,
}

impl ZfsErrorKind {
    /// Whether running the same command again, unchanged, can succeed.
    pub fn retry_class(self) -> RetryClass {
        match self {
            Self::Busy | Self::StreamInterrupted | Self::IoError | Self::Interrupted => {
                RetryClass::Transient
            }
            _ => RetryClass::Permanent,
        }
    }

    /// Short human description.
    pub fn describe(self) -> &'static str {
        match self {
            Self::DatasetNotFound => "dataset not found",
            Self::DatasetExists => "dataset already exists",
            Self::DestinationHasSnapshots => "receive destination has snapshots",
            Self::NoSuchPool => "no such pool",
            Self::PermissionDenied => "permission denied",
            Self::Busy => "busy",
            Self::OutOfSpace => "out of space",
            Self::SnapshotHasClones => "has dependent clones",
            Self::HasChildren => "has children",
            Self::ResumeTokenStale => "resume token is stale",
            Self::ResumeTokenCorrupt => "resume token is corrupt",
            Self::ResumableReceiveInProgress => "a resumable receive is in progress",
            Self::ReceiveDestinationModified => {
                "receive destination modified since its last snapshot"
            }
            Self::IncrementalSourceMismatch => "incremental source does not match",
            Self::StreamInterrupted => "stream interrupted or corrupt",
            Self::InvalidName => "invalid name",
            Self::PropertyInvalid => "invalid property",
            Self::ChannelProgramError => "channel program failed",
            Self::IoError => "I/O error",
            Self::Interrupted => "interrupted",
            Self::Unknown => "unrecognised error",
        }
    }
}

impl fmt::Display for ZfsErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}

/// stderr fragments and what they mean; the first fragment found in stderr wins, so more
/// specific texts come before more general ones.
pub const STDERR_FRAGMENTS: &[(&str, ZfsErrorKind)] = {
    use ZfsErrorKind as K;
    &[
        // receive / resume (libzfs_sendrecv.c)
        (
            "contains partially-complete state from \"zfs receive -s\"",
            K::ResumableReceiveInProgress,
        ),
        ("since most recent snapshot", K::ReceiveDestinationModified),
        ("match incremental source", K::IncrementalSourceMismatch),
        (
            "used in the initial send no longer exists",
            K::ResumeTokenStale,
        ),
        (
            "is no longer the same snapshot used in the initial send",
            K::ResumeTokenStale,
        ),
        ("resume token is corrupt", K::ResumeTokenCorrupt),
        (
            "checksum mismatch or incomplete stream",
            K::StreamInterrupted,
        ),
        ("incomplete stream", K::StreamInterrupted),
        ("destination has snapshots", K::DestinationHasSnapshots),
        ("must specify -F to overwrite it", K::DatasetExists),
        ("destination already exists", K::DatasetExists),
        ("space quota exceeded", K::OutOfSpace),
        // destroy (zfs_main.c, libzfs_dataset.c)
        ("has dependent clones", K::SnapshotHasClones),
        ("snapshot is cloned", K::SnapshotHasClones),
        ("has children", K::HasChildren),
        // channel programs (zfs_main.c)
        ("Channel program execution failed", K::ChannelProgramError),
        // generic errno descriptions (libzfs_util.c)
        ("pool I/O is currently suspended", K::Busy),
        ("pool or dataset is busy", K::Busy),
        ("dataset is busy", K::Busy),
        ("pool is busy", K::Busy),
        ("no such pool or dataset", K::DatasetNotFound),
        ("dataset does not exist", K::DatasetNotFound),
        ("no such pool", K::NoSuchPool),
        ("dataset already exists", K::DatasetExists),
        ("pool or dataset exists", K::DatasetExists),
        ("permission denied", K::PermissionDenied),
        ("Permission denied", K::PermissionDenied),
        ("out of space", K::OutOfSpace),
        ("invalid property", K::PropertyInvalid),
        ("bad property list", K::PropertyInvalid),
        ("read-only property", K::PropertyInvalid),
        (
            "property doesn't apply to datasets of this type",
            K::PropertyInvalid,
        ),
        ("invalid character", K::InvalidName),
        ("name is too long", K::InvalidName),
        ("invalid dataset name", K::InvalidName),
        ("empty component or misplaced", K::InvalidName),
        ("leading slash in name", K::InvalidName),
        ("trailing slash in name", K::InvalidName),
        ("multiple '@' and/or '#' delimiters", K::InvalidName),
        ("invalid name", K::InvalidName),
        ("name is reserved", K::InvalidName),
        ("does not exist", K::DatasetNotFound),
        ("I/O error", K::IoError),
        ("signal received", K::Interrupted),
    ]
};

/// Maps a command's stderr to what went wrong.
pub fn classify(stderr: &str) -> ZfsErrorKind {
    STDERR_FRAGMENTS
        .iter()
        .find(|(frag, _)| stderr.contains(frag))
        .map_or(ZfsErrorKind::Unknown, |&(_, kind)| kind)
}

fn between<'a>(s: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let from = s.find(start)? + start.len();
    let len = s[from..].find(end)?;
    Some(&s[from..from + len])
}

/// The object the message is about: a dataset/pool/snapshot name, or for channel programs
/// the Lua error text.
fn detail(kind: ZfsErrorKind, stderr: &str) -> Option<String> {
    let found = match kind {
        ZfsErrorKind::ReceiveDestinationModified => between(stderr, "destination ", " has been"),
        ZfsErrorKind::ResumableReceiveInProgress => between(stderr, "destination ", " contains"),
        ZfsErrorKind::IncrementalSourceMismatch => {
            between(stderr, "most recent snapshot of ", " does not")
        }
        ZfsErrorKind::ChannelProgramError => stderr
            .split_once("Channel program execution failed:")
            .map(|(_, rest)| rest),
        _ => between(stderr, "'", "'"),
    };
    found.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

/// A `zfs`/`zpool` command that ran and exited non-zero.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandFailure {
    pub kind: ZfsErrorKind,
    /// Dataset/pool named in the message (or the channel program's error text), if found.
    pub detail: Option<String>,
    pub host: String,
    pub argv: Vec<String>,
    pub exit_code: Option<i32>,
    pub stderr: String,
}

impl CommandFailure {
    /// Classifies a failed command from its argv, exit code and stderr.
    pub fn new(host: &str, argv: Vec<String>, exit_code: Option<i32>, stderr: &str) -> Self {
        let kind = classify(stderr);
        Self {
            kind,
            detail: detail(kind, stderr),
            host: host.to_owned(),
            argv,
            exit_code,
            stderr: stderr.to_owned(),
        }
    }

    /// `Some` when `out` is a failure.
    pub fn from_output(out: &Output) -> Option<Self> {
        (!out.success())
            .then(|| Self::new(&out.host, out.argv.clone(), out.status.code, &out.stderr))
    }
}

impl fmt::Display for CommandFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` on {} failed: {}",
            self.argv.join(" "),
            self.host,
            self.kind
        )?;
        if let Some(d) = &self.detail {
            write!(f, " ({d})")?;
        }
        write!(f, ": {}", self.stderr.trim_end())
    }
}

/// A command that succeeded but printed output its parser rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{}` on {host}: unexpected output: {source}", argv.join(" "))]
pub struct OutputError {
    pub host: String,
    pub argv: Vec<String>,
    #[source]
    pub source: ParseError,
}

/// Anything that can go wrong running a `zfs`/`zpool` command and reading its output.
#[derive(Debug, thiserror::Error)]
pub enum ZfsError {
    /// The command ran and failed; see [`CommandFailure::kind`].
    #[error("{0}")]
    Command(Box<CommandFailure>),
    /// The command could not be run (spawn, timeout, ssh transport).
    #[error(transparent)]
    Exec(ExecError),
    /// The command succeeded but its output did not parse.
    #[error(transparent)]
    Parse(Box<OutputError>),
}

impl ZfsError {
    /// The classified kind, for failures that came from a command's stderr.
    pub fn kind(&self) -> Option<ZfsErrorKind> {
        match self {
            Self::Command(c) => Some(c.kind),
            _ => None,
        }
    }

    pub fn retry_class(&self) -> RetryClass {
        match self {
            Self::Command(c) => c.kind.retry_class(),
            Self::Exec(e) => e.retry_class(),
            Self::Parse(_) => RetryClass::Permanent,
        }
    }
}

impl From<ExecError> for ZfsError {
    /// `ExecError::Failed` is classified from its stderr; other exec errors pass through.
    fn from(e: ExecError) -> Self {
        match e {
            ExecError::Failed {
                host,
                argv,
                code,
                stderr,
                ..
            } => Self::Command(Box::new(CommandFailure::new(&host, argv, code, &stderr))),
            other => Self::Exec(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ZfsErrorKind as K;

    /// Messages as libzfs composes them (`<action>: <description>`), from OpenZFS 2.x sources.
    /// Lab captures should be added next to these.
    const CASES: &[(&str, ZfsErrorKind, Option<&str>)] = &[
        (
            "cannot open 'tank/nope': dataset does not exist\n",
            K::DatasetNotFound,
            Some("tank/nope"),
        ),
        (
            "cannot open 'nopool': no such pool\n",
            K::NoSuchPool,
            Some("nopool"),
        ),
        (
            "cannot create 'tank/a': dataset already exists\n",
            K::DatasetExists,
            Some("tank/a"),
        ),
        (
            "cannot destroy 'tank/a': dataset is busy\n",
            K::Busy,
            Some("tank/a"),
        ),
        (
            "cannot unmount '/tank/a': pool or dataset is busy\n",
            K::Busy,
            Some("/tank/a"),
        ),
        (
            "cannot create snapshot 'tank/a@s': pool I/O is currently suspended\n",
            K::Busy,
            Some("tank/a@s"),
        ),
        (
            "cannot create snapshot 'tank/a@s': out of space\n",
            K::OutOfSpace,
            Some("tank/a@s"),
        ),
        (
            "cannot set property for 'tank/a': permission denied\n",
            K::PermissionDenied,
            Some("tank/a"),
        ),
        (
            "cannot destroy 'tank/a@s': snapshot has dependent clones\nuse '-R' to destroy the following datasets:\ntank/clone\n",
            K::SnapshotHasClones,
            Some("tank/a@s"),
        ),
        (
            "cannot destroy snapshot tank/a@s: snapshot is cloned\n",
            K::SnapshotHasClones,
            None,
        ),
        (
            "cannot destroy 'tank/a': filesystem has children\nuse '-r' to destroy the following datasets:\ntank/a/b\n",
            K::HasChildren,
            Some("tank/a"),
        ),
        (
            "cannot receive incremental stream: destination tank/my data has been modified\nsince most recent snapshot\n",
            K::ReceiveDestinationModified,
            Some("tank/my data"),
        ),
        (
            "cannot receive incremental stream: most recent snapshot of tank/b does not\nmatch incremental source\n",
            K::IncrementalSourceMismatch,
            Some("tank/b"),
        ),
        (
            "cannot receive new filesystem stream: destination tank/b contains partially-complete state from \"zfs receive -s\".\n",
            K::ResumableReceiveInProgress,
            Some("tank/b"),
        ),
        (
            "cannot resume send: 'tank/a@s2' used in the initial send no longer exists\n",
            K::ResumeTokenStale,
            Some("tank/a@s2"),
        ),
        (
            "cannot resume send: 'tank/a@s2' is no longer the same snapshot used in the initial send\n",
            K::ResumeTokenStale,
            Some("tank/a@s2"),
        ),
        (
            "cannot resume send: resume token is corrupt\n",
            K::ResumeTokenCorrupt,
            None,
        ),
        (
            "cannot receive incremental stream: checksum mismatch or incomplete stream.\nPartially received snapshot is saved.\n",
            K::StreamInterrupted,
            None,
        ),
        (
            "cannot receive new filesystem stream: destination 'tank/b' exists\nmust specify -F to overwrite it\n",
            K::DatasetExists,
            Some("tank/b"),
        ),
        (
            "cannot receive new filesystem stream: destination has snapshots (eg. tank/b@x)\nmust destroy them to overwrite it\n",
            K::DestinationHasSnapshots,
            None,
        ),
        (
            "cannot open 'tank/a!': invalid character '!' in name\n",
            K::InvalidName,
            Some("tank/a!"),
        ),
        (
            "cannot set property for 'tank/a': invalid property 'bogus'\n",
            K::PropertyInvalid,
            Some("tank/a"),
        ),
        (
            "Channel program execution failed:\n[string \"channel program\"]:1: attempt to call a nil value\n",
            K::ChannelProgramError,
            Some("[string \"channel program\"]:1: attempt to call a nil value"),
        ),
        ("something entirely new\n", K::Unknown, None),
    ];

    #[test]
    fn classify_known_messages() {
        for &(stderr, kind, detail_want) in CASES {
            assert_eq!(classify(stderr), kind, "{stderr:?}");
            let f = CommandFailure::new("h", vec!["zfs".into()], Some(1), stderr);
            assert_eq!(f.detail.as_deref(), detail_want, "{stderr:?}");
        }
    }

    #[test]
    fn retry_classes() {
        assert_eq!(K::Busy.retry_class(), RetryClass::Transient);
        assert_eq!(K::StreamInterrupted.retry_class(), RetryClass::Transient);
        assert_eq!(K::DatasetNotFound.retry_class(), RetryClass::Permanent);
        assert_eq!(
            K::ReceiveDestinationModified.retry_class(),
            RetryClass::Permanent
        );
        assert_eq!(K::Unknown.retry_class(), RetryClass::Permanent);
    }

    #[test]
    fn from_exec_failed_is_classified() {
        let e = ExecError::Failed {
            host: "pve1".into(),
            argv: vec!["zfs".into(), "destroy".into(), "tank/a".into()],
            code: Some(1),
            signal: None,
            stderr: "cannot destroy 'tank/a': dataset is busy\n".into(),
        };
        let z = ZfsError::from(e);
        assert_eq!(z.kind(), Some(K::Busy));
        assert_eq!(z.retry_class(), RetryClass::Transient);
        assert_eq!(
            z.to_string(),
            "`zfs destroy tank/a` on pve1 failed: busy (tank/a): cannot destroy 'tank/a': dataset is busy"
        );
    }

    #[test]
    fn table_order_keeps_specific_first() {
        // "no such pool or dataset" must not be read as NoSuchPool.
        assert_eq!(
            classify("cannot open 'x': no such pool or dataset"),
            K::DatasetNotFound
        );
        for (i, (frag, _)) in STDERR_FRAGMENTS.iter().enumerate() {
            for (later, kind) in &STDERR_FRAGMENTS[i + 1..] {
                assert!(
                    !later.contains(frag) || later == frag,
                    "{later:?} ({kind:?}) is shadowed by earlier {frag:?}"
                );
            }
        }
    }
}
