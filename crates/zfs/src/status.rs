//! `zpool status`: argv builder and parser for the human-oriented text output.
//!
//! There is no scripted mode for `zpool status` in the releases zferry supports (2.1–2.3), so
//! this parser reads the text layout: `key: value` header lines (right-aligned keys, tab-indented
//! continuation lines), a `config:` block whose tree depth comes from indentation (two spaces per
//! level after the leading tab), and the `errors:` line. Several pools may follow each other.

use std::collections::BTreeMap;

use crate::command::ZfsCommand;
use crate::name::PoolName;
use crate::parse::ParseError;
use crate::zpool::Health;

/// `zpool status -P -p [pools…]`: full vdev paths, exact counters.
pub fn zpool_status_argv(pools: &[PoolName]) -> ZfsCommand {
    ZfsCommand::new("zpool")
        .args(["status", "-P", "-p"])
        .args(pools.iter().map(ToString::to_string))
}

/// READ/WRITE/CKSUM error counters of a vdev.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct ErrorCounters {
    pub read: u64,
    pub write: u64,
    pub cksum: u64,
}

impl ErrorCounters {
    pub fn total(&self) -> u64 {
        self.read
            .saturating_add(self.write)
            .saturating_add(self.cksum)
    }
}

/// One line of the `config:` tree.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct VdevNode {
    /// Pool name, vdev group (`mirror-0`, `raidz1-0`), section (`logs`, `cache`, `spares`,
    /// `special`, `dedup`) or device path.
    pub name: String,
    /// 0 for the pool line and section headers.
    pub depth: usize,
    /// `None` for section headers, which have no state.
    pub state: Option<Health>,
    /// `None` for section headers and spares (which print no counters).
    pub counters: Option<ErrorCounters>,
    /// Trailing text such as `(resilvering)`, `was /dev/sdb1`, `currently in use`.
    pub note: Option<String>,
    pub children: Vec<VdevNode>,
}

impl VdevNode {
    /// Section headers (`logs`, `cache`, `spares`, …) carry no state.
    pub fn is_section(&self) -> bool {
        self.state.is_none()
    }

    /// This node and all its descendants, depth first.
    pub fn walk(&self) -> Vec<&VdevNode> {
        let mut out = vec![self];
        for c in &self.children {
            out.extend(c.walk());
        }
        out
    }
}

/// The `errors:` line.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum DataErrors {
    /// `No known data errors`.
    None,
    /// `N data errors, use '-v' for a list`.
    Count(u64),
    /// Anything else, verbatim (e.g. the `-v` file list).
    Other(String),
}

/// One pool's `zpool status`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PoolStatus {
    pub name: PoolName,
    pub state: Health,
    pub status: Option<String>,
    pub action: Option<String>,
    pub see: Option<String>,
    pub scan: Option<String>,
    /// Top-level config entries: the pool's own tree first, then sections.
    pub config: Vec<VdevNode>,
    pub errors: Option<DataErrors>,
    /// Other header keys (`remove`, `checkpoint`, `expand`, `comment`, …), verbatim.
    pub other: BTreeMap<String, String>,
}

impl PoolStatus {
    /// Every vdev line, depth first.
    pub fn vdevs(&self) -> Vec<&VdevNode> {
        self.config.iter().flat_map(VdevNode::walk).collect()
    }
}

/// A pool record being assembled.
struct Draft {
    line: usize,
    name: String,
    fields: BTreeMap<String, String>,
    config: Vec<(usize, usize, String)>, // (line, depth, text)
}

fn syntax(line: usize, message: impl Into<String>) -> ParseError {
    ParseError::Syntax {
        line,
        message: message.into(),
    }
}

/// `  key: value` header line: leading spaces only, lowercase key, then `:`.
fn header(line: &str) -> Option<(&str, &str)> {
    if line.starts_with('\t') {
        return None;
    }
    let (key, value) = line.trim_start().split_once(':')?;
    key.bytes()
        .all(|b| b.is_ascii_lowercase())
        .then(|| (key, value.trim()))
}

