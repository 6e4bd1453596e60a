//! Every output parser on live output: run the builder's argv through `zferry_zfs::ops` on a
//! throwaway pool, then check the parsed values against what other commands (`zfs get` per
//! object, `zpool get`, `zpool list -v`, a resume token's contents) say independently.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::process::{Command, Stdio};

use zferry_exec::LocalExecutor;
use zferry_lab::fixture::{POOL_DIR, TestPool};
use zferry_zfs::{
    DataErrors, Guid, Health, ObjectName, ObjectType, PropSource, PropertyName, Txg, UserPropName,
    ZfsObject, ops,
};

const USER_PROPS: [&str; 3] = ["zferry:epoch", "label:running", "zferry:unset"];

fn parsed<T: std::str::FromStr>(items: &[&str]) -> Vec<T>
where
    T::Err: std::fmt::Debug,
{
    items
        .iter()
        .map(|s| {
            s.parse()
                .unwrap_or_else(|e| panic!("{s:?} does not parse: {e:?}"))
        })
        .collect()
}

fn text(out: &zferry_exec::Output) -> String {
    out.stdout_lossy().trim_end().to_owned()
}

/// `zfs get -H -p -o property,value <props> <name>` as a map, `-` kept verbatim.
fn zfs_values(pool: &TestPool, props: &str, name: &str) -> BTreeMap<String, String> {
    let out = pool.run_ok(
        "zfs",
        &["get", "-H", "-p", "-o", "property,value", props, name],
    );
    text(&out)
        .lines()
        .map(|l| {
            let (k, v) = l.split_once('\t').expect("property<TAB>value");
            (k.to_owned(), v.to_owned())
        })
        .collect()
}

fn opt(s: &str) -> Option<&str> {
    (s != "-").then_some(s)
}

/// Files that outlive a [`TestPool`]: declare before the pool so they are removed after it.
#[derive(Default)]
struct ExtraFiles(Vec<String>);

impl ExtraFiles {
    fn create(&mut self, pool: &TestPool, suffix: &str, size: &str) -> String {
        let path = format!("{POOL_DIR}/{}-{suffix}.img", pool.name());
        pool.run_ok("truncate", &["-s", size, &path]);
        self.0.push(path.clone());
        path
    }
}

impl Drop for ExtraFiles {
    fn drop(&mut self) {
        let keep = match std::env::var("ZFERRY_LAB_KEEP").as_deref() {
            Ok("1") => true,
            Ok("failed") => std::thread::panicking(),
            _ => false,
        };
        if !keep {
            for f in &self.0 {
                let _ = std::fs::remove_file(f);
            }
        }
    }
}

fn pool_file(pool: &TestPool) -> String {
    format!("{POOL_DIR}/{}.img", pool.name())
}

const TREE: &str = "
fs data/child
write data/f 1M
prop data zferry:epoch=3
snap data@a
write data/child/g 256K
rsnap data@b
bookmark data@a #a
vol vol 16M
prop vol label:running=pve1
snap vol@v
bookmark vol@v #v
";

