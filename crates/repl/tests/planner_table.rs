//! Named planner tables: every outcome, GUID matching, bookmark bases, filters, grading.

mod common;

use common::{cursor, renamed, summary};
use zferry_repl::dsl::entries;
use zferry_repl::{
    Destructive, JobOptions, Outcome, SnapshotFilter, plan, plan_target, plan_with_resume,
};

struct Case {
    name: &'static str,
    source: String,
    target: String,
    filter: &'static [&'static str],
    destructive: Destructive,
    preserve: bool,
    modified: bool,
    expect: String,
}

fn case(name: &'static str, source: &str, target: &str, expect: &str) -> Case {
    Case {
        name,
        source: source.to_owned(),
        target: target.to_owned(),
        filter: &[],
        destructive: Destructive::AppendOnly,
        preserve: false,
        modified: false,
        expect: expect.to_owned(),
    }
}

impl Case {
    fn filter(mut self, f: &'static [&'static str]) -> Self {
        self.filter = f;
        self
    }
    fn destructive(mut self, d: Destructive) -> Self {
        self.destructive = d;
        self
    }
    fn preserve(mut self) -> Self {
        self.preserve = true;
        self
    }
    fn modified(mut self) -> Self {
        self.modified = true;
        self
    }
}

fn run(cases: Vec<Case>) {
    let mut failures = Vec::new();
    for c in cases {
        let opts = JobOptions {
            filter: SnapshotFilter::globs(c.filter).expect("valid filter"),
            destructive: c.destructive,
            preserve_diverged: c.preserve,
        };
        let got = summary(&plan_target(
            &entries(&c.source),
            &entries(&c.target),
            None,
            c.modified,
            &opts,
        ));
        if got != c.expect {
            failures.push(format!(
                "{}:\n  expected {}\n  got      {got}",
                c.name, c.expect
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn basic_outcomes() {
    run(vec![
        case("up to date", "@a,1 @b,2", "@a,10 @b,11", "up-to-date @b"),
        case("initial: one snapshot", "@a,1", "", "send full @a"),
        case(
            "initial: full of the oldest then -I",
            "@a,1 @b,2 @c,3",
            "",
            "send full @a; -I @a @c",
        ),
        case(
            "initial: two snapshots",
            "@a,1 @b,2",
            "",
            "send full @a; -i @a @b",
        ),
        case("incremental: one new", "@a,1 @b,2", "@a,5", "send -i @a @b"),
        case(
            "incremental: range",
            "@a,1 @b,2 @c,3 @d,4",
            "@a,5",
            "send -I @a @d",
        ),
        case(
            "incremental: from the newest common",
            "@a,1 @b,2 @c,3 @d,4",
            "@a,5 @b,6",
            "send -I @b @d",
        ),
        case(
            "target pruned old ones",
            "@a,1 @b,2 @c,3",
            "@b,9",
            "send -i @b @c",
        ),
        case(
            "no common snapshot",
            "@a,1 @b,2",
            "@x,1",
            "no-common @b | @x",
        ),
        case(
            "diverged",
            "@a,1 @b,2 @c,3",
            "@a,1 @b,2 @x,3",
            "diverged @b | @c | @x",
        ),
        case(
            "target has newer",
            "@a,1 @b,2",
            "@a,1 @b,2 @x,3 @y,4",
            "target-has-newer @b | @x @y",
        ),
        case(
            "target bookmarks are ignored",
            "@a,1 @b,2",
            "@a,1 #b,2",
            "send -i @a @b",
        ),
    ]);
}

#[test]
fn matching_is_by_guid_not_name() {
    run(vec![
        case(
            "renamed target snapshot still matches",
            "@a,1 @b,2 @c,3",
            &format!("@a,1 {}", renamed("b-renamed", "b", 2)),
            "send -i @b @c",
        ),
        case(
            "renamed newest: up to date",
            "@a,1 @b,2",
            &renamed("keep-me", "b", 40),
            "up-to-date @b",
        ),
        case(
            "same name, other guid: no common",
            "@a,1 @b,2",
            "@b=g99,2",
            "no-common @b | @b",
        ),
        case(
            "same name, other guid after a common one: diverged",
            "@a,1 @b,2 @c,3",
            "@a,1 @c=g99,2",
            "diverged @a | @b @c | @c",
        ),
    ]);
}

#[test]
fn bookmarks_as_base() {
    run(vec![
        case(
            "source pruned the common snapshot",
            "#a,1 @b,2",
            "@a,7",
            "send -i #a @b",
        ),
        case(
            "bookmark base: -i to the first, then -I (no -I from a bookmark)",
            "#a,1 @b,2 @c,3 @d,4",
            "@a,7",
            "send -i #a @b; -I @b @d",
        ),
        case(
            "the snapshot wins over its bookmark",
            "@a,1 #a,1 @b,2 @c,3",
            "@a,7",
            "send -I @a @c",
        ),
        case(
            "a cursor bookmark with another name is a base",
            &format!("{} @b,2 @c,3", cursor("site-c", "a", 1)),
            "@a,7",
            &format!(
                "send -i #zferry_v1_site-c_{:016x} @b; -i @b @c",
                zferry_repl::dsl::guid_of("a")
            ),
        ),
        case(
            "up to date at a bookmark",
            "@d0,1 #d1,2 @h1,3",
            "@d0,5 @d1,6",
            "up-to-date #d1",
        )
        .filter(&["d*"]),
        case(
            "source pruned every snapshot: refused",
            "#a,1",
            "@a,7",
            "refused",
        ),
        case(
            "diverged at a bookmark",
            "#a,1 @b,2",
            "@a,7 @x,8",
            "diverged #a | @b | @x",
        ),
    ]);
}

#[test]
fn filters_produce_i_steps_around_excluded_snapshots() {
    const DAILY: &[&str] = &["d*"];
    run(vec![
        case(
            "excluded in between: -i",
            "@d1,1 @h1,2 @d2,3",
            "@d1,9",
            "send -i @d1 @d2",
        )
        .filter(DAILY),
        case(
            "gap then a run: -i then -I",
            "@d1,1 @h1,2 @d2,3 @d3,4 @d4,5",
            "@d1,9",
            "send -i @d1 @d2; -I @d2 @d4",
        )
        .filter(DAILY),
        case(
            "run, gap, run",
            "@d1,1 @d2,2 @d3,3 @h1,4 @d4,5 @d5,6 @h2,7",
            "@d1,9",
            "send -I @d1 @d3; -i @d3 @d4; -i @d4 @d5",
        )
        .filter(DAILY),
        case(
            "no gap: one -I",
            "@d1,1 @d2,2 @d3,3 @h1,4",
            "@d1,9",
            "send -I @d1 @d3",
        )
        .filter(DAILY),
        case(
            "initial: oldest wanted snapshot, then -i",
            "@h0,1 @d1,2 @h1,3 @d2,4",
            "",
            "send full @d1; -i @d1 @d2",
        )
        .filter(DAILY),
        case(
            "excluded common snapshot is still a base",
            "@d1,1 @h1,2 @d2,3",
            "@d1,5 @h1,6",
            "send -i @h1 @d2",
        )
        .filter(DAILY),
        case(
            "only excluded snapshots are new",
            "@d1,1 @h1,2",
            "@d1,3",
            "up-to-date @d1",
        )
        .filter(DAILY),
        case(
            "prefix pattern",
            "@zferry_a,1 @x,2 @zferry_b,3",
            "",
            "send full @zferry_a; -i @zferry_a @zferry_b",
        )
        .filter(&["zferry_*"]),
        case(
            "two patterns",
            "@d1,1 @w1,2 @d2,3 @h1,4 @d3,5",
            "@d1,9",
            "send -I @d1 @d2; -i @d2 @d3",
        )
        .filter(&["d*", "w*"]),
    ]);
}

#[test]
fn destruction_is_graded() {
    use Destructive::{AppendOnly, ForceFull, RollbackToCommon};
    let diverged = ("@a,1 @b,2 @c,3", "@a,1 @b,2 @x,3 @y,4");
    let unrelated = ("@a,1 @b,2", "@x,1 @y,2");
    let newer = ("@a,1 @b,2", "@a,1 @b,2 @x,3");
    run(vec![
        case(
            "diverged, append-only",
            diverged.0,
            diverged.1,
            "diverged @b | @c | @x @y",
        )
        .destructive(AppendOnly),
        case(
            "diverged, rollback lists what it destroys",
            diverged.0,
            diverged.1,
            "send -i @b @c | rollback to @b destroys @x @y",
        )
        .destructive(RollbackToCommon),
        case(
            "diverged, force-full still only rolls back",
            diverged.0,
            diverged.1,
            "send -i @b @c | rollback to @b destroys @x @y",
        )
        .destructive(ForceFull),
        case(
            "no common, rollback is not enough",
            unrelated.0,
            unrelated.1,
            "no-common @b | @x @y",
        )
        .destructive(RollbackToCommon),
        case(
            "no common, force-full lists everything",
            unrelated.0,
            unrelated.1,
            "send full @a; -i @a @b | replace destroys @x @y",
        )
        .destructive(ForceFull),
        case(
            "empty target, force-full destroys nothing",
            "@a,1",
            "",
            "send full @a",
        )
        .destructive(ForceFull),
        case(
            "target has newer is never rolled back",
            newer.0,
            newer.1,
            "target-has-newer @b | @x",
        )
        .destructive(ForceFull),
        case(
            "rollback renamed common uses the target's name",
            "@a,1 @b,2",
            &format!("{} @x,9", renamed("old-a", "a", 1)),
            "send -i @a @b | rollback to @old-a destroys @x",
        )
        .destructive(RollbackToCommon),
    ]);
}

#[test]
fn on_divergence_preserve() {
    run(vec![
        case(
            "diverged by snapshots: preserve, then incremental from the common one",
            "@a,1 @b,2 @c,3 @d,4",
            "@a,1 @b,2 @x,3",
            "preserve @b | @x | -I @b @d",
        )
        .preserve(),
        case(
            "diverged by snapshots and writes",
            "@a,1 @b,2 @c,3",
            "@a,1 @b,2 @x,3 @y,4",
            "preserve @b | @x @y +writes | -i @b @c",
        )
        .preserve()
        .modified(),
        case(
            "diverged by writes only",
            "@a,1 @b,2",
            "@a,1",
            "preserve @a |  +writes | -i @a @b",
        )
        .preserve()
        .modified(),
        case(
            "preserve wins over an allowed rollback (nothing destroyed)",
            "@a,1 @b,2",
            "@a,1 @x,2",
            "preserve @a | @x | -i @a @b",
        )
        .preserve()
        .destructive(Destructive::ForceFull),
        case(
            "from the cursor bookmark when the common snapshot was pruned",
            "#a,1 @b,2 @c,3",
            "@a,1 @x,2",
            "preserve #a | @x | -i #a @b; -i @b @c",
        )
        .preserve(),
        case(
            "target has newer and the source nothing new: still refused",
            "@a,1",
            "@a,1 @x,2",
            "target-has-newer @a | @x",
        )
        .preserve(),
        case(
            "written but up to date: nothing to receive, nothing moved",
            "@a,1",
            "@a,1",
            "up-to-date @a",
        )
        .preserve()
        .modified(),
        case(
            "writes without preserve: a plain send (the receive reports them)",
            "@a,1 @b,2",
            "@a,1",
            "send -i @a @b",
        )
        .modified(),
        case(
            "no common snapshot is never preserved",
            "@a,1",
            "@x,1",
            "no-common @a | @x",
        )
        .preserve(),
        case(
            "refuse (default) still refuses",
            "@a,1 @b,2",
            "@a,1 @x,2",
            "diverged @a | @b | @x",
        ),
    ]);
}

#[test]
fn refusals_and_resume() {
    let opts = JobOptions::default();
    let r = plan(&[], &[], &opts);
    assert!(matches!(r, Outcome::Refused { .. }), "{r:?}");
    assert!(
        r.to_string()
            .contains("no snapshots to send (all snapshots)"),
        "{r}"
    );

    let daily = JobOptions {
        filter: SnapshotFilter::globs(["d*"]).unwrap(),
        ..JobOptions::default()
    };
    let r = plan(&entries("@h1,1"), &[], &daily);
    assert!(r.to_string().contains("snapshots matching \"d*\""), "{r}");
    assert!(r.needs_admin());

    let token = "1-e604ea4bf-e0-789c63a2".parse().unwrap();
    let r = plan_with_resume(&entries("@a,1 @b,2"), &entries("@a,1"), Some(&token), &opts);
    assert_eq!(summary(&r), "resume 1-e604ea4bf-e0-789c63a2");
    assert!(!r.needs_admin());
    for bad in ["", "-", "a b", "x\ny"] {
        assert!(bad.parse::<zferry_repl::ResumeToken>().is_err(), "{bad:?}");
    }
}

#[test]
fn outcomes_print_full_context() {
    let opts = JobOptions::default();
    let diverged = plan(
        &entries("@a,1 @b,2 @c,3"),
        &entries("@a,1 @b,2 @x,3"),
        &opts,
    )
    .to_string();
    for part in [
        "diverged",
        "@b (guid",
        "only on the source: @c",
        "only on the target: @x",
        "--rollback-to-common",
    ] {
        assert!(diverged.contains(part), "{part:?} missing in: {diverged}");
    }
    let no_common = plan(&entries("@a,1"), &entries("@x,1 @y,2"), &opts).to_string();
    for part in [
        "no common snapshot",
        "newest @a",
        "2 snapshot(s): @x, @y",
        "--force-full",
    ] {
        assert!(no_common.contains(part), "{part:?} missing in: {no_common}");
    }
    let up_to_date = plan(
        &entries("@a,1 @b,2"),
        &entries(&renamed("bb", "b", 3)),
        &opts,
    )
    .to_string();
    assert!(
        up_to_date.starts_with("up to date at @b (guid ")
            && up_to_date.ends_with(", named @bb on the target"),
        "{up_to_date}"
    );
    let newer = plan(&entries("@a,1"), &entries("@a,1 @x,2"), &opts).to_string();
    assert!(
        newer.contains("1 snapshot(s) newer than the newest common snapshot @a")
            && newer.contains("failover"),
        "{newer}"
    );
    let rb = JobOptions {
        destructive: Destructive::RollbackToCommon,
        ..JobOptions::default()
    };
    let sent = plan(&entries("@a,1 @b,2"), &entries("@a,1 @x,2"), &rb).to_string();
    assert_eq!(
        sent,
        "send 1 step(s): -i @a @b; rolls the target back to @a, DESTROYING 1 target snapshot(s): @x"
    );
    let ff = JobOptions {
        destructive: Destructive::ForceFull,
        ..JobOptions::default()
    };
    let sent = plan(&entries("@a,1"), &entries("@x,1"), &ff).to_string();
    assert_eq!(
        sent,
        "send 1 step(s): full @a; REPLACES the target dataset (its data and 1 snapshot(s) are destroyed: @x)"
    );
}

#[test]
fn guard_refusal_is_a_refused_outcome() {
    let refusal =
        zferry_repl::check_empty_source(0, 1 << 30, zferry_repl::Fraction::DEFAULT_MIN_SOURCE)
            .unwrap_err();
    let text = Outcome::Refused {
        reason: refusal.into(),
    }
    .to_string();
    assert!(
        text.starts_with(
            "refused: empty-source guard: the source references 0 B but the target 1.0 GiB"
        ),
        "{text}"
    );
}
