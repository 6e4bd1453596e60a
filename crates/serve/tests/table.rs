//! The table of accepted and refused commands, against a real config parsed by
//! `zferry_config`, for node `b`:
//! - job `data`: `zpool1/data` on a → `backup/a/data` on b (recursive, excluding `scratch`,
//!   `on-divergence = "preserve"`);
//! - job `vm`: `zpool1/vm-100-disk-0` on b → a, with `allow-rollback-to-common`.
#![allow(clippy::unwrap_used)]

use std::path::Path;

use zferry_config::Config;
use zferry_exec::shell_join;
use zferry_serve::{Policy, Refusal, Request, Verdict, decide, snapshot_of_dry_run};

const CONFIG: &str = r#"
[global]
hostname = "b"
[nodes.a]
address = "10.0.0.1"
[nodes.b]
address = "10.0.0.2"
[jobs.data]
source = { node = "a", dataset = "zpool1/data" }
targets = [{ node = "b", dataset = "backup/a/data" }]
recursive = true
exclude = ["zpool1/data/scratch"]
on-divergence = "preserve"
[jobs.vm]
source = { node = "b", dataset = "zpool1/vm-100-disk-0" }
targets = [{ node = "a", dataset = "zpool1/vm-100-disk-0" }]
allow-rollback-to-common = true
"#;

fn policy() -> Policy {
    let config = Config::from_str_with_path(CONFIG, Path::new("t.toml")).unwrap();
    Policy::from_config(&config, "b")
}

fn run(argv: &str) -> Result<Verdict, Refusal> {
    let words: Vec<&str> = argv.split(' ').collect();
    decide(Some(&shell_join(&words).unwrap()), &policy())
}

const LIST_COLS: &str = "name,type,guid,createtxg,creation,referenced,used,written,\
                         snapshots_changed,receive_resume_token,encryption,userrefs";

