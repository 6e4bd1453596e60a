//! Guest decisions, pure.

use std::collections::BTreeMap;

use zferry_zfs::{Guid, Txg};

use super::*;
use crate::model::SnapInfo;

fn guest(vmid: u32, node: &str, status: &str) -> Guest {
    Guest {
        vmid,
        node: node.into(),
        status: status.into(),
        kind: "qemu".into(),
        hastate: None,
        lock: None,
        template: false,
        name: None,
    }
}

fn ds(name: &str, prop: Option<&str>) -> DatasetState {
    DatasetState {
        name: name.parse().unwrap(),
        snapshots: vec![SnapInfo {
            name: format!("{name}@old").parse().unwrap(),
            guid: Guid(1),
            createtxg: Txg(1),
            creation: Some(0),
            holds: Some(0),
        }],
        user_props: BTreeMap::from([("label:running".to_owned(), prop.map(str::to_owned))]),
    }
}

fn ctx<'a>(guests: &'a [Guest], map: &'a BTreeMap<DatasetName, Vmid>) -> GuestContext<'a> {
    GuestContext {
        host: "pve1",
        property: "label:running",
        prefix: "autosnap",
        stamp: "2026-11-21_15:00:00",
        guests,
        map,
    }
}

#[test]
fn parses_the_public_sample_and_skips_non_guests() {
    let text: String = include_str!("../../tests/fixtures/pvesh_resources_vm.txt")
        .lines()
        .filter(|l| !l.starts_with('#'))
        .collect();
    let guests = parse_guests(&text).unwrap();
    assert_eq!(guests.len(), 1);
    let g = &guests[0];
    assert_eq!(
        (g.vmid, g.node.as_str(), g.kind.as_str()),
        (100, "pve-node3", "qemu")
    );
    assert!(g.is_running() && !g.template);
    assert_eq!(g.hastate.as_deref(), Some("started"));
    assert_eq!(g.name.as_deref(), Some("proxmox-dev"));
    assert_eq!(g.lock, None);
    let mixed = r#"[{"id":"node/pve1","type":"node","node":"pve1","status":"online"},
        {"id":"lxc/101","type":"lxc","vmid":101,"node":"pve2","status":"stopped","template":1}]"#;
    let guests = parse_guests(mixed).unwrap();
    assert_eq!(guests.len(), 1);
    assert!(guests[0].template && !guests[0].is_running());
    let locked = r#"[{"type":"qemu","vmid":100,"node":"a","status":"running","lock":"backup"}]"#;
    assert_eq!(
        parse_guests(locked).unwrap()[0].lock.as_deref(),
        Some("backup")
    );
    assert!(parse_guests(r#"[{"type":"qemu","vmid":"x"}]"#).is_err());
    assert!(
        parse_guests(r#"[{"type":"qemu","vmid":100,"node":"a","status":"running","template":2}]"#)
            .is_err()
    );
}

#[test]
fn dataset_names_map_to_guests() {
    let map = BTreeMap::from([("tank/nfs".parse().unwrap(), Vmid::new(103).unwrap())]);
    let g = |s: &str| guest_disk(&s.parse().unwrap(), &map);
    assert_eq!(
        g("rpool/data/vm-100-disk-0"),
        Some(GuestDisk {
            vmid: 100,
            template: false
        })
    );
    assert_eq!(
        g("rpool/data/subvol-101-disk-12"),
        Some(GuestDisk {
            vmid: 101,
            template: false
        })
    );
    assert_eq!(
        g("rpool/data/base-9000-disk-0"),
        Some(GuestDisk {
            vmid: 9000,
            template: true
        })
    );
    assert_eq!(
        g("tank/nfs"),
        Some(GuestDisk {
            vmid: 103,
            template: false
        })
    );
    assert_eq!(g("rpool/data/vm-100-state-snap1"), None);
    assert_eq!(g("rpool/data/vm-x-disk-0"), None);
    assert_eq!(g("rpool/data/vm-100-disk-"), None);
    assert_eq!(g("rpool/data/ct-100-disk-0"), None);
}

#[test]
fn decisions_follow_the_seed_rules() {
    let guests = [
        guest(100, "pve1", "running"),
        guest(101, "pve1", "stopped"),
        guest(102, "pve2", "running"),
        guest(103, "pve1", "stopped"),
        guest(104, "pve2", "stopped"),
    ];
    let map = BTreeMap::new();
    let c = ctx(&guests, &map);
    let state = [
        ds("tank/vm-100-disk-0", Some("pve2")),
        ds("tank/vm-101-disk-0", Some("pve1")),
        ds("tank/vm-102-disk-0", Some("pve2")),
        ds("tank/vm-103-disk-0", Some("stopped")),
        ds("tank/vm-104-disk-0", None),
        ds("tank/base-105-disk-0", None),
        ds("tank/plain", None),
    ];
    let d = decide(&state, &c);
    let got: Vec<(u32, &Decision)> = d.iter().map(|d| (d.vmid, &d.decision)).collect();
    assert_eq!(
        got,
        [
            (100, &Decision::Snapshot),
            (101, &Decision::FinalSnapshot),
            (102, &Decision::Leave),
            (103, &Decision::Leave),
            (104, &Decision::FinalSnapshot),
            (105, &Decision::Leave),
        ]
    );
    assert_eq!(
        d[2].reason,
        "guest 102 runs on pve2; label:running=pve2 is another host's: not touched"
    );
    assert_eq!(
        d[1].reason,
        "guest 101 is stopped (on pve1); label:running=pve1: final snapshot"
    );

    let policy = Plan {
        create: state
            .iter()
            .map(|s| Create {
                snapshot: s
                    .name
                    .snapshot("autosnap_2026-11-21_15:00:00_hourly")
                    .unwrap(),
                period: Some(zferry_config::Period::Hourly),
                reason: "hourly due".into(),
            })
            .collect(),
        ..Plan::default()
    };
    let plan = apply(policy, &state, &d, &c);
    let creates: Vec<&str> = plan.create.iter().map(|c| c.snapshot.as_str()).collect();
    assert_eq!(
        creates,
        [
            "tank/vm-100-disk-0@autosnap_2026-11-21_15:00:00_hourly",
            "tank/plain@autosnap_2026-11-21_15:00:00_hourly",
            "tank/vm-101-disk-0@autosnap_2026-11-21_15:00:00_stopped",
            "tank/vm-104-disk-0@autosnap_2026-11-21_15:00:00_stopped",
        ]
    );
    let props: Vec<(&str, &str)> = plan
        .set_properties
        .iter()
        .map(|p| (p.dataset.as_str(), p.value.as_str()))
        .collect();
    assert_eq!(
        props,
        [
            ("tank/vm-100-disk-0", "pve1"),
            ("tank/vm-101-disk-0", "stopped"),
            ("tank/vm-104-disk-0", "stopped"),
        ]
    );
    assert!(
        plan.notes
            .iter()
            .any(|n| n.message.starts_with("guest mode: 5 policy snapshots"))
    );
}

#[test]
fn running_guest_with_the_property_set_needs_no_change_and_spanning_pools_are_noted() {
    let guests = [guest(100, "pve1", "running")];
    let map = BTreeMap::new();
    let c = ctx(&guests, &map);
    let state = [
        ds("tank/vm-100-disk-0", Some("pve1")),
        ds("fast/vm-100-disk-1", Some("pve1")),
    ];
    let d = decide(&state, &c);
    let plan = apply(Plan::default(), &state, &d, &c);
    assert!(plan.set_properties.is_empty() && plan.create.is_empty());
    assert_eq!(
        plan.notes[0].message,
        "guest 100 has disks on pools fast, tank: its snapshots cannot share one transaction group"
    );
}
