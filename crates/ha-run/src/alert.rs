//! The service's `alert-command`, run on every role change, refusal, preserve and final sync
//! (seed 003 mails the admin on every role change). The message goes on stdin and in the
//! environment; a failing alert is logged and never stops the cycle.

use std::time::Duration;

use serde::Serialize;
use zferry_config::Argv;
use zferry_exec::{CommandSpec, Executor};

/// An alert command that has not finished in this long is killed.
pub const ALERT_TIMEOUT: Duration = Duration::from_secs(30);

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AlertKind {
    RoleChange,
    Refusal,
    Preserved,
    FinalSync,
}

impl AlertKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::RoleChange => "role-change",
            AlertKind::Refusal => "refusal",
            AlertKind::Preserved => "preserved",
            AlertKind::FinalSync => "final-sync",
        }
    }
}

/// One alert of a cycle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Alert {
    pub kind: AlertKind,
    pub service: String,
    pub node: String,
    pub message: String,
    /// Whether the alert command ran and exited 0 (`None`: no command configured, or dry run).
    pub delivered: Option<bool>,
}

impl Alert {
    pub fn new(kind: AlertKind, service: &str, node: &str, message: String) -> Self {
        Self {
            kind,
            service: service.to_owned(),
            node: node.to_owned(),
            message,
            delivered: None,
        }
    }
}

/// [`send`]s `alert` and returns it, for the cycle's report.
pub fn raise(exec: &dyn Executor, argv: Option<&Argv>, dry_run: bool, mut alert: Alert) -> Alert {
    send(exec, argv, dry_run, &mut alert);
    alert
}

/// The alert command's argv with the alert in the environment (`ZFERRY_EVENT`,
/// `ZFERRY_SERVICE`, `ZFERRY_NODE`, `ZFERRY_MESSAGE`) and the message on stdin.
pub fn command(argv: &Argv, alert: &Alert) -> CommandSpec {
    let (program, rest) = argv.as_slice().split_first().expect("argv is never empty");
    CommandSpec::new(program.clone())
        .args(rest.iter().cloned())
        .env("ZFERRY_EVENT", alert.kind.as_str())
        .env("ZFERRY_SERVICE", alert.service.clone())
        .env("ZFERRY_NODE", alert.node.clone())
        .env("ZFERRY_MESSAGE", alert.message.clone())
        .stdin(format!(
            "zferry {} on {} (service {}):\n{}\n",
            alert.kind.as_str(),
            alert.node,
            alert.service,
            alert.message
        ))
        .timeout(ALERT_TIMEOUT)
        .label("alert command")
}

/// Logs `alert` and runs the command, recording whether it was delivered.
pub fn send(exec: &dyn Executor, argv: Option<&Argv>, dry_run: bool, alert: &mut Alert) {
    tracing::warn!(
        service = alert.service,
        node = alert.node,
        event = alert.kind.as_str(),
        "{}",
        alert.message
    );
    let Some(argv) = argv else { return };
    if dry_run {
        return;
    }
    let ok = match exec.run(&command(argv, alert)) {
        Ok(out) if out.success() => true,
        Ok(out) => {
            tracing::error!(service = alert.service, status = %out.status, stderr = out.stderr, "alert command failed");
            false
        }
        Err(e) => {
            tracing::error!(service = alert.service, error = %e, "alert command could not run");
            false
        }
    };
    alert.delivered = Some(ok);
}