/// Accepted commands (space-separated argv) and the argv that runs; `=` means the same.
const ACCEPTED: &[(&str, &str)] = &[
    (
        "zfs rename backup/a/data backup/a/data.diverged-20261121T211500Z",
        "=",
    ),
    (
        "zfs clone -o canmount=noauto backup/a/data.diverged-20261121T211500Z@s1 backup/a/data",
        "=",
    ),
    ("zfs promote backup/a/data", "="),
    ("zfs promote backup/a/data/child", "="),
    (
        "zfs rename -u backup/a/data.diverged-e3-x/child backup/a/data/child",
        "=",
    ),
    ("zferry --version", "="),
    (
        "zfs list -H -p -o name,guid -t filesystem,volume,snapshot,bookmark -r backup/a/data",
        "=",
    ),
    (
        "zfs list -t snapshot -o name,guid,createtxg,creation -p -H -d 1 zpool1/vm-100-disk-0",
        "zfs list -H -p -o name,guid,createtxg,creation -t snapshot -d 1 zpool1/vm-100-disk-0",
    ),
    (
        "zfs list -H -p -o name,zferry:job -t filesystem backup/a/data/x zpool1/vm-100-disk-0",
        "=",
    ),
    ("zfs send zpool1/vm-100-disk-0@a", "="),
    ("zfs send -c -e -L -P -v -w zpool1/vm-100-disk-0@b", "="),
    (
        "zfs send -w -i @a zpool1/vm-100-disk-0@b",
        "zfs send -w -i zpool1/vm-100-disk-0@a zpool1/vm-100-disk-0@b",
    ),
    (
        "zfs send -I zpool1/vm-100-disk-0@a zpool1/vm-100-disk-0@b",
        "=",
    ),
    (
        "zfs send -i #zferry_v1_a_00000000000000ff zpool1/vm-100-disk-0@b",
        "zfs send -i zpool1/vm-100-disk-0#zferry_v1_a_00000000000000ff zpool1/vm-100-disk-0@b",
    ),
    (
        "zfs send -n -P -i @a backup/a/data/x@b",
        "zfs send -n -P -i backup/a/data/x@a backup/a/data/x@b",
    ),
    ("zfs receive -s -u backup/a/data", "="),
    (
        "zfs recv -s backup/a/data/new/child",
        "zfs receive -s backup/a/data/new/child",
    ),
    (
        "zfs recv -o readonly=on -u -s backup/a/data",
        "zfs receive -s -u -o readonly=on backup/a/data",
    ),
    (
        "zfs recv -s -F zpool1/vm-100-disk-0",
        "zfs receive -s -F zpool1/vm-100-disk-0",
    ),
    (
        "zfs recv -s -u -o zferry:epoch=7 backup/a/data",
        "zfs receive -s -u -o zferry:epoch=7 backup/a/data",
    ),
    (
        "zfs recv -o zferry:epoch=3 -s -o readonly=on backup/a/data",
        "zfs receive -s -o readonly=on -o zferry:epoch=3 backup/a/data",
    ),
    (
        "zfs recv -A backup/a/data/x",
        "zfs receive -A backup/a/data/x",
    ),
    (
        "zfs bookmark zpool1/vm-100-disk-0@b zpool1/vm-100-disk-0#zferry_v1_a_0000000000000001",
        "=",
    ),
    (
        "zfs bookmark zpool1/vm-100-disk-0#mine zpool1/vm-100-disk-0#zferry_v1_a_0000000000000002",
        "=",
    ),
    (
        "zfs destroy zpool1/vm-100-disk-0#zferry_v1_a_0000000000000001",
        "=",
    ),
    ("zfs hold zferry:a backup/a/data@s1 backup/a/data/x@s1", "="),
    ("zfs release zferry:a backup/a/data@s1", "="),
    ("zfs holds -H backup/a/data@s1", "="),
    (
        "zfs holds -p -H backup/a/data@s1",
        "zfs holds -H -p backup/a/data@s1",
    ),
    (
        "zfs get -H -p -o name,property,value receive_resume_token,guid backup/a/data",
        "=",
    ),
    (
        "zfs get -H -p -o name,property,value,source all backup/a/data@s1 zpool1/vm-100-disk-0#m",
        "=",
    ),
    (
        "zferry wire compress -- zfs send -v -P -i @a zpool1/vm-100-disk-0@b",
        "zferry wire compress -- zfs send -v -P -i zpool1/vm-100-disk-0@a zpool1/vm-100-disk-0@b",
    ),
    (
        "zferry wire compress -- zfs send -w -v -P backup/a/data/x@s1",
        "=",
    ),
    (
        "zferry wire decompress -- zfs recv -s -u backup/a/data/x",
        "zferry wire decompress -- zfs receive -s -u backup/a/data/x",
    ),
    (
        "zferry wire decompress -- zfs receive -s -u -F zpool1/vm-100-disk-0",
        "=",
    ),
];

