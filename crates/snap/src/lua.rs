//! The channel programs (`zfs program`) that make a run atomic per pool, their arguments and
//! the parsing of their `-j` output.
//!
//! The Lua source is static text: names and values are never interpolated into it, they are
//! passed as program arguments (`argv`), so no dataset name can change what the program does.
//! The script is fed on stdin (`zfs program … <pool> - <args…>`; `-` reads the script from
//! standard input, checked on OpenZFS 2.3.2), so no temporary file is needed.
//!
//! Both programs run in two phases: phase 1 checks every operation with `zfs.check.*` and
//! collects every failure with its errno; if anything failed the program returns the list and
//! changes nothing. Phase 2 performs all operations in the same transaction group. In `check`
//! mode the program stops after phase 1, which is what a dry run (`zfs program -n`) runs:
//! `-n` refuses any call into `zfs.sync.*`.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;
use zferry_exec::CommandSpec;
use zferry_zfs::{DatasetName, PoolName, SnapshotName};

/// Creates snapshots and sets properties, all or nothing.
///
/// `argv`: `mode nsnap snap… nprop (dataset property value)… ncheck name…` where the last
/// list holds snapshots a later program of the same run will create (checked, not created:
/// ZFS takes at most one snapshot of a dataset per transaction group).
pub const CREATE_PROGRAM: &str = r#"-- zferry create: check everything, then create everything (one txg)
local argv = (...)["argv"]
local mode = argv[1]
local i = 2
local function take(n)
  local out = {}
  for k = 1, n do
    if argv[i] == nil then error("zferry: missing program argument " .. i) end
    out[k] = argv[i]
    i = i + 1
  end
  return out
end
local function count(what)
  local n = tonumber(argv[i]) or error("zferry: bad " .. what .. " count")
  i = i + 1
  return n
end
local snaps = take(count("snapshot"))
local nprop = count("property")
local flat = take(nprop * 3)
local later = take(count("check"))
if argv[i] ~= nil then error("zferry: extra program argument " .. i) end

