//! Parses real `zfs`/`zpool` output captured in the lab (`tests/fixtures/`) and asserts
//! concrete values from it.
//!
//! Each fixture starts with `# ` header lines: `# command: <argv>` (the exact command that
//! produced it, checked against the builder here), `# captured: …` (release and date) and
//! `# state: …` (what the pools looked like). The body is the command's stdout, verbatim.

use zferry_zfs::{
    DataErrors, ErrorCounters, Guid, Health, ObjectName, ObjectType, PoolStatus, PropSource,
    PropertyName, PropertyValue, Txg, UserPropName, VdevNode, ZfsCommand, ZfsObject, get_argv,
    list_argv, parse_get, parse_list, parse_zpool_list, parse_zpool_status, zpool_list_argv,
    zpool_status_argv,
};

/// Returns (`# command:` value, body without header lines).
fn fixture(name: &str) -> (String, String) {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut command = None;
    let mut captured = false;
    let mut body = String::new();
    let mut in_header = true;
    for line in text.split_inclusive('\n') {
        if in_header && line.starts_with("# ") {
            if let Some(c) = line.strip_prefix("# command: ") {
                command = Some(c.trim_end().to_owned());
            }
            captured |= line.starts_with("# captured: OpenZFS ");
            continue;
        }
        in_header = false;
        body.push_str(line);
    }
    assert!(captured, "{name}: no '# captured: OpenZFS …' header");
    (
        command.unwrap_or_else(|| panic!("{name}: no '# command:' header")),
        body,
    )
}

fn assert_command(name: &str, header: &str, built: &ZfsCommand) {
    assert_eq!(
        header,
        built.to_string(),
        "{name}: header command differs from the builder"
    );
}

fn names<T: std::str::FromStr>(list: &[&str]) -> Vec<T>
where
    T::Err: std::fmt::Debug,
{
    list.iter()
        .map(|s| s.parse().unwrap_or_else(|e| panic!("{s}: {e:?}")))
        .collect()
}

const SNAP1: &str = "fxa/data@zferry_2026-11-21T15:20:00Z";
const SNAP2: &str = "fxa/data@zferry_2026-11-21T15:25:00Z";
const MARK1: &str = "fxa/data#zferry_2026-11-21T15:20:00Z";

fn row<'a>(rows: &'a [ZfsObject], name: &str) -> &'a ZfsObject {
    rows.iter()
        .find(|r| r.name.as_str() == name)
        .unwrap_or_else(|| panic!("no row {name}"))
}

fn list_fixture() -> Vec<ZfsObject> {
    let props: Vec<UserPropName> = names(&["zferry:epoch", "label:running", "zferry:unset"]);
    let (cmd, body) = fixture("zfs_list.txt");
    assert_command(
        "zfs_list.txt",
        &cmd,
        &list_argv(&ObjectType::ALL, &names(&["fxa", "fxm"]), true, &props),
    );
    parse_list(&body, &props).unwrap_or_else(|e| panic!("zfs_list.txt: {e}"))
}

#[test]
fn zfs_list_names_types_and_order() {
    let rows = list_fixture();
    let got: Vec<(&str, ObjectType)> = rows.iter().map(|r| (r.name.as_str(), r.kind)).collect();
    let fs = ObjectType::Filesystem;
    let snap = ObjectType::Snapshot;
    let mark = ObjectType::Bookmark;
    assert_eq!(
        got,
        [
            ("fxa", fs),
            ("fxa/clone", fs),
            ("fxa/clone@c1", snap),
            ("fxa/data", fs),
            (SNAP1, snap),
            (SNAP2, snap),
            (MARK1, mark),
            ("fxa/data/child", fs),
            ("fxa/data/child@zferry_2026-11-21T15:20:00Z", snap),
            ("fxa/vol", ObjectType::Volume),
            ("fxa/vol@v1", snap),
            ("fxa/vol#v1", mark),
            ("fxm", fs),
            ("fxm/full", fs),
            ("fxm/full@zferry_2026-11-21T15:20:00Z", snap),
            ("fxm/partial", fs),
        ]
    );
    assert!(matches!(rows[6].name, ObjectName::Bookmark(_)));
    assert_eq!(rows[8].name.dataset().as_str(), "fxa/data/child");
}