/// Parses the text output of `zpool status` (with or without `-P`/`-p`) for any number of pools.
pub fn parse_zpool_status(text: &str) -> Result<Vec<PoolStatus>, ParseError> {
    let mut drafts: Vec<Draft> = Vec::new();
    let mut key: Option<String> = None;
    let mut header_indent: Option<String> = None;
    for (idx, raw) in text.lines().enumerate() {
        let n = idx + 1;
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if line.trim().is_empty() {
            continue;
        }
        if let Some((k, v)) = header(line) {
            if k == "pool" {
                drafts.push(Draft {
                    line: n,
                    name: v.to_owned(),
                    fields: BTreeMap::new(),
                    config: Vec::new(),
                });
            } else if drafts.is_empty() {
                return Err(syntax(n, format!("'{k}:' before any 'pool:' line")));
            }
            let d = drafts.last_mut().expect("pushed above");
            d.fields.insert(k.to_owned(), v.to_owned());
            key = Some(k.to_owned());
            header_indent = None;
            continue;
        }
        if drafts.is_empty() {
            if line.trim() == "no pools available" {
                continue;
            }
            return Err(syntax(
                n,
                format!("unexpected line before any pool: {line:?}"),
            ));
        }
        let d = drafts.last_mut().expect("non-empty");
        match key.as_deref() {
            Some("config") => {
                let trimmed = line.trim_start();
                let indent = &line[..line.len() - trimmed.len()];
                match &header_indent {
                    None => {
                        if !trimmed.starts_with("NAME") {
                            return Err(syntax(
                                n,
                                "config block does not start with a NAME header",
                            ));
                        }
                        header_indent = Some(indent.to_owned());
                    }
                    Some(base) => {
                        let extra = indent.strip_prefix(base.as_str()).ok_or_else(|| {
                            syntax(n, "config line indented less than its header")
                        })?;
                        d.config.push((n, extra.len() / 2, trimmed.to_owned()));
                    }
                }
            }
            Some(k) => {
                let slot = d.fields.entry(k.to_owned()).or_default();
                if !slot.is_empty() {
                    slot.push('\n');
                }
                slot.push_str(line.trim());
            }
            None => return Err(syntax(n, "continuation line without a key")),
        }
    }
    drafts.into_iter().map(finish).collect()
}

fn finish(mut d: Draft) -> Result<PoolStatus, ParseError> {
    let name: PoolName = d
        .name
        .parse()
        .map_err(|e: crate::NameError| syntax(d.line, format!("pool name {:?}: {e}", d.name)))?;
    d.fields.remove("pool");
    let state = d
        .fields
        .remove("state")
        .ok_or_else(|| syntax(d.line, format!("pool {name} has no 'state:' line")))?;
    d.fields.remove("config");
    let errors = d.fields.remove("errors").map(|e| parse_errors(&e));
    Ok(PoolStatus {
        name,
        state: state
            .parse()
            .unwrap_or_else(|never: std::convert::Infallible| match never {}),
        status: d.fields.remove("status"),
        action: d.fields.remove("action"),
        see: d.fields.remove("see"),
        scan: d.fields.remove("scan"),
        config: build_tree(&d.config)?,
        errors,
        other: d.fields,
    })
}

fn parse_errors(text: &str) -> DataErrors {
    if text == "No known data errors" {
        return DataErrors::None;
    }
    let first = text.lines().next().unwrap_or_default();
    if let Some(count) = first
        .strip_suffix(" data errors, use '-v' for a list")
        .and_then(|c| c.parse().ok())
    {
        return DataErrors::Count(count);
    }
    DataErrors::Other(text.to_owned())
}

/// A counter: exact integer with `-p`, else `zfs_nicenum` form like `1.2K` (approximate).
fn counter(s: &str) -> Option<u64> {
    if let Ok(v) = s.parse() {
        return Some(v);
    }
    let (num, unit) = s.split_at(s.len().checked_sub(1)?);
    let power = "KMGTPE".find(unit)? + 1;
    let value: f64 = num.parse().ok()?;
    let exp = i32::try_from(power * 10).ok()?;
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // rounded, non-negative
    Some((value * 2f64.powi(exp)).round() as u64)
}

