//! A virtual-time cluster simulator for the role controller, in the spirit of
//! pve-ha-manager's: a scripted list of events (power, network, placement, transitions, clock
//! jumps, lying sources, writes) drives every node's placement source; each node decides its
//! role with [`decide`], masters bump their epoch, snapshot and replicate with
//! [`send_verdict`]; the result is a decision log that tests compare with a golden file.
//!
//! The model is deliberately small:
//! - voters form the cluster; up voters that are not isolated see each other, and the side
//!   holding more than half of all votes is quorate and sees the true placement; any other
//!   node sees its last known placement with quorum lost;
//! - third sites only receive, from any sender whose epoch is at least theirs;
//! - a dataset is a chain of snapshot ids plus a "written since the last snapshot" flag; a
//!   target is diverged when its chain is not a prefix of the sender's, or it was written.
//!
//! Script syntax (one statement per line, `#` comments):
//! ```text
//! voters pve1 pve2 qdev        # cluster members (qdev: a vote, never runs the service)
//! service-nodes pve1 pve2      # where the service may run
//! third-sites offsite          # receive-only copies
//! snapshot-every 10            # seconds between a master's snapshots (and sends)
//! until 120                    # seconds to simulate
//! at 0 place pve1              # place <node>|none, transition <state>|none
//! at 40 power-off pve1         # power-on, isolate, rejoin
//! at 50 write pve1             # the dataset on pve1 is written after its last snapshot
//! at 60 sees pve2 pve2         # pve2's source reports pve2 (`truth` restores it)
//! at 70 source-error pve2 timeout   # `source-error pve2 none` clears it
//! at 80 clock-jump -3600       # the wall clock steps; decisions must not care
//! ```

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use crate::epoch::{Epoch, SendVerdict, next_master_epoch, send_verdict};
use crate::observation::{Observation, Quorum, Tick, View};
use crate::role::{Role, Rules, Unknown, decide};

/// How often every node looks at its placement source.
const POLL_SECS: u64 = 2;
/// Observations kept per node (more than any confirmation window needs).
const HISTORY: usize = 32;

/// A script could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("script line {line}: {reason}")]
pub struct ScriptError {
    pub line: usize,
    pub reason: String,
}