#[test]
fn zfs_list_numbers() {
    let rows = list_fixture();
    let pool = row(&rows, "fxa");
    assert_eq!(pool.guid, Guid(2_020_582_796_815_468_995));
    assert_eq!(pool.createtxg, Txg(1));
    assert_eq!(pool.creation, 1_795_274_482);
    assert_eq!(pool.used, Some(39_556_608));
    let data = row(&rows, "fxa/data");
    assert_eq!(
        data.guid,
        Guid(13_169_225_628_996_950_316),
        "above i64::MAX"
    );
    assert_eq!(
        (data.used, data.referenced, data.written),
        (Some(3_069_440), Some(2_028_032), Some(0))
    );

    let (s1, s2) = (row(&rows, SNAP1), row(&rows, SNAP2));
    assert_eq!((s1.createtxg, s2.createtxg), (Txg(18), Txg(20)));
    assert!(s1.creation < s2.creation);
    assert_eq!(
        (s1.used, s1.referenced, s1.written),
        (Some(0), Some(2_028_032), Some(2_028_032))
    );
    let rec = row(&rows, "fxa/data/child@zferry_2026-11-21T15:20:00Z");
    assert_eq!(rec.createtxg, s1.createtxg, "zfs snapshot -r: one txg");
    assert_ne!(rec.guid, s1.guid);

    // Bookmarks: used/written are '-', but 2.3 does report `referenced` (the snapshot's).
    let mark = row(&rows, MARK1);
    assert_eq!(mark.guid, s1.guid, "a bookmark keeps its snapshot's guid");
    assert_eq!((mark.createtxg, mark.creation), (s1.createtxg, s1.creation));
    assert_eq!(
        (mark.used, mark.referenced, mark.written),
        (None, Some(2_028_032), None)
    );

    for mark in rows.iter().filter(|r| r.kind == ObjectType::Bookmark) {
        let snap = row(&rows, &mark.name.as_str().replace('#', "@"));
        assert_eq!((mark.guid, mark.createtxg), (snap.guid, snap.createtxg));
    }

    // `zfs send | zfs recv` keeps the snapshot guid, not the filesystem's, nor the txg.
    let received = row(&rows, "fxm/full@zferry_2026-11-21T15:20:00Z");
    assert_eq!(received.guid, Guid(14_137_574_581_152_695_482));
    assert_eq!(received.guid, s1.guid);
    assert_eq!(received.creation, s1.creation);
    assert_eq!(received.createtxg, Txg(15));
    assert_ne!(row(&rows, "fxm/full").guid, data.guid);
}

#[test]
fn zfs_list_user_props() {
    let rows = list_fixture();
    let props = |name: &str| -> Vec<Option<&str>> {
        ["zferry:epoch", "label:running", "zferry:unset"]
            .iter()
            .map(|p| row(&rows, name).user_props[*p].as_deref())
            .collect()
    };
    assert_eq!(props("fxa"), [None, None, None]);
    assert_eq!(props("fxa/data"), [Some("3"), None, None]);
    assert_eq!(
        props("fxa/data/child"),
        [Some("3"), None, None],
        "inherited"
    );
    assert_eq!(props(SNAP1), [Some("3"), None, None]);
    assert_eq!(props("fxa/vol"), [None, Some("pve1"), None]);
    assert_eq!(props("fxa/vol@v1"), [None, Some("pve1"), None]);
    assert_eq!(
        props("fxa/vol#v1"),
        [None, None, None],
        "bookmarks carry none"
    );
    assert_eq!(
        props("fxa/clone"),
        [None, None, None],
        "clones do not inherit"
    );
    assert_eq!(props("fxm/full"), [Some("3"), None, None], "zfs send -p");
    assert!(rows.iter().all(|r| r.user_props["zferry:unset"].is_none()));
}