/// Refused commands and a fragment of the reason.
const REFUSED: &[(&str, &str)] = &[
    ("zfs destroy backup/a/data", "only zferry's own bookmarks"),
    (
        "zfs destroy backup/a/data@s1",
        "only zferry's own bookmarks",
    ),
    (
        "zfs destroy -r backup/a/data#zferry_x",
        "option \"-r\" is not served",
    ),
    (
        "zfs destroy backup/a/data#mine",
        "only zferry's own bookmarks",
    ),
    (
        "zfs destroy zpool1/other#zferry_v1_a_01",
        "outside the datasets node b serves",
    ),
    (
        "zfs list -H -p -o name -t filesystem zpool1/other",
        "outside",
    ),
    (
        "zfs list -H -p -o name -t filesystem backup/a/data/scratch",
        "outside",
    ),
    (
        "zfs list -H -p -o name -t filesystem backup/a/data/scratch/deep",
        "outside",
    ),
    ("zfs list -H -p -o name -t filesystem backup/a", "outside"),
    (
        "zfs list -H -p -o name -t filesystem zpool1/vm-100-disk-0/child",
        "outside",
    ),
    ("zfs list -H -p -o name -t filesystem", "at least 1 dataset"),
    (
        "zfs list -H -o name -t filesystem backup/a/data",
        "option -p is required",
    ),
    (
        "zfs list -H -p -o name,mountpoint -t filesystem backup/a/data",
        "column \"mountpoint\"",
    ),
    (
        "zfs list -H -p -o name -t all backup/a/data",
        "type \"all\"",
    ),
    (
        "zfs list -H -p -o name -t filesystem -d x backup/a/data",
        "depth",
    ),
    (
        "zfs list -Hp -o name -t filesystem backup/a/data",
        "option \"-Hp\"",
    ),
    (
        "zfs list -H -H -p -o name -t filesystem backup/a/data",
        "given twice",
    ),
    (
        "zfs list -H -p -o name -t filesystem backup/a/data -r",
        "not a valid dataset",
    ),
    ("zfs send -R zpool1/vm-100-disk-0@a", "option \"-R\""),
    ("zfs send -p zpool1/vm-100-disk-0@a", "option \"-p\""),
    ("zfs send zpool1/vm-100-disk-0", "not a valid snapshot"),
    ("zfs send zpool1/other@a", "outside"),
    (
        "zfs send -i zpool1/other@a zpool1/vm-100-disk-0@b",
        "outside",
    ),
    (
        "zfs send -i zpool1/vm-100-disk-0 zpool1/vm-100-disk-0@b",
        "must be a snapshot or bookmark",
    ),
    (
        "zfs send -i @a -I @b zpool1/vm-100-disk-0@c",
        "-i and -I together",
    ),
    (
        "zfs send zpool1/vm-100-disk-0@a zpool1/vm-100-disk-0@b",
        "exactly 1",
    ),
    ("zfs send -w -t 1-abc-de-789c", "with -t only"),
    (
        "zfs send -t 1-abc-de-789c zpool1/vm-100-disk-0@b",
        "exactly 0",
    ),
    ("zfs send -t 1_x", "resume token"),
    ("zfs send -t", "needs a value"),
    ("zfs recv backup/a/data", "option -s is required"),
    (
        "zfs recv -s -F backup/a/data",
        "needs allow-rollback-to-common",
    ),
    ("zfs recv -s -d backup/a/data", "option \"-d\""),
    ("zfs recv -s -e backup/a/data", "option \"-e\""),
    (
        "zfs recv -s -o mountpoint=/ backup/a/data",
        "only -o readonly=on",
    ),
    (
        "zfs recv -s -o zferry:epoch=e3 backup/a/data",
        "is not served",
    ),
    (
        "zfs recv -s -o zferry:epoch= backup/a/data",
        "is not served",
    ),
    (
        "zfs recv -s -o zferry:epoch=-1 backup/a/data",
        "is not served",
    ),
    (
        "zfs recv -s -o zferry:epoch=99999999999999999999 backup/a/data",
        "is not served",
    ),
    (
        "zfs recv -s -o zferry:other=1 backup/a/data",
        "is not served",
    ),
    (
        "zfs recv -s -o zferry:epoch=1 -o zferry:epoch=2 backup/a/data",
        "given twice",
    ),
    (
        "zfs recv -s -o readonly=on -o readonly=on backup/a/data",
        "given twice",
    ),
    ("zfs recv -s zpool1/other", "outside"),
    ("zfs recv -s backup/a/data/scratch", "outside"),
    ("zfs recv -A -s backup/a/data", "-A takes no other option"),
    ("zfs recv -s backup/a/data backup/a/data/x", "exactly 1"),
    (
        "zfs bookmark zpool1/vm-100-disk-0@a zpool1/other#b",
        "the source's dataset",
    ),
    ("zfs bookmark zpool1/other@a zpool1/other#b", "outside"),
    (
        "zfs bookmark zpool1/vm-100-disk-0 zpool1/vm-100-disk-0#b",
        "is not a snapshot or bookmark",
    ),
    ("zfs hold keep backup/a/data@s1", "tag \"keep\""),
    ("zfs hold -r zferry:a backup/a/data@s1", "option \"-r\""),
    ("zfs hold zferry:a backup/a/data", "not a valid snapshot"),
    ("zfs hold zferry:a", "at least one snapshot"),
    ("zfs release zferry: backup/a/data@s1", "is not zferry's"),
    ("zfs release zferry:a zpool1/other@s1", "outside"),
    ("zfs holds backup/a/data@s1", "option -H is required"),
    ("zfs holds -H -r backup/a/data@s1", "option \"-r\""),
    (
        "zfs get -H -p -o name,value,bogus guid backup/a/data",
        "column \"bogus\"",
    ),
    (
        "zfs get -H -p -o name,value guid,Bad backup/a/data",
        "property \"Bad\"",
    ),
    ("zfs get -H -p -o name,value guid zpool1/other", "outside"),
    ("zfs get -H -p -o name,value guid", "at least 2"),
    (
        "zfs set readonly=off backup/a/data",
        "`zfs set` is not served",
    ),
    (
        "zfs rollback -r backup/a/data@s1",
        "`zfs rollback` is not served",
    ),
    (
        "zfs rename backup/a/data backup/a/x",
        "is not backup/a/data.diverged-<suffix>",
    ),
    (
        "zfs rename backup/a/data.diverged-x backup/a/data",
        "is not backup/a/data.diverged-x.diverged-<suffix>",
    ),
    (
        "zfs rename backup/a/data backup/a/data.diverged-x;y",
        "not a valid dataset name",
    ),
    (
        "zfs rename backup/a/data backup/b/data.diverged-x",
        "is not backup/a/data.diverged-<suffix>",
    ),
    (
        "zfs rename -f backup/a/data backup/a/data.diverged-x",
        "only the shapes",
    ),
    (
        "zfs rename -u backup/a/data.diverged-x/c backup/a/data/d",
        "is not a child of an aside",
    ),
    (
        "zfs rename backup/a/data/scratch backup/a/data/scratch.diverged-x",
        "outside",
    ),
    (
        "zfs clone backup/a/data.diverged-x@s1 backup/a/data",
        "only the shapes",
    ),
    (
        "zfs clone -o canmount=noauto backup/a/data@s1 backup/a/other",
        "is not a snapshot of an aside",
    ),
    ("zfs promote zpool1/other", "outside"),
    ("zfs promote -f backup/a/data", "only the shapes"),
    (
        "zfs promote zpool1/vm-100-disk-0",
        "needs on-divergence = \"preserve\"",
    ),
    ("zfs program backup x.lua", "`zfs program` is not served"),
    ("zfs", "`zfs ` is not served"),
    ("zpool destroy backup", "program \"zpool\""),
    ("sh -c id", "program \"sh\""),
    ("/sbin/zfs list", "program \"/sbin/zfs\""),
    ("env A=1 zfs list", "program \"env\""),
    ("zferry --help", "program \"zferry\""),
    ("zferry serve --stdio", "program \"zferry\""),
    ("zferry wire compress -- zfs send zpool1/other@a", "outside"),
    (
        "zferry wire compress -- zfs send -i zpool1/other@a zpool1/vm-100-disk-0@b",
        "outside",
    ),
    (
        "zferry wire decompress -- zfs recv -s backup/a/data/scratch",
        "outside",
    ),
    (
        "zferry wire decompress -- zfs recv -s -F backup/a/data",
        "needs allow-rollback-to-common",
    ),
    (
        "zferry wire decompress -- zfs recv -A backup/a/data",
        "decompress wraps only `zfs receive -s`",
    ),
    (
        "zferry wire decompress -- zfs send zpool1/vm-100-disk-0@a",
        "decompress wraps only `zfs receive -s`",
    ),
    (
        "zferry wire compress -- zfs recv -s backup/a/data",
        "compress wraps only `zfs send`",
    ),
    (
        "zferry wire compress -- zfs list -H -p -o name -t filesystem backup/a/data",
        "compress wraps only `zfs send`",
    ),
    (
        "zferry wire compress -- zfs destroy backup/a/data#zferry_x",
        "compress wraps only `zfs send`",
    ),
    (
        "zferry wire compress -- zfs send -R zpool1/vm-100-disk-0@a",
        "option \"-R\"",
    ),
    (
        "zferry wire decompress -- zfs recv -s -o mountpoint=/ backup/a/data",
        "only -o readonly=on",
    ),
    (
        "zferry wire compress -- zfs rollback backup/a/data@s1",
        "`zfs rollback` is not served",
    ),
    (
        "zferry wire compress zfs send zpool1/vm-100-disk-0@a",
        "expects `compress|decompress -- zfs …`",
    ),
    ("zferry wire", "expects `compress|decompress -- zfs …`"),
    (
        "zferry wire gzip -- zfs send zpool1/vm-100-disk-0@a",
        "mode \"gzip\" is not served",
    ),
    (
        "zferry wire compress -- sh -c id",
        "wraps only zfs, not \"sh\"",
    ),
    (
        "zferry wire compress -- /sbin/zfs send zpool1/vm-100-disk-0@a",
        "wraps only zfs",
    ),
    (
        "zferry wire compress -- zferry wire compress -- zfs send zpool1/vm-100-disk-0@a",
        "wraps only zfs, not \"zferry\"",
    ),
    ("zferry wire compress --", "wraps only zfs, not \"\""),
];

