//! Every `zfs` command replication runs, as pure argv builders.
//!
//! These are the only shapes `zferry serve` needs to allow on a remote node. Names are
//! checked types, so nothing here can smuggle an option or a second command.

use zferry_exec::CommandSpec;
use zferry_repl::{
    CursorBookmark, EPOCH_PROPERTY, Entry, Epoch, HoldTag, PreserveAction, ResumeToken, Step,
};
use zferry_zfs::DatasetName;

/// How the stream is produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SendFlags {
    /// `-w`: raw (encrypted blocks sent as they are on disk).
    pub raw: bool,
}

fn zfs(label: &str) -> CommandSpec {
    CommandSpec::new("zfs").label(label)
}

/// `dataset@name` or `dataset#name` for an entry of `dataset`.
pub fn full_name(dataset: &DatasetName, entry: &Entry) -> String {
    format!("{dataset}{entry}")
}

/// `zfs send -v -P [-w] …` for one planned step; `-vP` makes zfs report its size estimate
/// and per-second progress on stderr (parsed by [`crate::progress`]).
pub fn send(source: &DatasetName, step: &Step, flags: SendFlags) -> CommandSpec {
    let mut cmd = zfs("send").args(["send", "-v", "-P"]);
    if flags.raw {
        cmd = cmd.arg("-w");
    }
    match step {
        Step::Full { snapshot } => cmd.arg(full_name(source, snapshot)),
        Step::Incremental {
            from,
            to,
            intermediates,
        } => cmd
            .arg(if *intermediates { "-I" } else { "-i" })
            .arg(full_name(source, from))
            .arg(full_name(source, to)),
    }
}

/// `zfs send -v -P -t <token>`: continues an interrupted stream.
pub fn send_resume(token: &ResumeToken) -> CommandSpec {
    zfs("send resume").args(["send", "-v", "-P", "-t", token.as_str()])
}

/// `zfs recv -s -u [-F] [-o zferry:epoch=<n>] <target>`: resumable, not mounted; `-F` only
/// when the plan's `Destruction` allows it. A source at a fencing epoch above 0 passes it on:
/// the target takes it as a local property when the receive completes (OpenZFS 2.3, also
/// for resumed receives), so no separate `zfs set` can be left undone.
pub fn recv(target: &DatasetName, force: bool, epoch: Epoch) -> CommandSpec {
    let mut cmd = zfs("recv").args(["recv", "-s", "-u"]);
    if force {
        cmd = cmd.arg("-F");
    }
    if epoch > Epoch(0) {
        cmd = cmd
            .arg("-o")
            .arg(format!("{EPOCH_PROPERTY}={}", epoch.property_value()));
    }
    cmd.arg(target.to_string())
}

/// `zfs recv -A <target>`: discards a partially received stream (stale resume token).
pub fn recv_abort(target: &DatasetName) -> CommandSpec {
    zfs("recv abort")
        .args(["recv", "-A"])
        .arg(target.to_string())
}

/// `zfs bookmark <source@snap|#mark> <source#cursor>`.
pub fn bookmark(source: &DatasetName, from: &Entry, cursor: &CursorBookmark) -> CommandSpec {
    zfs("bookmark")
        .arg("bookmark")
        .arg(full_name(source, from))
        .arg(format!("{source}#{cursor}"))
}

/// `zfs destroy <source#cursor>`: only ever a zferry cursor bookmark.
pub fn destroy_cursor(source: &DatasetName, cursor: &CursorBookmark) -> CommandSpec {
    zfs("release cursor")
        .arg("destroy")
        .arg(format!("{source}#{cursor}"))
}

/// `zfs hold <tag> <target@snap>`.
pub fn hold(target: &DatasetName, tag: &HoldTag, snapshot: &str) -> CommandSpec {
    zfs("hold")
        .arg("hold")
        .arg(tag.to_string())
        .arg(format!("{target}@{snapshot}"))
}

/// `zfs release <tag> <target@snap>…`.
pub fn release(target: &DatasetName, tag: &HoldTag, snapshots: &[String]) -> CommandSpec {
    zfs("release")
        .arg("release")
        .arg(tag.to_string())
        .args(snapshots.iter().map(|s| format!("{target}@{s}")))
}

/// `zfs holds -H <target@snap>…`: which tags hold these snapshots.
pub fn holds(target: &DatasetName, snapshots: &[String]) -> CommandSpec {
    zfs("holds")
        .args(["holds", "-H"])
        .args(snapshots.iter().map(|s| format!("{target}@{s}")))
}

