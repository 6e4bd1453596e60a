//! `zferry snap rollback|clone|list` on real ZFS: nothing is destroyed without --force, and
//! with it exactly the named snapshots, bookmarks and clones go.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use zferry_lab::fixture::TestPool;

fn zferry(args: &[&str]) -> (i32, String, String) {
    zferry_lab::fixture::run_zferry(args)
}

fn names(pool: &TestPool, kind: &str) -> Vec<String> {
    let out = pool.run_ok(
        "zfs",
        &["list", "-H", "-o", "name", "-t", kind, "-r", pool.name()],
    );
    out.stdout_lossy().lines().map(str::to_owned).collect()
}

fn mountpoint(pool: &TestPool, ds: &str) -> String {
    pool.run_ok(
        "zfs",
        &["get", "-H", "-o", "value", "mountpoint", &pool.ds(ds)],
    )
    .stdout_lossy()
    .trim()
    .to_owned()
}

fn setup() -> TestPool {
    let pool = TestPool::create("rb", "128M");
    pool.setup("fs a\nwrite a/f 4K\nsnap a@s1\nwrite a/f 8K\nsnap a@s2\nbookmark a@s2 #zferry_t1_2\nwrite a/f 12K\nsnap a@s3\nwrite a/f 16K\n");
    pool
}

#[test]
fn rollback_to_an_older_snapshot_is_refused_without_force_and_changes_nothing() {
    let pool = setup();
    let before = (names(&pool, "snapshot"), names(&pool, "bookmark"));
    let (code, _, stderr) = zferry(&["snap", "rollback", &pool.ds("a@s1")]);
    assert_eq!(code, 1, "{stderr}");
    for victim in ["a@s2", "a@s3", "a#zferry_t1_2"] {
        assert!(
            stderr.contains(&pool.ds(victim)),
            "{victim} not named: {stderr}"
        );
    }
    assert!(stderr.contains("replication cursor"), "{stderr}");
    assert_eq!((names(&pool, "snapshot"), names(&pool, "bookmark")), before);
    let len = std::fs::metadata(format!("{}/f", mountpoint(&pool, "a")))
        .unwrap()
        .len();
    assert_eq!(len, 16 * 1024, "data changed by a refused rollback");
}

#[test]
fn dry_run_names_victims_and_changes_nothing() {
    let pool = setup();
    let before = names(&pool, "snapshot");
    let (code, stdout, stderr) =
        zferry(&["snap", "rollback", "--force", "--dry-run", &pool.ds("a@s2")]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains(&format!("destroy snapshot {}", pool.ds("a@s3"))),
        "{stdout}"
    );
    assert_eq!(names(&pool, "snapshot"), before);
}

#[test]
fn forced_rollback_destroys_exactly_the_named_objects() {
    let pool = setup();
    pool.run_ok("zfs", &["clone", &pool.ds("a@s3"), &pool.ds("c3")]);
    pool.run_ok("zfs", &["clone", &pool.ds("a@s1"), &pool.ds("c1")]);
    let (code, stdout, stderr) = zferry(&["snap", "rollback", "--force", &pool.ds("a@s1")]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains(&format!("destroy clone {}", pool.ds("c3"))),
        "{stdout}"
    );
    assert_eq!(names(&pool, "snapshot"), vec![pool.ds("a@s1")]);
    assert!(names(&pool, "bookmark").is_empty());
    let datasets = names(&pool, "filesystem");
    assert!(
        datasets.contains(&pool.ds("c1")) && !datasets.contains(&pool.ds("c3")),
        "{datasets:?}"
    );
    let len = std::fs::metadata(format!("{}/f", mountpoint(&pool, "a")))
        .unwrap()
        .len();
    assert_eq!(len, 4 * 1024);
}

#[test]
fn rollback_to_the_newest_snapshot_needs_no_force() {
    let pool = setup();
    // `written` counts what reached disk: let the last write's txg sync first.
    pool.run_ok("zpool", &["sync", pool.name()]);
    let (code, stdout, stderr) = zferry(&["snap", "rollback", &pool.ds("a@s3")]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("discard"),
        "unsnapshotted writes not reported: {stdout}"
    );
    let len = std::fs::metadata(format!("{}/f", mountpoint(&pool, "a")))
        .unwrap()
        .len();
    assert_eq!(len, 12 * 1024);
}

#[test]
fn clone_is_read_only_and_list_shows_snapshots_in_order() {
    let pool = setup();
    let (code, _, stderr) = zferry(&["snap", "clone", &pool.ds("a@s2"), &pool.ds("look")]);
    assert_eq!(code, 0, "{stderr}");
    let ro = pool.run_ok(
        "zfs",
        &["get", "-H", "-o", "value", "readonly", &pool.ds("look")],
    );
    assert_eq!(ro.stdout_lossy().trim(), "on");
    let len = std::fs::metadata(format!("{}/f", mountpoint(&pool, "look")))
        .unwrap()
        .len();
    assert_eq!(len, 8 * 1024);

    let (code, stdout, stderr) = zferry(&["snap", "list", "--json", &pool.ds("a")]);
    assert_eq!(code, 0, "{stderr}");
    let rows: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let listed: Vec<&str> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(listed, [pool.ds("a@s1"), pool.ds("a@s2"), pool.ds("a@s3")]);
}
