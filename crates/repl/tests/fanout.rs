//! Fan-out: one source, several targets, each from its own base and with its own cursor.

mod common;

use common::{cursor, summary};
use zferry_repl::dsl::{entries, guid_of};
use zferry_repl::{CursorBookmark, JobOptions, TargetState, plan_fanout};
use zferry_zfs::Guid;

fn target(id: &str, list: &str) -> TargetState {
    TargetState {
        id: id.parse().expect("valid id"),
        entries: entries(list),
        resume_token: None,
        modified: false,
    }
}

fn cur(id: &str, of: &str) -> CursorBookmark {
    CursorBookmark::new(id.parse().expect("valid id"), Guid(guid_of(of)))
}

/// A -> {b, c, d}: b is one snapshot behind, c lags behind a snapshot the source has pruned
/// (only c's cursor bookmark is left), d is up to date.
#[test]
fn lagging_target_gets_its_own_range_from_its_own_cursor() {
    let source = entries(&format!(
        "@s1,1 {} @s3,3 {} @s4,4 @s5,5 {}",
        cursor("c", "s2", 2),
        cursor("b", "s4", 4),
        cursor("d", "s5", 5),
    ));
    let targets = [
        target("b", "@s1,10 @s3,11 @s4,12"),
        target("c", "@s1,20 @s2,21"),
        target("d", "@s1,30 @s3,31 @s4,32 @s5,33"),
    ];
    let plans = plan_fanout(&source, &targets, &JobOptions::default());
    let got: Vec<String> = plans
        .iter()
        .map(|p| format!("{}: {}", p.target, summary(&p.outcome)))
        .collect();
    assert_eq!(
        got,
        [
            "b: send -i @s4 @s5".to_owned(),
            format!("c: send -i #{} @s3; -I @s3 @s5", cur("c", "s2")),
            "d: up-to-date @s5".to_owned(),
        ]
    );

    // b: new cursor at s5, b's old cursor released, nobody else's.
    let b = plans[0].cursor.as_ref().expect("cursor update for a send");
    assert_eq!((b.bookmark.clone(), b.create), (cur("b", "s5"), true));
    assert_eq!(b.release, [cur("b", "s4")]);
    assert_eq!(
        (b.hold.to_string(), b.hold_on.as_str()),
        ("zferry:b".to_owned(), "s5")
    );

    let c = plans[1].cursor.as_ref().expect("cursor update for a send");
    assert_eq!(
        (c.bookmark.clone(), c.create, c.from.name.as_str()),
        (cur("c", "s5"), true, "s5")
    );
    assert_eq!(c.release, [cur("c", "s2")]);

    // d: already at s5 with its cursor there: nothing to create or release; hold stays.
    let d = plans[2]
        .cursor
        .as_ref()
        .expect("cursor update for up to date");
    assert_eq!(
        (d.create, d.release.len(), d.hold_on.as_str()),
        (false, 0, "s5")
    );
}

#[test]
fn failover_b_to_a_to_c_stays_incremental() {
    // After failover B is the source; it received s1..s3 from A and took s4 itself. C got s1..s3
    // from A and its cursor on A is useless now, but B shares s3 with C by GUID.
    let source_b = entries("@s1,100 @s2,101 @s3,102 @s4,103");
    let targets = [
        target("c", "@s1,20 @s3,22"),
        target("a", "@s1,1 @s2,2 @s3,3"),
    ];
    let plans = plan_fanout(&source_b, &targets, &JobOptions::default());
    assert_eq!(summary(&plans[0].outcome), "send -i @s3 @s4");
    assert_eq!(summary(&plans[1].outcome), "send -i @s3 @s4");
    let c = plans[0].cursor.as_ref().expect("cursor");
    assert!(c.create && c.release.is_empty(), "{c:?}");
}

#[test]
fn refusals_and_resume_stay_per_target() {
    let source = entries("@s1,1 @s2,2");
    let mut resuming = target("r", "@s1,5");
    resuming.resume_token = Some("1-abc-def".parse().expect("token"));
    let targets = [target("x", "@other,1"), resuming, target("ok", "@s1,9")];
    let plans = plan_fanout(&source, &targets, &JobOptions::default());
    let got: Vec<String> = plans.iter().map(|p| summary(&p.outcome)).collect();
    assert_eq!(
        got,
        [
            "no-common @s2 | @other",
            "resume 1-abc-def",
            "send -i @s1 @s2"
        ]
    );
    assert!(plans[0].cursor.is_none() && plans[1].cursor.is_none());
    assert!(plans[2].cursor.is_some());
}

#[test]
fn forged_cursor_names_are_not_released() {
    // A bookmark named like b's cursor whose real GUID differs is not ours.
    let forged = format!("#zferry_v1_b_{:016x}=g5,1", guid_of("s9"));
    let source = entries(&format!("@s1,1 {forged} @s2,2"));
    let plans = plan_fanout(&source, &[target("b", "@s1,3")], &JobOptions::default());
    let b = plans[0].cursor.as_ref().expect("cursor");
    assert!(b.release.is_empty(), "{b:?}");
}
