//! Semantic checks that need the whole config: references between sections, ranges that
//! involve two keys, and replication topologies that cannot work.
//!
//! Every check runs; all problems are returned, each located at the offending value.

use std::collections::BTreeSet;
use std::ops::{Range, RangeInclusive};
use std::time::Duration;

use toml::Spanned;
use zferry_zfs::DatasetName;

use crate::error::{ConfigError, Diagnostic, did_you_mean};
use crate::model::{
    Config, DatasetConfig, Endpoint, Job, Monitor, Period, Placement, Service, SyncMode, Template,
};
use crate::names::Name;
use crate::units::DurationSpec;

const MIN_FREQUENT_PERIOD: Duration = Duration::from_mins(1);
const MAX_FREQUENT_PERIOD: Duration = Duration::from_hours(1);

/// The preferred-time keys in effect for one entry: its own, else its template's. Range
/// errors in a template are reported once, at the template (the entry's own keys only).
struct Times<'a> {
    hourly_min: Option<&'a Spanned<u8>>,
    daily_hour: Option<&'a Spanned<u8>>,
    daily_min: Option<&'a Spanned<u8>>,
    weekly_wday: Option<&'a Spanned<u8>>,
    weekly_hour: Option<&'a Spanned<u8>>,
    weekly_min: Option<&'a Spanned<u8>>,
    monthly_mday: Option<&'a Spanned<u8>>,
    monthly_hour: Option<&'a Spanned<u8>>,
    monthly_min: Option<&'a Spanned<u8>>,
    yearly_mon: Option<&'a Spanned<u8>>,
    yearly_mday: Option<&'a Spanned<u8>>,
    yearly_hour: Option<&'a Spanned<u8>>,
    yearly_min: Option<&'a Spanned<u8>>,
}

impl<'a> Times<'a> {
    fn of(ds: Option<&'a DatasetConfig>, tpl: Option<&'a Template>) -> Self {
        macro_rules! pick {
            ($f:ident) => {
                ds.and_then(|d| d.$f.as_ref())
                    .or_else(|| tpl.and_then(|t| t.$f.as_ref()))
            };
        }
        Times {
            hourly_min: pick!(hourly_min),
            daily_hour: pick!(daily_hour),
            daily_min: pick!(daily_min),
            weekly_wday: pick!(weekly_wday),
            weekly_hour: pick!(weekly_hour),
            weekly_min: pick!(weekly_min),
            monthly_mday: pick!(monthly_mday),
            monthly_hour: pick!(monthly_hour),
            monthly_min: pick!(monthly_min),
            yearly_mon: pick!(yearly_mon),
            yearly_mday: pick!(yearly_mday),
            yearly_hour: pick!(yearly_hour),
            yearly_min: pick!(yearly_min),
        }
    }
}

struct Checker<'a> {
    config: &'a Config,
    out: Vec<Diagnostic>,
}

