//! A placement command: any program the admin names, printing either
//! - one line with the node name (an empty line, or no output, when the service runs
//!   nowhere), or
//! - one JSON object `{"node": "pve1" | null, "quorate": true | false, "transition": "migrate"
//!   | null}` where `quorate` and `transition` may be left out.
//!
//! Output starting with `{` (after leading whitespace) is JSON; anything else is the line
//! form. Leading and trailing whitespace (the final newline) is ignored. Node names and
//! transition words are checked like every source's node names: non-empty, printable, no
//! whitespace inside. The `node` key is required (`null` for nowhere); unknown JSON keys are
//! errors, so a typo (`"quorum"`) cannot silently drop a field. Without `quorate` the view's
//! quorum is not applicable.

use serde::{Deserialize, Serialize};

use super::{NodeNameError, validate_node_name};
use crate::observation::{Quorum, View};

/// A placement command's output could not be used.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error("placement command printed {0} lines, expected one node name or one JSON object")]
    ManyLines(usize),
    #[error("placement command's node name: {0}")]
    Node(#[source] NodeNameError),
    #[error("placement command's JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("placement command's JSON has no \"node\" key (use null for nowhere)")]
    MissingNode,
    #[error("placement command's transition: {0}")]
    Transition(#[source] NodeNameError),
}

/// What a placement command said.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandAnswer {
    pub node: Option<String>,
    #[serde(default)]
    pub quorate: Option<bool>,
    #[serde(default)]
    pub transition: Option<String>,
}

/// Parses a placement command's standard output.
pub fn parse_command_output(stdout: &str) -> Result<CommandAnswer, CommandError> {
    let text = stdout.trim();
    if text.starts_with('{') {
        let value: serde_json::Value = serde_json::from_str(text)?;
        if value.get("node").is_none() {
            return Err(CommandError::MissingNode);
        }
        let answer: CommandAnswer = serde_json::from_value(value)?;
        if let Some(n) = &answer.node {
            validate_node_name(n).map_err(CommandError::Node)?;
        }
        if let Some(t) = &answer.transition {
            validate_node_name(t).map_err(CommandError::Transition)?;
        }
        return Ok(answer);
    }
    let lines = text.lines().count();
    if lines > 1 {
        return Err(CommandError::ManyLines(lines));
    }
    let node = if text.is_empty() {
        None
    } else {
        validate_node_name(text).map_err(CommandError::Node)?;
        Some(text.to_owned())
    };
    Ok(CommandAnswer {
        node,
        quorate: None,
        transition: None,
    })
}

impl CommandAnswer {
    pub fn view(&self) -> View {
        View {
            node: self.node.clone(),
            quorum: self
                .quorate
                .map_or(Quorum::NotApplicable, Quorum::from_quorate),
            transition: self.transition.clone(),
        }
    }
}