fn node(line: usize, depth: usize, text: &str) -> Result<VdevNode, ParseError> {
    let tokens: Vec<&str> = text.split_whitespace().collect();
    let mut n = VdevNode {
        name: tokens[0].to_owned(),
        depth,
        state: None,
        counters: None,
        note: None,
        children: Vec::new(),
    };
    let Some(state) = tokens.get(1) else {
        return Ok(n);
    };
    n.state = Some(
        state
            .parse()
            .unwrap_or_else(|never: std::convert::Infallible| match never {}),
    );
    let parsed: Option<Vec<u64>> = tokens
        .get(2..5)
        .and_then(|c| c.iter().map(|t| counter(t)).collect());
    let rest = match parsed {
        Some(c) => {
            n.counters = Some(ErrorCounters {
                read: c[0],
                write: c[1],
                cksum: c[2],
            });
            &tokens[5..]
        }
        None if matches!(
            *state,
            "AVAIL" | "INUSE" | "FAULTED" | "UNAVAIL" | "REMOVED" | "OFFLINE"
        ) =>
        {
            &tokens[2..]
        }
        None => {
            return Err(syntax(
                line,
                format!("vdev line without READ/WRITE/CKSUM counters: {text:?}"),
            ));
        }
    };
    if !rest.is_empty() {
        n.note = Some(rest.join(" "));
    }
    Ok(n)
}

fn build_tree(lines: &[(usize, usize, String)]) -> Result<Vec<VdevNode>, ParseError> {
    let mut roots: Vec<VdevNode> = Vec::new();
    // Path of open ancestors; each entry is a node not yet attached to its parent.
    let mut stack: Vec<VdevNode> = Vec::new();
    for (line, depth, text) in lines {
        let n = node(*line, *depth, text)?;
        while stack.last().is_some_and(|top| top.depth >= n.depth) {
            attach(&mut stack, &mut roots);
        }
        if n.depth > stack.last().map_or(0, |t| t.depth + 1) {
            return Err(syntax(
                *line,
                format!("vdev {:?} is indented too deep", n.name),
            ));
        }
        stack.push(n);
    }
    while !stack.is_empty() {
        attach(&mut stack, &mut roots);
    }
    Ok(roots)
}

