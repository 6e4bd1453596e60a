//! The checks a node passes before it may act as master (M5), and when a leaving master may
//! make its final sync. Pure: the cycle gathers the pool listing, the record and the history.

use std::collections::BTreeMap;

use zferry_ha::{Observation, Quorum};
use zferry_zfs::PoolInfo;

/// Problems that stop a node from acting as master on `pools` (this node's pools of the
/// service): a pool missing, not ONLINE, fuller than `capacity_crit` percent (0 = not
/// checked), or not the pool recorded before (a replacement pool holds none of the replica:
/// a master on it would send an empty history). `known` maps pool names to the guid recorded;
/// `accept_new` records a changed guid instead of refusing.
pub fn pool_problems(
    pools: &[String],
    listed: &[PoolInfo],
    capacity_crit: u8,
    known: &BTreeMap<String, u64>,
    accept_new: bool,
) -> Vec<String> {
    let mut out = Vec::new();
    for name in pools {
        let Some(p) = listed.iter().find(|p| p.name.as_str() == name) else {
            out.push(format!(
                "pool {name} is not imported; import it (`zpool import {name}`) before this node \
                 can be master"
            ));
            continue;
        };
        if !p.health.is_online() {
            out.push(format!(
                "pool {name} is {}; repair it (`zpool status {name}`) before this node can be \
                 master",
                p.health
            ));
        }
        if capacity_crit > 0 && p.capacity >= u64::from(capacity_crit) {
            out.push(format!(
                "pool {name} is {}% full (critical at {capacity_crit}%); free space before this \
                 node can be master",
                p.capacity
            ));
        }
        if let Some(&guid) = known.get(name)
            && guid != p.guid.0
            && !accept_new
        {
            out.push(format!(
                "pool {name} is not the pool this node held before (guid {guid} then, {} now): a \
                 replacement pool holds none of the replica. Let this node be a standby so the \
                 master resyncs it; if the new pool is intended, run `zferry ha run-once \
                 --accept-new-pools` once",
                p.guid.0
            ));
        }
    }
    out
}

/// The pools' guids to record after a cycle: the known ones, updated with what was listed
/// when accepted (first sight, or `accept_new`); a changed pool keeps its old guid otherwise.
pub fn record_pools(
    known: &BTreeMap<String, u64>,
    listed: &[PoolInfo],
    pools: &[String],
    accept_new: bool,
) -> BTreeMap<String, u64> {
    let mut out = known.clone();
    for p in listed
        .iter()
        .filter(|p| pools.contains(&p.name.to_string()))
    {
        let name = p.name.to_string();
        if accept_new || !out.contains_key(&name) {
            out.insert(name, p.guid.0);
        }
    }
    out
}

/// `Some(reason)` when the direction changed less than `cooldown_secs` before `now` and this
/// node would change it again (anti-ping-pong).
pub fn cooldown(
    previous_master: Option<&str>,
    changed_at: Option<i64>,
    local: &str,
    cooldown_secs: u64,
    now: i64,
) -> Option<String> {
    let prev = previous_master?;
    let at = changed_at?;
    if prev == local {
        return None;
    }
    let until = at.saturating_add(i64::try_from(cooldown_secs).unwrap_or(i64::MAX));
    (now < until).then(|| {
        format!(
            "cooldown: the direction changed {} s ago (to {prev}); this node waits {} s more \
             before it takes over, so a flapping placement cannot bounce the replication",
            now - at,
            until - now
        )
    })
}

/// Transitions of a planned move: the service stopped on purpose to start elsewhere.
const PLANNED_MOVES: [&str; 2] = ["migrate", "relocate"];

