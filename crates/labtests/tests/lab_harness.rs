//! The harness itself on real ZFS: pools appear, the setup language does what it says,
//! pools are gone after drop, and ssh to the guest's loopback sshd works.

use zferry_lab::fixture::TestPool;

#[test]
fn test_pool_setup_creates_what_it_describes_and_drop_destroys_it() {
    let name;
    {
        let pool = TestPool::create("hx", "256M");
        name = pool.name().to_owned();
        pool.setup("fs a/b\nwrite a/f 1M\nsnap a@s1\nbookmark a@s1 #m1\nvol v 16M\nprop a zferry:test=yes\nhold keep a@s1\n");
        let out = pool.run_ok(
            "zfs",
            &["list", "-H", "-o", "name", "-t", "all", "-r", pool.name()],
        );
        let names: Vec<String> = out.stdout_lossy().lines().map(str::to_owned).collect();
        for want in ["a", "a/b", "a@s1", "a#m1", "v"] {
            assert!(
                names.contains(&pool.ds(want)),
                "missing {want} in {names:?}"
            );
        }
        let prop = pool.run_ok(
            "zfs",
            &["get", "-H", "-o", "value", "zferry:test", &pool.ds("a")],
        );
        assert_eq!(prop.stdout_lossy().trim(), "yes");
        let holds = pool.run_ok("zfs", &["holds", "-H", &pool.ds("a@s1")]);
        assert!(holds.stdout_lossy().contains("keep"));
        pool.run_ok("zfs", &["release", "keep", &pool.ds("a@s1")]);
    }
    let after = TestPool::create("hy", "64M");
    let list = after.run_ok("zpool", &["list", "-H", "-o", "name"]);
    assert!(
        !list.stdout_lossy().lines().any(|l| l == name),
        "pool {name} survived its drop"
    );
}

#[test]
fn sshd_on_loopback_runs_zfs() {
    let pool = TestPool::create("hs", "64M");
    let out = pool.run(
        "ssh",
        &[
            "-o",
            "BatchMode=yes",
            "root@localhost",
            "zpool",
            "list",
            "-H",
            "-o",
            "name",
            pool.name(),
        ],
    );
    assert!(out.success(), "ssh to localhost failed: {}", out.stderr);
    assert_eq!(out.stdout_lossy().trim(), pool.name());
}