fn attach(stack: &mut Vec<VdevNode>, roots: &mut Vec<VdevNode>) {
    let done = stack.pop().expect("caller checked non-empty");
    match stack.last_mut() {
        Some(parent) => parent.children.push(done),
        None => roots.push(done),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWO_POOLS: &str = "  pool: fxa
 state: DEGRADED
status: One or more devices could not be used because the label is missing or
\tinvalid.  Sufficient replicas exist for the pool to continue
\tfunctioning in a degraded state.
action: Replace the device using 'zpool replace'.
   see: https://openzfs.github.io/openzfs-docs/msg/ZFS-8000-4J
  scan: resilvered 1.50M in 00:00:01 with 0 errors on Mon Jan  1 00:00:00 2024
config:

\tNAME                  STATE     READ WRITE CKSUM
\tfxa                   DEGRADED     0     0     0
\t  mirror-0            DEGRADED     0     0     0
\t    /var/tmp/fx/a0    ONLINE       0     0     0
\t    1234567890123     UNAVAIL      0     0     0  was /var/tmp/fx/a1
\tlogs
\t  /var/tmp/fx/l0      ONLINE       0     0     0
\tcache
\t  /var/tmp/fx/c0      ONLINE       0     0     0
\tspares
\t  /var/tmp/fx/s0      AVAIL
\t  /var/tmp/fx/s1      INUSE     currently in use

errors: 3 data errors, use '-v' for a list

  pool: fxb
 state: ONLINE
config:

\tNAME              STATE     READ WRITE CKSUM
\tfxb               ONLINE       0     0     0
\t  raidz1-0        ONLINE       0     0     0
\t    /var/tmp/b0   ONLINE       0     0     2
\t    /var/tmp/b1   ONLINE     1.5K    0     0  (resilvering)

errors: No known data errors
";

    #[test]
    fn argv_is_exact() {
        assert_eq!(
            zpool_status_argv(&["fxa".parse().unwrap()]).argv(),
            ["zpool", "status", "-P", "-p", "fxa"]
        );
    }

    #[test]
    fn parses_two_pools_with_sections() {
        let pools = parse_zpool_status(TWO_POOLS).unwrap();
        assert_eq!(pools.len(), 2);
        let a = &pools[0];
        assert_eq!(a.name.as_str(), "fxa");
        assert_eq!(a.state, Health::Degraded);
        assert!(
            a.status
                .as_deref()
                .unwrap()
                .ends_with("functioning in a degraded state.")
        );
        assert_eq!(a.status.as_deref().unwrap().lines().count(), 3);
        assert_eq!(
            a.see.as_deref(),
            Some("https://openzfs.github.io/openzfs-docs/msg/ZFS-8000-4J")
        );
        assert!(a.scan.as_deref().unwrap().starts_with("resilvered 1.50M"));
        let names: Vec<&str> = a.config.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["fxa", "logs", "cache", "spares"]);
        let mirror = &a.config[0].children[0];
        assert_eq!((mirror.name.as_str(), mirror.depth), ("mirror-0", 1));
        assert_eq!(mirror.children.len(), 2);
        assert_eq!(mirror.children[1].state, Some(Health::Unavail));
        assert_eq!(
            mirror.children[1].note.as_deref(),
            Some("was /var/tmp/fx/a1")
        );
        assert!(a.config[1].is_section());
        let spares = &a.config[3].children;
        assert_eq!(spares[0].state, Some(Health::Other("AVAIL".into())));
        assert_eq!(spares[0].counters, None);
        assert_eq!(spares[1].note.as_deref(), Some("currently in use"));
        assert_eq!(a.errors, Some(DataErrors::Count(3)));
        assert_eq!(a.vdevs().len(), 11);

        let b = &pools[1];
        assert_eq!(b.state, Health::Online);
        assert_eq!(b.status, None);
        let disks = &b.config[0].children[0].children;
        assert_eq!(
            disks[0].counters,
            Some(ErrorCounters {
                read: 0,
                write: 0,
                cksum: 2
            })
        );
        assert_eq!(disks[1].counters.unwrap().read, 1536);
        assert_eq!(disks[1].note.as_deref(), Some("(resilvering)"));
        assert_eq!(b.errors, Some(DataErrors::None));
    }

    #[test]
    fn multi_line_scan_and_unknown_keys() {
        let text = "  pool: p\n state: ONLINE\n  scan: scrub in progress since Sun\n\t1G / 2G scanned\n\t0B repaired, 50.00% done\nexpand: expanded raidz1-0 copied 1G in 00:01:00\nconfig:\n\n\tNAME STATE READ WRITE CKSUM\n\tp ONLINE 0 0 0\n\nerrors: No known data errors\n";
        let p = &parse_zpool_status(text).unwrap()[0];
        assert_eq!(p.scan.as_deref().unwrap().lines().count(), 3);
        assert_eq!(p.other["expand"], "expanded raidz1-0 copied 1G in 00:01:00");
    }

    #[test]
    fn errors_have_line_numbers() {
        assert_eq!(parse_zpool_status("no pools available\n").unwrap(), vec![]);
        let err = parse_zpool_status(" state: ONLINE\n").unwrap_err();
        assert_eq!(
            err,
            ParseError::Syntax {
                line: 1,
                message: "'state:' before any 'pool:' line".into()
            }
        );
        let err = parse_zpool_status(
            "  pool: p\n state: ONLINE\nconfig:\n\n\tNAME STATE\n\tp ONLINE x y z\n",
        )
        .unwrap_err();
        assert!(matches!(err, ParseError::Syntax { line: 6, .. }), "{err}");
        let err = parse_zpool_status("  pool: p\nconfig:\n").unwrap_err();
        assert!(matches!(err, ParseError::Syntax { line: 1, .. }), "{err}");
    }
}
