//! The argv shapes `zferry serve` runs, parsed into typed requests (syntax only; whether the
//! names are this node's to serve is [`crate::authorize`]'s business).
//!
//! Options are separate words (`-H -p`, not `-Hp`), each at most once, in any order, all
//! before the operands; option values are the next word. Every name operand becomes a
//! `zferry_zfs` checked name, and the argv that is finally run is rebuilt from these values
//! ([`Request::zfs_args`]), never copied from the client.

use std::fmt;

use zferry_zfs::{
    BookmarkName, DatasetName, NameError, ObjectName, ObjectType, PropertyName, SnapshotName,
    UserPropName,
};

use zferry_repl::{EPOCH_PROPERTY, Epoch};

use crate::refusal::Refusal;

/// Native columns `zfs list -o` may ask for; user properties (`x:y`) are accepted too.
pub const LIST_COLUMNS: [&str; 12] = [
    "name",
    "type",
    "guid",
    "createtxg",
    "creation",
    "referenced",
    "used",
    "written",
    "snapshots_changed",
    "receive_resume_token",
    "encryption",
    "userrefs",
];

/// Columns `zfs get -o` may ask for.
pub const GET_COLUMNS: [&str; 5] = ["name", "property", "value", "received", "source"];

/// Bookmarks `zfs destroy` may remove: those zferry itself names (replication cursors).
pub const OWNED_BOOKMARK_PREFIX: &str = "zferry_";

/// Hold tags `zfs hold`/`zfs release` may use.
pub const HOLD_TAG_PREFIX: &str = "zferry:";

/// Properties a stream cannot set when serve receives as root (`zfs receive -x`): a stream
/// with properties (`send -p`/`-R`, which zferry never sends) could otherwise mount a
/// dataset over a system directory, share it, or allow setuid binaries. Without properties
/// in the stream `-x` changes nothing. (A non-root receiver is already refused properties it
/// was not delegated.)
pub const RECEIVE_EXCLUDED_PROPS: [&str; 8] = [
    "mountpoint",
    "canmount",
    "sharenfs",
    "sharesmb",
    "setuid",
    "exec",
    "devices",
    "zoned",
];

/// Longest resume token accepted (real ones are a few hundred bytes).
pub const MAX_TOKEN_LEN: usize = 16 * 1024;

/// What `zferry wire` does around its `zfs` command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireMode {
    /// `zferry wire compress -- <zfs send …>`: zstd-compress the send's stdout.
    Compress,
    /// `zferry wire decompress -- <zfs receive -s …>`: zstd-decompress stdin into the receive.
    Decompress,
}

impl WireMode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Compress => "compress",
            Self::Decompress => "decompress",
        }
    }
}

/// A parsed, served command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// `zferry --version`: answered by serve itself.
    Version,
    /// `zferry wire compress|decompress -- <zfs argv>`: the inner `zfs` command, a send
    /// (or resume) for `compress`, a resumable receive for `decompress`, with zstd done by
    /// zferry itself on the stream.
    Wire {
        mode: WireMode,
        inner: Box<Request>,
    },
    List(List),
    Send(Send),
    /// `zfs send [-e] [-n] [-v] [-P] -t <token>`.
    Resume {
        flags: Vec<&'static str>,
        token: ResumeToken,
    },
    /// `zfs receive -s [-u] [-F] [-o readonly=on] [-o zferry:epoch=<n>] <dataset>`;
    /// `hardened` adds `-x <p>` for each of [`RECEIVE_EXCLUDED_PROPS`] (see
    /// [`Request::hardened`]). `epoch`: the sender's fencing epoch, which the target takes.
    Receive {
        unmounted: bool,
        force: bool,
        readonly: bool,
        epoch: Option<Epoch>,
        hardened: bool,
        dataset: DatasetName,
    },
    /// `zfs receive -A <dataset>`: abort a partial resumable receive.
    ReceiveAbort(DatasetName),
    /// `zfs bookmark <ds@snap|ds#mark> <ds#mark>` (a bookmark source copies that bookmark).
    Bookmark {
        source: ObjectName,
        bookmark: BookmarkName,
    },
    /// `zfs destroy <ds#zferry_…>`.
    DestroyBookmark(BookmarkName),
    /// `zfs hold <zferry:…> <ds@snap>…`.
    Hold {
        tag: HoldTag,
        snapshots: Vec<SnapshotName>,
    },
    /// `zfs release <zferry:…> <ds@snap>…`.
    Release {
        tag: HoldTag,
        snapshots: Vec<SnapshotName>,
    },
    /// `zfs holds -H [-p] <ds@snap>…`.
    Holds {
        parsable: bool,
        snapshots: Vec<SnapshotName>,
    },
    /// `zfs get -H -p -o <columns> <props> <object>…`.
    Get {
        columns: Vec<String>,
        props: Vec<PropertyName>,
        targets: Vec<ObjectName>,
    },
    /// Keeping a diverged target aside (`on-divergence = "preserve"`), in its four shapes;
    /// every name is `<ds>` or its aside `<ds>.diverged-<suffix>` (see [`aside_base`]).
    Preserve(PreserveStep),
}

