//! `SshExecutor`: runs a [`CommandSpec`] on another host through the OpenSSH client.
//!
//! The remote argv is quoted with [`shell_join`] into the single command string ssh
//! hands to the remote shell; the local `ssh` process runs through the same machinery
//! as [`LocalExecutor`](crate::LocalExecutor). Exit status 255 is ssh's own failure and
//! becomes [`ExecError::Transport`] (a remote command that itself exits 255 is
//! indistinguishable and is classified the same way).

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use crate::local::run_process;
use crate::quote::{QuoteError, shell_join};
use crate::{CommandSpec, ExecError, Executor, Output};

/// Seconds between ssh keep-alive probes.
const SERVER_ALIVE_INTERVAL: u32 = 15;
/// Unanswered keep-alives before ssh gives up.
const SERVER_ALIVE_COUNT_MAX: u32 = 3;
/// Seconds allowed for the TCP connect + handshake.
const CONNECT_TIMEOUT: u32 = 10;
/// Seconds a master connection stays up after its last client.
const CONTROL_PERSIST: u32 = 60;

/// Invalid ssh configuration: a bad host/user name or option.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SshConfigError {
    /// A host or user name that could be mistaken for an option or is malformed.
    #[error("invalid ssh name {value:?}: {reason}")]
    InvalidName {
        /// The rejected value.
        value: String,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// An `-o` option with a malformed key or value.
    #[error("invalid ssh option {key:?}={value:?}: {reason}")]
    InvalidOption {
        /// Option name.
        key: String,
        /// Option value.
        value: String,
        /// Why it was rejected.
        reason: &'static str,
    },
}

/// A host or user name safe to put on the ssh command line.
///
/// Non-empty, no leading `-` (option injection), no `@`, whitespace or control characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SshName(String);

impl SshName {
    /// The name as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for SshName {
    type Err = SshConfigError;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let reason = if value.is_empty() {
            Some("must not be empty")
        } else if value.starts_with('-') {
            Some("must not start with '-'")
        } else if value.contains('@') {
            Some("must not contain '@'")
        } else if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
            Some("must not contain whitespace or control characters")
        } else {
            None
        };
        match reason {
            Some(reason) => Err(SshConfigError::InvalidName {
                value: value.to_owned(),
                reason,
            }),
            None => Ok(Self(value.to_owned())),
        }
    }
}

impl fmt::Display for SshName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Runs commands on a remote host via `ssh` (batch mode, optional connection sharing).
#[derive(Debug, Clone)]
pub struct SshExecutor {
    host: SshName,
    user: Option<SshName>,
    port: Option<u16>,
    identity: Option<PathBuf>,
    extra_options: Vec<(String, String)>,
    control_path: Option<PathBuf>,
}

impl SshExecutor {
    /// An executor for `host` with ssh defaults (current user, port from ssh config).
    pub fn new(host: SshName) -> Self {
        Self {
            host,
            user: None,
            port: None,
            identity: None,
            extra_options: Vec::new(),
            control_path: None,
        }
    }

    /// Logs in as `user`.
    #[must_use]
    pub fn user(mut self, user: SshName) -> Self {
        self.user = Some(user);
        self
    }