fn list_all(pool: &TestPool) -> Vec<ZfsObject> {
    pool.run_ok("zpool", &["sync", pool.name()]);
    ops::list_all(
        &LocalExecutor::new(),
        &parsed(&[pool.name()]),
        &parsed::<UserPropName>(&USER_PROPS),
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn zfs_list_recursive_matches_zfs_get_per_object() {
    let pool = TestPool::create("fxl", "256M");
    pool.setup(TREE);
    let rows = list_all(&pool);

    let names = pool.run_ok(
        "zfs",
        &["list", "-H", "-o", "name", "-t", "all", "-r", pool.name()],
    );
    let got: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(got, text(&names).lines().collect::<Vec<_>>());
    for kind in ObjectType::ALL {
        assert!(rows.iter().any(|r| r.kind == kind), "no {kind} in {got:?}");
    }

    let props = format!(
        "type,guid,createtxg,creation,referenced,{}",
        USER_PROPS.join(",")
    );
    for row in &rows {
        let v = zfs_values(&pool, &props, row.name.as_str());
        let name = row.name.as_str();
        assert_eq!(row.kind.as_str(), v["type"], "{name}");
        assert_eq!(row.guid, Guid(v["guid"].parse().unwrap()), "{name}");
        assert_eq!(
            row.createtxg,
            Txg(v["createtxg"].parse().unwrap()),
            "{name}"
        );
        assert_eq!(
            row.creation,
            v["creation"].parse::<u64>().unwrap(),
            "{name}"
        );
        if row.kind != ObjectType::Filesystem {
            // Snapshots/bookmarks are immutable; a zvol is never written here.
            let referenced = opt(&v["referenced"]).map(|r| r.parse::<u64>().unwrap());
            assert_eq!(row.referenced, referenced, "{name}");
        }
        for p in USER_PROPS {
            assert_eq!(row.user_props[p].as_deref(), opt(&v[p]), "{name} {p}");
        }
    }

    let row = |rel: &str| {
        let want = pool.ds(rel);
        rows.iter().find(|r| r.name.as_str() == want).unwrap()
    };
    assert_eq!(row("data").user_props["zferry:epoch"].as_deref(), Some("3"));
    assert_eq!(
        row("data/child@b").user_props["zferry:epoch"].as_deref(),
        Some("3")
    );
    assert_eq!(
        row("vol").user_props["label:running"].as_deref(),
        Some("pve1")
    );
    assert!(rows.iter().all(|r| r.user_props["zferry:unset"].is_none()));
    assert!(row("data@a").createtxg < row("data@b").createtxg);
    assert_eq!(
        row("data@b").createtxg,
        row("data/child@b").createtxg,
        "-r: one txg"
    );
    let (mark, snap) = (row("data#a"), row("data@a"));
    assert_eq!((mark.guid, mark.createtxg), (snap.guid, snap.createtxg));
    assert_eq!((mark.used, mark.written), (None, None));
    assert!(
        snap.referenced.unwrap() > 1 << 20,
        "1 MiB was written before @a"
    );
}

#[test]
fn zfs_list_non_recursive_and_type_filters() {
    let pool = TestPool::create("fxn", "256M");
    pool.setup(TREE);
    let exec = LocalExecutor::new();
    let data: Vec<_> = parsed(&[&pool.ds("data")]);
    let names = |types: &[ObjectType], recursive: bool| -> Vec<String> {
        ops::list(&exec, types, &data, recursive, &[])
            .unwrap_or_else(|e| panic!("{e}"))
            .into_iter()
            .map(|r| r.name.as_str().to_owned())
            .collect()
    };
    let ds = |rels: &[&str]| -> Vec<String> { rels.iter().map(|r| pool.ds(r)).collect() };

    assert_eq!(names(&[ObjectType::Filesystem], false), ds(&["data"]));
    assert_eq!(
        names(&[ObjectType::Filesystem], true),
        ds(&["data", "data/child"])
    );
    // Without -r, `-t snapshot <fs>` lists that filesystem's own snapshots only.
    assert_eq!(
        names(&[ObjectType::Snapshot], false),
        ds(&["data@a", "data@b"])
    );
    assert_eq!(
        names(&[ObjectType::Snapshot, ObjectType::Bookmark], true),
        ds(&["data@a", "data@b", "data#a", "data/child@b"])
    );
    let independent = pool.run_ok(
        "zfs",
        &[
            "list",
            "-H",
            "-o",
            "name",
            "-t",
            "snapshot,bookmark",
            "-r",
            &pool.ds("data"),
        ],
    );
    assert_eq!(
        names(&[ObjectType::Snapshot, ObjectType::Bookmark], true),
        text(&independent).lines().collect::<Vec<_>>()
    );
}

#[test]
fn zfs_get_sources_local_default_inherited_none() {
    let pool = TestPool::create("fxg", "256M");
    pool.setup(
        "fs data -o compression=zstd\nfs data/child\nprop data zferry:epoch=3\nsnap data@a\n",
    );
    let targets: Vec<ObjectName> = parsed(&[
        pool.name(),
        &pool.ds("data"),
        &pool.ds("data/child"),
        &pool.ds("data@a"),
    ]);
    let props: Vec<PropertyName> = parsed(&["compression", "zferry:epoch", "zferry:unset", "guid"]);
    let rows = ops::get(&LocalExecutor::new(), &props, &targets).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(rows.len(), 16);
    let get = |name: &str, prop: &str| {
        let r = rows
            .iter()
            .find(|r| r.name.as_str() == name && r.property == prop)
            .unwrap_or_else(|| panic!("no {prop} of {name}"));
        (r.value.clone(), r.source.clone())
    };
    let from_data = PropSource::Inherited {
        from: pool.ds("data").parse().unwrap(),
    };
    let data = pool.ds("data");
    let child = pool.ds("data/child");
    let snap = pool.ds("data@a");
    assert_eq!(get(pool.name(), "compression").1, PropSource::Default);
    assert_eq!(
        get(&data, "compression"),
        (Some("zstd".into()), PropSource::Local)
    );
    assert_eq!(
        get(&child, "compression"),
        (Some("zstd".into()), from_data.clone())
    );
    assert_eq!(
        get(&data, "zferry:epoch"),
        (Some("3".into()), PropSource::Local)
    );
    assert_eq!(
        get(&child, "zferry:epoch"),
        (Some("3".into()), from_data.clone())
    );
    assert_eq!(get(&snap, "zferry:epoch"), (Some("3".into()), from_data));
    let listed = list_all(&pool);
    for t in &targets {
        assert_eq!(get(t.as_str(), "zferry:unset"), (None, PropSource::None));
        // guid through a different command: the `zfs list` parser.
        let listed = listed
            .iter()
            .find(|r| r.name == *t)
            .unwrap_or_else(|| panic!("{t} not listed"));
        let (guid, source) = get(t.as_str(), "guid");
        assert_eq!(source, PropSource::None, "guid is read-only");
        assert_eq!(Some(listed.guid.0.to_string()), guid, "{t}");
    }
}

/// `zfs send <snap> | head -c <bytes> | zfs recv -s <target>`, without a shell.
fn interrupted_receive(snap: &str, target: &str, bytes: usize) {
    let mut send = Command::new("zfs")
        .args(["send", "-p", snap])
        .stdout(Stdio::piped())
        .spawn()
        .expect("zfs send");
    let mut recv = Command::new("zfs")
        .args(["recv", "-s", "-u", target])
        .stdin(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("zfs recv");
    let mut buf = vec![0u8; bytes];
    let mut from_send = send.stdout.take().expect("piped stdout");
    from_send
        .read_exact(&mut buf)
        .expect("stream is longer than the cut");
    drop(from_send);
    let mut to_recv = recv.stdin.take().expect("piped stdin");
    to_recv.write_all(&buf).expect("writing to zfs recv");
    drop(to_recv);
    let _ = send.wait();
    let status = recv.wait().expect("waiting for zfs recv");
    assert!(!status.success(), "a cut stream must not receive fully");
}

#[test]
fn zfs_get_received_source_and_resume_token() {
    let pool = TestPool::create("fxr", "256M");
    pool.setup("fs data\nprop data zferry:epoch=7\nwrite data/f 2M\nsnap data@a\n");
    pool.run_ok("zpool", &["sync", pool.name()]);
    interrupted_receive(&pool.ds("data@a"), &pool.ds("part"), 256 * 1024);

    let targets: Vec<ObjectName> = parsed(&[&pool.ds("part"), &pool.ds("data")]);
    let props: Vec<PropertyName> = parsed(&["receive_resume_token", "zferry:epoch"]);
    let rows = ops::get(&LocalExecutor::new(), &props, &targets).unwrap_or_else(|e| panic!("{e}"));
    // `zfs get` prints objects sorted by name, whatever order they were asked in.
    let (data, part) = (pool.ds("data"), pool.ds("part"));
    let got: Vec<(&str, &str, Option<&str>, &PropSource)> = rows
        .iter()
        .map(|r| {
            let value = r.value.as_deref();
            let value = if r.property == "receive_resume_token" {
                value.map(|_| "<token>")
            } else {
                value
            };
            (r.name.as_str(), r.property.as_str(), value, &r.source)
        })
        .collect();
    assert_eq!(
        got,
        [
            (
                data.as_str(),
                "receive_resume_token",
                None,
                &PropSource::None
            ),
            (data.as_str(), "zferry:epoch", Some("7"), &PropSource::Local),
            (
                part.as_str(),
                "receive_resume_token",
                Some("<token>"),
                &PropSource::None
            ),
            (
                part.as_str(),
                "zferry:epoch",
                Some("7"),
                &PropSource::Received
            ),
        ]
    );
    let token = rows[2].value.clone().expect("checked above");
    assert!(token.starts_with("1-"), "{token}");

    // The token names the snapshot being received, by guid.
    let out = pool.run("zfs", &["send", "-n", "-v", "-t", &token]);
    let all = format!("{}{}", out.stdout_lossy(), out.stderr);
    let toguid = all
        .lines()
        .find_map(|l| l.trim().strip_prefix("toguid = 0x"))
        .unwrap_or_else(|| panic!("no toguid in {all}"));
    let snap_guid = &zfs_values(&pool, "guid", &pool.ds("data@a"))["guid"];
    assert_eq!(
        u64::from_str_radix(toguid, 16).unwrap().to_string(),
        *snap_guid
    );
}

#[test]
fn zpool_list_matches_zpool_get() {
    let pool = TestPool::create("fxp", "192M");
    pool.setup("fs data\nwrite data/f 4M\n");
    pool.run_ok("zpool", &["sync", pool.name()]);
    let rows = ops::zpool_list(&LocalExecutor::new(), &parsed(&[pool.name()]))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(rows.len(), 1);
    let p = &rows[0];
    let out = pool.run_ok(
        "zpool",
        &[
            "get",
            "-H",
            "-p",
            "-o",
            "property,value",
            "size,allocated,free,health,guid",
            pool.name(),
        ],
    );
    let v: BTreeMap<&str, &str> = out
        .stdout
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| {
            let l = std::str::from_utf8(l).unwrap();
            l.split_once('\t').unwrap()
        })
        .collect();
    assert_eq!(p.name.as_str(), pool.name());
    assert_eq!(p.size.to_string(), v["size"]);
    assert_eq!(p.allocated.to_string(), v["allocated"]);
    assert_eq!(p.free.to_string(), v["free"]);
    assert_eq!(p.health.to_string(), v["health"]);
    assert_eq!(p.guid.0.to_string(), v["guid"]);
    assert_eq!(p.health, Health::Online);
    assert_eq!(p.size, p.allocated + p.free);
    assert!(p.allocated > 4 << 20, "4 MiB written: {}", p.allocated);
    assert!(p.size > 150 << 20 && p.size <= 192 << 20, "{}", p.size);
}

/// `(vdev path, health)` from `zpool list -v -H -P`, whose vdev lines start with a tab.
fn vdev_health(pool: &TestPool) -> Vec<(String, String)> {
    let out = pool.run_ok("zpool", &["list", "-v", "-H", "-P", pool.name()]);
    text(&out)
        .lines()
        .filter_map(|l| l.strip_prefix('\t'))
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f[0].to_owned(), f[f.len() - 1].to_owned())
        })
        .collect()
}

