//! The inverse of `zferry_exec::shell_join`: turn the command line ssh hands to the forced
//! command (`SSH_ORIGINAL_COMMAND`) back into the argv the client quoted.
//!
//! Only the exact output of `shell_join` is accepted: words separated by single spaces, each
//! either a bare word of safe characters or a single-quoted word whose embedded `'` is written
//! `'\''`. Every decoded word is quoted again with `shell_quote` and must reproduce its input,
//! so non-canonical spellings (`'zfs'`, a bare `A=b`) are refused too. Nothing here is ever
//! given to a shell; a refusal just means "not something zferry would have sent".
//!
//! Control characters (newline, tab, CR, …) are refused even inside quotes: `shell_join`
//! would quote them, but no command zferry sends contains one, and a newline is the classic
//! way to smuggle a second command past a line-based check.

use zferry_exec::shell_quote;

/// Why a command line is not the output of `shell_join`. Positions are byte offsets.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnquoteError {
    #[error("control character {ch:?} at byte {pos}")]
    ControlChar { ch: char, pos: usize },
    #[error("unquoted {ch:?} at byte {pos} (shell metacharacters are only accepted quoted)")]
    Metachar { ch: char, pos: usize },
    #[error("unterminated single quote opened at byte {pos}")]
    Unterminated { pos: usize },
    #[error("{ch:?} right after the closing quote at byte {pos}")]
    AfterQuote { ch: char, pos: usize },
    #[error("empty word at byte {pos} (words are separated by exactly one space)")]
    EmptyWord { pos: usize },
    #[error("word {word:?} at byte {pos} is not quoted the way zferry quotes it")]
    NotCanonical { word: String, pos: usize },
}

/// Bytes `shell_quote` leaves bare (kept in step with `zferry_exec::quote`; the canonical
/// re-quote check below would catch any drift).
fn is_safe_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"_@%+=:,./-".contains(&b)
}

/// Splits `line` into the argv `shell_join` was given. `""` is the empty argv.
pub fn unquote(line: &str) -> Result<Vec<String>, UnquoteError> {
    if let Some((pos, ch)) = line.char_indices().find(|(_, c)| c.is_control()) {
        return Err(UnquoteError::ControlChar { ch, pos });
    }
    let mut argv = Vec::new();
    if line.is_empty() {
        return Ok(argv);
    }
    let mut pos = 0;
    loop {
        let (word, end) = if line[pos..].starts_with('\'') {
            quoted_word(line, pos)?
        } else {
            bare_word(line, pos)?
        };
        let canonical = shell_quote(&word).ok();
        if canonical.as_deref() != Some(&line[pos..end]) {
            return Err(UnquoteError::NotCanonical { word, pos });
        }
        argv.push(word);
        if end == line.len() {
            return Ok(argv);
        }
        // `end` is at a space (the word parsers stop only there or at the end).
        pos = end + 1;
        if pos == line.len() {
            return Err(UnquoteError::EmptyWord { pos });
        }
    }
}

/// A bare word starting at `pos`: safe bytes up to the next space or the end.
fn bare_word(line: &str, pos: usize) -> Result<(String, usize), UnquoteError> {
    let end = line[pos..].find(' ').map_or(line.len(), |i| pos + i);
    if end == pos {
        return Err(UnquoteError::EmptyWord { pos });
    }
    let word = &line[pos..end];
    if let Some((i, ch)) = word.char_indices().find(|&(_, c)| {
        let mut buf = [0; 4];
        let encoded = c.encode_utf8(&mut buf);
        encoded.len() != 1 || !is_safe_byte(encoded.as_bytes()[0])
    }) {
        return Err(UnquoteError::Metachar { ch, pos: pos + i });
    }
    Ok((word.to_owned(), end))
}

