//! Errors that point into the config file: path, 1-based line and column, message and hint.
//!
//! Both the TOML/serde layer (byte spans from `toml::de::Error`) and the semantic checks
//! (`toml::Spanned` values) end up here, so every problem reads the same way:
//! `path:line:col: message` followed by an indented `hint:` line.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// Separator a value parser uses to attach a hint to a serde error message.
pub(crate) const HINT_SEP: &str = "\n  hint: ";

/// One problem at one place in the config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub path: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, counted in characters.
    pub column: usize,
    pub message: String,
    pub hint: Option<String>,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.path.display(),
            self.line,
            self.column,
            self.message
        )?;
        if let Some(hint) = &self.hint {
            write!(f, "{HINT_SEP}{hint}")?;
        }
        Ok(())
    }
}

/// Everything that can go wrong while loading a config.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read (missing, unreadable, not UTF-8).
    #[error("{}: cannot read config file: {source}{HINT_SEP}{hint}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
        hint: String,
    },
    /// The text is not valid TOML or does not match the schema.
    #[error("{0}")]
    Parse(Box<Diagnostic>),
    /// The config parsed but is inconsistent; every problem found is listed.
    #[error("{}", join(.0))]
    Invalid(Vec<Diagnostic>),
}

impl ConfigError {
    /// The located problems (empty for [`ConfigError::Read`]).
    pub fn diagnostics(&self) -> &[Diagnostic] {
        match self {
            ConfigError::Read { .. } => &[],
            ConfigError::Parse(d) => std::slice::from_ref(d),
            ConfigError::Invalid(ds) => ds,
        }
    }
}

fn join(ds: &[Diagnostic]) -> String {
    ds.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

/// The text a config came from, to turn byte offsets into line and column.
#[derive(Debug, Clone, Default)]
pub(crate) struct Origin {
    pub path: PathBuf,
    pub text: String,
}

impl Origin {
    pub fn new(path: &Path, text: &str) -> Self {
        Self {
            path: path.to_owned(),
            text: text.to_owned(),
        }
    }

    /// 1-based (line, column) of byte `offset`; column counts characters.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &self.text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        (line, before[line_start..].chars().count() + 1)
    }

    pub fn diagnostic(
        &self,
        span: &Range<usize>,
        message: String,
        hint: Option<String>,
    ) -> Diagnostic {
        let (line, column) = self.line_col(span.start);
        Diagnostic {
            path: self.path.clone(),
            line,
            column,
            message,
            hint,
        }
    }

    /// The header on the line holding byte `offset`, if that line is a `[table]` header.
    /// Also returns the byte column of `offset` within the header.
    pub fn header_line_at(&self, offset: usize) -> Option<(&str, usize)> {
        let offset = offset.min(self.text.len());
        let start = self.text[..offset].rfind('\n').map_or(0, |i| i + 1);
        let line = self.text[start..].lines().next().unwrap_or_default();
        let indent = line.len() - line.trim_start().len();
        let head = strip_comment(line).trim();
        is_header(head).then_some((head, (offset - start).saturating_sub(indent)))
    }

    /// The `[table]` header in force at byte `offset`, for messages; `top level` if none.
    pub fn section_at(&self, offset: usize) -> String {
        // Include the whole line holding `offset`: errors about a table point at its header.
        let end = self.text[offset.min(self.text.len())..]
            .find('\n')
            .map_or(self.text.len(), |i| offset + i);
        self.text[..end]
            .lines()
            .rev()
            .map(str::trim)
            .find(|l| is_header(l))
            .map_or_else(
                || "top level".to_owned(),
                |l| strip_comment(l).trim().to_owned(),
            )
    }
}

/// The table owning a key named in a header: the header's keys before `key_col` (0-based
/// byte column of the key within the header line), e.g. `[a.b]` for `zz` in `[a.b.zz]`.
fn parent_table(header: &str, key_col: usize) -> String {
    let prefix = header.get(..key_col).unwrap_or_default();
    let prefix = prefix
        .trim_start_matches('[')
        .trim()
        .trim_end_matches('.')
        .trim();
    if prefix.is_empty() {
        "top level".to_owned()
    } else {
        format!("[{prefix}]")
    }
}

fn strip_comment(line: &str) -> &str {
    line.split_once('#').map_or(line, |(head, _)| head)
}

fn is_header(line: &str) -> bool {
    let head = strip_comment(line).trim_end();
    head.starts_with('[') && head.ends_with(']') && !head.contains('=')
}

/// Edit distance over characters (insert, delete, substitute, swap two neighbours).
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

/// The closest of `candidates` to `word` (all of them on a tie), if close enough to be a
/// plausible typo.
pub(crate) fn suggest<'a, I>(word: &str, candidates: I) -> Vec<&'a str>
where
    I: IntoIterator<Item = &'a str>,
{
    let limit = (word.chars().count() / 3).max(1);
    let scored: Vec<(usize, &str)> = candidates
        .into_iter()
        .map(|c| (edit_distance(word, c), c))
        .filter(|(d, _)| *d <= limit)
        .collect();
    let best = scored.iter().map(|(d, _)| *d).min();
    scored
        .into_iter()
        .filter(|(d, _)| Some(*d) == best)
        .map(|(_, c)| c)
        .collect()
}

