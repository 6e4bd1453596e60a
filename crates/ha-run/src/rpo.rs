//! `zferry monitor replication`: the recovery point of every pair this node sends, against
//! warning and critical ages, as one Nagios line (0 OK, 1 WARNING, 2 CRITICAL). Pure: the
//! caller reads the replication records and the HA roles.
//!
//! A node checks only the pairs it sends now: for a service's jobs that is the master; on a
//! standby those records are from an earlier tenure and would age forever.

use serde::Serialize;

/// One pair as recorded by the last replication runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PairAge {
    pub job: String,
    pub pair: String,
    /// Seconds since the newest common snapshot was taken; `None`: never replicated.
    pub rpo_seconds: Option<u64>,
    pub last_error: Option<String>,
}

/// The check's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RpoReport {
    pub exit_code: i32,
    pub line: String,
    pub pairs: Vec<PairAge>,
}

/// Rates `pairs` against `warn` and `crit` seconds.
pub fn check(pairs: Vec<PairAge>, warn: u64, crit: u64, skipped: &[String]) -> RpoReport {
    let mut crits = Vec::new();
    let mut warns = Vec::new();
    for p in &pairs {
        let what = format!("{} {}", p.job, p.pair);
        let error = p
            .last_error
            .as_deref()
            .map(|e| format!(", last error: {}", e.lines().next().unwrap_or("")))
            .unwrap_or_default();
        match p.rpo_seconds {
            None => crits.push(format!("{what}: never replicated{error}")),
            Some(s) if s >= crit => crits.push(format!("{what}: RPO {}{error}", age(s))),
            Some(s) if s >= warn => warns.push(format!("{what}: RPO {}{error}", age(s))),
            Some(_) => {}
        }
    }
    let skipped_note = if skipped.is_empty() {
        String::new()
    } else {
        format!("; not the sender of: {}", skipped.join(", "))
    };
    let (exit_code, line) = if !crits.is_empty() {
        crits.extend(warns);
        (2, format!("CRITICAL: {}", crits.join("; ")))
    } else if !warns.is_empty() {
        (1, format!("WARNING: {}", warns.join("; ")))
    } else if pairs.is_empty() {
        (0, format!("OK: no pair sent by this node{skipped_note}"))
    } else {
        let worst = pairs
            .iter()
            .filter_map(|p| p.rpo_seconds)
            .max()
            .unwrap_or(0);
        (
            0,
            format!(
                "OK: {} pairs, worst RPO {} (warn {}, crit {}){skipped_note}",
                pairs.len(),
                age(worst),
                age(warn),
                age(crit)
            ),
        )
    };
    RpoReport {
        exit_code,
        line,
        pairs,
    }
}

/// `95` → `1m35s`, `7200` → `2h0m`.
fn age(secs: u64) -> String {
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m{}s", secs / 60, secs % 60),
        _ => format!("{}h{}m", secs / 3600, secs % 3600 / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(name: &str, rpo: Option<u64>, error: Option<&str>) -> PairAge {
        PairAge {
            job: "data".into(),
            pair: name.into(),
            rpo_seconds: rpo,
            last_error: error.map(str::to_owned),
        }
    }

    #[test]
    fn worst_pair_sets_the_status() {
        let ok = check(vec![pair("a->b", Some(95), None)], 3600, 14400, &[]);
        assert_eq!(
            (ok.exit_code, ok.line.as_str()),
            (0, "OK: 1 pairs, worst RPO 1m35s (warn 1h0m, crit 4h0m)")
        );
        let warn = check(
            vec![
                pair("a->b", Some(95), None),
                pair("a->c", Some(3700), Some("ssh failed\nmore")),
            ],
            3600,
            14400,
            &[],
        );
        assert_eq!(
            (warn.exit_code, warn.line.as_str()),
            (1, "WARNING: data a->c: RPO 1h1m, last error: ssh failed")
        );
        let crit = check(
            vec![pair("a->c", Some(3700), None), pair("a->d", None, None)],
            3600,
            14400,
            &[],
        );
        assert_eq!(crit.exit_code, 2);
        assert_eq!(
            crit.line,
            "CRITICAL: data a->d: never replicated; data a->c: RPO 1h1m"
        );
        let none = check(
            Vec::new(),
            3600,
            14400,
            &["service nfs (standby of b)".into()],
        );
        assert_eq!(
            (none.exit_code, none.line.as_str()),
            (
                0,
                "OK: no pair sent by this node; not the sender of: service nfs (standby of b)"
            )
        );
    }
}
