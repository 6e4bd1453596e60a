//! Which source snapshots a job wants on its targets.
//!
//! A filter is a list of glob patterns over the snapshot's short name (`*` any run, `?` one
//! character); no patterns means every snapshot. A prefix is the pattern `prefix*`. Snapshots
//! the filter excludes are never transferred, which is why the planner falls back from one
//! `-I` range to per-snapshot `-i` steps around them.

use std::fmt;
use std::str::FromStr;

/// A glob over snapshot short names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    #[error("empty snapshot name pattern")]
    Empty,
    #[error("snapshot name pattern {0:?} contains a character not allowed in snapshot names")]
    BadChar(String),
}

impl FromStr for Pattern {
    type Err = FilterError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty() {
            return Err(FilterError::Empty);
        }
        let ok = |c: char| c.is_ascii_alphanumeric() || "-_.:* ?".contains(c);
        if !s.chars().all(ok) {
            return Err(FilterError::BadChar(s.to_owned()));
        }
        Ok(Self(s.to_owned()))
    }
}

impl Pattern {
    /// Classic wildcard match, linear backtracking on the last `*`.
    pub fn matches(&self, name: &str) -> bool {
        let (p, n): (Vec<char>, Vec<char>) = (self.0.chars().collect(), name.chars().collect());
        let (mut pi, mut ni) = (0, 0);
        let mut star: Option<(usize, usize)> = None;
        while ni < n.len() {
            if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
                pi += 1;
                ni += 1;
            } else if pi < p.len() && p[pi] == '*' {
                star = Some((pi, ni));
                pi += 1;
            } else if let Some((sp, sn)) = star {
                pi = sp + 1;
                ni = sn + 1;
                star = Some((sp, sn + 1));
            } else {
                return false;
            }
        }
        p[pi..].iter().all(|&c| c == '*')
    }
}

/// The set of snapshots a job replicates.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SnapshotFilter {
    patterns: Vec<Pattern>,
}

impl SnapshotFilter {
    /// Every snapshot.
    pub fn all() -> Self {
        Self::default()
    }

    /// Snapshots whose name matches at least one of `patterns`.
    pub fn globs<I, S>(patterns: I) -> Result<Self, FilterError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let patterns = patterns
            .into_iter()
            .map(|p| p.as_ref().parse())
            .collect::<Result<_, _>>()?;
        Ok(Self { patterns })
    }

    pub fn is_all(&self) -> bool {
        self.patterns.is_empty()
    }

    pub fn matches(&self, short_name: &str) -> bool {
        self.is_all() || self.patterns.iter().any(|p| p.matches(short_name))
    }
}

impl fmt::Display for SnapshotFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_all() {
            return f.write_str("all snapshots");
        }
        f.write_str("snapshots matching ")?;
        for (i, p) in self.patterns.iter().enumerate() {
            if i > 0 {
                f.write_str(" or ")?;
            }
            write!(f, "{:?}", p.0)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, n: &str) -> bool {
        p.parse::<Pattern>().expect("valid pattern").matches(n)
    }

    #[test]
    fn globs() {
        assert!(m("autosnap_*_daily", "autosnap_2024-01-01_00:00:00_daily"));
        assert!(!m(
            "autosnap_*_daily",
            "autosnap_2024-01-01_00:00:00_hourly"
        ));
        assert!(m("zferry_*", "zferry_x"));
        assert!(!m("zferry_*", "zferryx"));
        assert!(m("a?c", "abc"));
        assert!(!m("a?c", "ac"));
        assert!(m("*", ""));
        assert!(m("a*b*c", "aXbYbZc"));
        assert!(!m("a*b*c", "aXbYbZ"));
    }

    #[test]
    fn rejects_bad_patterns() {
        assert_eq!("".parse::<Pattern>(), Err(FilterError::Empty));
        assert!(matches!(
            "a/b".parse::<Pattern>(),
            Err(FilterError::BadChar(_))
        ));
        assert!(matches!(
            "a@b".parse::<Pattern>(),
            Err(FilterError::BadChar(_))
        ));
    }

    #[test]
    fn empty_filter_is_all() {
        let f = SnapshotFilter::all();
        assert!(f.matches("anything"));
        assert_eq!(f.to_string(), "all snapshots");
        let f = SnapshotFilter::globs(["d*", "w*"]).expect("valid");
        assert!(f.matches("daily") && f.matches("weekly") && !f.matches("hourly"));
        assert_eq!(f.to_string(), "snapshots matching \"d*\" or \"w*\"");
    }
}
