//! The daemon's bookkeeping (pure): each service's recent placement observations, and when
//! the next cycle is due. The daemon polls every few seconds, so a role is confirmed within
//! `confirmations x interval`; a cycle (snapshots, then replication) runs every
//! `cycle-interval`, and at once when a service's decided role changes.

use std::collections::BTreeMap;

use zferry_ha::{Observation, Role, Rules, Tick, decide};

use crate::cycle::Evidence;

/// Observations per service, newest last, trimmed to what a decision can still use.
#[derive(Debug, Default)]
pub struct Histories {
    by_service: BTreeMap<String, Vec<Observation>>,
    newest: BTreeMap<String, zferry_ha::Reading>,
}

impl Histories {
    /// Adds one observation; drops those older than `keep_ms` before `obs.at`.
    pub fn push(
        &mut self,
        service: &str,
        obs: Observation,
        reading: Option<zferry_ha::Reading>,
        keep_ms: u64,
    ) {
        let h = self.by_service.entry(service.to_owned()).or_default();
        let horizon = obs.at.0.saturating_sub(keep_ms);
        h.push(obs);
        h.retain(|o| o.at.0 >= horizon);
        if let Some(r) = reading {
            self.newest.insert(service.to_owned(), r);
        }
    }

    pub fn history(&self, service: &str) -> &[Observation] {
        self.by_service.get(service).map_or(&[], Vec::as_slice)
    }

    /// The evidence a cycle decides on, at `now`.
    pub fn evidence(&self, now: Tick) -> BTreeMap<String, Evidence> {
        self.by_service
            .iter()
            .map(|(s, h)| {
                (
                    s.clone(),
                    Evidence {
                        history: h.clone(),
                        now,
                        newest: self.newest.get(s).cloned(),
                    },
                )
            })
            .collect()
    }

    /// Forgets services no longer configured (after a reload).
    pub fn retain_services(&mut self, keep: &[String]) {
        self.by_service.retain(|s, _| keep.contains(s));
        self.newest.retain(|s, _| keep.contains(s));
    }
}

/// How long observations are kept: long enough for the confirmations and the staleness
/// rule, with room for a slow source.
pub fn keep_ms(rules: &Rules) -> u64 {
    let confirm = rules
        .interval
        .saturating_mul(rules.confirmations.get().saturating_add(1));
    let keep = confirm.max(rules.stale_after).saturating_mul(2);
    u64::try_from(keep.as_millis()).unwrap_or(u64::MAX)
}

/// The roles as decided now (cheap, in memory), to notice a change between cycles.
pub fn roles(
    local: &str,
    services: &[(String, Vec<String>, Rules)],
    histories: &Histories,
    now: Tick,
) -> BTreeMap<String, Role> {
    services
        .iter()
        .map(|(name, nodes, rules)| {
            (
                name.clone(),
                decide(local, nodes, histories.history(name), rules, now),
            )
        })
        .collect()
}

/// Whether a cycle should run at once: some service's role changed kind (master, standby of
/// a given node, or not known). A confirmation counting up (`1 of 3`, `2 of 3`) is no change:
/// nothing to act on until it completes.
pub fn role_kind_changed(old: &BTreeMap<String, Role>, new: &BTreeMap<String, Role>) -> bool {
    let kind = |r: Option<&Role>| match r {
        Some(Role::Master) => Some(Ok(None)),
        Some(Role::Standby { master }) => Some(Ok(Some(master.clone()))),
        Some(Role::Unknown { .. }) => Some(Err(())),
        None => None,
    };
    old.keys()
        .chain(new.keys())
        .any(|s| kind(old.get(s)) != kind(new.get(s)))
}

/// When the next cycle runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    every_ms: u64,
    next: Option<Tick>,
}

impl Schedule {
    /// Due at once, then every `every_ms`.
    pub fn new(every_ms: u64) -> Self {
        Self {
            every_ms,
            next: None,
        }
    }

