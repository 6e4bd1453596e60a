//! `zferry snap import-sanoid`: a sanoid.conf (plus sanoid.defaults.conf) turned into zferry
//! TOML, and a report of every setting that has no zferry equivalent.
//!
//! Pure: text in, text out. The values of each sanoid section are resolved the way sanoid 2.1.0
//! resolves them (defaults, then the user's `[template_default]`, then each template of
//! `use_template` in order, then the section's own keys; toggles normalised; sections below a
//! recursive parent start from the parent's values), then written as zferry templates and
//! datasets so that `Config::effective_policy` yields the same counts, switches and monitoring
//! thresholds. A dataset refers to its first template and overrides what differs; when that
//! cannot be expressed (zferry overrides can add thresholds but not remove them), it carries
//! every value itself.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;
use zferry_config::Period;

/// A sanoid setting that was not converted, or only partly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unconverted {
    /// 1-based line in the sanoid.conf text (`None` for a value that came from the defaults).
    pub line: Option<usize>,
    pub section: String,
    pub key: String,
    pub value: String,
    pub reason: String,
}

/// What the import produced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImportResult {
    /// zferry configuration text (templates, datasets and, when needed, `[global]`).
    pub toml: String,
    /// Settings that were left out, with why.
    pub unconverted: Vec<Unconverted>,
    /// Settings that were converted with a change worth knowing (hooks moved from templates to
    /// datasets, several templates merged, …).
    pub notes: Vec<Unconverted>,
}

/// Why the text could not be read at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImportError {
    #[error("line {line}: {message}")]
    Syntax { line: usize, message: String },
    #[error("sanoid.defaults.conf has no [template_default] section")]
    NoDefaults,
}

// ---------------------------------------------------------------------------------------------
// INI reading (the subset of Config::IniFiles that sanoid configs use)
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct Entry {
    key: String,
    value: String,
    line: usize,
}

#[derive(Debug, Clone)]
struct Section {
    name: String,
    line: usize,
    entries: Vec<Entry>,
}

impl Section {
    fn get(&self, key: &str) -> Option<&Entry> {
        self.entries.iter().rev().find(|e| e.key == key)
    }
}

fn parse_ini(text: &str) -> Result<Vec<Section>, ImportError> {
    let mut sections: Vec<Section> = Vec::new();
    for (idx, raw) in text.lines().enumerate() {
        let line = idx + 1;
        let t = raw.trim();
        if t.is_empty() || t.starts_with('#') || t.starts_with(';') {
            continue;
        }
        if let Some(inner) = t.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
            let name = inner.trim().to_owned();
            match sections.iter().position(|s| s.name == name) {
                // A repeated header continues the section, as Config::IniFiles does.
                Some(i) => {
                    let s = sections.remove(i);
                    sections.push(s);
                }
                None => sections.push(Section {
                    name,
                    line,
                    entries: Vec::new(),
                }),
            }
            continue;
        }
        let Some((k, v)) = t.split_once('=') else {
            return Err(ImportError::Syntax {
                line,
                message: format!("neither a [section], a comment nor key = value: {t:?}"),
            });
        };
        let Some(section) = sections.last_mut() else {
            return Err(ImportError::Syntax {
                line,
                message: "key = value before any [section]".to_owned(),
            });
        };
        section.entries.push(Entry {
            key: k.trim().to_owned(),
            value: v.trim().to_owned(),
            line,
        });
    }
    Ok(sections)
}

// ---------------------------------------------------------------------------------------------
// sanoid's resolution
// ---------------------------------------------------------------------------------------------

const TOGGLES: [&str; 10] = [
    "autosnap",
    "autoprune",
    "monitor_dont_warn",
    "monitor_dont_crit",
    "monitor",
    "recursive",
    "process_children_only",
    "skip_children",
    "no_inconsistent_snapshot",
    "force_post_snapshot_script",
];

/// sanoid's normalisation of true/false words on toggle keys.
fn normalise_toggle(v: &str) -> String {
    match v {
        "1" | "true" | "True" | "TRUE" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" => "1".into(),
        "0" | "false" | "False" | "FALSE" | "no" | "No" | "NO" | "off" | "Off" | "OFF" => {
            "0".into()
        }
        other => other.to_owned(),
    }
}