    /// Connects to `port`.
    #[must_use]
    pub fn port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }

    /// Authenticates with this private key file (`-i`).
    #[must_use]
    pub fn identity(mut self, path: impl Into<PathBuf>) -> Self {
        self.identity = Some(path.into());
        self
    }

    /// Shares one connection per host through a control socket at `path`.
    #[must_use]
    pub fn control_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.control_path = Some(path.into());
        self
    }

    /// Adds `-o key=value`; the key must be alphanumeric, the value free of control characters.
    pub fn option(
        mut self,
        key: impl Into<String>,
        value: impl Into<String>,
    ) -> Result<Self, SshConfigError> {
        let (key, value) = (key.into(), value.into());
        let reason = if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric()) {
            Some("key must be non-empty ASCII letters and digits")
        } else if value.chars().any(char::is_control) {
            Some("value must not contain control characters")
        } else {
            None
        };
        if let Some(reason) = reason {
            return Err(SshConfigError::InvalidOption { key, value, reason });
        }
        self.extra_options.push((key, value));
        Ok(self)
    }

    /// The full local argv (`ssh ... [user@]host -- <quoted remote command>`) for `cmd`.
    ///
    /// Environment additions are applied remotely through `env K=V program ...`.
    pub fn ssh_argv(&self, cmd: &CommandSpec) -> Result<Vec<String>, QuoteError> {
        let remote_command = shell_join(&remote_argv(cmd))?;
        let mut argv: Vec<String> = vec!["ssh".into()];
        let mut opt = |kv: String| argv.extend(["-o".to_owned(), kv]);
        opt("BatchMode=yes".into());
        opt(format!("ConnectTimeout={CONNECT_TIMEOUT}"));
        opt(format!("ServerAliveInterval={SERVER_ALIVE_INTERVAL}"));
        opt(format!("ServerAliveCountMax={SERVER_ALIVE_COUNT_MAX}"));
        if let Some(path) = &self.control_path {
            opt("ControlMaster=auto".into());
            opt(format!("ControlPath={}", path.display()));
            opt(format!("ControlPersist={CONTROL_PERSIST}"));
        }
        for (key, value) in &self.extra_options {
            opt(format!("{key}={value}"));
        }
        if let Some(port) = self.port {
            argv.extend(["-p".to_owned(), port.to_string()]);
        }
        if let Some(identity) = &self.identity {
            argv.extend(["-i".to_owned(), identity.display().to_string()]);
        }
        argv.push(match &self.user {
            Some(user) => format!("{user}@{}", self.host),
            None => self.host.to_string(),
        });
        argv.push("--".into());
        argv.push(remote_command);
        Ok(argv)
    }
}

/// The argv the remote side runs: `env K=V ... program args` when env is set.
fn remote_argv(cmd: &CommandSpec) -> Vec<String> {
    if cmd.env.is_empty() {
        return cmd.argv();
    }
    std::iter::once("env".to_owned())
        .chain(cmd.env.iter().map(|(k, v)| format!("{k}={v}")))
        .chain(cmd.argv())
        .collect()
}

/// Maps ssh's own failure (exit 255) to [`ExecError::Transport`]; other outputs pass through.
pub fn classify_ssh_output(output: Output) -> Result<Output, ExecError> {
    if output.status.code == Some(255) {
        return Err(ExecError::Transport {
            host: output.host,
            argv: output.argv,
            stderr: output.stderr,
        });
    }
    Ok(output)
}

impl Executor for SshExecutor {
    fn host(&self) -> &str {
        self.host.as_str()
    }

    fn run(&self, cmd: &CommandSpec) -> Result<Output, ExecError> {
        let argv = cmd.argv();
        let ssh_argv = self.process_argv(cmd)?;
        let mut local = CommandSpec::new(ssh_argv[0].clone())
            .args(ssh_argv[1..].iter().cloned())
            .timeout(cmd.timeout)
            .max_stderr(cmd.max_stderr);
        local.stdin.clone_from(&cmd.stdin);
        local.label.clone_from(&cmd.label);
        classify_ssh_output(run_process(self.host.as_str(), argv, &local)?)
    }

    fn process_argv(&self, cmd: &CommandSpec) -> Result<Vec<String>, ExecError> {
        self.ssh_argv(cmd).map_err(|e| ExecError::Spawn {
            host: self.host.to_string(),
            program: cmd.program.clone(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidInput, e),
        })
    }