fn get_fixture() -> Vec<PropertyValue> {
    let (cmd, body) = fixture("zfs_get.txt");
    let props: Vec<PropertyName> = names(&[
        "receive_resume_token",
        "compression",
        "zferry:epoch",
        "label:running",
        "zferry:unset",
    ]);
    let targets: Vec<ObjectName> = names(&[
        "fxa",
        "fxa/data",
        "fxa/data/child",
        SNAP1,
        MARK1,
        "fxa/vol",
        "fxa/clone",
        "fxm/full",
        "fxm/partial",
    ]);
    assert_command("zfs_get.txt", &cmd, &get_argv(&props, &targets));
    parse_get(&body).unwrap_or_else(|e| panic!("zfs_get.txt: {e}"))
}

fn prop<'a>(
    rows: &'a [PropertyValue],
    name: &str,
    property: &str,
) -> (Option<&'a str>, &'a PropSource) {
    let r = rows
        .iter()
        .find(|r| r.name.as_str() == name && r.property == property)
        .unwrap_or_else(|| panic!("no {property} for {name}"));
    (r.value.as_deref(), &r.source)
}

#[test]
fn zfs_get_values_and_sources() {
    let rows = get_fixture();
    assert_eq!(rows.len(), 9 * 5, "one row per target and property");
    let inherited = PropSource::Inherited {
        from: "fxa/data".parse().unwrap(),
    };
    assert_eq!(
        prop(&rows, "fxa", "compression"),
        (Some("on"), &PropSource::Default)
    );
    assert_eq!(
        prop(&rows, "fxa/data", "compression"),
        (Some("zstd"), &PropSource::Local)
    );
    assert_eq!(
        prop(&rows, "fxa/data/child", "compression"),
        (Some("zstd"), &inherited)
    );
    assert_eq!(
        prop(&rows, "fxa/data", "zferry:epoch"),
        (Some("3"), &PropSource::Local)
    );
    assert_eq!(prop(&rows, SNAP1, "zferry:epoch"), (Some("3"), &inherited));
    assert_eq!(prop(&rows, SNAP1, "compression"), (None, &PropSource::None));
    assert_eq!(
        prop(&rows, "fxa/vol", "label:running"),
        (Some("pve1"), &PropSource::Local)
    );
    assert_eq!(
        prop(&rows, "fxm/full", "zferry:epoch"),
        (Some("3"), &PropSource::Received)
    );
    for r in rows.iter().filter(|r| r.name.as_str() == MARK1) {
        assert_eq!((&r.value, &r.source), (&None, &PropSource::None), "{r:?}");
    }
    for r in rows.iter().filter(|r| r.property == "zferry:unset") {
        assert_eq!((&r.value, &r.source), (&None, &PropSource::None), "{r:?}");
    }
}

#[test]
fn zfs_get_resume_token() {
    let rows = get_fixture();
    let with_token: Vec<&str> = rows
        .iter()
        .filter(|r| r.property == "receive_resume_token" && r.value.is_some())
        .map(|r| r.name.as_str())
        .collect();
    assert_eq!(with_token, ["fxm/partial"]);
    let (token, source) = prop(&rows, "fxm/partial", "receive_resume_token");
    let token = token.unwrap();
    assert!(token.starts_with("1-bc3954838-d0-789c"), "{token}");
    assert!(token.ends_with("1009f0b1caa"), "{token}");
    assert!(token.bytes().all(|b| b == b'-' || b.is_ascii_hexdigit()));
    assert_eq!(source, &PropSource::None);
}