/// One step of keeping a diverged target aside, as the replication engine sends them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PreserveStep {
    /// `zfs rename <ds> <ds>.diverged-<suffix>`.
    RenameAside { from: DatasetName, to: DatasetName },
    /// `zfs clone -o canmount=noauto <aside>@<snap> <ds>`.
    CloneCommon {
        origin: SnapshotName,
        to: DatasetName,
    },
    /// `zfs promote <ds>`.
    Promote(DatasetName),
    /// `zfs rename -u <aside>/<child> <ds>/<child>`.
    MoveChildBack { from: DatasetName, to: DatasetName },
}

impl PreserveStep {
    /// The `zfs` arguments, as parsed.
    pub fn zfs_args(&self) -> Vec<&str> {
        match self {
            Self::RenameAside { from, to } => vec!["rename", from.as_str(), to.as_str()],
            Self::CloneCommon { origin, to } => {
                vec![
                    "clone",
                    "-o",
                    "canmount=noauto",
                    origin.as_str(),
                    to.as_str(),
                ]
            }
            Self::Promote(ds) => vec!["promote", ds.as_str()],
            Self::MoveChildBack { from, to } => vec!["rename", "-u", from.as_str(), to.as_str()],
        }
    }
    /// The served dataset the step works on (what authorization checks; the aside's name
    /// is tied to it by construction).
    pub fn base(&self) -> &DatasetName {
        match self {
            Self::RenameAside { from: base, .. }
            | Self::CloneCommon { to: base, .. }
            | Self::Promote(base)
            | Self::MoveChildBack { to: base, .. } => base,
        }
    }
}

/// The suffix marker of a dataset kept aside by `on-divergence = "preserve"`.
const ASIDE_MARK: &str = ".diverged-";

/// For `<parent>/<name>.diverged-<suffix>[/<child>…]` (suffix: letters, digits, `-`), the
/// dataset it was kept aside from, `<parent>/<name>[/<child>…]`, and whether the aside is
/// the last component (the dataset itself, not a child of it).
pub fn aside_base(ds: &DatasetName) -> Option<(DatasetName, bool)> {
    let parts: Vec<&str> = ds.as_str().split('/').collect();
    let (at, base) = parts.iter().enumerate().find_map(|(i, part)| {
        let (base, suffix) = part.split_once(ASIDE_MARK)?;
        let ok = !base.is_empty()
            && !suffix.is_empty()
            && suffix
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-');
        ok.then_some((i, base))
    })?;
    let mut rebuilt: Vec<&str> = parts.clone();
    rebuilt[at] = base;
    let name = rebuilt.join("/").parse().ok()?;
    Some((name, at == parts.len() - 1))
}

/// `zfs list -H -p -o <columns> -t <types> [-r] [-d <n>] <dataset>…`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct List {
    pub columns: Vec<String>,
    pub types: Vec<ObjectType>,
    pub recursive: bool,
    pub depth: Option<u32>,
    pub datasets: Vec<DatasetName>,
}

/// `zfs send [-w] [-v] [-P] [-L] [-e] [-c] [-n] [(-i|-I) <from>] <ds@snap>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Send {
    /// The boolean flags given, in the client's order.
    pub flags: Vec<&'static str>,
    /// `-i` or `-I` and the incremental source, resolved to a full name.
    pub from: Option<(&'static str, ObjectName)>,
    pub snapshot: SnapshotName,
}

/// A `receive_resume_token` value: `[0-9A-Za-z-]`, starting with a letter or digit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResumeToken(String);