    pub fn due(&self, now: Tick) -> bool {
        self.next.is_none_or(|n| now >= n)
    }

    /// A cycle ran (started) at `now`.
    pub fn ran(&mut self, now: Tick) {
        self.next = Some(Tick(now.0.saturating_add(self.every_ms)));
    }

    /// Something changed: run the next cycle at once.
    pub fn wake(&mut self) {
        self.next = None;
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::num::NonZeroU32;
    use std::time::Duration;

    use zferry_ha::{Quorum, View};

    use super::*;

    fn on(at: u64, node: &str) -> Observation {
        Observation {
            at: Tick::from_secs(at),
            view: Ok(View::on(node, Quorum::Quorate)),
        }
    }

    #[test]
    fn histories_keep_only_the_recent_window() {
        let mut h = Histories::default();
        for t in 0..10 {
            h.push("nfs", on(t * 2, "a"), None, 5_000);
        }
        let at: Vec<u64> = h.history("nfs").iter().map(|o| o.at.0 / 1000).collect();
        assert_eq!(at, [14, 16, 18]);
        assert!(h.history("other").is_empty());
        h.retain_services(&[]);
        assert!(h.history("nfs").is_empty());
    }

    #[test]
    fn keep_covers_confirmations_and_staleness() {
        let rules = Rules {
            confirmations: NonZeroU32::new(3).unwrap(),
            interval: Duration::from_secs(2),
            require_quorum: true,
            stale_after: Duration::from_mins(1),
        };
        assert_eq!(keep_ms(&rules), 120_000);
        let slow = Rules {
            interval: Duration::from_secs(50),
            ..rules
        };
        assert_eq!(keep_ms(&slow), 400_000);
    }

    #[test]
    fn a_role_needs_the_polls_and_the_schedule_wakes_on_change() {
        let rules = Rules {
            confirmations: NonZeroU32::new(3).unwrap(),
            interval: Duration::from_secs(2),
            require_quorum: true,
            stale_after: Duration::from_mins(1),
        };
        let services = vec![(
            "nfs".to_owned(),
            vec!["a".to_owned(), "b".to_owned()],
            rules,
        )];
        let mut h = Histories::default();
        let roles_at = |h: &mut Histories, t: u64, node: &str| {
            h.push("nfs", on(t, node), None, keep_ms(&rules));
            roles("a", &services, h, Tick::from_secs(t))["nfs"].clone()
        };
        assert!(matches!(roles_at(&mut h, 0, "a"), Role::Unknown { .. }));
        assert!(matches!(roles_at(&mut h, 2, "a"), Role::Unknown { .. }));
        assert_eq!(roles_at(&mut h, 4, "a"), Role::Master);
        assert!(matches!(roles_at(&mut h, 6, "b"), Role::Unknown { .. }));

        let unconfirmed = |have| Role::Unknown {
            reason: zferry_ha::Unknown::Unconfirmed {
                node: "b".into(),
                have,
                need: 3,
            },
        };
        let at = |r: Role| BTreeMap::from([("nfs".to_owned(), r)]);
        assert!(!role_kind_changed(&at(unconfirmed(1)), &at(unconfirmed(2))));
        assert!(role_kind_changed(&at(unconfirmed(2)), &at(Role::Master)));
        let standby = |m: &str| Role::Standby { master: m.into() };
        assert!(role_kind_changed(&at(standby("a")), &at(standby("b"))));
        assert!(role_kind_changed(&at(standby("a")), &at(unconfirmed(1))));
        assert!(role_kind_changed(&BTreeMap::new(), &at(standby("a"))));

        let mut s = Schedule::new(60_000);
        assert!(s.due(Tick(0)));
        s.ran(Tick(0));
        assert!(!s.due(Tick(59_999)) && s.due(Tick(60_000)));
        s.wake();
        assert!(s.due(Tick(1)));
    }
}
