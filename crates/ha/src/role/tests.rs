use super::*;
use proptest::prelude::*;

fn nodes() -> Vec<String> {
    vec!["pve1".to_owned(), "pve2".to_owned()]
}

fn on(at_s: u64, node: &str) -> Observation {
    Observation {
        at: Tick::from_secs(at_s),
        view: Ok(View::on(node, Quorum::Quorate)),
    }
}

fn with(at_s: u64, view: Result<View, String>) -> Observation {
    Observation {
        at: Tick::from_secs(at_s),
        view,
    }
}

fn role(this: &str, history: &[Observation], now_s: u64) -> Role {
    decide(
        this,
        &nodes(),
        history,
        &Rules::default(),
        Tick::from_secs(now_s),
    )
}

fn unknown(r: Role) -> Unknown {
    match r {
        Role::Unknown { reason } => reason,
        other => panic!("expected unknown, got {other}"),
    }
}

#[test]
fn three_agreeing_spaced_observations_make_master_here_and_standby_there() {
    let h = [on(0, "pve1"), on(2, "pve1"), on(4, "pve1")];
    assert_eq!(role("pve1", &h, 4), Role::Master);
    assert_eq!(
        role("pve2", &h, 5),
        Role::Standby {
            master: "pve1".into()
        }
    );
}

#[test]
fn fewer_than_the_confirmations_is_unconfirmed() {
    let h = [on(0, "pve1"), on(2, "pve1")];
    assert_eq!(
        unknown(role("pve1", &h, 2)),
        Unknown::Unconfirmed {
            node: "pve1".into(),
            have: 2,
            need: 3
        }
    );
    assert_eq!(unknown(role("pve1", &[], 2)), Unknown::NoObservation);
}

#[test]
fn observations_closer_than_the_interval_count_once_but_must_still_agree() {
    // 0, 1, 2, 3, 4 s: counted at 4, 2, 0 (1 and 3 are too close to the counted ones).
    let h: Vec<_> = (0..=4).map(|s| on(s, "pve1")).collect();
    assert_eq!(role("pve1", &h, 4), Role::Master);
    // 0.5 s apart over 2 s: only two counted.
    let dense: Vec<_> = (0..=4)
        .map(|i| Observation {
            at: Tick(i * 500),
            view: Ok(View::on("pve1", Quorum::Quorate)),
        })
        .collect();
    assert!(matches!(
        unknown(role("pve1", &dense, 2)),
        Unknown::Unconfirmed { have: 2, .. }
    ));
    // A disagreeing observation between counted ones breaks the run.
    let h = [on(0, "pve1"), on(1, "pve2"), on(2, "pve1"), on(4, "pve1")];
    assert!(matches!(
        unknown(role("pve1", &h, 4)),
        Unknown::Unconfirmed { have: 2, .. }
    ));
}

#[test]
fn a_flip_needs_a_fresh_run_of_confirmations() {
    let mut h = vec![on(0, "pve1"), on(2, "pve1"), on(4, "pve1"), on(6, "pve2")];
    assert!(matches!(
        unknown(role("pve2", &h, 6)),
        Unknown::Unconfirmed { have: 1, .. }
    ));
    h.push(on(8, "pve2"));
    h.push(on(10, "pve2"));
    assert_eq!(role("pve2", &h, 10), Role::Master);
    assert_eq!(
        role("pve1", &h, 10),
        Role::Standby {
            master: "pve2".into()
        }
    );
}

#[test]
fn stale_evidence_and_long_gaps_do_not_count() {
    let h = [on(0, "pve1"), on(2, "pve1"), on(4, "pve1")];
    assert_eq!(
        unknown(role("pve1", &h, 65)),
        Unknown::Stale { age_ms: 61_000 }
    );
    // A daemon suspended for two minutes between observations does not confirm across it.
    let h = [
        on(0, "pve1"),
        on(2, "pve1"),
        on(124, "pve1"),
        on(126, "pve1"),
    ];
    assert!(matches!(
        unknown(role("pve1", &h, 126)),
        Unknown::Unconfirmed { have: 2, .. }
    ));
}

#[test]
fn time_running_backwards_is_refused() {
    let h = [on(4, "pve1"), on(2, "pve1"), on(6, "pve1")];
    assert!(matches!(
        unknown(role("pve1", &h, 6)),
        Unknown::OutOfOrder { .. }
    ));
    let h = [on(0, "pve1"), on(2, "pve1"), on(4, "pve1")];
    assert!(matches!(
        unknown(role("pve1", &h, 3)),
        Unknown::OutOfOrder { .. }
    ));
}

