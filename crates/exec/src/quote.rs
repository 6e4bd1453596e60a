//! POSIX `sh` quoting: the one tested way to turn an argv into a remote command line.
//!
//! ssh hands its command to the remote user's shell as a single string, so every word
//! must survive that shell unchanged. Words made only of safe characters stay bare;
//! everything else is single-quoted, with embedded `'` written as `'\''`. NUL cannot be
//! represented in a shell word at all and is rejected.

/// An argument that cannot be passed through a shell (it contains NUL).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("argument contains a NUL byte and cannot be passed through a shell: {arg:?}")]
pub struct QuoteError {
    /// The offending argument.
    pub arg: String,
}

fn is_safe_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"_@%+=:,./-".contains(&b)
}

/// `NAME=...` is an assignment when it is the first word, so such words are always quoted.
fn looks_like_assignment(arg: &str) -> bool {
    arg.split_once('=').is_some_and(|(name, _)| {
        let mut chars = name.chars();
        chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
    })
}

/// Quotes one word for POSIX `sh`; safe words are returned unchanged, `""` becomes `''`.
pub fn shell_quote(arg: &str) -> Result<String, QuoteError> {
    if arg.contains('\0') {
        return Err(QuoteError {
            arg: arg.to_owned(),
        });
    }
    if !arg.is_empty() && arg.bytes().all(is_safe_byte) && !looks_like_assignment(arg) {
        return Ok(arg.to_owned());
    }
    let mut quoted = String::with_capacity(arg.len() + 2);
    quoted.push('\'');
    for c in arg.chars() {
        if c == '\'' {
            quoted.push_str("'\\''");
        } else {
            quoted.push(c);
        }
    }
    quoted.push('\'');
    Ok(quoted)
}

/// Quotes every word and joins them with single spaces.
pub fn shell_join<S: AsRef<str>>(argv: &[S]) -> Result<String, QuoteError> {
    let words = argv
        .iter()
        .map(|arg| shell_quote(arg.as_ref()))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(words.join(" "))
}

/// Quoted argv for messages and logs; a NUL is shown as `\0` instead of failing.
pub(crate) fn display_argv(argv: &[String]) -> String {
    let words: Vec<String> = argv
        .iter()
        .map(|arg| {
            shell_quote(arg)
                .unwrap_or_else(|_| shell_quote(&arg.replace('\0', "\\0")).unwrap_or_default())
        })
        .collect();
    words.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        let cases: &[(&str, &str)] = &[
            ("", "''"),
            ("zfs", "zfs"),
            ("tank/data@snap-2024_01:00", "tank/data@snap-2024_01:00"),
            ("a,b.c+d%e", "a,b.c+d%e"),
            ("-r", "-r"),
            ("--foo=bar", "--foo=bar"),
            ("com.sun:auto-snapshot=true", "com.sun:auto-snapshot=true"),
            ("compression=lz4", "'compression=lz4'"),
            ("_X1=", "'_X1='"),
            ("with space", "'with space'"),
            ("it's", "'it'\\''s'"),
            ("'", "''\\'''"),
            ("\"dq\"", "'\"dq\"'"),
            ("$(reboot)", "'$(reboot)'"),
            ("`id`", "'`id`'"),
            ("$HOME", "'$HOME'"),
            ("a;b", "'a;b'"),
            ("a&b", "'a&b'"),
            ("a|b", "'a|b'"),
            ("a\nb", "'a\nb'"),
            ("*", "'*'"),
            ("a?[b]", "'a?[b]'"),
            ("~root", "'~root'"),
            ("#c", "'#c'"),
            ("back\\slash", "'back\\slash'"),
            ("ünïcødé", "'ünïcødé'"),
            ("{a,b}", "'{a,b}'"),
            ("a>b<c", "'a>b<c'"),
        ];
        for (input, want) in cases {
            assert_eq!(&shell_quote(input).unwrap(), want, "input {input:?}");
        }
    }

    #[test]
    fn join_quotes_each_word() {
        let joined = shell_join(&["zfs", "set", "compression=lz4", "tank/my data"]).unwrap();
        assert_eq!(joined, "zfs set 'compression=lz4' 'tank/my data'");
        assert_eq!(shell_join::<&str>(&[]).unwrap(), "");
    }

    #[test]
    fn nul_is_rejected() {
        let err = shell_quote("a\0b").unwrap_err();
        assert_eq!(err.arg, "a\0b");
        assert!(shell_join(&["ok", "a\0b"]).is_err());
    }

    #[test]
    fn display_argv_escapes_nul() {
        let argv = vec!["echo".to_owned(), "a\0b".to_owned()];
        assert_eq!(display_argv(&argv), "echo 'a\\0b'");
    }
}