/// The command of one step of keeping a diverged target aside (`on-divergence = preserve`).
pub fn preserve(action: &PreserveAction) -> CommandSpec {
    match action {
        PreserveAction::RenameAside { from, to } => zfs("rename aside")
            .arg("rename")
            .arg(from.to_string())
            .arg(to.to_string()),
        PreserveAction::CloneCommon { origin, to } => zfs("clone common")
            .args(["clone", "-o", "canmount=noauto"])
            .arg(origin.to_string())
            .arg(to.to_string()),
        PreserveAction::Promote { dataset } => {
            zfs("promote").arg("promote").arg(dataset.to_string())
        }
        PreserveAction::MoveChildBack { from, to } => zfs("move child back")
            .args(["rename", "-u"])
            .arg(from.to_string())
            .arg(to.to_string()),
    }
}

/// Snapshots (short names) that carry `tag`, from `zfs holds -H` output
/// (`<dataset@snap>\t<tag>\t<date>`).
pub fn parse_holds(stdout: &str, tag: &HoldTag) -> Vec<String> {
    let tag = tag.to_string();
    stdout
        .lines()
        .filter_map(|line| {
            let mut cols = line.split('\t');
            let snap = cols.next()?;
            (cols.next()? == tag).then(|| snap.split_once('@').map(|(_, s)| s.to_owned()))?
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use zferry_repl::TargetId;

    fn ds(s: &str) -> DatasetName {
        s.parse().unwrap()
    }

    #[test]
    fn send_argv_per_step_kind() {
        let a = Entry::snapshot("a", 1, 1, 1);
        let b = Entry::snapshot("b", 2, 2, 2);
        let m = Entry::bookmark("m", 1, 1, 1);
        let src = ds("p/src");
        let full = send(
            &src,
            &Step::Full {
                snapshot: a.clone(),
            },
            SendFlags::default(),
        );
        assert_eq!(full.argv(), ["zfs", "send", "-v", "-P", "p/src@a"]);
        let range = Step::Incremental {
            from: a,
            to: b.clone(),
            intermediates: true,
        };
        assert_eq!(
            send(&src, &range, SendFlags { raw: true }).argv(),
            ["zfs", "send", "-v", "-P", "-w", "-I", "p/src@a", "p/src@b"]
        );
        let from_mark = Step::Incremental {
            from: m,
            to: b,
            intermediates: false,
        };
        assert_eq!(
            send(&src, &from_mark, SendFlags::default()).argv(),
            ["zfs", "send", "-v", "-P", "-i", "p/src#m", "p/src@b"]
        );
    }

    #[test]
    fn recv_is_append_only_unless_forced() {
        assert_eq!(
            recv(&ds("p/t"), false, Epoch(0)).argv(),
            ["zfs", "recv", "-s", "-u", "p/t"]
        );
        assert_eq!(
            recv(&ds("p/t"), true, Epoch(0)).argv(),
            ["zfs", "recv", "-s", "-u", "-F", "p/t"]
        );
    }

    #[test]
    fn recv_passes_a_fencing_epoch_on() {
        assert_eq!(
            recv(&ds("p/t"), false, Epoch(7)).argv(),
            ["zfs", "recv", "-s", "-u", "-o", "zferry:epoch=7", "p/t"]
        );
    }

    #[test]
    fn preserve_commands_match_their_display() {
        let c = Entry::snapshot("s1", 1, 1, 1);
        let common = zferry_repl::Common {
            source: c.clone(),
            target: c,
        };
        let p = zferry_repl::plan_preserve(
            &ds("p/t"),
            &common,
            &[],
            false,
            "diverged-x",
            |_| false,
            &[ds("p/t/c")],
        )
        .unwrap();
        for a in &p.actions {
            assert_eq!(preserve(a).argv().join(" "), a.to_string());
        }
        assert_eq!(
            preserve(&p.actions[1]).argv(),
            [
                "zfs",
                "clone",
                "-o",
                "canmount=noauto",
                "p/t.diverged-x@s1",
                "p/t"
            ]
        );
    }

    #[test]
    fn cursor_and_hold_commands() {
        let id: TargetId = "nodeb".parse().unwrap();
        let cursor = CursorBookmark::new(id.clone(), zferry_zfs::Guid(0xab));
        let from = Entry::snapshot("s1", 0xab, 3, 3);
        assert_eq!(
            bookmark(&ds("p/src"), &from, &cursor).argv(),
            [
                "zfs",
                "bookmark",
                "p/src@s1",
                "p/src#zferry_v1_nodeb_00000000000000ab"
            ]
        );
        let tag = HoldTag(id);
        assert_eq!(
            release(&ds("p/t"), &tag, &["a".into(), "b".into()]).argv(),
            ["zfs", "release", "zferry:nodeb", "p/t@a", "p/t@b"]
        );
        let out = "p/t@a\tzferry:nodeb\tSat Nov 21 18:00 2026\n\
                   p/t@b\tother\tSat Nov 21 18:00 2026\n\
                   p/t@c\tzferry:nodeb\tSat Nov 21 18:00 2026\n";
        assert_eq!(parse_holds(out, &tag), ["a", "c"]);
    }
}