    fn is_remote(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::ExitStatusLike;

    fn name(s: &str) -> SshName {
        s.parse().unwrap()
    }

    #[test]
    fn minimal_argv() {
        let ssh = SshExecutor::new(name("pve2"));
        let cmd = CommandSpec::new("zfs").args(["list", "-H", "tank/my data"]);
        assert_eq!(
            ssh.ssh_argv(&cmd).unwrap(),
            [
                "ssh",
                "-o",
                "BatchMode=yes",
                "-o",
                "ConnectTimeout=10",
                "-o",
                "ServerAliveInterval=15",
                "-o",
                "ServerAliveCountMax=3",
                "pve2",
                "--",
                "zfs list -H 'tank/my data'",
            ]
        );
        assert_eq!(ssh.host(), "pve2");
    }

    #[test]
    fn full_argv() {
        let ssh = SshExecutor::new(name("10.0.0.2"))
            .user(name("root"))
            .port(2222)
            .identity("/etc/zferry/id_ed25519")
            .control_path("/run/zferry/ssh-%C")
            .option("StrictHostKeyChecking", "yes")
            .unwrap();
        let cmd = CommandSpec::new("zfs")
            .args(["get", "-Hp", "name", "$(x)"])
            .env("LC_ALL", "C");
        let argv = ssh.ssh_argv(&cmd).unwrap();
        assert_eq!(
            argv[9..],
            [
                "-o",
                "ControlMaster=auto",
                "-o",
                "ControlPath=/run/zferry/ssh-%C",
                "-o",
                "ControlPersist=60",
                "-o",
                "StrictHostKeyChecking=yes",
                "-p",
                "2222",
                "-i",
                "/etc/zferry/id_ed25519",
                "root@10.0.0.2",
                "--",
                "env 'LC_ALL=C' zfs get -Hp name '$(x)'",
            ]
        );
    }

    #[test]
    fn nul_in_remote_argv_is_rejected() {
        let ssh = SshExecutor::new(name("h"));
        assert!(ssh.ssh_argv(&CommandSpec::new("echo").arg("a\0b")).is_err());
        let err = ssh.run(&CommandSpec::new("echo").arg("a\0b")).unwrap_err();
        assert!(matches!(err, ExecError::Spawn { .. }), "{err:?}");
    }

    #[test]
    fn names_reject_option_injection_and_junk() {
        for bad in [
            "",
            "-oProxyCommand=x",
            "a b",
            "a\tb",
            "a\nb",
            "u@h",
            "h\u{7f}",
        ] {
            assert!(bad.parse::<SshName>().is_err(), "{bad:?} accepted");
        }
        for good in [
            "pve1",
            "pve1.lan",
            "10.0.0.1",
            "fe80::1%eth0",
            "root",
            "backup-user",
        ] {
            assert_eq!(name(good).as_str(), good);
        }
        let err = "-x".parse::<SshName>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid ssh name \"-x\": must not start with '-'"
        );
    }

    #[test]
    fn options_are_validated() {
        let ssh = SshExecutor::new(name("h"));
        assert!(ssh.clone().option("Proxy Command", "x").is_err());
        assert!(ssh.clone().option("", "x").is_err());
        assert!(ssh.clone().option("-oX", "x").is_err());
        assert!(ssh.option("LogLevel", "ERROR\nX=1").is_err());
    }

    fn output(code: Option<i32>) -> Output {
        Output {
            status: ExitStatusLike { code, signal: None },
            stdout: Vec::new(),
            stderr: "ssh: Could not resolve hostname nowhere\n".into(),
            duration: Duration::ZERO,
            host: "nowhere".into(),
            argv: vec!["zfs".into(), "list".into()],
        }
    }

    #[test]
    fn exit_255_is_transport() {
        let err = classify_ssh_output(output(Some(255))).unwrap_err();
        assert_eq!(err.retry_class(), crate::RetryClass::Transient);
        match err {
            ExecError::Transport { host, argv, stderr } => {
                assert_eq!(host, "nowhere");
                assert_eq!(argv, ["zfs", "list"]);
                assert!(stderr.contains("Could not resolve"));
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn other_exits_pass_through() {
        assert_eq!(
            classify_ssh_output(output(Some(1))).unwrap().status.code,
            Some(1)
        );
        assert!(classify_ssh_output(output(Some(0))).unwrap().success());
        assert!(classify_ssh_output(output(None)).is_ok());
    }
}