impl ResumeToken {
    pub fn parse(s: &str) -> Option<Self> {
        let ok = !s.is_empty()
            && s.len() <= MAX_TOKEN_LEN
            && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !s.starts_with('-');
        ok.then(|| Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A hold tag zferry owns: `zferry:` then 1–64 of `[A-Za-z0-9_.:-]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HoldTag(String);

impl HoldTag {
    pub fn parse(s: &str) -> Option<Self> {
        let rest = s.strip_prefix(HOLD_TAG_PREFIX)?;
        let ok = !rest.is_empty()
            && rest.len() <= 64
            && rest
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_.:-".contains(&b));
        ok.then(|| Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Options of one subcommand: boolean flags and flags taking the next word as value.
struct Spec {
    cmd: &'static str,
    flags: &'static [&'static str],
    valued: &'static [&'static str],
    /// Valued options that may be given more than once.
    repeatable: &'static [&'static str],
}

/// Options as given (by their `'static` spelling), and the operands after them.
struct Parsed<'a> {
    cmd: &'static str,
    opts: Vec<(&'static str, Option<&'a str>)>,
    operands: &'a [String],
}

impl Spec {
    fn parse<'a>(&self, args: &'a [String]) -> Result<Parsed<'a>, Refusal> {
        let mut opts: Vec<(&'static str, Option<&'a str>)> = Vec::new();
        let mut i = 0;
        while let Some(word) = args.get(i).filter(|w| w.starts_with('-')) {
            let known = |set: &'static [&'static str]| set.iter().copied().find(|f| f == word);
            let (flag, value) = if let Some(flag) = known(self.flags) {
                (flag, None)
            } else if let Some(flag) = known(self.valued) {
                i += 1;
                let value = args.get(i).ok_or_else(|| {
                    Refusal::usage(self.cmd, format!("option {flag} needs a value"))
                })?;
                (flag, Some(value.as_str()))
            } else {
                return Err(Refusal::usage(
                    self.cmd,
                    format!("option {word:?} is not served"),
                ));
            };
            if !self.repeatable.contains(&flag) && opts.iter().any(|(f, _)| *f == flag) {
                return Err(Refusal::usage(
                    self.cmd,
                    format!("option {flag} given twice"),
                ));
            }
            opts.push((flag, value));
            i += 1;
        }
        Ok(Parsed {
            cmd: self.cmd,
            opts,
            operands: &args[i..],
        })
    }
}

impl<'a> Parsed<'a> {
    fn has(&self, flag: &str) -> bool {
        self.opts.iter().any(|(f, _)| *f == flag)
    }

