//! `zpool list`: argv builder and parser for `-H -p` output, plus the pool/vdev health enum
//! shared with the `zpool status` parser.

use std::fmt;
use std::str::FromStr;

use crate::command::ZfsCommand;
use crate::name::PoolName;
use crate::parse::{Fields, ParseError, numbered_lines};
use crate::props::Guid;

/// Pool or vdev state as printed by `zpool list`/`zpool status`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Health {
    Online,
    Degraded,
    Faulted,
    Offline,
    Removed,
    Unavail,
    Suspended,
    /// Anything else (e.g. spare states `AVAIL`/`INUSE`), kept verbatim.
    Other(String),
}

impl Health {
    /// Can the pool (or vdev) serve I/O with full redundancy?
    pub fn is_online(&self) -> bool {
        *self == Self::Online
    }
}

impl FromStr for Health {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "ONLINE" => Self::Online,
            "DEGRADED" => Self::Degraded,
            "FAULTED" => Self::Faulted,
            "OFFLINE" => Self::Offline,
            "REMOVED" => Self::Removed,
            "UNAVAIL" => Self::Unavail,
            "SUSPENDED" => Self::Suspended,
            other => Self::Other(other.to_owned()),
        })
    }
}

impl fmt::Display for Health {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Online => "ONLINE",
            Self::Degraded => "DEGRADED",
            Self::Faulted => "FAULTED",
            Self::Offline => "OFFLINE",
            Self::Removed => "REMOVED",
            Self::Unavail => "UNAVAIL",
            Self::Suspended => "SUSPENDED",
            Self::Other(s) => s,
        })
    }
}

/// One row of `zpool list -H -p -o name,size,allocated,free,fragmentation,capacity,health,guid`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PoolInfo {
    pub name: PoolName,
    /// Bytes.
    pub size: u64,
    pub allocated: u64,
    pub free: u64,
    /// Percent; `None` when ZFS prints `-` (not computable, e.g. no spacemap histogram).
    pub fragmentation: Option<u64>,
    /// Percent of `size` allocated.
    pub capacity: u64,
    pub health: Health,
    pub guid: Guid,
}

/// The columns requested, in order.
pub const ZPOOL_LIST_COLUMNS: [&str; 8] = [
    "name",
    "size",
    "allocated",
    "free",
    "fragmentation",
    "capacity",
    "health",
    "guid",
];

/// `zpool list -H -p -o <ZPOOL_LIST_COLUMNS> [pools…]`.
pub fn zpool_list_argv(pools: &[PoolName]) -> ZfsCommand {
    ZfsCommand::new("zpool")
        .args(["list", "-H", "-p", "-o"])
        .arg(ZPOOL_LIST_COLUMNS.join(","))
        .args(pools.iter().map(ToString::to_string))
}

/// A percentage: plain integer in `-p` mode, with a trailing `%` in older releases.
fn percent(f: &Fields<'_>, idx: usize) -> Result<Option<u64>, ParseError> {
    let raw = f.raw(idx);
    if raw == "-" {
        return Ok(None);
    }
    raw.strip_suffix('%')
        .unwrap_or(raw)
        .parse()
        .map(Some)
        .map_err(|e: std::num::ParseIntError| f.bad(idx, e.to_string()))
}

/// Parses the stdout of a command built by [`zpool_list_argv`].
pub fn parse_zpool_list(stdout: &str) -> Result<Vec<PoolInfo>, ParseError> {
    numbered_lines(stdout)
        .map(|(n, line)| {
            let f = Fields::split(n, line, &ZPOOL_LIST_COLUMNS)?;
            Ok(PoolInfo {
                name: f.parse(0)?,
                size: f.parse(1)?,
                allocated: f.parse(2)?,
                free: f.parse(3)?,
                fragmentation: percent(&f, 4)?,
                capacity: percent(&f, 5)?.ok_or_else(|| f.bad(5, "capacity is always known"))?,
                health: f.parse(6)?,
                guid: f.parse(7)?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argv_is_exact() {
        assert_eq!(
            zpool_list_argv(&["rpool".parse().unwrap()]).argv(),
            [
                "zpool",
                "list",
                "-H",
                "-p",
                "-o",
                "name,size,allocated,free,fragmentation,capacity,health,guid",
                "rpool"
            ]
        );
    }

    #[test]
    fn parses_plain_and_percent_forms() {
        let out = "rpool\t1000\t250\t750\t3\t25\tONLINE\t42\n\
                   tank\t2000\t0\t2000\t-\t0%\tDEGRADED\t7\n\
                   old\t10\t1\t9\t5%\t10\tWEIRD\t8\n";
        let pools = parse_zpool_list(out).unwrap();
        assert_eq!(pools[0].name.as_str(), "rpool");
        assert_eq!(
            (pools[0].size, pools[0].allocated, pools[0].free),
            (1000, 250, 750)
        );
        assert_eq!(pools[0].fragmentation, Some(3));
        assert_eq!(pools[0].capacity, 25);
        assert_eq!(pools[0].guid, Guid(42));
        assert_eq!(pools[1].fragmentation, None);
        assert_eq!(pools[1].capacity, 0);
        assert_eq!(pools[1].health, Health::Degraded);
        assert_eq!(pools[2].fragmentation, Some(5));
        assert_eq!(pools[2].health, Health::Other("WEIRD".into()));
    }

    #[test]
    fn bad_size_is_reported() {
        let err = parse_zpool_list("rpool\t1G\t0\t0\t0\t0\tONLINE\t1\n").unwrap_err();
        assert!(
            matches!(&err, ParseError::BadValue { line: 1, column, value, .. } if column == "size" && value == "1G"),
            "{err}"
        );
    }
}
