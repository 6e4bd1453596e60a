//! Thin glue: run a builder's [`ZfsCommand`] through a `zferry_exec::Executor` and parse the
//! result. Everything interesting lives in the pure builders/parsers; this only wires them.

use zferry_exec::{CommandSpec, Executor};

use crate::command::ZfsCommand;
use crate::error::{CommandFailure, OutputError, ZfsError};
use crate::get::{PropertyValue, get_argv, parse_get};
use crate::list::{list_argv, parse_list};
use crate::name::{DatasetName, PoolName};
use crate::object::{ObjectName, ZfsObject};
use crate::parse::ParseError;
use crate::props::{ObjectType, PropertyName, UserPropName};
use crate::status::{PoolStatus, parse_zpool_status, zpool_status_argv};
use crate::zpool::{PoolInfo, parse_zpool_list, zpool_list_argv};

impl ZfsCommand {
    /// The executor's view of this command (default timeout and limits).
    pub fn to_spec(&self) -> CommandSpec {
        CommandSpec::new(self.program).args(self.args.iter().cloned())
    }
}

/// Runs `cmd`; a non-zero exit becomes a classified [`ZfsError::Command`]. Returns stdout.
pub fn run(exec: &dyn Executor, cmd: &ZfsCommand) -> Result<String, ZfsError> {
    let out = exec.run(&cmd.to_spec()).map_err(ZfsError::from)?;
    if let Some(failure) = CommandFailure::from_output(&out) {
        return Err(ZfsError::Command(Box::new(failure)));
    }
    Ok(out.stdout_lossy())
}

fn run_parse<T>(
    exec: &dyn Executor,
    cmd: &ZfsCommand,
    parse: impl FnOnce(&str) -> Result<T, ParseError>,
) -> Result<T, ZfsError> {
    let stdout = run(exec, cmd)?;
    parse(&stdout).map_err(|source| {
        ZfsError::Parse(Box::new(OutputError {
            host: exec.host().to_owned(),
            argv: cmd.argv(),
            source,
        }))
    })
}

/// `zfs list` of the given types under `roots` (all pools when empty).
pub fn list(
    exec: &dyn Executor,
    types: &[ObjectType],
    roots: &[DatasetName],
    recursive: bool,
    user_props: &[UserPropName],
) -> Result<Vec<ZfsObject>, ZfsError> {
    let cmd = list_argv(types, roots, recursive, user_props);
    run_parse(exec, &cmd, |s| parse_list(s, user_props))
}

/// Every filesystem, volume, snapshot and bookmark under `roots`, recursively.
pub fn list_all(
    exec: &dyn Executor,
    roots: &[DatasetName],
    user_props: &[UserPropName],
) -> Result<Vec<ZfsObject>, ZfsError> {
    list(exec, &ObjectType::ALL, roots, true, user_props)
}

/// `zfs get` of `props` on `targets`.
pub fn get(
    exec: &dyn Executor,
    props: &[PropertyName],
    targets: &[ObjectName],
) -> Result<Vec<PropertyValue>, ZfsError> {
    run_parse(exec, &get_argv(props, targets), parse_get)
}

/// `zpool list` of `pools` (all when empty).
pub fn zpool_list(exec: &dyn Executor, pools: &[PoolName]) -> Result<Vec<PoolInfo>, ZfsError> {
    run_parse(exec, &zpool_list_argv(pools), parse_zpool_list)
}

/// `zpool status -P -p` of `pools` (all when empty).
pub fn zpool_status(exec: &dyn Executor, pools: &[PoolName]) -> Result<Vec<PoolStatus>, ZfsError> {
    run_parse(exec, &zpool_status_argv(pools), parse_zpool_status)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use zferry_exec::{ExecError, ExitStatusLike, Output};

    use super::*;
    use crate::error::{RetryClass, ZfsErrorKind};

    /// Answers every command with one canned result and records the argv it was given.
    #[derive(Debug)]
    struct Canned {
        code: i32,
        stdout: &'static str,
        stderr: &'static str,
        seen: std::sync::Mutex<Vec<Vec<String>>>,
    }

    impl Canned {
        fn new(code: i32, stdout: &'static str, stderr: &'static str) -> Self {
            Self {
                code,
                stdout,
                stderr,
                seen: std::sync::Mutex::default(),
            }
        }
    }

    impl Executor for Canned {
        fn host(&self) -> &'static str {
            "lab"
        }
        fn run(&self, cmd: &CommandSpec) -> Result<Output, ExecError> {
            self.seen.lock().unwrap().push(cmd.argv());
            Ok(Output {
                status: ExitStatusLike::from_code(self.code),
                stdout: self.stdout.as_bytes().to_vec(),
                stderr: self.stderr.to_owned(),
                duration: Duration::ZERO,
                host: "lab".into(),
                argv: cmd.argv(),
            })
        }
    }

    #[test]
    fn list_all_runs_the_built_argv_and_parses() {
        let exec = Canned::new(0, "fx\tfilesystem\t9\t1\t2\t3\t4\t5\n", "");
        let rows = list_all(&exec, &["fx".parse().unwrap()], &[]).unwrap();
        assert_eq!(rows[0].name.as_str(), "fx");
        let seen = exec.seen.lock().unwrap();
        assert_eq!(
            seen[0],
            list_argv(&ObjectType::ALL, &["fx".parse().unwrap()], true, &[]).argv()
        );
    }

    #[test]
    fn failures_are_classified_and_parse_errors_carry_argv() {
        let exec = Canned::new(1, "", "cannot open 'fx/x': dataset does not exist\n");
        let err = list_all(&exec, &["fx/x".parse().unwrap()], &[]).unwrap_err();
        assert_eq!(err.kind(), Some(ZfsErrorKind::DatasetNotFound));
        assert_eq!(err.retry_class(), RetryClass::Permanent);

        let exec = Canned::new(0, "garbage\n", "");
        let err = zpool_list(&exec, &[]).unwrap_err();
        assert!(
            matches!(&err, ZfsError::Parse(p) if p.argv[0] == "zpool" && matches!(p.source, ParseError::FieldCount { line: 1, .. })),
            "{err}"
        );
    }
}