    fn value(&self, flag: &str) -> Option<&'a str> {
        self.opts.iter().find(|(f, _)| *f == flag).and_then(|o| o.1)
    }

    /// Every value of a repeatable option, in the client's order.
    fn values(&self, flag: &str) -> impl Iterator<Item = &'a str> {
        self.opts
            .iter()
            .filter(move |(f, _)| *f == flag)
            .filter_map(|o| o.1)
    }

    fn require(&self, flag: &str) -> Result<(), Refusal> {
        if self.has(flag) {
            Ok(())
        } else {
            Err(Refusal::usage(
                self.cmd,
                format!("option {flag} is required"),
            ))
        }
    }

    fn required_value(&self, flag: &str) -> Result<&'a str, Refusal> {
        self.require(flag)?;
        Ok(self.value(flag).unwrap_or_default())
    }

    /// The boolean flags given that are in `set`, in the client's order.
    fn flags_in(&self, set: &[&'static str]) -> Vec<&'static str> {
        self.opts
            .iter()
            .map(|(f, _)| *f)
            .filter(|f| set.contains(f))
            .collect()
    }

    fn operand_count(&self, min: usize, max: Option<usize>, what: &str) -> Result<(), Refusal> {
        let n = self.operands.len();
        if n < min || max.is_some_and(|m| n > m) {
            let want = match max {
                Some(m) if m == min => format!("exactly {min}"),
                Some(m) => format!("{min} to {m}"),
                None => format!("at least {min}"),
            };
            return Err(Refusal::usage(
                self.cmd,
                format!("expects {want} {what} operand(s), got {n}"),
            ));
        }
        Ok(())
    }

    fn names<T: std::str::FromStr<Err = NameError>>(
        &self,
        words: &[String],
        kind: &'static str,
    ) -> Result<Vec<T>, Refusal> {
        words.iter().map(|w| name(self.cmd, w, kind)).collect()
    }
}

fn name<T: std::str::FromStr<Err = NameError>>(
    cmd: &'static str,
    word: &str,
    kind: &'static str,
) -> Result<T, Refusal> {
    word.parse().map_err(|source| Refusal::Name {
        cmd,
        word: word.to_owned(),
        kind,
        source,
    })
}

/// Comma list whose items each pass `ok`; empty items are refused.
fn comma_list<T>(
    cmd: &'static str,
    what: &str,
    value: &str,
    ok: impl Fn(&str) -> Option<T>,
) -> Result<Vec<T>, Refusal> {
    value
        .split(',')
        .map(|item| {
            ok(item).ok_or_else(|| Refusal::usage(cmd, format!("{what} {item:?} is not served")))
        })
        .collect()
}

impl Request {
    /// Parses a client argv (program first).
    pub fn parse(words: &[String]) -> Result<Self, Refusal> {
        let Some((program, rest)) = words.split_first() else {
            return Err(Refusal::Empty);
        };
        match program.as_str() {
            "zfs" => {}
            "zferry" if rest == ["--version"] => return Ok(Self::Version),
            "zferry" if rest.first().is_some_and(|w| w == "wire") => return parse_wire(&rest[1..]),
            other => return Err(Refusal::Program(other.to_owned())),
        }
        let Some((sub, args)) = rest.split_first() else {
            return Err(Refusal::Subcommand(String::new()));
        };
        match sub.as_str() {
            "list" => parse_list(args).map(Self::List),
            "send" => parse_send(args),
            "recv" | "receive" => parse_receive(args),
            "bookmark" => parse_bookmark(args),
            "destroy" => parse_destroy(args),
            "hold" => parse_hold(args, "hold"),
            "release" => parse_hold(args, "release"),
            "holds" => parse_holds(args),
            "get" => parse_get(args),
            "rename" | "clone" | "promote" => parse_preserve(sub, args).map(Self::Preserve),
            other => Err(Refusal::Subcommand(other.to_owned())),
        }
    }

    /// The `zfs` request itself: the inner one of a [`Request::Wire`], else this one.
    pub fn zfs_request(&self) -> &Self {
        match self {
            Self::Wire { inner, .. } => inner,
            other => other,
        }
    }

    /// The `zfs` arguments to run (after the program), rebuilt from the parsed values;
    /// empty for [`Request::Version`]; the inner command's for [`Request::Wire`].
    pub fn zfs_args(&self) -> Vec<String> {
        let mut a: Vec<String> = Vec::new();
        let mut push = |words: &[&str]| a.extend(words.iter().map(|w| (*w).to_owned()));
        match self {
            Self::Version => {}
            Self::Wire { inner, .. } => return inner.zfs_args(),
            Self::List(l) => {
                let types: Vec<&str> = l.types.iter().map(|t| t.as_str()).collect();
                push(&["list", "-H", "-p", "-o", &l.columns.join(","), "-t"]);
                push(&[&types.join(",")]);
                if l.recursive {
                    push(&["-r"]);
                }
                if let Some(d) = l.depth {
                    push(&["-d", &d.to_string()]);
                }
                push(&l.datasets.iter().map(AsRef::as_ref).collect::<Vec<_>>());
            }
            Self::Send(s) => {
                push(&["send"]);
                push(&s.flags);
                if let Some((flag, from)) = &s.from {
                    push(&[flag, from.as_str()]);
                }
                push(&[s.snapshot.as_str()]);
            }
            Self::Resume { flags, token } => {
                push(&["send"]);
                push(flags);
                push(&["-t", token.as_str()]);
            }
            Self::Receive { .. } => return self.receive_args(),
            Self::ReceiveAbort(ds) => push(&["receive", "-A", ds.as_str()]),
            Self::Bookmark { source, bookmark } => {
                push(&["bookmark", source.as_str(), bookmark.as_str()]);
            }
            Self::DestroyBookmark(b) => push(&["destroy", b.as_str()]),
            Self::Hold { tag, snapshots } | Self::Release { tag, snapshots } => {
                let sub = if matches!(self, Self::Hold { .. }) {
                    "hold"
                } else {
                    "release"
                };
                push(&[sub, tag.as_str()]);
                push(&snapshots.iter().map(AsRef::as_ref).collect::<Vec<_>>());
            }
            Self::Holds {
                parsable,
                snapshots,
            } => {
                push(&["holds", "-H"]);
                if *parsable {
                    push(&["-p"]);
                }
                push(&snapshots.iter().map(AsRef::as_ref).collect::<Vec<_>>());
            }
            Self::Get {
                columns,
                props,
                targets,
            } => {
                let props: Vec<&str> = props.iter().map(PropertyName::as_str).collect();
                push(&[
                    "get",
                    "-H",
                    "-p",
                    "-o",
                    &columns.join(","),
                    &props.join(","),
                ]);
                push(&targets.iter().map(ObjectName::as_str).collect::<Vec<_>>());
            }
            Self::Preserve(step) => push(&step.zfs_args()),
        }
        a
    }

    /// [`Request::zfs_args`] of a [`Request::Receive`].
    fn receive_args(&self) -> Vec<String> {
        let Self::Receive {
            unmounted,
            force,
            readonly,
            epoch,
            hardened,
            dataset,
        } = self
        else {
            unreachable!("called for Request::Receive only")
        };
        let mut a: Vec<String> = vec!["receive".into(), "-s".into()];
        for (on, flag) in [(unmounted, "-u"), (force, "-F")] {
            if *on {
                a.push(flag.into());
            }
        }
        if *readonly {
            a.extend(["-o".into(), "readonly=on".into()]);
        }
        if let Some(epoch) = epoch {
            let value = format!("{EPOCH_PROPERTY}={}", epoch.property_value());
            a.extend(["-o".into(), value]);
        }
        if *hardened {
            for prop in RECEIVE_EXCLUDED_PROPS {
                a.extend(["-x".into(), prop.into()]);
            }
        }
        a.push(dataset.to_string());
        a
    }

    /// The same request, with received properties that could reach outside ZFS excluded from
    /// a receive ([`RECEIVE_EXCLUDED_PROPS`]); serve does this when it runs as root. Other
    /// requests are unchanged.
    #[must_use]
    pub fn hardened(self) -> Self {
        match self {
            Self::Receive {
                unmounted,
                force,
                readonly,
                epoch,
                dataset,
                ..
            } => Self::Receive {
                unmounted,
                force,
                readonly,
                epoch,
                hardened: true,
                dataset,
            },
            Self::Wire { mode, inner } => Self::Wire {
                mode,
                inner: Box::new(inner.hardened()),
            },
            other => other,
        }
    }

    /// Every ZFS object name the request touches (what authorization checks).
    pub fn names(&self) -> Vec<ObjectName> {
        match self {
            Self::Version | Self::Resume { .. } => Vec::new(),
            Self::Wire { inner, .. } => inner.names(),
            Self::List(l) => l
                .datasets
                .iter()
                .cloned()
                .map(ObjectName::Dataset)
                .collect(),
            Self::Send(s) => s
                .from
                .iter()
                .map(|(_, from)| from.clone())
                .chain([ObjectName::Snapshot(s.snapshot.clone())])
                .collect(),
            Self::Receive { dataset, .. } | Self::ReceiveAbort(dataset) => {
                vec![ObjectName::Dataset(dataset.clone())]
            }
            Self::Bookmark { source, bookmark } => {
                vec![source.clone(), ObjectName::Bookmark(bookmark.clone())]
            }
            Self::DestroyBookmark(b) => vec![ObjectName::Bookmark(b.clone())],
            Self::Hold { snapshots, .. }
            | Self::Release { snapshots, .. }
            | Self::Holds { snapshots, .. } => snapshots
                .iter()
                .cloned()
                .map(ObjectName::Snapshot)
                .collect(),
            Self::Get { targets, .. } => targets.clone(),
            Self::Preserve(step) => vec![ObjectName::Dataset(step.base().clone())],
        }
    }
}

impl fmt::Display for Request {
    /// The command as it will run, words space-separated (names never hold control chars).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Version => return f.write_str("zferry --version"),
            Self::Wire { mode, inner } => {
                return write!(f, "zferry wire {} -- {inner}", mode.as_str());
            }
            _ => {}
        }
        f.write_str("zfs")?;
        for word in self.zfs_args() {
            write!(f, " {word}")?;
        }
        Ok(())
    }
}