#[test]
fn zpool_list_fixture() {
    let (cmd, body) = fixture("zpool_list.txt");
    assert_command(
        "zpool_list.txt",
        &cmd,
        &zpool_list_argv(&names(&["fxa", "fxm"])),
    );
    let pools = parse_zpool_list(&body).unwrap();
    assert_eq!(pools.len(), 2);
    let (a, m) = (&pools[0], &pools[1]);
    assert_eq!(a.name.as_str(), "fxa");
    assert_eq!(
        (a.size, a.allocated, a.free),
        (251_658_240, 3_642_880, 248_015_360)
    );
    assert_eq!((a.fragmentation, a.capacity), (Some(4), 1));
    assert_eq!(a.health, Health::Online);
    assert_eq!(a.guid, Guid(11_074_267_942_988_410_077));
    assert_eq!(m.name.as_str(), "fxm");
    assert_eq!(m.size, 184_549_376, "mirror: one side's size, minus labels");
    assert_eq!((m.fragmentation, m.capacity), (Some(6), 1));
    assert_eq!(m.health, Health::Degraded);
    assert_eq!(m.guid, Guid(15_658_749_356_549_990_284));
    for p in &pools {
        assert_eq!(p.size, p.allocated + p.free, "{}", p.name);
    }
}

fn status_fixture(file: &str, pools: &[&str]) -> Vec<PoolStatus> {
    let (cmd, body) = fixture(file);
    assert_command(file, &cmd, &zpool_status_argv(&names(pools)));
    let parsed = parse_zpool_status(&body).unwrap_or_else(|e| panic!("{file}: {e}"));
    let got: Vec<&str> = parsed.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(got, pools, "{file}: pools");
    parsed
}

/// `(depth, name, state)` of every config line, depth first.
fn tree(p: &PoolStatus) -> Vec<(usize, &str, Option<Health>)> {
    p.vdevs()
        .into_iter()
        .map(|v| (v.depth, v.name.as_str(), v.state.clone()))
        .collect()
}

const ZERO: Option<ErrorCounters> = Some(ErrorCounters {
    read: 0,
    write: 0,
    cksum: 0,
});

#[test]
fn zpool_status_healthy_pools() {
    let pools = status_fixture("zpool_status.txt", &["fxa", "fxm"]);
    let on = Some(Health::Online);
    assert_eq!(
        tree(&pools[0]),
        [(0, "fxa", on.clone()), (1, "/var/tmp/fxa.img", on.clone())]
    );
    assert_eq!(
        tree(&pools[1]),
        [
            (0, "fxm", on.clone()),
            (1, "mirror-0", on.clone()),
            (2, "/var/tmp/fxm0.img", on.clone()),
            (2, "/var/tmp/fxm1.img", on.clone()),
        ]
    );
    for p in &pools {
        assert_eq!(p.state, Health::Online);
        assert_eq!(
            (&p.status, &p.action, &p.see, &p.scan),
            (&None, &None, &None, &None)
        );
        assert_eq!(p.errors, Some(DataErrors::None));
        assert!(p.other.is_empty(), "{:?}", p.other);
        assert!(
            p.vdevs()
                .iter()
                .all(|v| v.counters == ZERO && v.note.is_none())
        );
    }
}

fn assert_sections(p: &PoolStatus) {
    let sections: Vec<&str> = p.config.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(sections, ["fxm", "logs", "cache", "spares"]);
    for (section, dev) in [
        (&p.config[1], "/var/tmp/fxlog.img"),
        (&p.config[2], "/var/tmp/fxcache.img"),
    ] {
        assert!(section.is_section(), "{section:?}");
        assert_eq!((section.depth, section.counters), (0, None));
        let kids: Vec<(&str, usize, Option<ErrorCounters>)> = section
            .children
            .iter()
            .map(|c| (c.name.as_str(), c.depth, c.counters))
            .collect();
        assert_eq!(kids, [(dev, 1, ZERO)]);
        assert_eq!(section.children[0].state, Some(Health::Online));
    }
    let spare: &VdevNode = &p.config[3].children[0];
    assert_eq!(spare.name, "/var/tmp/fxspare.img");
    assert_eq!(spare.state, Some(Health::Other("AVAIL".into())));
    assert_eq!((spare.counters, &spare.note), (None, &None));
    assert_eq!(p.vdevs().len(), 10);
}

