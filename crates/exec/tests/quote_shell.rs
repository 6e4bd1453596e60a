//! shell_join verified against real shells: whatever we quote, the shell hands back unchanged.

#![allow(clippy::unwrap_used)] // test helpers: a panic is the failure report

use proptest::prelude::*;
use zferry_exec::{CommandSpec, Executor, LocalExecutor, shell_join};

/// Shells we check against (dash as /bin/sh, plus bash when installed).
fn shells() -> Vec<&'static str> {
    ["/bin/sh", "/bin/bash"]
        .into_iter()
        .filter(|s| std::path::Path::new(s).exists())
        .collect()
}

/// Runs `printf '%s\0' args...` through `shell -c` and splits the NUL-terminated output.
fn roundtrip(shell: &str, args: &[String]) -> Vec<String> {
    let mut command = vec!["printf".to_owned(), "%s\\0".to_owned()];
    command.extend(args.iter().cloned());
    let script = shell_join(&command).unwrap();
    let out = LocalExecutor::with_host("test")
        .run(&CommandSpec::new(shell).args(["-c", script.as_str()]))
        .unwrap()
        .check()
        .unwrap();
    let mut words: Vec<String> = out
        .stdout
        .split(|&b| b == 0)
        .map(|w| String::from_utf8(w.to_vec()).unwrap())
        .collect();
    assert_eq!(
        words.pop().as_deref(),
        Some(""),
        "output not NUL-terminated"
    );
    words
}

#[test]
fn tricky_table_roundtrips() {
    let args: Vec<String> = [
        "",
        "plain",
        "with space",
        "  lead and trail  ",
        "it's",
        "''",
        "\"double\"",
        "$(touch /tmp/zferry-pwned)",
        "`id`",
        "${HOME}",
        "a;b",
        "a&&b",
        "a|b",
        "line\nbreak",
        "tab\there",
        "*",
        "?[a-z]",
        "~",
        "~root/x",
        "-n",
        "--",
        "#comment",
        "back\\slash\\",
        "ünïcødé ✓",
        "FOO=bar",
        "{a,b}",
        "!event",
        "%s%d",
        "\u{1}\u{7f}",
    ]
    .map(str::to_owned)
    .to_vec();
    for shell in shells() {
        assert_eq!(roundtrip(shell, &args), args, "shell {shell}");
    }
}

#[test]
fn assignment_like_first_word_is_run_as_a_command() {
    // Unquoted, `FOO=1` would be a (successful) variable assignment; quoted it is a
    // command name that does not exist.
    let script = shell_join(&["FOO=1"]).unwrap();
    let out = LocalExecutor::with_host("test")
        .run(&CommandSpec::new("/bin/sh").args(["-c", script.as_str()]))
        .unwrap();
    assert_eq!(out.status.code, Some(127), "stderr: {}", out.stderr);
}

fn arg_strategy() -> impl Strategy<Value = String> {
    prop_oneof![
        "[^\u{0}]{0,24}",
        "[ '\"$`\\\\;&|<>(){}*?\\[\\]~#=!%\n\ta-z-]{0,16}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn arbitrary_args_roundtrip_through_sh(args in prop::collection::vec(arg_strategy(), 1..6)) {
        for shell in shells() {
            prop_assert_eq!(roundtrip(shell, &args), args.clone(), "shell {}", shell);
        }
    }
}
