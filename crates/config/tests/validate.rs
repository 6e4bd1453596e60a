//! Parsing and cross-section validation, through the public API.

use std::path::Path;
use std::time::Duration;

use zferry_config::{
    CheckReport, Compression, Config, ConfigError, DEFAULT_PATH, OnDivergence, Placement, RawMode,
    Recursion, SyncMode, check_report,
};

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::from_str_with_path(text, Path::new("/etc/zferry/zferry.toml"))
}

fn problems(text: &str) -> Vec<String> {
    parse(text)
        .expect_err("config should be invalid")
        .diagnostics()
        .iter()
        .map(ToString::to_string)
        .collect()
}

const NODES: &str = r#"
[nodes.pve1]
address = "10.0.0.1"
[nodes.pve2]
address = "10.0.0.2"
"#;

#[test]
fn default_path_is_etc() {
    assert_eq!(DEFAULT_PATH, "/etc/zferry/zferry.toml");
}

#[test]
fn empty_config_uses_defaults() {
    let c = parse("").unwrap();
    assert_eq!(c.global.state_dir.as_path(), Path::new("/var/lib/zferry"));
    assert_eq!(c.global.lock_dir.as_path(), Path::new("/run/zferry"));
    assert_eq!(c.global.snapshot_prefix.as_str(), "autosnap");
    assert_eq!(c.global.running_property.as_str(), "label:running");
    assert!(c.local_node().is_none());
    assert!(c.nodes.is_empty() && c.jobs.is_empty());
}

#[test]
fn this_node_is_the_hostname_setting_else_the_one_addressless_node_else_the_system_name() {
    let sys = || "sysname".to_owned();
    assert_eq!(parse("").unwrap().this_node(sys), "sysname");
    let two = "[nodes.pve1]\n[nodes.pve2]\naddress = \"10.0.0.2\"\n";
    assert_eq!(parse(two).unwrap().this_node(sys), "pve1");
    let both_local = "[nodes.pve1]\n[nodes.pve2]\n";
    assert_eq!(parse(both_local).unwrap().this_node(sys), "sysname");
    let named = format!("[global]\nhostname = \"pve2\"\n{two}");
    assert_eq!(parse(&named).unwrap().this_node(sys), "pve2");
}

#[test]
fn job_defaults_are_the_safe_ones() {
    let text = format!(
        "{NODES}[jobs.j]\nsource = {{ node = \"pve1\", dataset = \"a/b\" }}\ntargets = [{{ node = \"pve2\", dataset = \"a/b\" }}]\n"
    );
    let c = parse(&text).unwrap();
    let j = &c.jobs["j"];
    assert_eq!(j.mode, SyncMode::Push);
    assert!(!j.recursive);
    assert_eq!(j.on_divergence, OnDivergence::Refuse);
    assert!(!j.allow_rollback_to_common && !j.allow_force_full && !j.allow_unencrypted_send);
    assert!((j.min_source_fraction.get() - 0.5).abs() < f64::EPSILON);
    assert!((j.max_shrink.get() - 0.2).abs() < f64::EPSILON);
    assert_eq!(j.compress, Compression::Zstd);
    assert_eq!(j.raw, RawMode::Auto);
    assert!(j.bookmarks);
    assert_eq!(j.bandwidth_limit, None);
}

#[test]
fn recursive_accepts_words_and_booleans() {
    for (v, want) in [
        ("true", Recursion::Yes),
        ("false", Recursion::No),
        ("\"yes\"", Recursion::Yes),
        ("\"atomic\"", Recursion::Atomic),
    ] {
        let c = parse(&format!("[datasets.\"a/b\"]\nrecursive = {v}\n")).unwrap();
        assert_eq!(
            c.datasets.values().next().unwrap().recursive,
            Some(want),
            "{v}"
        );
    }
    let e = problems("[datasets.\"a/b\"]\nrecursive = \"atomc\"\n");
    assert!(
        e[0].contains("2:13: unknown value `atomc` for recursive"),
        "{e:?}"
    );
    assert!(e[0].contains("did you mean `atomic`?"), "{e:?}");
}

