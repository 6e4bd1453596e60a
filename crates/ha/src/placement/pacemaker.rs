//! Pacemaker: `crm_resource --locate -r <rsc> --output-as=xml`.
//!
//! The answer is a `<pacemaker-result>` whose `<nodes resource="…">` lists one `<node>` per
//! node the resource is active on; for a promotable clone the promoted instance's node carries
//! `state="promoted"` and unpromoted ones carry no state. A failed command answers with a
//! non-zero `<status code=…>` (105 "No such object" for an unknown resource).
//!
//! The locate output cannot say whether a resource is promotable (an unpromoted-only clone
//! looks like a primitive), so the caller says which it asked about ([`ResourceKind`]):
//! - a primitive (or group) runs on its one node; active on none → runs nowhere; active on
//!   several (multiply active, or a live migration half done) → transition `multiple-active`;
//! - a promotable clone is placed where it is promoted; promoted nowhere → runs nowhere;
//!   promoted on several → transition `multiple-promoted`.
//!
//! Quorum comes from `crm_mon` ([`crate::placement::quorum::parse_crm_mon_quorum`]).

use roxmltree::{Document, Node};
use serde::Serialize;

use super::{NodeNameError, validate_node_name};
use crate::observation::{Quorum, View};

/// Pacemaker's exit and status code for an unknown object (`CRM_EX_NOSUCH`).
pub const CODE_NO_SUCH_OBJECT: i64 = 105;

/// A Pacemaker answer could not be used.
#[derive(Debug, thiserror::Error)]
pub enum PacemakerError {
    #[error("Pacemaker XML output is not well-formed: {0}")]
    Xml(#[from] roxmltree::Error),
    #[error("Pacemaker XML output: {0}")]
    Shape(String),
    #[error("resource {resource:?} does not exist in the cluster configuration")]
    NoSuchResource { resource: String },
    #[error("{command} failed with status {code} ({message}){}", errors_suffix(.errors))]
    Failed {
        command: String,
        code: i64,
        message: String,
        errors: Vec<String>,
    },
    #[error("asked where {asked:?} runs, the answer is about {answered:?}")]
    OtherResource { asked: String, answered: String },
    #[error("resource {resource:?} on node {node:?}: unknown state {state:?}")]
    UnknownState {
        resource: String,
        node: String,
        state: String,
    },
    #[error("resource {resource:?}: node name: {source}")]
    Node {
        resource: String,
        #[source]
        source: NodeNameError,
    },
}

fn errors_suffix(errors: &[String]) -> String {
    if errors.is_empty() {
        String::new()
    } else {
        format!(": {}", errors.join("; "))
    }
}

/// What kind of resource was located; see the module docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ResourceKind {
    /// A primitive or group: placed on the node it is active on.
    Primitive,
    /// A promotable clone: placed where it is promoted.
    Promotable,
}

/// Where `crm_resource --locate` found a resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Location {
    pub resource: String,
    pub nodes: Vec<Located>,
}

/// One node the resource is active on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Located {
    pub node: String,
    /// The promoted instance of a promotable clone runs here.
    pub promoted: bool,
}

/// The `<pacemaker-result>` root of a successful answer; a non-zero status becomes
/// [`PacemakerError::Failed`].
pub(crate) fn result_root<'a, 'i>(doc: &'a Document<'i>) -> Result<Node<'a, 'i>, PacemakerError> {
    let root = doc.root_element();
    if root.tag_name().name() != "pacemaker-result" {
        return Err(PacemakerError::Shape(format!(
            "root element is <{}>, expected <pacemaker-result>",
            root.tag_name().name()
        )));
    }
    let status =
        child(root, "status").ok_or_else(|| PacemakerError::Shape("no <status> element".into()))?;
    let code: i64 = status
        .attribute("code")
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| PacemakerError::Shape("<status> without a numeric code".into()))?;
    if code != 0 {
        let errors = status
            .descendants()
            .filter(|n| n.has_tag_name("error"))
            .filter_map(|n| n.text())
            .map(|t| t.trim().replace('\n', " / "))
            .collect();
        return Err(PacemakerError::Failed {
            command: root
                .attribute("request")
                .unwrap_or("the command")
                .to_owned(),
            code,
            message: status.attribute("message").unwrap_or("").to_owned(),
            errors,
        });
    }
    Ok(root)
}

pub(crate) fn child<'a, 'i>(node: Node<'a, 'i>, name: &str) -> Option<Node<'a, 'i>> {
    node.children().find(|n| n.has_tag_name(name))
}

/// Parses the output of `crm_resource --locate -r <resource> --output-as=xml`.
pub fn parse_locate(xml: &str, resource: &str) -> Result<Location, PacemakerError> {
    let doc = Document::parse(xml)?;
    let root = match result_root(&doc) {
        Err(PacemakerError::Failed { code, .. }) if code == CODE_NO_SUCH_OBJECT => {
            return Err(PacemakerError::NoSuchResource {
                resource: resource.to_owned(),
            });
        }
        other => other?,
    };
    let nodes = child(root, "nodes")
        .ok_or_else(|| PacemakerError::Shape("no <nodes> element in a successful answer".into()))?;
    let answered = nodes
        .attribute("resource")
        .ok_or_else(|| PacemakerError::Shape("<nodes> without a resource attribute".into()))?;
    if answered != resource {
        return Err(PacemakerError::OtherResource {
            asked: resource.to_owned(),
            answered: answered.to_owned(),
        });
    }
    let mut located = Vec::new();
    for n in nodes.children().filter(Node::is_element) {
        if !n.has_tag_name("node") {
            return Err(PacemakerError::Shape(format!(
                "unexpected <{}> in <nodes>",
                n.tag_name().name()
            )));
        }
        let name = n.text().unwrap_or("").trim().to_owned();
        validate_node_name(&name).map_err(|source| PacemakerError::Node {
            resource: resource.to_owned(),
            source,
        })?;
        let promoted = match n.attribute("state") {
            None => false,
            Some(s) if s.eq_ignore_ascii_case("promoted") || s.eq_ignore_ascii_case("master") => {
                true
            }
            Some(s) => {
                return Err(PacemakerError::UnknownState {
                    resource: resource.to_owned(),
                    node: name,
                    state: s.to_owned(),
                });
            }
        };
        located.push(Located {
            node: name,
            promoted,
        });
    }
    Ok(Location {
        resource: resource.to_owned(),
        nodes: located,
    })
}

impl Location {
    /// The view for a resource of `kind`; `quorum` comes from `crm_mon`.
    pub fn view(&self, kind: ResourceKind, quorum: Quorum) -> View {
        let (candidates, several): (Vec<&Located>, &str) = match kind {
            ResourceKind::Primitive => (self.nodes.iter().collect(), "multiple-active"),
            ResourceKind::Promotable => (
                self.nodes.iter().filter(|l| l.promoted).collect(),
                "multiple-promoted",
            ),
        };
        match candidates.as_slice() {
            [] => View {
                node: None,
                quorum,
                transition: None,
            },
            [one] => View::on(&one.node, quorum),
            _ => View {
                node: None,
                quorum,
                transition: Some(several.to_owned()),
            },
        }
    }
}
