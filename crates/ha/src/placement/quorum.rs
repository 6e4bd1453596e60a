//! Cluster quorum, for sources whose placement answer does not carry it: no quorum means no
//! master.
//!
//! - **Proxmox**, `pvecm status`: the "Quorum information" section's `Quorate:` line (`Yes`
//!   or `No`, written by corosync-quorumtool). When the "Votequorum information" section is
//!   there, its `Flags:` line lists `Quorate` exactly when the partition is quorate; a
//!   disagreement between the two is an error rather than a guess.
//! - **Pacemaker**, `crm_mon --output-as=xml`: `<current_dc present="true" …
//!   with_quorum="true|false"/>`. No DC elected (`present="false"`) means no partition
//!   decision can be trusted: quorum lost.

use super::pacemaker::{PacemakerError, child, result_root};
use crate::observation::Quorum;

/// A quorum answer could not be used.
#[derive(Debug, thiserror::Error)]
pub enum QuorumError {
    #[error("pvecm status: no `Quorate:` line (is this node part of a cluster?)")]
    NoQuorateLine,
    #[error("pvecm status: {0} `Quorate:` lines")]
    ManyQuorateLines(usize),
    #[error("pvecm status: `Quorate: {0}`, expected Yes or No")]
    UnknownQuorate(String),
    #[error("pvecm status says `Quorate: {quorate}` but its votequorum flags are `{flags}`")]
    Inconsistent { quorate: String, flags: String },
    #[error("crm_mon: {0}")]
    CrmMon(#[from] PacemakerError),
    #[error("crm_mon: current_dc {attribute}={value:?}, expected true or false")]
    CrmMonAttribute {
        attribute: &'static str,
        value: String,
    },
}

/// The value of a `Key:   value` line (keys are padded with spaces to one column).
fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    line.strip_prefix(key)
        .and_then(|rest| rest.strip_prefix(':'))
        .map(str::trim)
}

/// Parses the output of `pvecm status`.
pub fn parse_pvecm_status(text: &str) -> Result<Quorum, QuorumError> {
    let quorate: Vec<&str> = text.lines().filter_map(|l| field(l, "Quorate")).collect();
    let value = match quorate.as_slice() {
        [] => return Err(QuorumError::NoQuorateLine),
        [one] => *one,
        many => return Err(QuorumError::ManyQuorateLines(many.len())),
    };
    let quorate = match value {
        "Yes" => true,
        "No" => false,
        other => return Err(QuorumError::UnknownQuorate(other.to_owned())),
    };
    if let Some(flags) = text.lines().find_map(|l| field(l, "Flags")) {
        let flagged = flags.split_whitespace().any(|f| f == "Quorate");
        if flagged != quorate {
            return Err(QuorumError::Inconsistent {
                quorate: value.to_owned(),
                flags: flags.to_owned(),
            });
        }
    }
    Ok(Quorum::from_quorate(quorate))
}

fn boolean(attribute: &'static str, value: &str) -> Result<bool, QuorumError> {
    match value {
        "true" => Ok(true),
        "false" => Ok(false),
        other => Err(QuorumError::CrmMonAttribute {
            attribute,
            value: other.to_owned(),
        }),
    }
}

/// Parses the quorum out of `crm_mon --output-as=xml` (`--one-shot` or not).
pub fn parse_crm_mon_quorum(xml: &str) -> Result<Quorum, QuorumError> {
    let doc = roxmltree::Document::parse(xml).map_err(PacemakerError::from)?;
    let root = result_root(&doc)?;
    let dc = child(root, "summary")
        .and_then(|s| child(s, "current_dc"))
        .ok_or_else(|| PacemakerError::Shape("no <summary><current_dc> element".into()))?;
    let present = dc
        .attribute("present")
        .ok_or_else(|| PacemakerError::Shape("<current_dc> without present".into()))?;
    if !boolean("present", present)? {
        return Ok(Quorum::Lost);
    }
    let with_quorum = dc
        .attribute("with_quorum")
        .ok_or_else(|| PacemakerError::Shape("<current_dc> without with_quorum".into()))?;
    Ok(Quorum::from_quorate(boolean("with_quorum", with_quorum)?))
}