#[test]
fn every_placement_kind_parses() {
    let kinds = [
        (
            "{ kind = \"proxmox\", vmid = 103 }",
            Placement::Proxmox {
                vmid: zferry_config::Vmid::new(103).unwrap(),
            },
        ),
        (
            "{ kind = \"pacemaker\", resource = \"nfs\" }",
            Placement::Pacemaker {
                resource: "nfs".into(),
            },
        ),
        (
            "{ kind = \"drbd\", resource = \"r0\" }",
            Placement::Drbd {
                resource: "r0".into(),
            },
        ),
        (
            "{ kind = \"static\", node = \"pve1\" }",
            Placement::Static {
                node: "pve1".parse().unwrap(),
            },
        ),
    ];
    for (src, want) in kinds {
        let text =
            format!("{NODES}[services.s]\nplacement = {src}\nnodes = [\"pve1\", \"pve2\"]\n");
        let c = parse(&text).unwrap();
        assert_eq!(c.services["s"].placement.get_ref(), &want);
    }
    let text = format!(
        "{NODES}[services.s]\nplacement = {{ kind = \"command\", argv = [\"/usr/local/bin/where\"] }}\nnodes = [\"pve1\"]\n"
    );
    let c = parse(&text).unwrap();
    let s = &c.services["s"];
    assert!(
        matches!(s.placement.get_ref(), Placement::Command { argv } if argv.as_slice() == ["/usr/local/bin/where"])
    );
    assert_eq!(s.confirmations.get(), 3);
    assert_eq!(s.confirmation_interval.get(), Duration::from_secs(2));
    assert_eq!(s.cooldown.get(), Duration::from_mins(10));
    assert!(s.require_quorum);
}

#[test]
fn all_problems_are_reported_in_file_order() {
    let text = r#"[global]
hostname = "nowhere"

[nodes.pve1]
address = "10.0.0.1"

[datasets."a/b"]
use-template = "missing"

[jobs.j]
source = { node = "pve1", dataset = "a/b" }
targets = [{ node = "pve7", dataset = "a/b" }]

[services.s]
placement = { kind = "static", node = "pve1" }
nodes = ["pve1"]
jobs = ["k"]
"#;
    let e = problems(text);
    let at: Vec<&str> = e.iter().map(|d| d.split(": ").next().unwrap()).collect();
    assert_eq!(
        at,
        [
            "/etc/zferry/zferry.toml:2:12",
            "/etc/zferry/zferry.toml:8:16",
            "/etc/zferry/zferry.toml:12:21",
            "/etc/zferry/zferry.toml:17:9",
        ],
        "{e:#?}"
    );
    assert!(e[0].contains("unknown node `nowhere` in global.hostname"));
    assert!(e[1].contains("undefined template `missing`"));
    assert!(e[1].contains("hint: define it as [templates.missing]"));
    assert!(e[2].contains("unknown node `pve7` in jobs.j.targets"));
    assert!(e[3].contains("unknown job `k` in services.s.jobs"));
}

#[test]
fn without_hostname_only_one_node_may_lack_an_address() {
    let text = r#"[nodes.a]
[nodes.b]
[jobs.j]
source = { node = "a", dataset = "p/d" }
targets = [{ node = "b", dataset = "p/d" }]
"#;
    let e = problems(text);
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(
        e[0].contains(":5:21: node `b` has no `address`, and neither has `a`"),
        "{e:?}"
    );
    // One address-less node is the local one: fine.
    let ok = text.replace("[nodes.b]", "[nodes.b]\naddress = \"b.lan\"");
    parse(&ok).unwrap();
}

#[test]
fn service_topology_rules() {
    let text = format!(
        "{NODES}[services.s]\nplacement = {{ kind = \"static\", node = \"pve2\" }}\nnodes = [\"pve1\"]\nthird-sites = [\"pve1\"]\n"
    );
    let e = problems(&text);
    assert_eq!(e.len(), 2, "{e:?}");
    assert!(
        e[0].contains("static placement node `pve2` is not in services.s.nodes"),
        "{e:?}"
    );
    assert!(
        e[1].contains("node `pve1` is both a service node and a third site"),
        "{e:?}"
    );
    let e = problems(&format!(
        "{NODES}[services.s]\nplacement = {{ kind = \"proxmox\", vmid = 103 }}\nnodes = []\n"
    ));
    assert!(e[0].contains("service `s` lists no nodes"), "{e:?}");
}

#[test]
fn exclude_must_be_below_a_recursive_source() {
    let base = format!(
        "{NODES}[jobs.j]\nsource = {{ node = \"pve1\", dataset = \"p/d\" }}\ntargets = [{{ node = \"pve2\", dataset = \"p/d\" }}]\n"
    );
    let e = problems(&format!(
        "{base}recursive = true\nexclude = [\"p/other\"]\n"
    ));
    assert!(
        e[0].contains("exclude p/other is not below the source dataset p/d"),
        "{e:?}"
    );
    let e = problems(&format!("{base}exclude = [\"p/d/x\"]\n"));
    assert!(
        e[0].contains("has no effect: job `j` is not recursive"),
        "{e:?}"
    );
    let e = problems(
        &format!("{base}targets = []\n")
            .replace("targets = [{ node = \"pve2\", dataset = \"p/d\" }]\n", ""),
    );
    assert!(e[0].contains("job `j` has no targets"), "{e:?}");
}