#[test]
fn the_newest_view_explains_itself() {
    let settled = [on(0, "pve1"), on(2, "pve1")];
    let cases = [
        (
            Err("pvesh: connection refused".to_owned()),
            Unknown::SourceFailed {
                error: "pvesh: connection refused".into(),
            },
        ),
        (Ok(View::on("pve1", Quorum::Lost)), Unknown::NoQuorum),
        (
            Ok(View {
                transition: Some("migrate".into()),
                ..View::on("pve1", Quorum::Quorate)
            }),
            Unknown::InTransition {
                state: "migrate".into(),
            },
        ),
        (
            Ok(View {
                node: None,
                quorum: Quorum::Quorate,
                transition: None,
            }),
            Unknown::NotRunning,
        ),
        (
            Ok(View::on("pve9", Quorum::Quorate)),
            Unknown::Unconfirmed {
                node: "pve9".into(),
                have: 1,
                need: 3,
            },
        ),
    ];
    for (view, want) in cases {
        let mut h = settled.to_vec();
        h.push(with(4, view));
        assert_eq!(unknown(role("pve1", &h, 4)), want);
    }
}

#[test]
fn a_confirmed_node_outside_the_service_is_foreign() {
    let h = [on(0, "pve9"), on(2, "pve9"), on(4, "pve9")];
    assert_eq!(
        unknown(role("pve1", &h, 4)),
        Unknown::ForeignNode {
            node: "pve9".into()
        }
    );
}

#[test]
fn quorum_is_not_required_when_the_rules_say_so_and_not_applicable_never_blocks() {
    let lost: Vec<_> = [0, 2, 4]
        .map(|s| with(s, Ok(View::on("pve1", Quorum::Lost))))
        .to_vec();
    let rules = Rules {
        require_quorum: false,
        ..Rules::default()
    };
    assert_eq!(
        decide("pve1", &nodes(), &lost, &rules, Tick::from_secs(4)),
        Role::Master
    );
    let na: Vec<_> = [0, 2, 4]
        .map(|s| with(s, Ok(View::on("pve1", Quorum::NotApplicable))))
        .to_vec();
    assert_eq!(role("pve1", &na, 4), Role::Master);
}

#[test]
fn roles_print_for_the_admin() {
    assert_eq!(Role::Master.to_string(), "master");
    assert_eq!(
        Role::Unknown {
            reason: Unknown::Unconfirmed {
                node: "pve2".into(),
                have: 1,
                need: 3
            }
        }
        .to_string(),
        "unknown: placement on pve2 confirmed 1 of 3 times"
    );
    let json = serde_json::to_string(&Role::Unknown {
        reason: Unknown::NoQuorum,
    })
    .expect("serialises");
    assert_eq!(json, r#"{"role":"unknown","reason":{"kind":"no-quorum"}}"#);
}

proptest! {
    /// Master only when the newest `confirmations` observations all name this node, settled,
    /// and at most one node is ever master for the same history.
    #[test]
    fn master_needs_the_whole_recent_run_and_is_unique(
        views in prop::collection::vec((0u8..4, any::<bool>()), 1..12),
    ) {
        let history: Vec<_> = views.iter().enumerate().map(|(i, &(n, quorate))| {
            let node = ["pve1", "pve2", "pve1", "x"][usize::from(n)];
            let q = if quorate { Quorum::Quorate } else { Quorum::Lost };
            with(2 * i as u64, Ok(View::on(node, q)))
        }).collect();
        let now = 2 * (history.len() as u64 - 1);
        let masters: Vec<_> = ["pve1", "pve2"].iter()
            .filter(|n| role(n, &history, now) == Role::Master).collect();
        prop_assert!(masters.len() <= 1);
        if let Some(m) = masters.first() {
            prop_assert!(history.len() >= 3);
            for obs in &history[history.len() - 3..] {
                let view = obs.view.as_ref().expect("views are Ok here");
                prop_assert_eq!(view.node.as_deref(), Some(**m));
                prop_assert_eq!(view.quorum, Quorum::Quorate);
            }
        }
    }
}

#[test]
fn only_a_standby_accepts_a_stream_and_only_from_its_master() {
    let standby = Role::Standby {
        master: "pve1".into(),
    };
    assert!(standby.accepts_stream_from("pve1"));
    assert!(!standby.accepts_stream_from("pve2"));
    assert!(!Role::Master.accepts_stream_from("pve1"));
    assert!(
        !Role::Unknown {
            reason: Unknown::NoQuorum
        }
        .accepts_stream_from("pve1")
    );
}
