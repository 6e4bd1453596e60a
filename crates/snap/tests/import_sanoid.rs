//! `import-sanoid` on the real example and defaults files of Debian's sanoid 2.1.0 package
//! (copied into tests/data with a one-line origin header, so line numbers are the original's
//! plus one), and on configs exercising each conversion rule.

use std::path::Path;
use std::time::Duration;

use zferry_config::{Config, Period, Policy, Recursion, Thresholds};
use zferry_snap::sanoid_import::{ImportResult, import};

const EXAMPLE: &str = include_str!("data/sanoid.example.conf");
const DEFAULTS: &str = include_str!("data/sanoid.defaults.conf");

fn load(r: &ImportResult) -> Config {
    Config::from_str_with_path(&r.toml, Path::new("imported.toml"))
        .unwrap_or_else(|e| panic!("{e}\n---\n{}", r.toml))
}

fn policy(c: &Config, ds: &str) -> Policy {
    c.effective_policy(&ds.parse().expect("dataset name"))
        .unwrap_or_else(|| panic!("no policy for {ds}"))
}

fn th(warn: Option<u64>, crit: u64) -> Thresholds {
    Thresholds {
        warn: warn.map(Duration::from_secs),
        crit: Some(Duration::from_secs(crit)),
    }
}

const H: u64 = 3600;
const D: u64 = 86_400;

#[test]
fn real_example_converts_and_loads() {
    let r = import(EXAMPLE, DEFAULTS).unwrap();
    let c = load(&r);
    for ds in ["zpoolname/parent2", "zpoolname/parent2/child/grandchild"] {
        let p = policy(&c, ds);
        assert_eq!(p.recursive, Recursion::Atomic, "{ds}");
        assert_eq!(
            (
                p.retention.frequently,
                p.retention.hourly,
                p.retention.daily
            ),
            (0, 36, 30)
        );
        assert_eq!(
            (p.retention.weekly, p.retention.monthly, p.retention.yearly),
            (0, 3, 0)
        );
        assert!(p.autosnap && p.autoprune);
        assert_eq!(p.frequent_period, Duration::from_mins(15));
        assert_eq!(p.monitor.len(), 3);
        assert_eq!(p.monitor[&Period::Hourly], th(Some(90 * 60), 6 * H));
        assert_eq!(p.monitor[&Period::Daily], th(Some(28 * H), 32 * H));
        assert_eq!(p.monitor[&Period::Monthly], th(Some(32 * D), 40 * D));
    }
    // Every template of the example is there, resolved over sanoid's defaults.
    let names: Vec<&str> = c
        .templates
        .keys()
        .map(zferry_config::Name::as_str)
        .collect();
    assert_eq!(
        names,
        [
            "backup",
            "demo",
            "hotspare",
            "ignore",
            "production",
            "scripts"
        ]
    );
    // Bare numbers are "one period down": hourly_warn = 2880 minutes, daily_warn = 48 hours.
    assert!(r.toml.contains("[templates.backup.monitor]\nhourly-warn = \"2d\"\nhourly-crit = \"60h\"\ndaily-warn = \"2d\"\ndaily-crit = \"60h\"\n"), "{}", r.toml);
    // monitor = no leaves template_ignore without thresholds.
    assert!(c.templates["ignore"].monitor.is_none());
    assert_eq!(c.templates["ignore"].autosnap, Some(false));
    assert_eq!(c.templates["ignore"].autoprune, Some(false));
    // The only setting without an equivalent: pruning_script (line 106 of the original).
    let lost: Vec<(Option<usize>, &str, &str)> = r
        .unconverted
        .iter()
        .map(|u| (u.line, u.section.as_str(), u.key.as_str()))
        .collect();
    assert_eq!(lost, [(Some(107), "template_scripts", "pruning_script")]);
    let noted: Vec<&str> = r.notes.iter().map(|u| u.key.as_str()).collect();
    assert_eq!(
        noted,
        [
            "pre_snapshot_script",
            "post_snapshot_script",
            "script_timeout"
        ]
    );
}

const RULES: &str = "\
[tank/multi]
\tuse_template = production, demo
\thourly = 12

[tank/nomon]
\tuse_template = production
\tmonitor = no

[tank/plain]
\tfrequently = 4
\tfrequent_period = 5
\tautosnap = off

[tank/tree]
\tuse_template = production
\trecursive = yes
\tprocess_children_only = yes

[tank/tree/kid]
\tuse_template = demo
\tdaily_crit = 2d

[tank/hooked]
\tpre_snapshot_script = /usr/local/bin/freeze --all
\tpost_snapshot_script = thaw
\tscript_timeout = 0

[tank/shelly]
\tpre_snapshot_script = /bin/sync; /usr/bin/logger done
\tprune_defer = 50
\tskip_children = yes
\tbogus = 1

[template_production]
\thourly = 36
\tdaily = 30
\tmonthly = 3
\thourly_crit = 0

[template_demo]
\tdaily = 60
\trecursive = yes
";

