//! Parses captured `zfs`/`zpool` output from `tests/fixtures/` and asserts concrete values.
//!
//! Each fixture starts with `# command: <argv>` (the exact command that produced it, checked
//! against the builder here) and, for files not yet captured in the lab, `# synthetic: …`.

use zferry_zfs::{
    DataErrors, Guid, Health, ObjectType, PropSource, Txg, UserPropName, ZfsCommand, get_argv,
    list_argv, parse_get, parse_list, parse_zpool_list, parse_zpool_status, zpool_list_argv,
    zpool_status_argv,
};

/// Returns (`# command:` value, body without header lines).
fn fixture(name: &str) -> (String, String) {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut command = None;
    let mut body = String::new();
    let mut in_header = true;
    for line in text.split_inclusive('\n') {
        if in_header && line.starts_with("# ") {
            if let Some(c) = line.strip_prefix("# command: ") {
                command = Some(c.trim_end().to_owned());
            }
            continue;
        }
        in_header = false;
        body.push_str(line);
    }
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

#[test]
fn zfs_list_fixture() {
    let props: Vec<UserPropName> = vec!["zferry:policy".parse().unwrap()];
    let (cmd, body) = fixture("zfs_list.txt");
    assert_command(
        "zfs_list.txt",
        &cmd,
        &list_argv(&ObjectType::ALL, &["fxsrc".parse().unwrap()], true, &props),
    );
    let rows = parse_list(&body, &props).unwrap();
    assert_eq!(rows.len(), 5);
    assert_eq!(rows[0].name.as_str(), "fxsrc");
    assert_eq!(rows[0].guid, Guid(5_212_960_914_785_361_436));
    assert_eq!(
        rows[1].user_props["zferry:policy"].as_deref(),
        Some("daily")
    );
    let snap = &rows[2];
    assert_eq!(snap.kind, ObjectType::Snapshot);
    assert_eq!(snap.createtxg, Txg(15));
    assert_eq!(snap.creation, 1_735_689_720);
    assert_eq!(
        (snap.used, snap.referenced, snap.written),
        (Some(0), Some(110_592), Some(110_592))
    );
    let bm = &rows[3];
    assert_eq!(bm.kind, ObjectType::Bookmark);
    assert_eq!(bm.guid, snap.guid, "a bookmark keeps its snapshot's guid");
    assert_eq!((bm.used, bm.referenced, bm.written), (None, None, None));
    assert_eq!(rows[4].kind, ObjectType::Volume);
}

#[test]
fn zfs_get_fixture() {
    let (cmd, body) = fixture("zfs_get.txt");
    let props =
        ["receive_resume_token", "compression", "zferry:policy"].map(|p| p.parse().unwrap());
    assert_command(
        "zfs_get.txt",
        &cmd,
        &get_argv(&props, &["fxdst/data".parse().unwrap()]),
    );
    let rows = parse_get(&body).unwrap();
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0].property, "receive_resume_token");
    assert!(rows[0].value.as_deref().unwrap().starts_with("1-"));
    assert_eq!(rows[0].source, PropSource::None);
    assert_eq!(
        rows[1].source,
        PropSource::Inherited {
            from: "fxdst".parse().unwrap()
        }
    );
    assert_eq!(rows[2].source, PropSource::Received);
}

#[test]
fn zpool_list_fixture() {
    let (cmd, body) = fixture("zpool_list.txt");
    assert_command("zpool_list.txt", &cmd, &zpool_list_argv(&[]));
    let pools = parse_zpool_list(&body).unwrap();
    assert_eq!(pools.len(), 2);
    assert_eq!(pools[0].name.as_str(), "fxdst");
    assert_eq!(pools[0].size, 251_658_240);
    assert_eq!(pools[0].size, pools[0].allocated + pools[0].free);
    assert_eq!(pools[0].fragmentation, Some(0));
    assert_eq!(pools[1].fragmentation, None);
    assert_eq!(pools[1].health, Health::Degraded);
}

#[test]
fn zpool_status_fixture() {
    let (cmd, body) = fixture("zpool_status.txt");
    assert_command("zpool_status.txt", &cmd, &zpool_status_argv(&[]));
    let pools = parse_zpool_status(&body).unwrap();
    assert_eq!(pools.len(), 2);
    assert_eq!(pools[0].name.as_str(), "fxdst");
    assert_eq!(pools[0].vdevs().len(), 2);
    let src = &pools[1];
    assert_eq!(src.state, Health::Degraded);
    assert!(src.action.as_deref().unwrap().contains("'zpool replace'"));
    assert!(
        src.scan
            .as_deref()
            .unwrap()
            .starts_with("scrub repaired 0B")
    );
    let sections: Vec<&str> = src.config.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(sections, ["fxsrc", "logs", "cache", "spares"]);
    let mirror = &src.config[0].children[0];
    assert_eq!(mirror.name, "mirror-0");
    assert_eq!(mirror.children[1].name, "/var/tmp/fx/src1");
    assert_eq!(mirror.children[1].state, Some(Health::Offline));
    assert_eq!(
        src.config[3].children[0].state,
        Some(Health::Other("AVAIL".into()))
    );
    assert_eq!(src.errors, Some(DataErrors::None));
}
