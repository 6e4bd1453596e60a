//! The error every output parser returns, plus small field helpers they share.
//!
//! A parse error names the 1-based line, the column (property) and the offending value, so a
//! surprise in real `zfs`/`zpool` output can be diagnosed from the error alone.

/// Why captured `zfs`/`zpool` output could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("line {line}: expected {expected} tab-separated fields, found {found}")]
    FieldCount {
        line: usize,
        expected: usize,
        found: usize,
    },
    #[error("line {line}, column {column}: invalid value {value:?}: {reason}")]
    BadValue {
        line: usize,
        column: String,
        value: String,
        reason: String,
    },
    #[error("line {line}: {message}")]
    Syntax { line: usize, message: String },
}

/// One tab-separated line of `-H` output, with its line number for error reporting.
pub(crate) struct Fields<'a> {
    pub line: usize,
    values: Vec<&'a str>,
    columns: &'a [&'a str],
}

impl<'a> Fields<'a> {
    /// Splits `text` (one line, no newline) into exactly `columns.len()` fields.
    pub fn split(line: usize, text: &'a str, columns: &'a [&'a str]) -> Result<Self, ParseError> {
        let fields: Vec<&str> = text.split('\t').collect();
        if fields.len() != columns.len() {
            return Err(ParseError::FieldCount {
                line,
                expected: columns.len(),
                found: fields.len(),
            });
        }
        Ok(Self {
            line,
            values: fields,
            columns,
        })
    }

    pub fn raw(&self, idx: usize) -> &'a str {
        self.values[idx]
    }

    pub fn bad(&self, idx: usize, reason: impl Into<String>) -> ParseError {
        ParseError::BadValue {
            line: self.line,
            column: self.columns[idx].to_owned(),
            value: self.values[idx].to_owned(),
            reason: reason.into(),
        }
    }

    /// Parses a field with `FromStr`, mapping the error into a `BadValue`.
    pub fn parse<T>(&self, idx: usize) -> Result<T, ParseError>
    where
        T: std::str::FromStr,
        T::Err: std::fmt::Display,
    {
        self.raw(idx)
            .parse()
            .map_err(|e: T::Err| self.bad(idx, e.to_string()))
    }

    /// `-` (not applicable / unset) becomes `None`, anything else must parse.
    pub fn parse_opt<T>(&self, idx: usize) -> Result<Option<T>, ParseError>
    where
        T: std::str::FromStr,
        T::Err: std::fmt::Display,
    {
        if self.raw(idx) == "-" {
            Ok(None)
        } else {
            self.parse(idx).map(Some)
        }
    }

    /// `-` becomes `None`, anything else is kept verbatim.
    pub fn text_opt(&self, idx: usize) -> Option<String> {
        let v = self.raw(idx);
        (v != "-").then(|| v.to_owned())
    }
}

/// Non-empty lines of `text` with 1-based line numbers; a trailing `\r` is dropped.
pub(crate) fn numbered_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.strip_suffix('\r').unwrap_or(l)))
        .filter(|(_, l)| !l.is_empty())
}