/// `compress -- zfs send …` or `decompress -- zfs receive -s …` (after `zferry wire`): the
/// inner argv passes exactly the checks it would pass alone.
fn parse_wire(args: &[String]) -> Result<Request, Refusal> {
    let (mode, inner) = match args {
        [mode, sep, inner @ ..] if sep == "--" => (mode.as_str(), inner),
        _ => {
            return Err(Refusal::Wire(
                "expects `compress|decompress -- zfs …`".to_owned(),
            ));
        }
    };
    let mode = match mode {
        "compress" => WireMode::Compress,
        "decompress" => WireMode::Decompress,
        other => return Err(Refusal::Wire(format!("mode {other:?} is not served"))),
    };
    if inner.first().map(String::as_str) != Some("zfs") {
        let program = inner.first().cloned().unwrap_or_default();
        return Err(Refusal::Wire(format!("wraps only zfs, not {program:?}")));
    }
    let request = Request::parse(inner)?;
    let fits = match mode {
        WireMode::Compress => matches!(request, Request::Send(_) | Request::Resume { .. }),
        WireMode::Decompress => matches!(request, Request::Receive { .. }),
    };
    if !fits {
        let want = match mode {
            WireMode::Compress => "zfs send",
            WireMode::Decompress => "zfs receive -s",
        };
        return Err(Refusal::Wire(format!(
            "{} wraps only `{want}`, not `{request}`",
            mode.as_str()
        )));
    }
    Ok(Request::Wire {
        mode,
        inner: Box::new(request),
    })
}

