//! The contract with the replication engine: every argv `zferry-repl-run` sends to a remote
//! node is served for datasets of a job on that node, and runs unchanged.
#![allow(clippy::unwrap_used)]

use zferry_exec::{CommandSpec, shell_join};
use zferry_repl::{CursorBookmark, Entry, Epoch, HoldTag, ResumeToken, Step, TargetId};
use zferry_repl_run::argv::{self, SendFlags};
use zferry_repl_run::listing;
use zferry_repl_run::wire::{self, WireOptions};
use zferry_serve::{Grant, Policy, Request, Verdict, decide};
use zferry_zfs::{DatasetName, Guid};

fn ds(s: &str) -> DatasetName {
    s.parse().unwrap()
}

/// Node `b` serves `p/src` (a source) and `q/dst` (a target), recursively; `-F` into `q/dst`
/// and keeping diverged data of `q/dst` aside.
fn policy() -> Policy {
    let grant = |root: &str, force_receive| Grant {
        job: "j".into(),
        root: ds(root),
        recursive: true,
        exclude: vec![],
        force_receive,
        preserve: force_receive,
    };
    Policy::new("b", vec![grant("p/src", false), grant("q/dst", true)])
}

fn served(cmd: &CommandSpec) {
    let argv = cmd.argv();
    let line = shell_join(&argv).unwrap();
    match decide(Some(&line), &policy()) {
        Ok(Verdict::Allow(req)) => {
            let mut run = vec!["zfs".to_owned()];
            run.extend(req.zfs_args());
            let same = run == argv
                // serve spells `recv` as `receive`; zfs treats them alike.
                || (argv[1] == "recv" && run[2..] == argv[2..] && run[1] == "receive");
            assert!(same, "{argv:?} runs as {run:?}");
        }
        Ok(Verdict::ResolveToken(req, _)) => assert_eq!(req.to_string(), argv.join(" ")),
        Err(refusal) => panic!("{argv:?} refused: {refusal}"),
    }
}

#[test]
fn every_engine_command_is_served() {
    let src = ds("p/src/child");
    let dst = ds("q/dst/child");
    let a = Entry::snapshot("a", 1, 10, 100);
    let b = Entry::snapshot("b", 2, 20, 200);
    let mark = Entry::bookmark("zferry_v1_nodeb_0000000000000001", 1, 10, 100);
    let raw = SendFlags { raw: true };
    for flags in [SendFlags::default(), raw] {
        served(&argv::send(
            &src,
            &Step::Full {
                snapshot: a.clone(),
            },
            flags,
        ));
        for intermediates in [false, true] {
            let step = Step::Incremental {
                from: a.clone(),
                to: b.clone(),
                intermediates,
            };
            served(&argv::send(&src, &step, flags));
        }
        let from_mark = Step::Incremental {
            from: mark.clone(),
            to: b.clone(),
            intermediates: false,
        };
        served(&argv::send(&src, &from_mark, flags));
    }
    let token: ResumeToken = "1-e3f9a3f0b-f8-789c636064000310a500c4ec".parse().unwrap();
    served(&argv::send_resume(&token));
    served(&argv::recv(&dst, false, Epoch(0)));
    served(&argv::recv(&dst, true, Epoch(0)));
    served(&argv::recv(&dst, false, Epoch(u64::MAX)));
    served(&argv::recv(&dst, true, Epoch(3)));
    served(&argv::recv_abort(&dst));
    let cursor = CursorBookmark::new("nodeb".parse::<TargetId>().unwrap(), Guid(2));
    served(&argv::bookmark(&src, &b, &cursor));
    served(&argv::bookmark(&src, &mark, &cursor));
    served(&argv::destroy_cursor(&src, &cursor));
    let tag = HoldTag("nodeb".parse().unwrap());
    served(&argv::hold(&dst, &tag, "b"));
    served(&argv::release(&dst, &tag, &["a".into(), "b".into()]));
    served(&argv::holds(&dst, &["a".into(), "b".into()]));
    served(&listing::datasets_argv(&[ds("p/src"), ds("q/dst")]));
    served(&listing::entries_argv(&[src.clone(), dst.clone()]));
}