/// A single-quoted word starting at `pos` (which holds the opening `'`).
fn quoted_word(line: &str, pos: usize) -> Result<(String, usize), UnquoteError> {
    let mut word = String::new();
    let mut i = pos + 1;
    loop {
        let q = line[i..]
            .find('\'')
            .map(|off| i + off)
            .ok_or(UnquoteError::Unterminated { pos })?;
        word.push_str(&line[i..q]);
        if line[q..].starts_with("'\\''") {
            word.push('\'');
            i = q + 4;
            continue;
        }
        let end = q + 1;
        match line[end..].chars().next() {
            None | Some(' ') => return Ok((word, end)),
            Some(ch) => return Err(UnquoteError::AfterQuote { ch, pos: end }),
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use zferry_exec::shell_join;

    use super::*;

    fn words(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn accepted() {
        let cases: &[(&str, &[&str])] = &[
            ("", &[]),
            ("''", &[""]),
            ("zfs list -H tank/a", &["zfs", "list", "-H", "tank/a"]),
            ("zfs 'tank/my data'", &["zfs", "tank/my data"]),
            ("'it'\\''s'", &["it's"]),
            ("''\\'''", &["'"]),
            ("''\\'''\\'''", &["''"]),
            ("'a;b' '$(x)'", &["a;b", "$(x)"]),
            ("'compression=lz4'", &["compression=lz4"]),
            ("--foo=bar", &["--foo=bar"]),
            ("'\\'", &["\\"]),
            ("'ünï'", &["ünï"]),
        ];
        for (line, want) in cases {
            assert_eq!(unquote(line).unwrap(), words(want), "line {line:?}");
        }
    }

    #[test]
    fn refused() {
        use UnquoteError as E;
        let cases: &[(&str, UnquoteError)] = &[
            ("zfs list; reboot", E::Metachar { ch: ';', pos: 8 }),
            ("zfs|sh", E::Metachar { ch: '|', pos: 3 }),
            ("a&b", E::Metachar { ch: '&', pos: 1 }),
            ("$HOME", E::Metachar { ch: '$', pos: 0 }),
            ("`id`", E::Metachar { ch: '`', pos: 0 }),
            ("x(y)", E::Metachar { ch: '(', pos: 1 }),
            ("a>b", E::Metachar { ch: '>', pos: 1 }),
            ("a<b", E::Metachar { ch: '<', pos: 1 }),
            ("*", E::Metachar { ch: '*', pos: 0 }),
            ("\"dq\"", E::Metachar { ch: '"', pos: 0 }),
            ("a\\b", E::Metachar { ch: '\\', pos: 1 }),
            ("ünï", E::Metachar { ch: 'ü', pos: 0 }),
            ("zfs\nreboot", E::ControlChar { ch: '\n', pos: 3 }),
            ("'a\nb'", E::ControlChar { ch: '\n', pos: 2 }),
            ("zfs\tlist", E::ControlChar { ch: '\t', pos: 3 }),
            ("zfs  list", E::EmptyWord { pos: 4 }),
            (" zfs", E::EmptyWord { pos: 0 }),
            ("zfs ", E::EmptyWord { pos: 4 }),
            ("'abc", E::Unterminated { pos: 0 }),
            ("zfs 'a'\\''b", E::Unterminated { pos: 4 }),
            ("'a'\\'", E::AfterQuote { ch: '\\', pos: 3 }),
            ("'a'b", E::AfterQuote { ch: 'b', pos: 3 }),
            ("'a''b'", E::AfterQuote { ch: '\'', pos: 3 }),
            ("'a'\"b\"", E::AfterQuote { ch: '"', pos: 3 }),
            (
                "'zfs'",
                E::NotCanonical {
                    word: "zfs".into(),
                    pos: 0,
                },
            ),
            (
                "A=b",
                E::NotCanonical {
                    word: "A=b".into(),
                    pos: 0,
                },
            ),
        ];
        for (line, want) in cases {
            assert_eq!(&unquote(line).unwrap_err(), want, "line {line:?}");
        }
    }

    /// Words made of characters a shell cares about, plus plain ones.
    fn hostile_word() -> impl Strategy<Value = String> {
        prop::collection::vec(
            prop::sample::select(vec![
                'a', 'Z', '0', '_', '-', '=', '@', '/', '.', ' ', '\'', '\\', '"', ';', '|', '&',
                '$', '`', '(', ')', '<', '>', '*', '?', '[', '#', '~', '\n', '\t', 'é',
            ]),
            0..8,
        )
        .prop_map(|chars| chars.into_iter().collect())
    }

    proptest! {
        #[test]
        fn unquote_inverts_shell_join(argv in prop::collection::vec("[^\\p{Cc}]*", 0..6)) {
            let line = shell_join(&argv).unwrap();
            prop_assert_eq!(unquote(&line).unwrap(), argv);
        }

        #[test]
        fn round_trips_hostile_words(argv in prop::collection::vec(hostile_word(), 0..6)) {
            let line = shell_join(&argv).unwrap();
            let has_control = argv.iter().any(|w| w.chars().any(char::is_control));
            match unquote(&line) {
                Ok(back) => {
                    prop_assert!(!has_control);
                    prop_assert_eq!(back, argv);
                }
                Err(e) => prop_assert!(has_control, "{line:?}: {e}"),
            }
        }

        /// Whatever is accepted is exactly what `shell_join` makes of the result: no other
        /// spelling (and so no shell trick) ever decodes.
        #[test]
        fn accepts_only_shell_join_output(line in prop::collection::vec(hostile_word(), 0..4)
            .prop_map(|parts| parts.concat()))
        {
            if let Ok(argv) = unquote(&line) {
                prop_assert_eq!(shell_join(&argv).unwrap(), line);
            }
        }
    }
}