fn parse_list(args: &[String]) -> Result<List, Refusal> {
    let p = Spec {
        cmd: "list",
        flags: &["-H", "-p", "-r"],
        valued: &["-o", "-t", "-d"],
        repeatable: &[],
    }
    .parse(args)?;
    p.require("-H")?;
    p.require("-p")?;
    let columns = comma_list("list", "column", p.required_value("-o")?, |c| {
        let ok = LIST_COLUMNS.contains(&c) || c.parse::<UserPropName>().is_ok();
        ok.then(|| c.to_owned())
    })?;
    let types = comma_list("list", "type", p.required_value("-t")?, |t| t.parse().ok())?;
    let depth = p
        .value("-d")
        .map(|d| {
            let digits = !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit());
            digits
                .then(|| d.parse::<u32>().ok())
                .flatten()
                .ok_or_else(|| Refusal::usage("list", format!("depth {d:?} is not a number")))
        })
        .transpose()?;
    p.operand_count(1, None, "dataset")?;
    Ok(List {
        columns,
        types,
        recursive: p.has("-r"),
        depth,
        datasets: p.names(p.operands, "dataset")?,
    })
}

const SEND_FLAGS: [&str; 7] = ["-w", "-v", "-P", "-L", "-e", "-c", "-n"];
const RESUME_FLAGS: [&str; 4] = ["-e", "-n", "-v", "-P"];

fn parse_send(args: &[String]) -> Result<Request, Refusal> {
    let p = Spec {
        cmd: "send",
        flags: &SEND_FLAGS,
        valued: &["-i", "-I", "-t"],
        repeatable: &[],
    }
    .parse(args)?;
    if let Some(token) = p.value("-t") {
        let extra: Vec<&str> = p
            .opts
            .iter()
            .map(|(f, _)| *f)
            .filter(|f| *f != "-t" && !RESUME_FLAGS.contains(f))
            .collect();
        if !extra.is_empty() {
            return Err(Refusal::usage(
                "send",
                format!(
                    "with -t only {} are served, not {}",
                    RESUME_FLAGS.join(" "),
                    extra.join(" ")
                ),
            ));
        }
        p.operand_count(0, Some(0), "snapshot")?;
        let token = ResumeToken::parse(token).ok_or_else(|| {
            Refusal::usage(
                "send",
                "a resume token is letters, digits and '-' (as zfs prints it)",
            )
        })?;
        return Ok(Request::Resume {
            flags: p.flags_in(&RESUME_FLAGS),
            token,
        });
    }
    if p.has("-i") && p.has("-I") {
        return Err(Refusal::usage("send", "-i and -I together"));
    }
    p.operand_count(1, Some(1), "snapshot")?;
    let snapshot: SnapshotName = name("send", &p.operands[0], "snapshot")?;
    let from = ["-i", "-I"]
        .into_iter()
        .find_map(|flag| p.value(flag).map(|word| (flag, word)))
        .map(|(flag, word)| Ok::<_, Refusal>((flag, send_from(&snapshot, word)?)))
        .transpose()?;
    Ok(Request::Send(Send {
        flags: p.flags_in(&SEND_FLAGS),
        from,
        snapshot,
    }))
}