#[test]
fn zpool_status_healthy_then_scrubbed() {
    let pool = TestPool::create("fxs", "128M");
    pool.setup("fs data\nwrite data/f 2M\n");
    let exec = LocalExecutor::new();
    let status = |pool: &TestPool| {
        let mut all =
            ops::zpool_status(&exec, &parsed(&[pool.name()])).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(all.len(), 1);
        all.remove(0)
    };
    let s = status(&pool);
    assert_eq!(s.name.as_str(), pool.name());
    assert_eq!(
        s.state.to_string(),
        text(&pool.run_ok(
            "zpool",
            &["get", "-H", "-o", "value", "health", pool.name()]
        ))
    );
    assert_eq!(s.scan, None, "never scrubbed");
    assert_eq!(s.errors, Some(DataErrors::None));
    let leaves: Vec<(String, String)> = s.config[0]
        .children
        .iter()
        .map(|v| (v.name.clone(), v.state.as_ref().unwrap().to_string()))
        .collect();
    assert_eq!(leaves, vdev_health(&pool));
    assert_eq!(leaves, [(pool_file(&pool), "ONLINE".to_owned())]);

    pool.run_ok("zpool", &["scrub", "-w", pool.name()]);
    let s = status(&pool);
    let scan = s.scan.expect("a scan line after zpool scrub -w");
    assert!(scan.starts_with("scrub repaired 0B in "), "{scan}");
    assert!(scan.contains(" with 0 errors on "), "{scan}");
    assert_eq!(s.state, Health::Online);
}