#[test]
fn accepted_commands_run_as_rebuilt() {
    for (argv, want) in ACCEPTED {
        let want = if *want == "=" { argv } else { want };
        match run(argv) {
            Ok(Verdict::Allow(req)) => assert_eq!(req.to_string(), *want, "for {argv}"),
            other => panic!("{argv}: expected Allow, got {other:?}"),
        }
    }
}

#[test]
fn refused_commands_say_why() {
    for (argv, why) in REFUSED {
        match run(argv) {
            Err(refusal) => {
                let text = refusal.to_string();
                assert!(text.contains(why), "{argv}: {text:?} lacks {why:?}");
                assert!(!text.contains('\n'), "{argv}: multi-line reason {text:?}");
            }
            Ok(v) => panic!("{argv}: expected a refusal, got {v:?}"),
        }
    }
}

/// Raw `SSH_ORIGINAL_COMMAND` values a client could send: shell tricks never get through.
#[test]
fn hostile_command_lines_are_refused() {
    let cases: &[(Option<&str>, &str)] = &[
        (None, "no command"),
        (Some(""), "empty command"),
        (
            Some("zfs list -H -p -o name -t filesystem backup/a/data; reboot"),
            "unquoted ';'",
        ),
        (
            Some("zfs list -H -p -o name -t filesystem backup/a/data;reboot"),
            "unquoted ';'",
        ),
        (
            Some("zfs list -H -p -o name -t filesystem backup/a/data | sh"),
            "unquoted '|'",
        ),
        (
            Some("zfs list -H -p -o name -t filesystem backup/a/data && reboot"),
            "unquoted '&'",
        ),
        (Some("zfs send $(cat /etc/shadow)"), "unquoted '$'"),
        (Some("zfs send `id`"), "unquoted '`'"),
        (
            Some("zfs recv -s backup/a/data > /etc/passwd"),
            "unquoted '>'",
        ),
        (
            Some("zfs recv -s backup/a/data < /dev/zero"),
            "unquoted '<'",
        ),
        (
            Some("zfs list -H -p -o name -t filesystem backup/a/*"),
            "unquoted '*'",
        ),
        (
            Some("zfs list -H -p -o name -t filesystem backup/a/data\nreboot"),
            "control character",
        ),
        (Some("zfs list 'backup/a/data"), "unterminated"),
        (Some("zfs list \"backup/a/data\""), "unquoted '\"'"),
        (
            Some("zfs destroy 'backup/a/data'"),
            "not quoted the way zferry quotes it",
        ),
        (Some("zfs  list"), "empty word"),
        (
            Some("zfs list -H -p -o name -t filesystem 'backup/a/data; reboot'"),
            "not a valid dataset",
        ),
    ];
    for (line, why) in cases {
        let text = decide(*line, &policy()).unwrap_err().to_string();
        assert!(text.contains(why), "{line:?}: {text:?} lacks {why:?}");
    }
}