/// Whether a master that last acted as master may make its final sync: the newest
/// `confirmations` observations (the whole `history` a run-once took) all say the service
/// runs nowhere, with quorum where the source knows it, and at most a planned move in
/// progress. Writes have stopped then, so one last snapshot holds everything.
pub fn service_stopped_here(history: &[Observation], confirmations: u32) -> bool {
    let recent: Vec<&Observation> = history
        .iter()
        .rev()
        .take(usize::try_from(confirmations).unwrap_or(usize::MAX))
        .collect();
    u32::try_from(recent.len()).is_ok_and(|n| n == confirmations)
        && recent.iter().all(|o| {
            o.view.as_ref().is_ok_and(|v| {
                v.node.is_none()
                    && v.quorum != Quorum::Lost
                    && v.transition
                        .as_deref()
                        .is_none_or(|t| PLANNED_MOVES.contains(&t))
            })
        })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use zferry_ha::{Tick, View};
    use zferry_zfs::{Guid, Health};

    use super::*;

    fn pool(name: &str, health: Health, capacity: u64, guid: u64) -> PoolInfo {
        PoolInfo {
            name: name.parse().unwrap(),
            size: 100,
            allocated: capacity,
            free: 100 - capacity,
            fragmentation: None,
            capacity,
            health,
            guid: Guid(guid),
        }
    }

    #[test]
    fn pools_must_be_imported_online_not_full_and_the_same() {
        let wanted = vec!["zpool1".to_owned(), "zpool2".to_owned()];
        let known = BTreeMap::from([("zpool1".to_owned(), 7)]);
        let ok = [
            pool("zpool1", Health::Online, 50, 7),
            pool("zpool2", Health::Online, 10, 9),
        ];
        assert!(pool_problems(&wanted, &ok, 95, &known, false).is_empty());
        let bad = [
            pool("zpool1", Health::Degraded, 96, 8),
            pool("other", Health::Online, 0, 1),
        ];
        let p = pool_problems(&wanted, &bad, 95, &known, false);
        assert_eq!(p.len(), 4, "{p:#?}");
        assert!(p[0].contains("DEGRADED"), "{}", p[0]);
        assert!(p[1].contains("96% full"), "{}", p[1]);
        assert!(p[2].contains("guid 7 then, 8 now"), "{}", p[2]);
        assert!(p[3].contains("zpool2 is not imported"), "{}", p[3]);
        // Capacity 0 = unchecked; an accepted new pool passes and is recorded.
        let replaced = [pool("zpool1", Health::Online, 99, 8)];
        let one = vec!["zpool1".to_owned()];
        assert!(pool_problems(&one, &replaced, 0, &known, true).is_empty());
        assert_eq!(record_pools(&known, &replaced, &one, true)["zpool1"], 8);
        assert_eq!(record_pools(&known, &replaced, &one, false)["zpool1"], 7);
        let fresh = record_pools(&BTreeMap::new(), &replaced, &one, false);
        assert_eq!(fresh["zpool1"], 8, "first sight is recorded");
    }

    #[test]
    fn cooldown_holds_only_a_second_change_within_the_window() {
        assert_eq!(cooldown(None, None, "a", 600, 1000), None);
        assert_eq!(cooldown(Some("a"), Some(900), "a", 600, 1000), None);
        let held = cooldown(Some("b"), Some(900), "a", 600, 1000).unwrap();
        assert!(
            held.contains("100 s ago") && held.contains("500 s more"),
            "{held}"
        );
        assert_eq!(cooldown(Some("b"), Some(400), "a", 600, 1000), None);
        assert_eq!(cooldown(Some("b"), Some(900), "a", 0, 1000), None);
    }

    fn obs(at: u64, node: Option<&str>, quorum: Quorum, transition: Option<&str>) -> Observation {
        Observation {
            at: Tick::from_secs(at),
            view: Ok(View {
                node: node.map(str::to_owned),
                quorum,
                transition: transition.map(str::to_owned),
            }),
        }
    }

    #[test]
    fn final_sync_needs_every_recent_look_to_say_stopped_quorate_and_planned() {
        let stopped = |t| obs(t, None, Quorum::Quorate, Some("migrate"));
        let h = [stopped(0), stopped(2), stopped(4)];
        assert!(service_stopped_here(&h, 3));
        assert!(!service_stopped_here(&h[..2], 3), "too few looks");
        let running = [
            obs(0, Some("a"), Quorum::Quorate, None),
            stopped(2),
            stopped(4),
        ];
        assert!(!service_stopped_here(&running, 3));
        let fenced = [
            stopped(0),
            stopped(2),
            obs(4, None, Quorum::Quorate, Some("fence")),
        ];
        assert!(
            !service_stopped_here(&fenced, 3),
            "a fence is not a planned move"
        );
        let lost = [stopped(0), stopped(2), obs(4, None, Quorum::Lost, None)];
        assert!(!service_stopped_here(&lost, 3));
        let failed = [
            stopped(0),
            stopped(2),
            Observation {
                at: Tick::from_secs(4),
                view: Err("pvesh failed".into()),
            },
        ];
        assert!(!service_stopped_here(&failed, 3));
        let plain: Vec<Observation> = (0..3)
            .map(|t| obs(t * 2, None, Quorum::NotApplicable, None))
            .collect();
        assert!(service_stopped_here(&plain, 3));
    }
}