#[test]
fn monitor_warn_crit_are_checked_after_merging() {
    let text = r#"[templates.t]
[templates.t.monitor]
daily-crit = "30h"

[datasets."a/b"]
use-template = "t"
[datasets."a/b".monitor]
daily-warn = "2d"
"#;
    let e = problems(text);
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(
        e[0].contains(":8:14: daily-warn (2d) must be shorter than daily-crit (30h)"),
        "{e:?}"
    );
}

#[test]
fn check_report_counts_sections() {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../samples/seed000-two-node-nfs.toml");
    let c = Config::load(&path).unwrap();
    let r: CheckReport = check_report(&c);
    assert_eq!(
        (r.nodes, r.templates, r.datasets, r.jobs, r.services),
        (3, 1, 2, 2, 1)
    );
    assert!(r.valid);
    assert_eq!(r.local_node.as_deref(), Some("pve1"));
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["jobs"], 2);
    assert_eq!(json["path"], path.display().to_string());
}

#[test]
fn parse_errors_carry_path_line_column_and_hint() {
    let err = parse("[global]\nhostname = \"pve1\"\ntimezone = \"utc\"\nstate-dirr = \"/x\"\n")
        .unwrap_err();
    assert!(matches!(err, ConfigError::Parse(_)));
    assert_eq!(
        err.to_string(),
        "/etc/zferry/zferry.toml:4:1: unknown field `state-dirr` in [global]; expected one of \
         hostname, state-dir, lock-dir, snapshot-prefix, timezone, running-property, guest-command, capacity-warn, capacity-crit\n  hint: did you mean `state-dir`?"
    );
}

#[test]
fn preferred_times_default_to_sanoid_and_merge_like_counts() {
    let c = parse(
        r#"
[templates.t]
daily = 7
daily-hour = 2
weekly-wday = 0
monitor-dont-warn = true
[datasets."tank/a"]
use-template = "t"
daily-min = 15
weekly-wday = 6
monitor-dont-crit = true
"#,
    )
    .unwrap();
    let p = c.effective_policy(&"tank/a".parse().unwrap()).unwrap();
    let s = p.schedule;
    assert_eq!((s.daily_hour, s.daily_min), (2, 15));
    assert_eq!(s.weekly_wday, 6);
    assert_eq!((s.weekly_hour, s.weekly_min), (23, 30));
    assert_eq!(s.hourly_min, 0);
    assert_eq!((s.monthly_mday, s.monthly_hour, s.monthly_min), (1, 0, 0));
    assert_eq!(
        (s.yearly_mon, s.yearly_mday, s.yearly_hour, s.yearly_min),
        (1, 1, 0, 0)
    );
    assert!(p.monitor_dont_warn && p.monitor_dont_crit);
    assert_eq!(zferry_config::Schedule::default().daily_hour, 23);
    assert_eq!(zferry_config::Schedule::default().daily_min, 59);
}

#[test]
fn capacity_thresholds_default_and_validate() {
    let c = parse("").unwrap();
    assert_eq!(
        (
            *c.global.capacity_warn.get_ref(),
            *c.global.capacity_crit.get_ref()
        ),
        (80, 95)
    );
    let c = parse("[global]\ncapacity-warn = 0\ncapacity-crit = 90\n").unwrap();
    assert_eq!(*c.global.capacity_warn.get_ref(), 0);
    let p = problems("[global]\ncapacity-warn = 96\n");
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(p[0].contains("2:17"), "{p:?}");
    assert!(
        p[0].contains("capacity-warn (96) must be below capacity-crit (95)"),
        "{p:?}"
    );
    let p = problems("[global]\ncapacity-crit = 101\n");
    assert!(
        p[0].contains("capacity-crit = 101 is out of range 0..=100"),
        "{p:?}"
    );
}

#[test]
fn preferred_times_out_of_range_are_located() {
    let p = problems(
        "[templates.t]\nhourly-min = 60\nweekly-wday = 7\nmonthly-mday = 0\nyearly-mon = 13\n",
    );
    assert_eq!(p.len(), 4, "{p:?}");
    assert!(p[0].contains("2:14") && p[0].contains("hourly-min = 60 is out of range 0..=59"));
    assert!(p[1].contains("3:15") && p[1].contains("weekly-wday = 7 is out of range 0..=6"));
    assert!(p[2].contains("monthly-mday = 0 is out of range 1..=31"));
    assert!(p[3].contains("yearly-mon = 13 is out of range 1..=12"));
    // February 29th is accepted (it is the 28th in common years); the 30th is not.
    parse("[templates.t]\nyearly-mon = 2\nyearly-mday = 29\n").unwrap();
    let p = problems("[templates.t]\nyearly-mon = 2\nyearly-mday = 30\n");
    assert!(
        p[0].contains("yearly-mday = 30 does not exist in month 2"),
        "{p:?}"
    );
}