#[test]
fn resume_tokens_are_resolved_then_authorized() {
    let token = "1-e3f9a3f0b-f8-789c636064000310a500c4ec50360710e72765a5269740";
    let verdict = run(&format!("zfs send -v -P -t {token}")).unwrap();
    let Verdict::ResolveToken(request, t) = verdict else {
        panic!("{verdict:?}")
    };
    assert_eq!(t.as_str(), token);
    assert_eq!(request.to_string(), format!("zfs send -v -P -t {token}"));
    let ok = "zpool1/vm-100-disk-0@b".parse().unwrap();
    let req = zferry_serve::authorize_resume(request.clone(), &ok, &policy()).unwrap();
    assert!(matches!(req, Request::Resume { .. }));
    let outside = "zpool1/other@b".parse().unwrap();
    let err = zferry_serve::authorize_resume(request, &outside, &policy()).unwrap_err();
    assert!(err.to_string().contains("outside"), "{err}");
    // Wrapped for compression: the same resolution, and the wrapper stays.
    let verdict = run(&format!(
        "zferry wire compress -- zfs send -v -P -t {token}"
    ))
    .unwrap();
    let Verdict::ResolveToken(request, t) = verdict else {
        panic!("{verdict:?}")
    };
    assert_eq!(t.as_str(), token);
    let req = zferry_serve::authorize_resume(request, &ok, &policy()).unwrap();
    assert_eq!(
        req.to_string(),
        format!("zferry wire compress -- zfs send -v -P -t {token}")
    );
    assert_eq!(req.zfs_args()[..3], ["send", "-v", "-P"]);
    assert!(snapshot_of_dry_run("nothing useful").is_none());
}