/// What a node's placement source reports.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Report {
    Truth,
    /// A misconfigured or broken source: this node (or none), whatever the truth.
    Says(Option<String>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Event {
    Place(Option<String>),
    Transition(Option<String>),
    PowerOff(String),
    PowerOn(String),
    Isolate(String),
    Rejoin(String),
    Write(String),
    Sees(String, Report),
    SourceError(String, Option<String>),
    ClockJump(i64),
}

/// A parsed scenario.
#[derive(Debug, Clone)]
pub struct Script {
    voters: Vec<String>,
    service_nodes: Vec<String>,
    third_sites: Vec<String>,
    snapshot_every: u64,
    until: u64,
    events: Vec<(u64, Event)>,
}

impl Script {
    pub fn parse(text: &str) -> Result<Self, ScriptError> {
        let mut script = Script {
            voters: Vec::new(),
            service_nodes: Vec::new(),
            third_sites: Vec::new(),
            snapshot_every: 10,
            until: 0,
            events: Vec::new(),
        };
        for (i, raw) in text.lines().enumerate() {
            let line = raw.split('#').next().unwrap_or("").trim();
            let err = |reason: String| ScriptError {
                line: i + 1,
                reason,
            };
            let words: Vec<&str> = line.split_whitespace().collect();
            let owned = |w: &[&str]| w.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
            match words.as_slice() {
                [] => {}
                ["voters", rest @ ..] => script.voters = owned(rest),
                ["service-nodes", rest @ ..] => script.service_nodes = owned(rest),
                ["third-sites", rest @ ..] => script.third_sites = owned(rest),
                ["snapshot-every", n] => script.snapshot_every = number(n).map_err(err)?,
                ["until", n] => script.until = number(n).map_err(err)?,
                ["at", t, rest @ ..] => {
                    let at = number(t).map_err(err)?;
                    script.events.push((at, event(rest).map_err(err)?));
                }
                _ => return Err(err(format!("cannot read `{line}`"))),
            }
        }
        let known = |n: &String| script.voters.contains(n) || script.third_sites.contains(n);
        if script
            .service_nodes
            .iter()
            .any(|n| !script.voters.contains(n))
        {
            return Err(ScriptError {
                line: 0,
                reason: "every service node must be a voter".into(),
            });
        }
        for (at, e) in &script.events {
            let node = match e {
                Event::PowerOff(n)
                | Event::PowerOn(n)
                | Event::Isolate(n)
                | Event::Rejoin(n)
                | Event::Write(n)
                | Event::Sees(n, _)
                | Event::SourceError(n, _) => Some(n),
                _ => None,
            };
            if let Some(n) = node.filter(|n| !known(n)) {
                return Err(ScriptError {
                    line: 0,
                    reason: format!("event at {at} s names unknown node `{n}`"),
                });
            }
        }
        script.events.sort_by_key(|(at, _)| *at);
        Ok(script)
    }
}

fn number<T: std::str::FromStr>(s: &str) -> Result<T, String> {
    s.parse().map_err(|_| format!("`{s}` is not a number"))
}

fn none_or(word: &str) -> Option<String> {
    (word != "none").then(|| word.to_owned())
}

fn event(words: &[&str]) -> Result<Event, String> {
    let n = |s: &str| s.to_owned();
    Ok(match words {
        ["place", node] => Event::Place(none_or(node)),
        ["transition", state] => Event::Transition(none_or(state)),
        ["power-off", node] => Event::PowerOff(n(node)),
        ["power-on", node] => Event::PowerOn(n(node)),
        ["isolate", node] => Event::Isolate(n(node)),
        ["rejoin", node] => Event::Rejoin(n(node)),
        ["write", node] => Event::Write(n(node)),
        ["sees", node, "truth"] => Event::Sees(n(node), Report::Truth),
        ["sees", node, what] => Event::Sees(n(node), Report::Says(none_or(what))),
        ["source-error", node, rest @ ..] if !rest.is_empty() => {
            let msg = rest.join(" ");
            Event::SourceError(n(node), none_or(&msg))
        }
        ["clock-jump", secs] => Event::ClockJump(number(secs)?),
        _ => return Err(format!("unknown event `{}`", words.join(" "))),
    })
}

/// One simulated node: its view of the world and its copy of the dataset.
#[derive(Debug, Clone)]
#[allow(
    clippy::struct_excessive_bools,
    reason = "independent switches of the simulated world"
)]
struct Node {
    up: bool,
    isolated: bool,
    voter: bool,
    history: Vec<Observation>,
    role: Option<Role>,
    /// The placement it saw last while quorate.
    known: Option<String>,
    report: Report,
    source_error: Option<String>,
    epoch: Epoch,
    chain: Vec<u64>,
    written: bool,
}

/// The simulation: run a script, get the decision log.
#[derive(Debug)]
pub struct Sim {
    script: Script,
    rules: Rules,
    nodes: BTreeMap<String, Node>,
    placement: Option<String>,
    transition: Option<String>,
    wall_offset: i64,
    next_snap: u64,
    /// The last send outcome per (sender, target), to log changes only.
    links: BTreeMap<(String, String), String>,
    log: String,
}

impl Sim {
    pub fn new(script: Script, rules: Rules) -> Self {
        let mut nodes = BTreeMap::new();
        let make = |voter| Node {
            up: true,
            isolated: false,
            voter,
            history: Vec::new(),
            role: None,
            known: None,
            report: Report::Truth,
            source_error: None,
            epoch: Epoch(1),
            chain: vec![0],
            written: false,
        };
        for v in &script.voters {
            nodes.insert(v.clone(), make(true));
        }
        for t in &script.third_sites {
            nodes.insert(t.clone(), make(false));
        }
        Self {
            script,
            rules,
            nodes,
            placement: None,
            transition: None,
            wall_offset: 0,
            next_snap: 1,
            links: BTreeMap::new(),
            log: String::new(),
        }
    }

    /// Runs the whole script and returns the log.
    pub fn run(mut self) -> String {
        let events = std::mem::take(&mut self.script.events);
        let mut pending = events.into_iter().peekable();
        let mut t = 0;
        while t <= self.script.until {
            while let Some((_, e)) = pending.next_if(|(at, _)| *at <= t) {
                self.apply(t, e);
            }
            self.observe_and_decide(t);
            if t % self.script.snapshot_every == 0 {
                self.snapshot_and_replicate(t);
            }
            t += POLL_SECS;
        }
        self.log
    }

    fn line(&mut self, t: u64, text: &str) {
        let _ = writeln!(self.log, "{t:>5}s  {text}");
    }