/// "did you mean `x`?" when a candidate is close, else `fallback`.
pub(crate) fn did_you_mean<'a, I>(word: &str, candidates: I, fallback: &str) -> String
where
    I: IntoIterator<Item = &'a str>,
{
    let close = suggest(word, candidates);
    if close.is_empty() {
        return fallback.to_owned();
    }
    let quoted: Vec<String> = close.iter().map(|c| format!("`{c}`")).collect();
    format!("did you mean {}?", quoted.join(" or "))
}

/// Turns a `toml` deserialization error into a located, friendlier diagnostic.
pub(crate) fn from_toml(err: &toml::de::Error, origin: &Origin) -> Diagnostic {
    let span = err.span().unwrap_or(0..0);
    let raw = err.message().trim();
    let section = match origin.header_line_at(span.start) {
        // The unknown key is a table name: it belongs to the parent table.
        Some((header, col)) if raw.starts_with("unknown field") => parent_table(header, col),
        _ => origin.section_at(span.start),
    };
    let (message, hint) = match raw.split_once(HINT_SEP) {
        Some((m, h)) => (m.to_owned(), Some(h.to_owned())),
        None => humanize(raw, &section),
    };
    origin.diagnostic(&span, message, hint)
}

/// Names between backticks after `expected`, as serde lists them.
fn expected_names(msg: &str) -> Vec<&str> {
    let Some((_, tail)) = msg.split_once("expected") else {
        return Vec::new();
    };
    tail.split('`').skip(1).step_by(2).collect()
}

fn first_quoted(msg: &str) -> &str {
    msg.split('`').nth(1).unwrap_or_default()
}

fn humanize(raw: &str, section: &str) -> (String, Option<String>) {
    for (prefix, what) in [("unknown field", "field"), ("unknown variant", "value")] {
        if raw.starts_with(prefix) {
            let word = first_quoted(raw);
            let names = expected_names(raw);
            let message = if names.is_empty() {
                format!("unknown {what} `{word}` in {section}; no {what}s are allowed here")
            } else {
                format!(
                    "unknown {what} `{word}` in {section}; expected one of {}",
                    names.join(", ")
                )
            };
            let hint = did_you_mean(
                word,
                names.iter().copied(),
                "check the spelling against samples/full.toml",
            );
            return (message, Some(hint));
        }
    }
    if raw.starts_with("missing field") {
        let field = first_quoted(raw);
        return (
            format!("missing required key `{field}` in {section}"),
            Some(format!(
                "add `{field} = ...`; samples/full.toml documents every key"
            )),
        );
    }
    if raw.starts_with("invalid value") {
        return (
            format!("{raw} in {section}"),
            Some("the value has the right type but is out of range; see samples/full.toml".into()),
        );
    }
    if raw.starts_with("invalid type") {
        return (
            format!("{raw} in {section}"),
            Some("check the value's type: strings need quotes, numbers and booleans do not".into()),
        );
    }
    (raw.to_owned(), None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance_counts_edits() {
        assert_eq!(edit_distance("hourlly", "hourly"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("dialy", "daily"), 1);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("same", "same"), 0);
    }

    #[test]
    fn suggestion_picks_closest_plausible() {
        let names = ["frequently", "hourly", "daily"];
        assert_eq!(suggest("hourlly", names), ["hourly"]);
        assert_eq!(suggest("dialy", names), ["daily"]);
        assert!(suggest("xyz", names).is_empty());
        assert_eq!(
            did_you_mean("pve3", ["pve1", "pve2", "offsite"], "-"),
            "did you mean `pve1` or `pve2`?"
        );
        assert_eq!(did_you_mean("zzz", ["pve1"], "none"), "none");
    }

    #[test]
    fn line_col_is_one_based_and_counts_chars() {
        let o = Origin::new(Path::new("f"), "a = 1\nné = 2\n");
        assert_eq!(o.line_col(0), (1, 1));
        assert_eq!(o.line_col(6), (2, 1));
        assert_eq!(o.line_col(9), (2, 3));
    }

    #[test]
    fn section_is_last_header_before_offset() {
        let text = "top = 1\n[global]\nx = 1\n[templates.a] # c\ny = [\n 1 ]\n";
        let o = Origin::new(Path::new("f"), text);
        assert_eq!(o.section_at(0), "top level");
        assert_eq!(o.section_at(8), "[global]");
        assert_eq!(o.section_at(18), "[global]");
        assert_eq!(o.section_at(text.len() - 2), "[templates.a]");
    }

    #[test]
    fn parent_of_a_header() {
        assert_eq!(parent_table("[globl]", 1), "top level");
        assert_eq!(parent_table("[templats.p]", 1), "top level");
        assert_eq!(parent_table("[templates.p.monitr]", 13), "[templates.p]");
        assert_eq!(
            parent_table("[datasets.\"a/b.c\".montor]", 18),
            "[datasets.\"a/b.c\"]"
        );
        let o = Origin::new(Path::new("f"), "[globl]\nx = 1\n");
        assert_eq!(o.header_line_at(1), Some(("[globl]", 1)));
        assert_eq!(o.header_line_at(9), None);
    }

    #[test]
    fn unknown_field_is_rewritten_with_suggestion() {
        let (m, h) = humanize(
            "unknown field `hourlly`, expected one of `frequently`, `hourly`",
            "[templates.p]",
        );
        assert_eq!(
            m,
            "unknown field `hourlly` in [templates.p]; expected one of frequently, hourly"
        );
        assert_eq!(h.as_deref(), Some("did you mean `hourly`?"));
    }
}