#[test]
fn zpool_status_log_cache_spare() {
    let p = &status_fixture("zpool_status_sections.txt", &["fxm"])[0];
    assert_sections(p);
    assert_eq!(p.state, Health::Online);
    assert_eq!(p.scan, None, "never scrubbed");
}

#[test]
fn zpool_status_after_scrub() {
    let p = &status_fixture("zpool_status_scrubbed.txt", &["fxm"])[0];
    assert_sections(p);
    assert_eq!(
        p.scan.as_deref(),
        Some("scrub repaired 0B in 00:00:01 with 0 errors on Sat Nov 21 15:22:04 2026")
    );
    assert_eq!(p.errors, Some(DataErrors::None));
}

#[test]
fn zpool_status_degraded_mirror() {
    let pools = status_fixture("zpool_status_degraded.txt", &["fxa", "fxm"]);
    assert_eq!(pools[0].state, Health::Online);
    let m = &pools[1];
    assert_sections(m);
    assert_eq!(m.state, Health::Degraded);
    let status = m.status.as_deref().unwrap();
    assert!(status.starts_with("One or more devices has been taken offline"));
    assert_eq!(status.lines().count(), 3);
    assert_eq!(
        m.action.as_deref(),
        Some("Online the device using 'zpool online' or replace the device with\n'zpool replace'.")
    );
    assert_eq!(m.see, None);
    assert!(m.scan.as_deref().unwrap().starts_with("scrub repaired 0B"));
    let mirror = &m.config[0].children[0];
    assert_eq!(m.config[0].state, Some(Health::Degraded));
    assert_eq!(
        (mirror.name.as_str(), mirror.depth, mirror.state.clone()),
        ("mirror-0", 1, Some(Health::Degraded))
    );
    let sides: Vec<(&str, Option<Health>, Option<ErrorCounters>)> = mirror
        .children
        .iter()
        .map(|c| (c.name.as_str(), c.state.clone(), c.counters))
        .collect();
    assert_eq!(
        sides,
        [
            ("/var/tmp/fxm0.img", Some(Health::Online), ZERO),
            ("/var/tmp/fxm1.img", Some(Health::Offline), ZERO),
        ]
    );
    assert_eq!(m.errors, Some(DataErrors::None));
}

#[test]
fn zpool_status_after_resilver() {
    let p = &status_fixture("zpool_status_resilvered.txt", &["fxm"])[0];
    assert_sections(p);
    assert_eq!(p.state, Health::Online);
    assert_eq!(
        p.scan.as_deref(),
        Some("resilvered 22.5K in 00:00:00 with 0 errors on Sat Nov 21 15:22:11 2026")
    );
    assert!(
        p.config[0]
            .walk()
            .iter()
            .all(|v| v.state == Some(Health::Online))
    );
}

#[test]
fn zpool_status_data_errors() {
    let p = &status_fixture("zpool_status_data_errors.txt", &["fxc"])[0];
    assert_eq!(
        p.state,
        Health::Online,
        "a single vdev with bad blocks stays ONLINE"
    );
    assert_eq!(p.errors, Some(DataErrors::Count(132)));
    assert_eq!(
        p.see.as_deref(),
        Some("https://openzfs.github.io/openzfs-docs/msg/ZFS-8000-8A")
    );
    assert_eq!(p.status.as_deref().unwrap().lines().count(), 2);
    assert!(p.action.as_deref().unwrap().starts_with("Restore the file"));
    assert_eq!(
        p.scan.as_deref(),
        Some("scrub repaired 196K in 00:00:02 with 132 errors on Sat Nov 21 15:26:43 2026")
    );
    assert_eq!(p.config[0].counters, ZERO);
    let dev = &p.config[0].children[0];
    assert_eq!(dev.name, "/var/tmp/fxc.img");
    assert_eq!(
        dev.counters,
        Some(ErrorCounters {
            read: 0,
            write: 0,
            cksum: 341
        })
    );
}