#[test]
fn no_jobs_here_refuses_everything_but_the_version() {
    let empty = Policy::new("z", Vec::new());
    let line = shell_join(&[
        "zfs",
        "list",
        "-H",
        "-p",
        "-o",
        "name",
        "-t",
        "filesystem",
        "a/b",
    ])
    .unwrap();
    let err = decide(Some(&line), &empty).unwrap_err().to_string();
    assert!(err.contains("no [jobs.*] endpoint on this node"), "{err}");
    assert!(decide(Some("zferry --version"), &empty).is_ok());
}

#[test]
fn hardened_receive_excludes_properties_that_reach_outside_zfs() {
    let Ok(Verdict::Allow(req)) = run("zfs recv -s -u backup/a/data") else {
        panic!("not allowed")
    };
    assert_eq!(
        req.hardened().to_string(),
        "zfs receive -s -u -x mountpoint -x canmount -x sharenfs -x sharesmb -x setuid \
         -x exec -x devices -x zoned backup/a/data"
    );
    let Ok(Verdict::Allow(req)) = run("zferry wire decompress -- zfs recv -s -u backup/a/data")
    else {
        panic!("not allowed")
    };
    assert_eq!(
        req.hardened().zfs_args().join(" "),
        "receive -s -u -x mountpoint -x canmount -x sharenfs -x sharesmb -x setuid \
         -x exec -x devices -x zoned backup/a/data"
    );
    let Ok(Verdict::Allow(req)) = run("zfs holds -H backup/a/data@s1") else {
        panic!("not allowed")
    };
    assert_eq!(req.clone().hardened(), req);
}

#[test]
fn every_listed_column_is_served() {
    let argv = format!("zfs list -H -p -o {LIST_COLS} -t filesystem,volume backup/a/data");
    assert!(matches!(run(&argv), Ok(Verdict::Allow(_))));
}