/// The incremental source of `zfs send -i/-I`: `ds@snap`, `ds#mark`, or the short `@snap` /
/// `#mark` of the sent snapshot's dataset (resolved to the full name).
fn send_from(snapshot: &SnapshotName, word: &str) -> Result<ObjectName, Refusal> {
    let full = if word.starts_with('@') || word.starts_with('#') {
        format!("{}{word}", snapshot.dataset())
    } else {
        word.to_owned()
    };
    let from: ObjectName = name("send", &full, "snapshot or bookmark")?;
    if matches!(from, ObjectName::Dataset(_)) {
        return Err(Refusal::usage(
            "send",
            format!("incremental source {word:?} must be a snapshot or bookmark"),
        ));
    }
    Ok(from)
}

fn parse_receive(args: &[String]) -> Result<Request, Refusal> {
    let p = Spec {
        cmd: "receive",
        flags: &["-s", "-u", "-F", "-A"],
        valued: &["-o"],
        repeatable: &["-o"],
    }
    .parse(args)?;
    p.operand_count(1, Some(1), "dataset")?;
    let dataset: DatasetName = name("receive", &p.operands[0], "dataset")?;
    if p.has("-A") {
        if p.opts.len() > 1 {
            return Err(Refusal::usage("receive", "-A takes no other option"));
        }
        return Ok(Request::ReceiveAbort(dataset));
    }
    p.require("-s")?;
    let (mut readonly, mut epoch) = (false, None);
    for value in p.values("-o") {
        let twice = || Refusal::usage("receive", format!("-o {value:?} given twice"));
        if value == "readonly=on" {
            if readonly {
                return Err(twice());
            }
            readonly = true;
        } else if let Some(n) = receive_epoch(value) {
            if epoch.replace(n).is_some() {
                return Err(twice());
            }
        } else {
            return Err(Refusal::usage(
                "receive",
                format!(
                    "-o {value:?} is not served (only -o readonly=on and -o {EPOCH_PROPERTY}=<n>)"
                ),
            ));
        }
    }
    Ok(Request::Receive {
        unmounted: p.has("-u"),
        force: p.has("-F"),
        readonly,
        epoch,
        hardened: false,
        dataset,
    })
}

/// `zferry:epoch=<decimal u64>`, exactly as the replication engine writes it.
fn receive_epoch(option: &str) -> Option<Epoch> {
    let digits = option.strip_prefix(EPOCH_PROPERTY)?.strip_prefix('=')?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().map(Epoch)
}

/// The four preserve shapes, exactly as the replication engine builds them: anything else
/// (another option, a rename that is not to or from an aside of the same dataset) is refused.
fn parse_preserve(sub: &str, args: &[String]) -> Result<PreserveStep, Refusal> {
    let shape = "only the shapes of on-divergence = \"preserve\" are served";
    match (sub, args) {
        ("rename", [from, to]) => {
            let from: DatasetName = name("rename", from, "dataset")?;
            let to: DatasetName = name("rename", to, "dataset")?;
            match aside_base(&to) {
                Some((base, true)) if base == from => Ok(PreserveStep::RenameAside { from, to }),
                _ => Err(Refusal::usage(
                    "rename",
                    format!("{to} is not {from}{ASIDE_MARK}<suffix>; {shape}"),
                )),
            }
        }
        ("rename", [flag, from, to]) if flag == "-u" => {
            let from: DatasetName = name("rename", from, "dataset")?;
            let to: DatasetName = name("rename", to, "dataset")?;
            match aside_base(&from) {
                Some((base, false)) if base == to => Ok(PreserveStep::MoveChildBack { from, to }),
                _ => Err(Refusal::usage(
                    "rename",
                    format!("{from} is not a child of an aside of {to}; {shape}"),
                )),
            }
        }
        ("clone", [o, prop, origin, to]) if o == "-o" && prop == "canmount=noauto" => {
            let origin: SnapshotName = name("clone", origin, "snapshot")?;
            let to: DatasetName = name("clone", to, "dataset")?;
            match aside_base(&origin.dataset()) {
                Some((base, true)) if base == to => Ok(PreserveStep::CloneCommon { origin, to }),
                _ => Err(Refusal::usage(
                    "clone",
                    format!("{origin} is not a snapshot of an aside of {to}; {shape}"),
                )),
            }
        }
        ("promote", [ds]) => Ok(PreserveStep::Promote(name("promote", ds, "dataset")?)),
        ("rename", _) => Err(Refusal::usage("rename", shape)),
        ("clone", _) => Err(Refusal::usage("clone", shape)),
        _ => Err(Refusal::usage("promote", shape)),
    }
}

