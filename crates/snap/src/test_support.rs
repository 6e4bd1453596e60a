//! Test support shared by the unit tests: a scripted executor fed with captured outputs.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use zferry_exec::{CommandSpec, ExecError, Executor, ExitStatusLike, Output};

/// A command as seen: argv and stdin.
pub(crate) type Seen = (Vec<String>, Option<Vec<u8>>);

/// Answers commands in order with canned (exit code, stdout, stderr); records argv and stdin.
#[derive(Debug, Default)]
pub(crate) struct Scripted {
    answers: Mutex<VecDeque<(i32, String, String)>>,
    pub(crate) seen: Mutex<Vec<Seen>>,
}

impl Scripted {
    pub(crate) fn new(answers: &[(i32, &str, &str)]) -> Self {
        Self {
            answers: Mutex::new(
                answers
                    .iter()
                    .map(|(c, o, e)| (*c, (*o).to_owned(), (*e).to_owned()))
                    .collect(),
            ),
            seen: Mutex::default(),
        }
    }
    pub(crate) fn argvs(&self) -> Vec<Vec<String>> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .map(|(a, _)| a.clone())
            .collect()
    }
}

impl Executor for Scripted {
    fn host(&self) -> &'static str {
        "lab"
    }
    fn run(&self, cmd: &CommandSpec) -> Result<Output, ExecError> {
        self.seen
            .lock()
            .unwrap()
            .push((cmd.argv(), cmd.stdin.clone()));
        let (code, stdout, stderr) = self
            .answers
            .lock()
            .unwrap()
            .pop_front()
            .expect("more commands than scripted answers");
        Ok(Output {
            status: ExitStatusLike::from_code(code),
            stdout: stdout.into_bytes(),
            stderr,
            duration: Duration::ZERO,
            host: "lab".into(),
            argv: cmd.argv(),
        })
    }
}

/// A captured fixture's output part (no `#` header lines).
pub(crate) fn fixture(text: &str) -> String {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n")
}
