#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::collections::BTreeMap;
use std::path::Path;

use super::*;

const SEED: &str = r#"
[nodes.pve1]
address = "10.0.0.1"
[nodes.pve2]
address = "10.0.0.2"
[nodes.offsite]
address = "backup.example.org"

[jobs.data]
source = { node = "pve1", dataset = "zpool1/data" }
targets = [
    { node = "pve2", dataset = "zpool1/data" },
    { node = "offsite", dataset = "tank/pve/data" },
]
recursive = true
max-shrink = 0.1

[jobs.other]
source = { node = "pve1", dataset = "zpool1/other" }
targets = [{ node = "pve2", dataset = "zpool1/other" }]

[services.nfs]
placement = { kind = "proxmox", vmid = 103 }
nodes = ["pve1", "pve2"]
third-sites = ["offsite"]
jobs = ["data"]
confirmations = 4
confirmation-interval = "3s"
"#;

fn config(text: &str) -> Config {
    let c = Config::from_str_with_path(text, Path::new("test.toml")).unwrap();
    c.validate().unwrap();
    c
}

fn ends(job: &Job) -> Vec<String> {
    std::iter::once(&job.source)
        .chain(job.targets.get_ref().iter().map(Spanned::get_ref))
        .map(|e| format!("{}:{}", e.node.get_ref(), e.dataset))
        .collect()
}

#[test]
fn rules_come_from_the_service() {
    let c = config(SEED);
    let r = rules(&c.services["nfs"]);
    assert_eq!(r.confirmations.get(), 4);
    assert_eq!(r.interval, Duration::from_secs(3));
    assert!(r.require_quorum);
}

#[test]
fn orient_puts_the_master_first_and_keeps_the_rest_in_file_order() {
    let c = config(SEED);
    let job = &c.jobs["data"];
    let as_written = orient("data", job, "pve1").unwrap();
    assert_eq!(
        ends(&as_written),
        [
            "pve1:zpool1/data",
            "pve2:zpool1/data",
            "offsite:tank/pve/data"
        ]
    );
    let flipped = orient("data", job, "pve2").unwrap();
    assert_eq!(
        ends(&flipped),
        [
            "pve2:zpool1/data",
            "pve1:zpool1/data",
            "offsite:tank/pve/data"
        ]
    );
    // Everything but the direction is the job's.
    assert!(flipped.recursive);
    assert!((flipped.max_shrink.get() - 0.1).abs() < 1e-9);
    assert_eq!(
        orient("data", job, "pve3").unwrap_err(),
        OrientError::NoDatasetOnMaster {
            job: "data".into(),
            master: "pve3".into()
        }
    );
}

#[test]
fn orient_refuses_two_datasets_on_the_master() {
    let c = config(
        r#"
[nodes.a]
address = "a"
[nodes.b]
address = "b"
[jobs.j]
source = { node = "a", dataset = "p/x" }
targets = [{ node = "b", dataset = "p/x" }, { node = "b", dataset = "p/y" }]
"#,
    );
    let err = orient("j", &c.jobs["j"], "b").unwrap_err();
    assert!(
        matches!(err, OrientError::SeveralOnMaster { count: 2, .. }),
        "{err}"
    );
}

fn roots(o: &[SwitchOverride]) -> Vec<(String, Option<bool>, Option<bool>, String)> {
    o.iter()
        .map(|o| {
            (
                o.root.to_string(),
                o.switches.autosnap,
                o.switches.autoprune,
                o.reason.clone(),
            )
        })
        .collect()
}

#[test]
fn overrides_follow_the_role_and_leave_other_nodes_datasets_alone() {
    let c = config(SEED);
    let standby = BTreeMap::from([(
        "nfs".to_owned(),
        Acting::Standby {
            master: "pve1".into(),
        },
    )]);
    let o = switch_overrides(&c, "pve2", &standby);
    // Foreign entries first; this node's entry for the same name comes last and wins.
    assert_eq!(
        roots(&o),
        [
            (
                "zpool1/data".into(),
                Some(false),
                Some(false),
                "service nfs: dataset of node pve1".into()
            ),
            (
                "tank/pve/data".into(),
                Some(false),
                Some(false),
                "service nfs: dataset of node offsite".into()
            ),
            (
                "zpool1/data".into(),
                Some(false),
                None,
                "service nfs: standby of pve1".into()
            ),
        ]
    );
    let ds: DatasetName = "zpool1/data/sub".parse().unwrap();
    let s = zferry_snap::model::switches_for(Switches::default(), &o, &ds);
    assert_eq!((s.autosnap, s.autoprune), (Some(false), None));

    let master = BTreeMap::from([("nfs".to_owned(), Acting::Master)]);
    let o = switch_overrides(&c, "pve1", &master);
    let s = zferry_snap::model::switches_for(Switches::default(), &o, &ds);
    assert_eq!(
        s,
        Switches::default(),
        "the master's policy applies as configured"
    );

    // No decision recorded yet: no snapshots of the service's datasets.
    let o = switch_overrides(&c, "pve1", &BTreeMap::new());
    let s = zferry_snap::model::switches_for(Switches::default(), &o, &ds);
    assert_eq!(s.autosnap, Some(false));
    assert!(
        o.last().unwrap().reason.contains("no role decided"),
        "{o:?}"
    );

    // The third site prunes but never snapshots its replica.
    let third = BTreeMap::from([("nfs".to_owned(), Acting::ThirdSite)]);
    let o = switch_overrides(&c, "offsite", &third);
    let replica: DatasetName = "tank/pve/data".parse().unwrap();
    let s = zferry_snap::model::switches_for(Switches::default(), &o, &replica);
    assert_eq!((s.autosnap, s.autoprune), (Some(false), None));
}

#[test]
fn services_of_a_node_and_unknown_names() {
    let c = config(SEED);
    let names = |node: &str| -> Vec<String> {
        services_of(&c, node, &[])
            .unwrap()
            .iter()
            .map(|(n, _)| n.to_string())
            .collect()
    };
    assert_eq!(names("pve2"), ["nfs"]);
    assert_eq!(names("offsite"), ["nfs"]);
    assert!(names("elsewhere").is_empty());
    let err = services_of(&c, "pve1", &["nsf".to_owned()]).unwrap_err();
    assert!(
        err.contains("no service `nsf`") && err.contains("nfs"),
        "{err}"
    );
}