fn no_options(cmd: &'static str, args: &[String]) -> Result<(), Refusal> {
    match args.iter().find(|a| a.starts_with('-')) {
        Some(opt) => Err(Refusal::usage(cmd, format!("option {opt:?} is not served"))),
        None => Ok(()),
    }
}

fn parse_bookmark(args: &[String]) -> Result<Request, Refusal> {
    no_options("bookmark", args)?;
    let p = Spec {
        cmd: "bookmark",
        flags: &[],
        valued: &[],
        repeatable: &[],
    }
    .parse(args)?;
    p.operand_count(2, Some(2), "name")?;
    let source: ObjectName = name("bookmark", &args[0], "snapshot or bookmark")?;
    if matches!(source, ObjectName::Dataset(_)) {
        return Err(Refusal::usage(
            "bookmark",
            format!("{:?} is not a snapshot or bookmark", args[0]),
        ));
    }
    let bookmark: BookmarkName = name("bookmark", &args[1], "bookmark")?;
    if bookmark.dataset() != source.dataset() {
        return Err(Refusal::usage(
            "bookmark",
            "the new bookmark must belong to the source's dataset",
        ));
    }
    Ok(Request::Bookmark { source, bookmark })
}

fn parse_destroy(args: &[String]) -> Result<Request, Refusal> {
    no_options("destroy", args)?;
    let only = "only zferry's own bookmarks (#zferry_…) can be destroyed";
    let [word] = args else {
        return Err(Refusal::usage("destroy", format!("one operand; {only}")));
    };
    if !word.contains('#') {
        return Err(Refusal::usage("destroy", format!("{word:?}: {only}")));
    }
    let bookmark: BookmarkName = name("destroy", word, "bookmark")?;
    if !bookmark.bookmark_part().starts_with(OWNED_BOOKMARK_PREFIX) {
        return Err(Refusal::usage("destroy", format!("{word:?}: {only}")));
    }
    Ok(Request::DestroyBookmark(bookmark))
}

fn parse_hold(args: &[String], cmd: &'static str) -> Result<Request, Refusal> {
    no_options(cmd, args)?;
    let Some((tag, snaps)) = args.split_first() else {
        return Err(Refusal::usage(cmd, "expects a tag and snapshots"));
    };
    let tag = HoldTag::parse(tag).ok_or_else(|| {
        Refusal::usage(
            cmd,
            format!("tag {tag:?} is not zferry's ({HOLD_TAG_PREFIX}<1-64 of A-Za-z0-9_.:->)"),
        )
    })?;
    if snaps.is_empty() {
        return Err(Refusal::usage(cmd, "expects at least one snapshot"));
    }
    let snapshots = snaps
        .iter()
        .map(|w| name(cmd, w, "snapshot"))
        .collect::<Result<_, _>>()?;
    Ok(if cmd == "hold" {
        Request::Hold { tag, snapshots }
    } else {
        Request::Release { tag, snapshots }
    })
}

fn parse_holds(args: &[String]) -> Result<Request, Refusal> {
    let p = Spec {
        cmd: "holds",
        flags: &["-H", "-p"],
        valued: &[],
        repeatable: &[],
    }
    .parse(args)?;
    p.require("-H")?;
    p.operand_count(1, None, "snapshot")?;
    Ok(Request::Holds {
        parsable: p.has("-p"),
        snapshots: p.names(p.operands, "snapshot")?,
    })
}

fn parse_get(args: &[String]) -> Result<Request, Refusal> {
    let p = Spec {
        cmd: "get",
        flags: &["-H", "-p"],
        valued: &["-o"],
        repeatable: &[],
    }
    .parse(args)?;
    p.require("-H")?;
    p.require("-p")?;
    let columns = comma_list("get", "column", p.required_value("-o")?, |c| {
        GET_COLUMNS.contains(&c).then(|| c.to_owned())
    })?;
    p.operand_count(2, None, "property list and object")?;
    let props = comma_list("get", "property", &p.operands[0], |s| s.parse().ok())?;
    Ok(Request::Get {
        columns,
        props,
        targets: p.names(&p.operands[1..], "dataset, snapshot or bookmark")?,
    })
}