fn normalise_toggles(v: &mut Values) {
    for t in TOGGLES {
        if let Some(x) = v.get_mut(t) {
            x.value = normalise_toggle(&x.value);
        }
    }
}

/// Perl truthiness of a string.
fn truthy(v: &str) -> bool {
    !(v.is_empty() || v == "0")
}

/// A resolved value and where it was set (line in sanoid.conf; `None` for the defaults file).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Val {
    value: String,
    line: Option<usize>,
    /// The section that set it (a template or the dataset section itself).
    from: String,
}

type Values = BTreeMap<String, Val>;

struct Resolver<'a> {
    defaults: Values,
    ini: &'a [Section],
}

impl Resolver<'_> {
    fn section(&self, name: &str) -> Option<&Section> {
        self.ini.iter().find(|s| s.name == name)
    }

    fn apply(out: &mut Values, s: &Section, skip: impl Fn(&str) -> bool) {
        for e in &s.entries {
            if !skip(&e.key) {
                out.insert(
                    e.key.clone(),
                    Val {
                        value: e.value.clone(),
                        line: Some(e.line),
                        from: s.name.clone(),
                    },
                );
            }
        }
    }

    /// Defaults, then the user's `[template_default]`.
    fn base(&self) -> Values {
        let mut v: Values = self
            .defaults
            .iter()
            .filter(|(k, _)| !(k.contains("template") || k.contains("recursive")))
            .filter(|(k, _)| !k.contains("children_only"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if let Some(s) = self.section("template_default") {
            Self::apply(&mut v, s, |k| {
                k.contains("template") || k.contains("recursive")
            });
        }
        normalise_toggles(&mut v);
        v
    }

    fn templates_of(s: &Section) -> Vec<String> {
        s.get("use_template")
            .map(|e| {
                e.value
                    .split(',')
                    .map(|t| t.trim().to_owned())
                    .filter(|t| !t.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// `start`, then the templates of `use_template` in order, then the section's own keys.
    fn resolve(&self, start: Values, s: &Section) -> Values {
        let mut v = start;
        for t in Self::templates_of(s) {
            if let Some(ts) = self.section(&format!("template_{t}")) {
                Self::apply(&mut v, ts, |k| {
                    k.contains("template") || k.contains("recursive")
                });
            }
        }
        Self::apply(&mut v, s, |k| {
            k.contains("template") || k.contains("recursive") || k.contains("skip_children")
        });
        normalise_toggles(&mut v);
        v
    }

    /// A template on its own: defaults, `[template_default]`, then the template's keys.
    fn resolve_template(&self, s: &Section) -> Values {
        let mut v = self.base();
        Self::apply(&mut v, s, |k| {
            k.contains("template") || k.contains("recursive")
        });
        normalise_toggles(&mut v);
        v
    }
}

/// sanoid's `convertTimePeriod`: seconds, or `None` for a value sanoid reads as "1 second"
/// because it is malformed.
fn convert_time_period(value: &str, smaller: u64) -> Option<u64> {
    let (digits, unit) = value.split_at(value.bytes().take_while(u8::is_ascii_digit).count());
    if digits.is_empty() {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    let scale = match unit {
        "y" | "Y" => 60 * 60 * 24 * 31 * 365,
        "w" | "W" => 60 * 60 * 24 * 7,
        "d" | "D" => 60 * 60 * 24,
        "h" | "H" => 60 * 60,
        "m" | "M" => 60,
        "s" | "S" => 1,
        "" => smaller,
        _ => return None,
    };
    n.checked_mul(scale)
}

/// The unit of a bare number in a `<period>_warn`/`_crit` value: "one period down".
fn smaller_period(p: Period) -> u64 {
    match p {
        Period::Frequently => 1,
        Period::Hourly => 60,
        Period::Daily => 3600,
        Period::Weekly => 86_400,
        Period::Monthly => 7 * 86_400,
        Period::Yearly => 31 * 86_400,
    }
}

/// Seconds as a zferry duration (largest exact unit).
fn duration_text(secs: u64) -> String {
    let (n, unit) = [(604_800, "w"), (86_400, "d"), (3600, "h"), (60, "m")]
        .into_iter()
        .find(|(scale, _)| secs != 0 && secs.is_multiple_of(*scale))
        .map_or((secs, "s"), |(scale, unit)| (secs / scale, unit));
    format!("{n}{unit}")
}

// ---------------------------------------------------------------------------------------------
// The zferry view of resolved values
// ---------------------------------------------------------------------------------------------

/// Scheduling keys zferry accepts on templates and datasets (same meaning as sanoid's).
const SCHEDULE_KEYS: [&str; 13] = [
    "hourly_min",
    "daily_hour",
    "daily_min",
    "weekly_wday",
    "weekly_hour",
    "weekly_min",
    "monthly_mday",
    "monthly_hour",
    "monthly_min",
    "yearly_mon",
    "yearly_mday",
    "yearly_hour",
    "yearly_min",
];

/// What one zferry template or dataset says about a policy.
#[allow(clippy::struct_excessive_bools, reason = "one per sanoid toggle")]
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Policy {
    counts: BTreeMap<Period, u32>,
    frequent_period_min: Option<u64>,
    autosnap: bool,
    autoprune: bool,
    /// period → (warn seconds, crit seconds), only periods sanoid actually checks.
    thresholds: BTreeMap<Period, (Option<u64>, u64)>,
    dont_warn: bool,
    dont_crit: bool,
    schedule: BTreeMap<&'static str, String>,
}

struct Report<'a> {
    unconverted: &'a mut Vec<Unconverted>,
    notes: &'a mut Vec<Unconverted>,
}

impl Report<'_> {
    fn push(list: &mut Vec<Unconverted>, section: &str, key: &str, v: &Val, reason: String) {
        // Reported where the value was written, so a template's key is listed once.
        let section = if v.line.is_some() { &v.from } else { section };
        let item = Unconverted {
            line: v.line,
            section: section.to_owned(),
            key: key.to_owned(),
            value: v.value.clone(),
            reason,
        };
        if !list.contains(&item) {
            list.push(item);
        }
    }
    fn lost(&mut self, section: &str, key: &str, v: &Val, reason: impl Into<String>) {
        Self::push(self.unconverted, section, key, v, reason.into());
    }
    fn note(&mut self, section: &str, key: &str, v: &Val, reason: impl Into<String>) {
        Self::push(self.notes, section, key, v, reason.into());
    }
}

fn to_policy(values: &Values, defaults: &Values, section: &str, r: &mut Report<'_>) -> Policy {
    let get = |k: &str| values.get(k).map_or("", |v| v.value.as_str());
    let mut p = Policy {
        autosnap: truthy(get("autosnap")),
        autoprune: truthy(get("autoprune")),
        dont_warn: truthy(get("monitor_dont_warn")),
        dont_crit: truthy(get("monitor_dont_crit")),
        ..Policy::default()
    };
    for period in Period::ALL {
        let Some(v) = values.get(period.as_str()) else {
            continue;
        };
        match v.value.parse::<u32>() {
            Ok(n) => {
                p.counts.insert(period, n);
            }
            Err(_) => r.lost(
                section,
                period.as_str(),
                v,
                "not a whole number of snapshots",
            ),
        }
    }
    if let Some(v) = values.get("frequent_period") {
        match v.value.parse::<u64>() {
            Ok(m @ 1..=60) => p.frequent_period_min = Some(m),
            _ => r.lost(
                section,
                "frequent_period",
                v,
                "zferry needs whole minutes between 1 and 60",
            ),
        }
    }
    let monitor = truthy(get("monitor"));
    for period in Period::ALL {
        let (wk, ck) = (format!("{period}_warn"), format!("{period}_crit"));
        let (Some(w), Some(c)) = (values.get(&wk), values.get(&ck)) else {
            continue;
        };
        let small = smaller_period(period);
        let (ws, cs) = (
            convert_time_period(&w.value, small),
            convert_time_period(&c.value, small),
        );
        if ws.is_none() {
            r.lost(
                section,
                &wk,
                w,
                "malformed duration (sanoid reads it as 1 second)",
            );
        }
        if cs.is_none() {
            r.lost(
                section,
                &ck,
                c,
                "malformed duration (sanoid reads it as 1 second)",
            );
        }
        let (Some(ws), Some(cs)) = (ws, cs) else {
            continue;
        };
        // sanoid never checks a period whose crit is 0, and a warn at or above crit never fires.
        if monitor && cs > 0 {
            p.thresholds
                .insert(period, ((ws > 0 && ws < cs).then_some(ws), cs));
        }
    }
    for key in SCHEDULE_KEYS {
        if let (Some(v), Some(d)) = (values.get(key), defaults.get(key))
            && v.value != d.value
        {
            if v.value.parse::<u32>().is_ok() {
                p.schedule.insert(key, v.value.clone());
            } else {
                r.lost(section, key, v, "not a whole number");
            }
        }
    }
    p
}

/// Settings without a zferry equivalent, reported wherever they take effect.
fn report_unsupported(values: &Values, defaults: &Values, section: &str, r: &mut Report<'_>) {
    for (key, v) in values {
        let default = defaults.get(key).map(|d| d.value.as_str());
        let changed = default != Some(v.value.as_str());
        let why = match key.as_str() {
            "pruning_script" if !v.value.is_empty() => "zferry has no hook after pruning",
            "prune_defer" if v.value != "0" => {
                "zferry always prunes (no capacity-deferred pruning)"
            }
            "no_inconsistent_snapshot" if truthy(&v.value) => {
                "zferry has no switch to skip the snapshot when the pre-snapshot hook fails"
            }
            "force_post_snapshot_script" if truthy(&v.value) => {
                "zferry has no switch to run the post-snapshot hook after a failed pre hook"
            }
            "capacity_warn" | "capacity_crit" if changed && v.from != "template_default" => {
                "zferry has one capacity limit for all pools ([global] capacity-warn/-crit), set from [template_default] only"
            }
            _ => continue,
        };
        r.lost(section, key, v, why);
    }
}

// ---------------------------------------------------------------------------------------------
// Hooks
// ---------------------------------------------------------------------------------------------

/// Splits a sanoid script string into argv when that is unambiguous: no quoting, escaping,
/// expansion or operators, and an absolute program path.
fn split_script(s: &str) -> Result<Vec<String>, &'static str> {
    if s.chars().any(|c| "\"'\\$`;&|<>(){}[]*?~#!\n".contains(c)) {
        return Err("the command uses shell syntax; write it as an argv list by hand");
    }
    let argv: Vec<String> = s.split_whitespace().map(str::to_owned).collect();
    match argv.first() {
        None => Err("empty command"),
        Some(p) if !p.starts_with('/') => {
            Err("the program is not an absolute path (zferry runs no shell and no PATH search)")
        }
        Some(_) => Ok(argv),
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Hook {
    argv: Vec<String>,
    timeout_secs: u64,
}

fn hooks(values: &Values, section: &str, r: &mut Report<'_>) -> [Option<Hook>; 2] {
    let timeout = values.get("script_timeout");
    let secs = timeout.and_then(|t| t.value.parse::<i64>().ok());
    ["pre_snapshot_script", "post_snapshot_script"].map(|key| {
        let v = values.get(key).filter(|v| !v.value.is_empty())?;
        let argv = match split_script(&v.value) {
            Ok(a) => a,
            Err(why) => {
                r.lost(section, key, v, why);
                return None;
            }
        };
        let timeout_secs = match (secs, timeout) {
            (Some(n), _) if n > 0 => n.unsigned_abs(),
            (_, Some(t)) => {
                r.lost(
                    section,
                    "script_timeout",
                    t,
                    "zferry hooks always have a time limit (sanoid: <= 0 means none); 30s used",
                );
                30
            }
            (_, None) => 30,
        };
        r.note(
            section,
            key,
            v,
            "runs without a shell; sanoid's SANOID_* environment is replaced by ZFERRY_HOOK, ZFERRY_DATASETS and ZFERRY_SNAPSHOTS",
        );
        Some(Hook { argv, timeout_secs })
    })
}

// ---------------------------------------------------------------------------------------------
// TOML writing
// ---------------------------------------------------------------------------------------------

fn quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn kebab(k: &str) -> String {
    k.replace('_', "-")
}

/// Writes the keys of `p` that differ from `base` (all keys that differ from zferry's
/// defaults when `base` is `None`), then its monitor table under `header`.
fn write_policy(out: &mut String, header: &str, p: &Policy, base: Option<&Policy>) {
    let zferry_default = Policy {
        autosnap: true,
        autoprune: true,
        ..Policy::default()
    };
    let b = base.unwrap_or(&zferry_default);
    for period in Period::ALL {
        let n = p.counts.get(&period).copied().unwrap_or(0);
        if n != b.counts.get(&period).copied().unwrap_or(0) {
            let _ = writeln!(out, "{period} = {n}");
        }
    }
    let fp = |x: &Policy| x.frequent_period_min.unwrap_or(15);
    if fp(p) != fp(b) {
        let _ = writeln!(out, "frequent-period = \"{}m\"", fp(p));
    }
    for (key, mine, theirs) in [
        ("autosnap", p.autosnap, b.autosnap),
        ("autoprune", p.autoprune, b.autoprune),
        ("monitor-dont-warn", p.dont_warn, b.dont_warn),
        ("monitor-dont-crit", p.dont_crit, b.dont_crit),
    ] {
        if mine != theirs {
            let _ = writeln!(out, "{key} = {mine}");
        }
    }
    for (key, v) in &p.schedule {
        if b.schedule.get(key) != Some(v) {
            let _ = writeln!(out, "{} = {v}", kebab(key));
        }
    }
    let mut monitor = String::new();
    for (period, (w, c)) in &p.thresholds {
        if b.thresholds.get(period) == Some(&(*w, *c)) {
            continue;
        }
        if let Some(w) = w {
            let _ = writeln!(monitor, "{period}-warn = \"{}\"", duration_text(*w));
        }
        let _ = writeln!(monitor, "{period}-crit = \"{}\"", duration_text(*c));
    }
    if !monitor.is_empty() {
        let _ = write!(out, "\n[{header}.monitor]\n{monitor}");
    }
}

/// Can `ds` be written as overrides of template `t`? zferry merges thresholds key by key and
/// cannot unset one the template sets, nor leave a template's warn under a lower own crit.
fn expressible_over(ds: &Policy, t: &Policy) -> bool {
    t.thresholds.iter().all(|(period, (tw, tc))| {
        ds.thresholds
            .get(period)
            .is_some_and(|(dw, dc)| (dw, dc) == (tw, tc) || dw.is_some() || tw.is_none())
    }) && t.schedule.keys().all(|k| ds.schedule.contains_key(k))
}

// ---------------------------------------------------------------------------------------------
// The import
// ---------------------------------------------------------------------------------------------

/// One dataset section, resolved.
struct DatasetOut {
    name: String,
    section: String,
    line: usize,
    template: Option<String>,
    recursive: Option<&'static str>,
    children_only: bool,
    policy: Policy,
    hooks: [Option<Hook>; 2],
}

fn is_template(name: &str) -> bool {
    name.starts_with("template")
}

fn valid_template_name(n: &str) -> bool {
    n.parse::<zferry_config::Name>().is_ok()
}

/// Converts `sanoid_conf` (with `defaults_conf`, the text of sanoid.defaults.conf).
#[allow(
    clippy::too_many_lines,
    reason = "one pass per section kind, read top-down"
)]
pub fn import(sanoid_conf: &str, defaults_conf: &str) -> Result<ImportResult, ImportError> {
    let ini = parse_ini(sanoid_conf)?;
    let defaults_ini = parse_ini(defaults_conf)?;
    let def = defaults_ini
        .iter()
        .find(|s| s.name == "template_default")
        .ok_or(ImportError::NoDefaults)?;
    let mut defaults = Values::new();
    Resolver::apply(&mut defaults, def, |_| false);
    for v in defaults.values_mut() {
        v.line = None;
        v.from = "sanoid.defaults.conf".into();
    }
    let resolver = Resolver {
        defaults: defaults.clone(),
        ini: &ini,
    };
    let (mut unconverted, mut notes) = (Vec::new(), Vec::new());
    let mut r = Report {
        unconverted: &mut unconverted,
        notes: &mut notes,
    };

    // Keys sanoid itself refuses, and keys it ignores in templates.
    for s in &ini {
        for e in &s.entries {
            let v = Val {
                value: e.value.clone(),
                line: Some(e.line),
                from: s.name.clone(),
            };
            if !defaults.contains_key(&e.key) {
                r.lost(&s.name, &e.key, &v, "unknown to sanoid (it refuses to run)");
            } else if is_template(&s.name)
                && (e.key.contains("template") || e.key.contains("recursive"))
            {
                r.lost(&s.name, &e.key, &v, "ignored by sanoid in templates");
            } else if !is_template(&s.name) && e.key == "skip_children" && truthy(&e.value) {
                r.lost(
                    &s.name,
                    &e.key,
                    &v,
                    "zferry has no way to drop descendants' own entries; use recursive = \"no\"",
                );
            } else if !is_template(&s.name) && e.key == "use_template" {
                for t in Resolver::templates_of(s) {
                    if resolver.section(&format!("template_{t}")).is_none() && t != "default" {
                        r.lost(
                            &s.name,
                            &e.key,
                            &v,
                            format!("template {t:?} is not defined"),
                        );
                    }
                }
            }
        }
    }

    // Templates, each resolved on its own.
    let base = resolver.base();
    let mut templates: BTreeMap<String, (Policy, usize)> = BTreeMap::new();
    for s in ini.iter().filter(|s| is_template(&s.name)) {
        let name = s.name.strip_prefix("template_").unwrap_or(&s.name);
        let hdr = Val {
            value: String::new(),
            line: Some(s.line),
            from: s.name.clone(),
        };
        if !valid_template_name(name) {
            r.lost(&s.name, "", &hdr, "not a valid zferry template name");
            continue;
        }
        let values = resolver.resolve_template(s);
        let policy = to_policy(&values, &defaults, &s.name, &mut r);
        report_unsupported(&values, &defaults, &s.name, &mut r);
        for key in [
            "pre_snapshot_script",
            "post_snapshot_script",
            "script_timeout",
        ] {
            if let Some(e) = s.get(key) {
                let v = Val {
                    value: e.value.clone(),
                    line: Some(e.line),
                    from: s.name.clone(),
                };
                r.note(
                    &s.name,
                    key,
                    &v,
                    "zferry templates carry no hooks: written on each dataset using this template",
                );
            }
        }
        templates.insert(name.to_owned(), (policy, s.line));
    }
    let default_policy = to_policy(&base, &defaults, "template_default", &mut r);
    report_unsupported(&base, &defaults, "template_default", &mut r);

    // Dataset sections, parents before children so children can start from their parent.
    let mut datasets: Vec<DatasetOut> = Vec::new();
    let mut parents: BTreeMap<String, (Values, Option<&'static str>)> = BTreeMap::new();
    let mut order: Vec<&Section> = ini.iter().filter(|s| !is_template(&s.name)).collect();
    order.sort_by_key(|s| s.name.matches('/').count());
    for s in order {
        let path = s.get("path").map_or(s.name.clone(), |e| e.value.clone());
        if let Some(e) = s.get("path")
            && e.value != s.name
        {
            let v = Val {
                value: e.value.clone(),
                line: Some(e.line),
                from: s.name.clone(),
            };
            r.note(
                &s.name,
                "path",
                &v,
                "the dataset entry is named by its path",
            );
        }
        let recursive = s.get("recursive").and_then(|e| {
            if e.value.to_lowercase().contains("zfs") {
                Some("atomic")
            } else if normalise_toggle(&e.value) == "1" {
                Some("yes")
            } else {
                None
            }
        });
        // The nearest recursive ancestor section, if any.
        let parent = parents
            .iter()
            .filter(|(p, (_, rec))| rec.is_some() && path.starts_with(&format!("{p}/")))
            .max_by_key(|(p, _)| p.len())
            .map(|(p, (v, rec))| (p.clone(), (v.clone(), *rec)));
        let start = match &parent {
            Some((pname, (pv, rec))) => {
                let mut v: Values = pv
                    .iter()
                    .filter(|(k, _)| {
                        !(k.contains("template")
                            || k.contains("recursive")
                            || k.contains("children_only"))
                    })
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                if *rec == Some("atomic")
                    && let Some(a) = v.get_mut("autosnap")
                {
                    a.value = "0".into();
                }
                let hdr = Val {
                    value: String::new(),
                    line: Some(s.line),
                    from: s.name.clone(),
                };
                r.note(
                    &s.name,
                    "",
                    &hdr,
                    format!(
                        "below recursive {pname}: resolved from {pname}'s values, written as an entry of its own"
                    ),
                );
                v
            }
            None => base.clone(),
        };
        let values = resolver.resolve(start, s);
        parents.insert(path.clone(), (values.clone(), recursive));
        let policy = to_policy(&values, &defaults, &s.name, &mut r);
        report_unsupported(&values, &defaults, &s.name, &mut r);
        let hooks = hooks(&values, &s.name, &mut r);
        let names = Resolver::templates_of(s);
        if names.len() > 1
            && let Some(e) = s.get("use_template")
        {
            let v = Val {
                value: e.value.clone(),
                line: Some(e.line),
                from: s.name.clone(),
            };
            r.note(
                &s.name,
                "use_template",
                &v,
                "zferry takes one template: the first, with what the others change as overrides",
            );
        }
        let first = names
            .first()
            .cloned()
            .unwrap_or_else(|| "default".to_owned());
        let tpl = if parent.is_some() {
            None
        } else if first == "default" {
            Some(("default".to_owned(), &default_policy))
        } else {
            templates.get(&first).map(|(p, _)| (first.clone(), p))
        };
        let template = match tpl {
            Some((n, t)) if expressible_over(&policy, t) => Some(n),
            _ => None,
        };
        datasets.push(DatasetOut {
            name: path,
            section: s.name.clone(),
            line: s.line,
            template,
            recursive,
            children_only: values
                .get("process_children_only")
                .is_some_and(|v| truthy(&v.value)),
            policy,
            hooks,
        });
    }
    datasets.sort_by_key(|d| d.line);

    // Output.
    let mut out = String::from(
        "# Converted from a sanoid configuration by `zferry snap import-sanoid`.\n\
         # sanoid names snapshots in local time: keep timezone = \"local\" so names continue.\n\n\
         [global]\ntimezone = \"local\"\n",
    );
    let cap = |k: &str, d: &str| base.get(k).map_or(d.to_owned(), |v| v.value.clone());
    for (key, dflt) in [("capacity_warn", "80"), ("capacity_crit", "95")] {
        let v = cap(key, dflt);
        if v != dflt {
            if v.parse::<u8>().is_ok_and(|n| n <= 100) {
                let _ = writeln!(out, "{} = {v}", kebab(key));
            } else if let Some(val) = base.get(key) {
                r.lost("template_default", key, val, "not a percentage 0..100");
            }
        }
    }
    let uses_default = datasets
        .iter()
        .any(|d| d.template.as_deref() == Some("default"));
    if uses_default && !templates.contains_key("default") {
        out.push_str(
            "\n# sanoid's defaults merged with [template_default].\n[templates.default]\n",
        );
        write_policy(&mut out, "templates.default", &default_policy, None);
    }
    for (name, (policy, line)) in &templates {
        let header = format!("templates.{name}");
        let _ = write!(out, "\n# [template_{name}], line {line}\n[{header}]\n");
        write_policy(&mut out, &header, policy, None);
    }
    for d in &datasets {
        let header = format!("datasets.{}", quote(&d.name));
        let _ = write!(out, "\n# [{}], line {}\n[{header}]\n", d.section, d.line);
        let base = match &d.template {
            Some(t) => {
                let _ = writeln!(out, "use-template = {}", quote(t));
                if t == "default" {
                    Some(&default_policy)
                } else {
                    templates.get(t).map(|(p, _)| p)
                }
            }
            None => None,
        };
        if let Some(rec) = d.recursive {
            let _ = writeln!(out, "recursive = \"{rec}\"");
        }
        if d.children_only {
            out.push_str("process-children-only = true\n");
        }
        for (key, hook) in ["pre-snapshot", "post-snapshot"].iter().zip(&d.hooks) {
            if let Some(h) = hook {
                let argv: Vec<String> = h.argv.iter().map(|a| quote(a)).collect();
                let _ = writeln!(
                    out,
                    "{key} = {{ argv = [{}], timeout = \"{}\" }}",
                    argv.join(", "),
                    duration_text(h.timeout_secs)
                );
            }
        }
        write_policy(&mut out, &header, &d.policy, base);
    }
    unconverted.sort_by_key(|u| (u.line, u.key.clone()));
    notes.sort_by_key(|u| (u.line, u.key.clone()));
    Ok(ImportResult {
        toml: out,
        unconverted,
        notes,
    })
}