impl Checker<'_> {
    fn push(&mut self, span: &Range<usize>, message: String, hint: impl Into<Option<String>>) {
        let d = self.config.origin.diagnostic(span, message, hint.into());
        if !self.out.contains(&d) {
            self.out.push(d);
        }
    }

    /// Reports `name` unless it is a key of `[nodes]`.
    fn node_exists(&mut self, name: &Spanned<Name>, role: &str) -> bool {
        let nodes = &self.config.nodes;
        if nodes.contains_key(name.get_ref().as_str()) {
            return true;
        }
        let hint = if nodes.is_empty() {
            format!("add a [nodes.{}] section", name.get_ref())
        } else {
            let fallback = format!(
                "defined nodes: {}",
                nodes
                    .keys()
                    .map(Name::as_str)
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            did_you_mean(
                name.get_ref().as_str(),
                nodes.keys().map(Name::as_str),
                &fallback,
            )
        };
        self.push(
            &name.span(),
            format!("unknown node `{}` in {role}", name.get_ref()),
            hint,
        );
        false
    }

    fn global(&mut self) {
        let g = &self.config.global;
        for (key, v) in [
            ("capacity-warn", &g.capacity_warn),
            ("capacity-crit", &g.capacity_crit),
        ] {
            self.in_range(
                key,
                Some(v),
                0..=100,
                "a percentage of the pool's size; 0 = not checked",
            );
        }
        let (warn, crit) = (*g.capacity_warn.get_ref(), *g.capacity_crit.get_ref());
        if warn > 0 && crit > 0 && warn >= crit && crit <= 100 {
            self.push(
                &g.capacity_warn.span(),
                format!("capacity-warn ({warn}) must be below capacity-crit ({crit})"),
                "e.g. capacity-warn = 80, capacity-crit = 95".to_owned(),
            );
        }
        let Some(host) = &self.config.global.hostname else {
            return;
        };
        if !self.config.nodes.is_empty() {
            self.node_exists(host, "global.hostname");
        }
    }

    fn in_range(
        &mut self,
        key: &str,
        value: Option<&Spanned<u8>>,
        range: RangeInclusive<u8>,
        meaning: &str,
    ) {
        let Some(v) = value else { return };
        if !range.contains(v.get_ref()) {
            self.push(
                &v.span(),
                format!(
                    "{key} = {} is out of range {}..={}",
                    v.get_ref(),
                    range.start(),
                    range.end()
                ),
                meaning.to_owned(),
            );
        }
    }

    /// Preferred times: each field in its range, and yearly-mday a day of yearly-mon.
    fn preferred_times(&mut self, t: &Times<'_>) {
        const MIN: RangeInclusive<u8> = 0..=59;
        const HOUR: RangeInclusive<u8> = 0..=23;
        let fields = [
            ("hourly-min", t.hourly_min, MIN, "minute of the hour"),
            ("daily-hour", t.daily_hour, HOUR, "hour of the day"),
            ("daily-min", t.daily_min, MIN, "minute of the hour"),
            (
                "weekly-wday",
                t.weekly_wday,
                0..=6,
                "day of the week, 0 = Sunday … 6 = Saturday",
            ),
            ("weekly-hour", t.weekly_hour, HOUR, "hour of the day"),
            ("weekly-min", t.weekly_min, MIN, "minute of the hour"),
            (
                "monthly-mday",
                t.monthly_mday,
                1..=31,
                "day of the month; short months use their last day",
            ),
            ("monthly-hour", t.monthly_hour, HOUR, "hour of the day"),
            ("monthly-min", t.monthly_min, MIN, "minute of the hour"),
            (
                "yearly-mon",
                t.yearly_mon,
                1..=12,
                "month, 1 = January … 12",
            ),
            ("yearly-mday", t.yearly_mday, 1..=31, "day of the month"),
            ("yearly-hour", t.yearly_hour, HOUR, "hour of the day"),
            ("yearly-min", t.yearly_min, MIN, "minute of the hour"),
        ];
        for (key, value, range, meaning) in fields {
            self.in_range(key, value, range, meaning);
        }
        let (Some(mon), Some(mday)) = (t.yearly_mon, t.yearly_mday) else {
            return;
        };
        let last = match *mon.get_ref() {
            2 => 29,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        };
        if (1..=12).contains(mon.get_ref()) && *mday.get_ref() > last {
            self.push(
                &mday.span(),
                format!(
                    "yearly-mday = {} does not exist in month {}",
                    mday.get_ref(),
                    mon.get_ref()
                ),
                format!("month {} has at most {last} days", mon.get_ref()),
            );
        }
    }

    fn frequent_period(&mut self, period: Option<&Spanned<DurationSpec>>) {
        let Some(p) = period else { return };
        let d = p.get_ref().get();
        if d < MIN_FREQUENT_PERIOD || d > MAX_FREQUENT_PERIOD || d.as_secs() % 60 != 0 {
            self.push(
                &p.span(),
                format!(
                    "frequent-period {} must be whole minutes between 1m and 60m",
                    p.get_ref()
                ),
                "e.g. frequent-period = \"15m\"".to_owned(),
            );
        }
    }

    /// warn < crit for every period, taking each threshold from the first block that sets it.
    fn monitor(&mut self, blocks: &[Option<&Monitor>]) {
        for period in Period::ALL {
            let pick = |crit: bool| {
                blocks.iter().flatten().find_map(|m| {
                    let (w, c) = m.thresholds(period);
                    if crit { c } else { w }
                })
            };
            let (Some(warn), Some(crit)) = (pick(false), pick(true)) else {
                continue;
            };
            if warn.get_ref() >= crit.get_ref() {
                self.push(
                    &warn.span(),
                    format!(
                        "{period}-warn ({}) must be shorter than {period}-crit ({})",
                        warn.get_ref(),
                        crit.get_ref()
                    ),
                    "a snapshot older than warn is a WARNING, older than crit a CRITICAL"
                        .to_owned(),
                );
            }
        }
    }

    fn templates(&mut self) {
        for t in self.config.templates.values() {
            self.frequent_period(t.frequent_period.as_ref());
            self.preferred_times(&Times::of(None, Some(t)));
            self.monitor(&[t.monitor.as_ref()]);
        }
    }

    fn datasets(&mut self) {
        let templates = &self.config.templates;
        for ds in self.config.datasets.values() {
            self.frequent_period(ds.frequent_period.as_ref());
            let tpl = ds
                .use_template
                .as_ref()
                .and_then(|n| templates.get(n.get_ref().as_str()));
            self.preferred_times(&Times::of(Some(ds), tpl));
            let template = match &ds.use_template {
                None => None,
                Some(name) => {
                    let found = templates.get(name.get_ref().as_str());
                    if found.is_none() {
                        let fallback = if templates.is_empty() {
                            format!("define it as [templates.{}]", name.get_ref())
                        } else {
                            format!(
                                "defined templates: {}",
                                templates
                                    .keys()
                                    .map(Name::as_str)
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            )
                        };
                        let hint = did_you_mean(
                            name.get_ref().as_str(),
                            templates.keys().map(Name::as_str),
                            &fallback,
                        );
                        self.push(
                            &name.span(),
                            format!("undefined template `{}` in use-template", name.get_ref()),
                            hint,
                        );
                    }
                    found
                }
            };
            self.monitor(&[
                ds.monitor.as_ref(),
                template.and_then(|t| t.monitor.as_ref()),
            ]);
        }
    }

    fn jobs(&mut self) {
        let mut addressless: Vec<&Spanned<Name>> = Vec::new();
        for (name, job) in &self.config.jobs {
            self.job(name, job, &mut addressless);
        }
        // Without global.hostname, the one node lacking an address is taken as the local one.
        if self.config.global.hostname.is_none() {
            let first = addressless.first().map(|n| n.get_ref().clone());
            for n in &addressless {
                if Some(n.get_ref()) != first.as_ref() {
                    let msg = format!(
                        "node `{}` has no `address`, and neither has `{}`; only the local node may omit it",
                        n.get_ref(),
                        first.as_ref().map_or("", Name::as_str),
                    );
                    let hint = format!(
                        "add `address = ...` to [nodes.{}], or set global.hostname",
                        n.get_ref()
                    );
                    self.push(&n.span(), msg, hint);
                }
            }
        }
    }

    fn endpoint_node<'c>(
        &mut self,
        ep: &'c Endpoint,
        role: &str,
        addressless: &mut Vec<&'c Spanned<Name>>,
    ) {
        if !self.node_exists(&ep.node, role) {
            return;
        }
        let node = &self.config.nodes[ep.node.get_ref().as_str()];
        if node.address.is_some() {
            return;
        }
        match &self.config.global.hostname {
            Some(local) if local.get_ref() == ep.node.get_ref() => {}
            Some(local) => self.push(
                &ep.node.span(),
                format!(
                    "node `{}` has no `address` but is not the local node `{}`",
                    ep.node.get_ref(),
                    local.get_ref()
                ),
                format!("add `address = ...` to [nodes.{}]", ep.node.get_ref()),
            ),
            None => addressless.push(&ep.node),
        }
    }

    fn job<'c>(&mut self, name: &Name, job: &'c Job, addressless: &mut Vec<&'c Spanned<Name>>) {
        self.endpoint_node(&job.source, &format!("jobs.{name}.source"), addressless);
        if job.targets.get_ref().is_empty() {
            self.push(
                &job.targets.span(),
                format!("job `{name}` has no targets"),
                "add at least one { node = ..., dataset = ... }".to_owned(),
            );
        }
        let mut seen: BTreeSet<(&str, &DatasetName)> = BTreeSet::new();
        for t in job.targets.get_ref() {
            let ep = t.get_ref();
            self.endpoint_node(ep, &format!("jobs.{name}.targets"), addressless);
            if ep.node.get_ref() == job.source.node.get_ref() && ep.dataset == job.source.dataset {
                self.push(
                    &t.span(),
                    format!(
                        "target {}:{} is the job's own source",
                        ep.node.get_ref(),
                        ep.dataset
                    ),
                    "a target must differ from the source in node or dataset".to_owned(),
                );
            }
            if !seen.insert((ep.node.get_ref().as_str(), &ep.dataset)) {
                self.push(
                    &t.span(),
                    format!(
                        "duplicate target {}:{} in job `{name}`",
                        ep.node.get_ref(),
                        ep.dataset
                    ),
                    "list each node and dataset once".to_owned(),
                );
            }
        }
        for ex in &job.exclude {
            if !job.source.dataset.is_ancestor_of(ex.get_ref()) {
                self.push(
                    &ex.span(),
                    format!(
                        "exclude {} is not below the source dataset {}",
                        ex.get_ref(),
                        job.source.dataset
                    ),
                    "exclude names descendants of the source dataset".to_owned(),
                );
            } else if !job.recursive {
                self.push(
                    &ex.span(),
                    format!(
                        "exclude {} has no effect: job `{name}` is not recursive",
                        ex.get_ref()
                    ),
                    "set recursive = true or remove the exclude".to_owned(),
                );
            }
        }
    }

    /// A service's job runs from whichever service node is master: it must be a push job
    /// with exactly one dataset on every service node.
    fn service_job(&mut self, name: &Name, svc: &Service, j: &Spanned<Name>, job: &Job) {
        if job.mode == SyncMode::Pull {
            self.push(
                &j.span(),
                format!("job `{}` of service `{name}` is a pull job", j.get_ref()),
                "a service's jobs push from the master; set mode = \"push\"".to_owned(),
            );
        }
        let ends: Vec<&str> = std::iter::once(job.source.node.get_ref().as_str())
            .chain(
                job.targets
                    .get_ref()
                    .iter()
                    .map(|t| t.get_ref().node.get_ref().as_str()),
            )
            .collect();
        for n in svc.nodes.get_ref() {
            let count = ends.iter().filter(|e| **e == n.get_ref().as_str()).count();
            if count != 1 {
                self.push(
                    &j.span(),
                    format!(
                        "job `{}` of service `{name}` has {count} datasets on service node `{}`",
                        j.get_ref(),
                        n.get_ref()
                    ),
                    "the master's dataset is the source: give the job exactly one dataset (source \
                     or target) on every service node"
                        .to_owned(),
                );
            }
        }
    }

    fn service(&mut self, name: &Name, svc: &Service) {
        let role = format!("services.{name}");
        if svc.nodes.get_ref().is_empty() {
            self.push(
                &svc.nodes.span(),
                format!("service `{name}` lists no nodes"),
                "list the nodes that may run the service".to_owned(),
            );
        }
        for n in svc.nodes.get_ref() {
            self.node_exists(n, &format!("{role}.nodes"));
        }
        for n in &svc.third_sites {
            self.node_exists(n, &format!("{role}.third-sites"));
            if svc
                .nodes
                .get_ref()
                .iter()
                .any(|m| m.get_ref() == n.get_ref())
            {
                self.push(
                    &n.span(),
                    format!(
                        "node `{}` is both a service node and a third site",
                        n.get_ref()
                    ),
                    "a third site never runs the service; list it in one place".to_owned(),
                );
            }
        }
        for j in &svc.jobs {
            let jobs = &self.config.jobs;
            if let Some(job) = jobs.get(j.get_ref().as_str()) {
                self.service_job(name, svc, j, job);
            } else {
                let hint = did_you_mean(
                    j.get_ref().as_str(),
                    jobs.keys().map(Name::as_str),
                    &format!("define it as [jobs.{}]", j.get_ref()),
                );
                self.push(
                    &j.span(),
                    format!("unknown job `{}` in {role}.jobs", j.get_ref()),
                    hint,
                );
            }
        }
        if let Placement::Static { node } = svc.placement.get_ref() {
            let spanned = Spanned::new(svc.placement.span(), node.clone());
            if self.node_exists(&spanned, &format!("{role}.placement"))
                && !svc.nodes.get_ref().iter().any(|m| m.get_ref() == node)
            {
                self.push(
                    &svc.placement.span(),
                    format!("static placement node `{node}` is not in {role}.nodes"),
                    "add it to nodes".to_owned(),
                );
            }
        }
    }
}

impl Config {
    /// Checks references and cross-key rules; returns every problem found, in file order.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut c = Checker {
            config: self,
            out: Vec::new(),
        };
        c.global();
        c.templates();
        c.datasets();
        c.jobs();
        for (name, svc) in &self.services {
            c.service(name, svc);
        }
        let mut out = c.out;
        if out.is_empty() {
            return Ok(());
        }
        out.sort_by_key(|d| (d.line, d.column));
        Err(ConfigError::Invalid(out))
    }
}