    fn apply(&mut self, t: u64, e: Event) {
        let text = match &e {
            Event::Place(n) => format!("place {}", n.as_deref().unwrap_or("none")),
            Event::Transition(s) => format!("transition {}", s.as_deref().unwrap_or("none")),
            Event::PowerOff(n) => format!("power-off {n}"),
            Event::PowerOn(n) => format!("power-on {n}"),
            Event::Isolate(n) => format!("isolate {n}"),
            Event::Rejoin(n) => format!("rejoin {n}"),
            Event::Write(n) => format!("write {n}"),
            Event::Sees(n, Report::Truth) => format!("{n}'s source tells the truth again"),
            Event::Sees(n, Report::Says(what)) => format!(
                "{n}'s source wrongly reports {}",
                what.as_deref().unwrap_or("none")
            ),
            Event::SourceError(n, Some(m)) => format!("{n}'s source fails: {m}"),
            Event::SourceError(n, None) => format!("{n}'s source recovers"),
            Event::ClockJump(s) => format!("wall clock jumps {s:+} s"),
        };
        self.line(t, &format!("event: {text}"));
        match e {
            Event::Place(n) => self.placement = n,
            Event::Transition(s) => self.transition = s,
            Event::PowerOff(n) => {
                let nd = self.node_mut(&n);
                nd.up = false;
                // A reboot forgets everything it observed; the dataset stays.
                nd.history.clear();
                nd.role = None;
                nd.known = None;
            }
            Event::PowerOn(n) => self.node_mut(&n).up = true,
            Event::Isolate(n) => self.node_mut(&n).isolated = true,
            Event::Rejoin(n) => self.node_mut(&n).isolated = false,
            Event::Write(n) => self.node_mut(&n).written = true,
            Event::Sees(n, report) => self.node_mut(&n).report = report,
            Event::SourceError(n, m) => self.node_mut(&n).source_error = m,
            Event::ClockJump(s) => self.wall_offset += s,
        }
    }

    fn node_mut(&mut self, name: &str) -> &mut Node {
        self.nodes.get_mut(name).expect("script checked names")
    }

    /// Whether `a` and `b` can talk: both up, and neither isolated (or the same node).
    fn connected(&self, a: &str, b: &str) -> bool {
        let (na, nb) = (&self.nodes[a], &self.nodes[b]);
        na.up && nb.up && (a == b || (!na.isolated && !nb.isolated))
    }

    fn quorate(&self, name: &str) -> bool {
        let votes = self.nodes.values().filter(|n| n.voter).count();
        let seen = self
            .nodes
            .iter()
            .filter(|(other, n)| n.voter && self.connected(name, other))
            .count();
        seen * 2 > votes
    }

    fn observe_and_decide(&mut self, t: u64) {
        let names: Vec<String> = self.nodes.keys().cloned().collect();
        for name in names {
            // Only service nodes decide; a quorum device just votes, third sites just receive.
            if !self.nodes[&name].up || !self.script.service_nodes.contains(&name) {
                continue;
            }
            let quorate = self.quorate(&name);
            let (placement, transition) = (self.placement.clone(), self.transition.clone());
            let node = self.nodes.get_mut(&name).expect("listed");
            let view = if let Some(error) = &node.source_error {
                Err(error.clone())
            } else if let Report::Says(lie) = &node.report {
                Ok(View {
                    node: lie.clone(),
                    quorum: Quorum::Quorate,
                    transition: None,
                })
            } else if quorate {
                node.known.clone_from(&placement);
                Ok(View {
                    node: placement,
                    quorum: Quorum::Quorate,
                    transition,
                })
            } else {
                Ok(View {
                    node: node.known.clone(),
                    quorum: Quorum::Lost,
                    transition: None,
                })
            };
            node.history.push(Observation {
                at: Tick::from_secs(t),
                view,
            });
            if node.history.len() > HISTORY {
                node.history.remove(0);
            }
            let role = decide(
                &name,
                &self.script.service_nodes,
                &node.history,
                &self.rules,
                Tick::from_secs(t),
            );
            if node.role.as_ref().is_some_and(|r| same_state(r, &role)) {
                node.role = Some(role);
                continue;
            }
            let became_master = role == Role::Master;
            node.role = Some(role.clone());
            self.line(t, &format!("{name}: {role}"));
            if became_master {
                let known: Vec<Epoch> = self
                    .nodes
                    .iter()
                    .filter(|(other, _)| self.connected(&name, other))
                    .map(|(_, n)| n.epoch)
                    .collect();
                let epoch = next_master_epoch(known);
                let node = self.nodes.get_mut(&name).expect("listed");
                let was = node.epoch;
                node.epoch = epoch;
                self.line(t, &format!("{name}: epoch {was} -> {epoch}"));
            }
        }
    }