#[test]
fn conversion_rules() {
    let r = import(RULES, DEFAULTS).unwrap();
    let c = load(&r);

    // Several templates: the first, plus what the others change.
    let p = policy(&c, "tank/multi");
    assert_eq!(
        p.template.as_ref().map(zferry_config::Name::as_str),
        Some("production")
    );
    assert_eq!(
        (p.retention.hourly, p.retention.daily, p.retention.monthly),
        (12, 60, 3)
    );
    // hourly_crit = 0 in production: sanoid never checks hourlies there.
    assert_eq!(p.monitor.get(&Period::Hourly), None);
    assert_eq!(p.monitor[&Period::Daily], th(Some(28 * H), 32 * H));

    // monitor = no under a template with thresholds: written without the template.
    let p = policy(&c, "tank/nomon");
    assert_eq!(p.template, None);
    assert!(p.monitor.is_empty());
    assert_eq!(
        (p.retention.hourly, p.retention.daily, p.retention.monthly),
        (36, 30, 3)
    );

    // No use_template: sanoid's defaults, as template "default".
    let p = policy(&c, "tank/plain");
    assert_eq!(
        p.template.as_ref().map(zferry_config::Name::as_str),
        Some("default")
    );
    assert_eq!(
        (
            p.retention.frequently,
            p.retention.hourly,
            p.retention.daily
        ),
        (4, 48, 90)
    );
    assert_eq!(p.frequent_period, Duration::from_mins(5));
    assert!(!p.autosnap && p.autoprune);
    assert_eq!(p.monitor[&Period::Hourly], th(Some(90 * 60), 6 * H));

    // recursive = yes + process_children_only; a child section starts from its parent.
    let p = policy(&c, "tank/tree");
    assert_eq!(
        (p.recursive, p.process_children_only),
        (Recursion::Yes, true)
    );
    assert_eq!(
        policy(&c, "tank/tree/other").defined_at.as_str(),
        "tank/tree"
    );
    let p = policy(&c, "tank/tree/kid");
    assert_eq!((p.retention.hourly, p.retention.daily), (36, 60));
    assert!(!p.process_children_only);
    assert_eq!(p.monitor[&Period::Daily], th(Some(28 * H), 2 * D));
    assert_eq!(p.monitor.get(&Period::Hourly), None);

    // Hooks: split into argv when unambiguous.
    let p = policy(&c, "tank/hooked");
    let pre = p.pre_snapshot.unwrap();
    assert_eq!(pre.argv.as_slice(), ["/usr/local/bin/freeze", "--all"]);
    assert_eq!(pre.timeout.get(), Duration::from_secs(30));
    assert_eq!(p.post_snapshot, None);
    assert_eq!(policy(&c, "tank/shelly").pre_snapshot, None);

    let lost: Vec<(usize, &str, &str)> = r
        .unconverted
        .iter()
        .map(|u| (u.line.unwrap(), u.section.as_str(), u.key.as_str()))
        .collect();
    assert_eq!(
        lost,
        [
            (25, "tank/hooked", "post_snapshot_script"),
            (26, "tank/hooked", "script_timeout"),
            (29, "tank/shelly", "pre_snapshot_script"),
            (30, "tank/shelly", "prune_defer"),
            (31, "tank/shelly", "skip_children"),
            (32, "tank/shelly", "bogus"),
            (42, "template_demo", "recursive"),
        ],
        "{:#?}",
        r.unconverted
    );
    assert!(r.unconverted[0].reason.contains("absolute"));
    assert!(r.unconverted[2].reason.contains("shell syntax"));
}

#[test]
fn defaults_and_schedule_keys_are_written_when_changed() {
    let conf = "\
[template_default]
\tcapacity_warn = 70
\tmonitor_dont_warn = yes

[tank/a]
\tdaily_hour = 3
\tweekly_wday = 0

[tank/b]
\thourly_warn = 1x
";
    let r = import(conf, DEFAULTS).unwrap();
    assert!(
        r.toml
            .contains("[global]\ntimezone = \"local\"\ncapacity-warn = 70\n"),
        "{}",
        r.toml
    );
    assert!(
        r.toml.contains(
            "[templates.default]\nhourly = 48\ndaily = 90\nmonthly = 6\nmonitor-dont-warn = true\n"
        ),
        "{}",
        r.toml
    );
    assert!(
        r.toml
            .contains("use-template = \"default\"\ndaily-hour = 3\nweekly-wday = 0\n"),
        "{}",
        r.toml
    );
    let lost: Vec<(usize, &str)> = r
        .unconverted
        .iter()
        .map(|u| (u.line.unwrap(), u.key.as_str()))
        .collect();
    assert_eq!(lost, [(10, "hourly_warn")]);
}

#[test]
fn unreadable_text_is_an_error_with_its_line() {
    let e = import("[a]\nx = 1\nnot a pair\n", DEFAULTS).unwrap_err();
    assert_eq!(
        e.to_string(),
        "line 3: neither a [section], a comment nor key = value: \"not a pair\""
    );
    let e = import("x = 1\n", DEFAULTS).unwrap_err();
    assert!(e.to_string().starts_with("line 1: key = value before any"));
    assert!(import("[a]\n", "[other]\n").is_err());
}