local failures = {}
local function fail(op, name, err, prop)
  failures[#failures + 1] = {op = op, name = name, err = err, property = prop}
end

local seen = {}
for _, s in ipairs(snaps) do
  local ds = string.match(s, "^([^@]+)@")
  if ds == nil then
    fail("snapshot", s, 22)
  elseif seen[ds] then
    fail("snapshot", s, 11)
  else
    seen[ds] = true
    local e = zfs.check.snapshot(s)
    if e ~= 0 then fail("snapshot", s, e) end
  end
end
for _, s in ipairs(later) do
  local e = zfs.check.snapshot(s)
  if e ~= 0 then fail("snapshot", s, e) end
end
if nprop > 0 and (zfs.check.set_prop == nil or zfs.sync.set_prop == nil) then
  return {ok = false, phase = "check", unsupported = "set_prop"}
end
for k = 1, nprop do
  local ds, p, v = flat[3 * k - 2], flat[3 * k - 1], flat[3 * k]
  local e = zfs.check.set_prop(ds, p, v)
  if e ~= 0 then fail("set_prop", ds, e, p) end
end
if #failures > 0 then
  return {ok = false, phase = "check", failures = failures}
end
if mode ~= "apply" then
  return {ok = true, phase = "check", snapshots = #snaps, properties = nprop}
end

for k = 1, nprop do
  local ds, p, v = flat[3 * k - 2], flat[3 * k - 1], flat[3 * k]
  local e = zfs.sync.set_prop(ds, p, v)
  if e ~= 0 then fail("set_prop", ds, e, p) end
end
for _, s in ipairs(snaps) do
  local e = zfs.sync.snapshot(s)
  if e ~= 0 then fail("snapshot", s, e) end
end
return {ok = #failures == 0, phase = "apply", snapshots = #snaps, properties = nprop,
        failures = failures}
"#;

/// Destroys snapshots, all or nothing. `argv`: `mode n snap…`. Snapshots that no longer
/// exist are reported as `missing` and are not a failure.
pub const DESTROY_PROGRAM: &str = r#"-- zferry destroy: check everything, then destroy everything (one txg)
local argv = (...)["argv"]
local mode = argv[1]
local n = tonumber(argv[2]) or error("zferry: bad snapshot count")
if argv[n + 3] ~= nil then error("zferry: extra program argument " .. (n + 3)) end
local snaps, missing, failures = {}, {}, {}
for k = 1, n do
  local s = argv[k + 2]
  if s == nil then error("zferry: missing program argument " .. (k + 2)) end
  if zfs.exists(s) then
    snaps[#snaps + 1] = s
    local e = zfs.check.destroy(s)
    if e ~= 0 then failures[#failures + 1] = {op = "destroy", name = s, err = e} end
  else
    missing[#missing + 1] = s
  end
end
if #failures > 0 then
  return {ok = false, phase = "check", failures = failures, missing = missing}
end
if mode ~= "apply" then
  return {ok = true, phase = "check", destroyed = #snaps, missing = missing}
end
for _, s in ipairs(snaps) do
  local e = zfs.sync.destroy(s)
  if e ~= 0 then failures[#failures + 1] = {op = "destroy", name = s, err = e} end
end
return {ok = #failures == 0, phase = "apply", destroyed = #snaps, missing = missing,
        failures = failures}
"#;

/// Whether a program only checks (dry run, `-n`) or also applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Mode {
    Check,
    Apply,
}

impl Mode {
    fn as_arg(self) -> &'static str {
        match self {
            Self::Check => "check",
            Self::Apply => "apply",
        }
    }
}

/// `zfs program` limits (`-t`, `-m`). ZFS allows at most 100 M instructions and 100 MiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Limits {
    pub instructions: u64,
    pub memory: u64,
}

impl Limits {
    /// ZFS's own defaults (10 M instructions, 10 MiB), raised for large batches: about 2 000
    /// instructions and 4 KiB per operation, capped at ZFS's maxima.
    pub fn for_operations(ops: usize) -> Self {
        let ops = u64::try_from(ops).unwrap_or(u64::MAX);
        Self {
            instructions: ops.saturating_mul(2_000).clamp(10_000_000, 100_000_000),
            memory: ops.saturating_mul(4096).clamp(10 << 20, 100 << 20),
        }
    }
}

/// A property to set in the create program.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PropSet {
    pub dataset: DatasetName,
    pub property: String,
    pub value: String,
}

/// Program arguments of [`CREATE_PROGRAM`].
pub fn create_args(
    mode: Mode,
    snapshots: &[SnapshotName],
    props: &[PropSet],
    later: &[SnapshotName],
) -> Vec<String> {
    let mut args = vec![mode.as_arg().to_owned(), snapshots.len().to_string()];
    args.extend(snapshots.iter().map(ToString::to_string));
    args.push(props.len().to_string());
    for p in props {
        args.extend([p.dataset.to_string(), p.property.clone(), p.value.clone()]);
    }
    args.push(later.len().to_string());
    args.extend(later.iter().map(ToString::to_string));
    args
}

/// Program arguments of [`DESTROY_PROGRAM`].
pub fn destroy_args(mode: Mode, snapshots: &[SnapshotName]) -> Vec<String> {
    let mut args = vec![mode.as_arg().to_owned(), snapshots.len().to_string()];
    args.extend(snapshots.iter().map(ToString::to_string));
    args
}

/// `zfs program -j [-n] -t <instr> -m <mem> <pool> - <args…>` with `source` on stdin.
pub fn program_spec(
    pool: &PoolName,
    source: &str,
    mode: Mode,
    limits: Limits,
    args: Vec<String>,
) -> CommandSpec {
    let mut spec = CommandSpec::new("zfs").args(["program", "-j"]);
    if mode == Mode::Check {
        spec = spec.arg("-n");
    }
    spec.args([
        "-t".to_owned(),
        limits.instructions.to_string(),
        "-m".to_owned(),
        limits.memory.to_string(),
        pool.to_string(),
        "-".to_owned(),
    ])
    .args(args)
    .stdin(source.as_bytes().to_vec())
    .label(pool.to_string())
}

/// One operation the program refused (phase 1) or that failed (phase 2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OpFailure {
    /// `snapshot`, `set_prop` or `destroy`.
    pub op: String,
    /// The snapshot, or for `set_prop` the dataset.
    pub name: String,
    pub property: Option<String>,
    pub errno: i64,
}

impl OpFailure {
    /// What the errno means for this operation, in words.
    pub fn describe(&self) -> String {
        let what = match (self.op.as_str(), self.errno) {
            ("snapshot", 17) => "snapshot already exists",
            ("snapshot", 11) => "another snapshot of this dataset in the same transaction group",
            ("destroy", 16) => "snapshot is held (user hold) or busy",
            ("destroy", 17) => "snapshot has dependent clones",
            (_, 2) => "dataset does not exist",
            (_, 1 | 13) => "permission denied",
            (_, 22) => "invalid name or value",
            (_, 28) => "out of space",
            (_, 36 | 63) => "name too long",
            (_, 16) => "busy",
            _ => "failed",
        };
        match &self.property {
            Some(p) => format!(
                "{} {} ({p}): {what} (errno {})",
                self.op, self.name, self.errno
            ),
            None => format!("{} {}: {what} (errno {})", self.op, self.name, self.errno),
        }
    }
}

/// What a program returned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProgramResult {
    /// True when nothing failed.
    pub ok: bool,
    /// `check` when the program stopped after phase 1 (failures, or check mode).
    pub applied: bool,
    pub failures: Vec<OpFailure>,
    /// Destroy program: snapshots already gone.
    pub missing: Vec<String>,
    /// Set when this ZFS lacks a needed function (e.g. `zfs.sync.set_prop` before 2.0).
    pub unsupported: Option<String>,
}

/// `zfs program -j` printed something this parser does not understand.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unexpected channel program output ({reason}): {output}")]
pub struct ResultError {
    pub reason: String,
    pub output: String,
}

/// Parses `{"return": {...}}` printed by `zfs program -j` running one of our programs.
///
/// Lua arrays arrive as objects keyed `"1"`, `"2"`, …; an empty Lua table is `{}`.
pub fn parse_result(stdout: &str) -> Result<ProgramResult, ResultError> {
    let bad = |reason: &str| ResultError {
        reason: reason.to_owned(),
        output: stdout.chars().take(2000).collect(),
    };
    let v: Value = serde_json::from_str(stdout.trim()).map_err(|e| bad(&e.to_string()))?;
    let r = v.get("return").ok_or_else(|| bad("no \"return\" key"))?;
    let ok = r
        .get("ok")
        .and_then(Value::as_bool)
        .ok_or_else(|| bad("no boolean \"ok\""))?;
    let applied = match r.get("phase").and_then(Value::as_str) {
        Some("apply") => true,
        Some("check") => false,
        _ => return Err(bad("no \"phase\" of check/apply")),
    };
    let failures = lua_array(r.get("failures"))
        .map_err(|e| bad(&e))?
        .into_iter()
        .map(|f| {
            let text = |k: &str| f.get(k).and_then(Value::as_str).map(str::to_owned);
            Ok(OpFailure {
                op: text("op").ok_or("failure without op")?,
                name: text("name").ok_or("failure without name")?,
                property: text("property"),
                errno: f
                    .get("err")
                    .and_then(Value::as_i64)
                    .ok_or("failure without err")?,
            })
        })
        .collect::<Result<Vec<_>, &str>>()
        .map_err(bad)?;
    let missing = lua_array(r.get("missing"))
        .map_err(|e| bad(&e))?
        .into_iter()
        .map(|m| {
            m.as_str()
                .map(str::to_owned)
                .ok_or("missing entry is not text")
        })
        .collect::<Result<Vec<_>, &str>>()
        .map_err(bad)?;
    Ok(ProgramResult {
        ok,
        applied,
        failures,
        missing,
        unsupported: r
            .get("unsupported")
            .and_then(Value::as_str)
            .map(str::to_owned),
    })
}

/// A Lua sequence as JSON: absent, `{}` , `[…]` or `{"1": …, "2": …}` in key order.
fn lua_array(v: Option<&Value>) -> Result<Vec<&Value>, String> {
    match v {
        None => Ok(Vec::new()),
        Some(Value::Array(items)) => Ok(items.iter().collect()),
        Some(Value::Object(map)) => {
            let mut keyed = BTreeMap::new();
            for (k, item) in map {
                let n: usize = k.parse().map_err(|_| format!("non-index key {k:?}"))?;
                keyed.insert(n, item);
            }
            if keyed.keys().copied().ne(1..=keyed.len()) {
                return Err("array indices are not 1..n".to_owned());
            }
            Ok(keyed.into_values().collect())
        }
        Some(_) => Err("expected an array".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(s: &str) -> SnapshotName {
        s.parse().unwrap()
    }

    #[test]
    fn args_are_counted_lists_never_lua_text() {
        let props = [PropSet {
            dataset: "tank/vm-100-disk-0".parse().unwrap(),
            property: "label:running".into(),
            value: "pve1".into(),
        }];
        let args = create_args(
            Mode::Apply,
            &[snap("tank/a@x"), snap("tank/b@x")],
            &props,
            &[snap("tank/a@y")],
        );
        assert_eq!(
            args,
            [
                "apply",
                "2",
                "tank/a@x",
                "tank/b@x",
                "1",
                "tank/vm-100-disk-0",
                "label:running",
                "pve1",
                "1",
                "tank/a@y"
            ]
        );
        assert_eq!(
            destroy_args(Mode::Check, &[snap("tank/a@old")]),
            ["check", "1", "tank/a@old"]
        );
        assert!(!CREATE_PROGRAM.contains("tank"));
    }

    #[test]
    fn program_spec_feeds_the_script_on_stdin() {
        let spec = program_spec(
            &"tank".parse().unwrap(),
            DESTROY_PROGRAM,
            Mode::Check,
            Limits::for_operations(3),
            destroy_args(Mode::Check, &[snap("tank/a@old")]),
        );
        assert_eq!(
            spec.argv(),
            [
                "zfs",
                "program",
                "-j",
                "-n",
                "-t",
                "10000000",
                "-m",
                "10485760",
                "tank",
                "-",
                "check",
                "1",
                "tank/a@old"
            ]
        );
        assert_eq!(spec.stdin.as_deref(), Some(DESTROY_PROGRAM.as_bytes()));
        let big = Limits::for_operations(1_000_000);
        assert_eq!((big.instructions, big.memory), (100_000_000, 100 << 20));
    }

    #[test]
    fn parses_lua_arrays_as_index_keyed_objects() {
        let out = r#"{"return":{"ok":false,"phase":"check","failures":{"2":{"op":"destroy","name":"p/b@2","err":17},"1":{"op":"destroy","name":"p/b@1","err":16}},"missing":{}}}"#;
        let r = parse_result(out).unwrap();
        assert!(!r.ok && !r.applied);
        assert_eq!(r.failures.len(), 2);
        assert_eq!(r.failures[0].name, "p/b@1");
        assert_eq!(r.failures[0].errno, 16);
        assert_eq!(
            r.failures[1].describe(),
            "destroy p/b@2: snapshot has dependent clones (errno 17)"
        );
        assert!(r.missing.is_empty());
    }

    #[test]
    fn rejects_foreign_output() {
        assert!(parse_result("").is_err());
        assert!(parse_result(r#"{"return":{"n":1}}"#).is_err());
        let err = parse_result(r#"{"return":{"ok":true,"phase":"apply","failures":{"x":1}}}"#)
            .unwrap_err();
        assert!(err.reason.contains("non-index key"), "{err}");
        let err = parse_result(r#"{"return":{"ok":true,"phase":"apply","failures":{"2":{}}}}"#)
            .unwrap_err();
        assert!(err.reason.contains("1..n"), "{err}");
    }
}