#[test]
fn zpool_status_degraded_mirror_after_offline() {
    let mut extra = ExtraFiles::default();
    let pool = TestPool::create("fxd", "128M");
    let second = extra.create(&pool, "m1", "128M");
    pool.run_ok(
        "zpool",
        &[
            "attach",
            "-f",
            "-w",
            pool.name(),
            &pool_file(&pool),
            &second,
        ],
    );
    pool.setup("fs data\nwrite data/f 1M\n");
    let exec = LocalExecutor::new();
    let names = parsed(&[pool.name()]);

    let s = &ops::zpool_status(&exec, &names).unwrap_or_else(|e| panic!("{e}"))[0];
    assert_eq!(s.state, Health::Online);
    let mirror = &s.config[0].children[0];
    assert!(mirror.name.starts_with("mirror-"), "{}", mirror.name);
    assert_eq!(mirror.depth, 1);
    assert!(
        s.scan.as_deref().unwrap().starts_with("resilvered "),
        "zpool attach resilvers"
    );

    pool.run_ok("zpool", &["offline", pool.name(), &second]);
    let s = &ops::zpool_status(&exec, &names).unwrap_or_else(|e| panic!("{e}"))[0];
    assert_eq!(s.state, Health::Degraded);
    assert!(
        s.status.as_deref().unwrap().contains("taken offline"),
        "{:?}",
        s.status
    );
    assert!(
        s.action.as_deref().unwrap().contains("'zpool online'"),
        "{:?}",
        s.action
    );
    let mirror = &s.config[0].children[0];
    assert_eq!(mirror.state, Some(Health::Degraded));
    let sides: Vec<(String, String)> = mirror
        .children
        .iter()
        .map(|v| (v.name.clone(), v.state.as_ref().unwrap().to_string()))
        .collect();
    assert_eq!(
        sides,
        [
            (pool_file(&pool), "ONLINE".to_owned()),
            (second.clone(), "OFFLINE".to_owned())
        ]
    );
    // `zpool list -v` prints the mirror line and then its leaves.
    assert_eq!(vdev_health(&pool)[1..], sides[..]);
    let listed = &ops::zpool_list(&exec, &names).unwrap_or_else(|e| panic!("{e}"))[0];
    assert_eq!(listed.health, Health::Degraded);

    pool.run_ok("zpool", &["online", pool.name(), &second]);
    pool.run_ok("zpool", &["wait", "-t", "resilver", pool.name()]);
    let s = &ops::zpool_status(&exec, &names).unwrap_or_else(|e| panic!("{e}"))[0];
    assert_eq!(s.state, Health::Online);
    assert!(s.vdevs().iter().all(|v| v.state == Some(Health::Online)));
}