    fn snapshot_and_replicate(&mut self, t: u64) {
        let masters: Vec<String> = self
            .nodes
            .iter()
            .filter(|(_, n)| n.up && n.role == Some(Role::Master))
            .map(|(name, _)| name.clone())
            .collect();
        for master in masters {
            let snap = self.next_snap;
            self.next_snap += 1;
            let node = self.nodes.get_mut(&master).expect("listed");
            node.chain.push(snap);
            node.written = false;
            let targets: Vec<String> = (self.script.service_nodes.iter())
                .chain(&self.script.third_sites)
                .filter(|other| **other != master && self.connected(&master, other))
                .cloned()
                .collect();
            for target in targets {
                self.send(t, &master, &target);
            }
        }
    }

    fn send(&mut self, t: u64, from: &str, to: &str) {
        let (src, dst) = (&self.nodes[from], &self.nodes[to]);
        let third_site = self.script.third_sites.iter().any(|n| n == to);
        let accepts = third_site
            || dst
                .role
                .as_ref()
                .is_some_and(|r| r.accepts_stream_from(from));
        let diverged = dst.written || !src.chain.starts_with(&dst.chain);
        let verdict = send_verdict(src.epoch, dst.epoch, diverged);
        let outcome = match (&verdict, accepts) {
            (SendVerdict::Refuse(why), _) => format!("refused: {why}"),
            (_, false) => format!(
                "refused by {to}: it is {}, not a standby of {from}",
                dst.role
                    .as_ref()
                    .map_or_else(|| "starting".to_owned(), ToString::to_string)
            ),
            (SendVerdict::Send, true) => "incremental".to_owned(),
            (SendVerdict::PreserveThenSend { target }, true) => {
                let common = dst
                    .chain
                    .iter()
                    .zip(&src.chain)
                    .take_while(|(a, b)| a == b)
                    .count();
                let kept = dst.chain.len() - common;
                let stamp = self.wall_offset + i64::try_from(t).unwrap_or(i64::MAX);
                let what = match (kept, dst.written) {
                    (0, _) => "its writes after the common snapshot".to_owned(),
                    (n, false) => format!("its {n} diverged snapshot(s)"),
                    (n, true) => format!("its {n} diverged snapshot(s) and later writes"),
                };
                format!(
                    "preserved {what} as {to}:diverged-{target}-t{stamp}, alert sent, \
                     then resynced incrementally"
                )
            }
        };
        let sent = accepts && !matches!(verdict, SendVerdict::Refuse(_));
        if sent {
            let (chain, epoch) = (src.chain.clone(), src.epoch);
            let dst = self.nodes.get_mut(to).expect("listed");
            dst.chain = chain;
            dst.epoch = epoch;
            dst.written = false;
        }
        let key = (from.to_owned(), to.to_owned());
        let preserved = sent && matches!(verdict, SendVerdict::PreserveThenSend { .. });
        // Log a link's first send and every change; a preserve is always logged.
        if self.links.get(&key) != Some(&outcome) || preserved {
            let epoch = self.nodes[from].epoch;
            self.line(t, &format!("send {from} -> {to} ({epoch}): {outcome}"));
            self.links.insert(key, outcome);
        }
    }
}

/// Roles equal for the log: a confirmation count going up is not news.
fn same_state(a: &Role, b: &Role) -> bool {
    match (a, b) {
        (
            Role::Unknown {
                reason: Unknown::Unconfirmed { node: x, .. },
            },
            Role::Unknown {
                reason: Unknown::Unconfirmed { node: y, .. },
            },
        ) => x == y,
        _ => a == b,
    }
}

/// Parses and runs a scenario with the given rules.
pub fn simulate(script: &str, rules: Rules) -> Result<String, ScriptError> {
    Ok(Sim::new(Script::parse(script)?, rules).run())
}

/// The rules the scenarios use unless they say otherwise: the seed's 3 checks 2 s apart.
pub fn scenario_rules() -> Rules {
    Rules {
        stale_after: Duration::from_secs(30),
        ..Rules::default()
    }
}