/// The compression wrappers the engine puts around a remote send or receive: served, the
/// inner `zfs` runs exactly as it would alone, and the argv survives `shell_join` and serve's
/// strict unquoting unchanged.
#[test]
fn compressed_wrappers_are_served_around_the_same_zfs_argv() {
    let src = ds("p/src/child");
    let dst = ds("q/dst/child");
    let a = Entry::snapshot("a", 1, 10, 100);
    let b = Entry::snapshot("b", 2, 20, 200);
    let step = Step::Incremental {
        from: a,
        to: b,
        intermediates: true,
    };
    let token: ResumeToken = "1-e3f9a3f0b-f8-789c636064000310a500c4ec".parse().unwrap();
    let zstd = WireOptions {
        compress: true,
        limit: Some(1 << 20),
    };
    let sends = [
        argv::send(&src, &step, SendFlags::default()),
        argv::send(&src, &step, SendFlags { raw: true }),
        argv::send_resume(&token),
    ];
    for send in &sends {
        for force in [false, true] {
            let recv = argv::recv(&dst, force, Epoch(0));
            // Both ends remote: the send is wrapped in compress, the receive in decompress.
            let plan = wire::plan(send, &recv, true, true, zstd);
            for (cmd, inner) in [(&plan.send, send), (&plan.recv, &recv)] {
                let argv = cmd.argv();
                let line = shell_join(&argv).unwrap();
                assert_eq!(zferry_serve::unquote(&line).unwrap(), argv, "{line}");
                let req = match decide(Some(&line), &policy()) {
                    Ok(Verdict::Allow(req) | Verdict::ResolveToken(req, _)) => req,
                    Err(refusal) => panic!("{argv:?} refused: {refusal}"),
                };
                assert!(matches!(req, Request::Wire { .. }), "{req:?}");
                let mut run = vec!["zfs".to_owned()];
                run.extend(req.zfs_args());
                let want = inner.argv();
                let same = run == want
                    || (want[1] == "recv" && run[1] == "receive" && run[2..] == want[2..]);
                assert!(same, "{argv:?} runs as {run:?}");
            }
        }
    }
}

#[test]
fn engine_commands_outside_the_jobs_are_refused() {
    let other = ds("p/other");
    let cmd = argv::recv(&other, false, Epoch(0));
    let line = shell_join(&cmd.argv()).unwrap();
    assert!(decide(Some(&line), &policy()).is_err());
    let forced = argv::recv(&ds("p/src/child"), true, Epoch(0));
    let line = shell_join(&forced.argv()).unwrap();
    let err = decide(Some(&line), &policy()).unwrap_err().to_string();
    assert!(err.contains("needs allow-rollback-to-common"), "{err}");
}

/// Keeping a diverged target aside (`on-divergence = "preserve"`): every step the engine
/// plans is served, unchanged, for a dataset with children and an HA-style epoch suffix.
#[test]
fn every_preserve_step_is_served() {
    let c = Entry::snapshot("s1", 1, 1, 1);
    let common = zferry_repl::Common {
        source: c.clone(),
        target: c,
    };
    for suffix in ["diverged-20261121T211500Z", "diverged-e7-20261121T211500Z"] {
        let plan = zferry_repl::plan_preserve(
            &ds("q/dst/child"),
            &common,
            &[],
            true,
            suffix,
            |_| false,
            &[ds("q/dst/child/a"), ds("q/dst/child/a/b")],
        )
        .unwrap();
        assert!(plan.actions.len() >= 5, "{:?}", plan.actions);
        for action in &plan.actions {
            served(&argv::preserve(action));
        }
    }
}
