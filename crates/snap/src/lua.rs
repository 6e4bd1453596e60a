//! The channel program (`zfs program`) that makes a run atomic per pool, its arguments and
//! the parsing of its `-j` output.
//!
//! The Lua source is static text: names and values are never interpolated into it, they are
//! passed as program arguments (`argv`), so no dataset name can change what the program does.
//! The script is fed on stdin (`zfs program … <pool> - <args…>`; `-` reads the script from
//! standard input, checked on OpenZFS 2.3.2), so no temporary file is needed.
//!
//! The program runs in two phases: phase 1 checks every create and property set with
//! `zfs.check.*` and collects every failure with its errno; if anything failed it returns the
//! list and changes nothing (destroys included). It then checks the destroys the same way,
//! separately: a destroy that cannot be done refuses the destroy batch, never the creates.
//! Phase 2 sets the properties, creates the snapshots and, only when every create succeeded
//! and no destroy was refused, destroys, all in the same transaction group. Held snapshots
//! are never destroyed: they are reported as kept. In `check` mode
//! the program stops after phase 1, which is what a dry run (`zfs program -n`) runs: `-n`
//! refuses any call into `zfs.sync.*`.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;
use zferry_exec::CommandSpec;
use zferry_zfs::{DatasetName, Guid, PoolName, SnapshotName, Txg};

use crate::model::Destroy;

/// Creates snapshots, sets properties and destroys snapshots: creates all or nothing, then
/// destroys all or nothing, destroys only after every create succeeded.
///
/// `argv`: `mode nsnap snap… nprop (dataset property value)… ncheck name… ndestroy (snap guid)…`
/// where the `check` list holds snapshots a later program of the same run will create
/// (checked, not created: ZFS takes at most one snapshot of a dataset per transaction group),
/// and each destroy carries the guid the plan saw (signed decimal: Lua integers are signed
/// 64-bit). Destroys of snapshots that no longer exist are reported as `missing`, not as
/// failures; a snapshot whose guid is not the planned one (re-created under the same name
/// since the read) is kept and reported as `replaced`; snapshots with user holds (a
/// non-zero `userrefs`, read in the same transaction) are kept and reported as `held`, so a
/// hold placed after the state was read still protects. The result carries a `destroy` table
/// only when destroys were asked for and reached, and, after an apply, the `guid`, `createtxg` and `creation` of every snapshot created and, for every
/// dataset whose snapshots it changed, `snapshots_changed` just before and just after its
/// changes (the snapshot cache learns all this without another read; see
/// [`crate::snap_cache`]).
pub const RUN_PROGRAM: &str = r#"-- zferry run: check everything, then create, then destroy (one txg)
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
local ndestroy = count("destroy")
local doomed = take(ndestroy * 2)
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

local gone, missing, refused, held, replaced = {}, {}, {}, {}, {}
for k = 1, ndestroy do
  local s, want = doomed[2 * k - 1], doomed[2 * k]
  local guid = nil
  if zfs.exists(s) then guid = zfs.get_prop(s, "guid") end
  if guid == nil then
    missing[#missing + 1] = s
  elseif tostring(guid) ~= want then
    replaced[#replaced + 1] = {name = s, guid = guid}
  else
    local refs = zfs.get_prop(s, "userrefs")
    if refs ~= nil and refs > 0 then
      held[#held + 1] = {name = s, holds = refs}
    else
      gone[#gone + 1] = s
      local e = zfs.check.destroy(s)
      if e ~= 0 then refused[#refused + 1] = {op = "destroy", name = s, err = e} end
    end
  end
end
local destroy = nil
if ndestroy > 0 then
  destroy = {ok = #refused == 0, phase = "check", destroyed = 0, missing = missing,
             held = held, replaced = replaced, failures = refused}
end
if mode ~= "apply" then
  return {ok = true, phase = "check", snapshots = #snaps, properties = nprop,
          destroy = destroy}
end

local touched, order = {}, {}
local function touch(s)
  local ds = string.match(s, "^([^@]+)@")
  if not touched[ds] then
    touched[ds] = true
    order[#order + 1] = ds
  end
end
for _, s in ipairs(snaps) do touch(s) end
if destroy ~= nil and destroy.ok then
  for _, s in ipairs(gone) do touch(s) end
end
local before = {}
for k, ds in ipairs(order) do before[k] = zfs.get_prop(ds, "snapshots_changed") end

for k = 1, nprop do
  local ds, p, v = flat[3 * k - 2], flat[3 * k - 1], flat[3 * k]
  local e = zfs.sync.set_prop(ds, p, v)
  if e ~= 0 then fail("set_prop", ds, e, p) end
end
for _, s in ipairs(snaps) do
  local e = zfs.sync.snapshot(s)
  if e ~= 0 then fail("snapshot", s, e) end
end
if #failures > 0 then
  return {ok = false, phase = "apply", snapshots = #snaps, properties = nprop,
          failures = failures}
end
local made = {}
for _, s in ipairs(snaps) do
  made[#made + 1] = {name = s, guid = zfs.get_prop(s, "guid"),
                     createtxg = zfs.get_prop(s, "createtxg"),
                     creation = zfs.get_prop(s, "creation")}
end
if destroy ~= nil and destroy.ok then
  local dfail = {}
  for _, s in ipairs(gone) do
    local e = zfs.sync.destroy(s)
    if e ~= 0 then dfail[#dfail + 1] = {op = "destroy", name = s, err = e} end
  end
  destroy = {ok = #dfail == 0, phase = "apply", destroyed = #gone, missing = missing,
             held = held, replaced = replaced, failures = dfail}
end
local changed = {}
for k, ds in ipairs(order) do
  changed[k] = {dataset = ds, before = before[k], after = zfs.get_prop(ds, "snapshots_changed")}
end
return {ok = true, phase = "apply", snapshots = #snaps, properties = nprop,
        failures = failures, destroy = destroy, created = made, changed = changed}
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

/// A property to set in the program.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PropSet {
    pub dataset: DatasetName,
    pub property: String,
    pub value: String,
}

/// What one [`RUN_PROGRAM`] invocation is asked to do.
#[derive(Debug, Clone, Copy)]
pub struct Batch<'a> {
    /// Created in this program's transaction group (at most one per dataset).
    pub create: &'a [SnapshotName],
    pub props: &'a [PropSet],
    /// Created by a later program of the run: only checked here.
    pub later: &'a [SnapshotName],
    /// Destroyed after every create succeeded, each only if it still has the planned guid.
    pub destroy: &'a [Destroy],
}

/// Program arguments of [`RUN_PROGRAM`].
pub fn run_args(mode: Mode, batch: &Batch<'_>) -> Vec<String> {
    let mut args = vec![mode.as_arg().to_owned(), batch.create.len().to_string()];
    args.extend(batch.create.iter().map(ToString::to_string));
    args.push(batch.props.len().to_string());
    for p in batch.props {
        args.extend([p.dataset.to_string(), p.property.clone(), p.value.clone()]);
    }
    args.push(batch.later.len().to_string());
    args.extend(batch.later.iter().map(ToString::to_string));
    args.push(batch.destroy.len().to_string());
    for d in batch.destroy {
        args.extend([d.snapshot.to_string(), lua_guid(d.guid)]);
    }
    args
}

/// A guid as the program reads it back: Lua integers are signed 64-bit, so a guid above
/// `i64::MAX` is its two's complement (what `tostring(zfs.get_prop(s, "guid"))` prints).
fn lua_guid(guid: Guid) -> String {
    guid.0.cast_signed().to_string()
}

/// `zfs program -j [-n] -t <instr> -m <mem> <pool> - -- <args…>` with `source` on stdin.
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
        // The program's own arguments follow: `zfs program` would read one starting with `-`
        // (a negative guid, a property value) as an option of its own.
        "--".to_owned(),
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

/// What the program returned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProgramResult {
    /// True when no create or property set failed.
    pub ok: bool,
    /// False when the program stopped after phase 1 (failures, or check mode).
    pub applied: bool,
    /// Creates and property sets that were refused or failed.
    pub failures: Vec<OpFailure>,
    /// Set when this ZFS lacks a needed function (e.g. `zfs.sync.set_prop` before 2.0).
    pub unsupported: Option<String>,
    /// The destroy batch, when destroys were asked for and the creates' checks passed.
    pub destroy: Option<DestroyResult>,
    /// Identity and creation time of each snapshot created (after an apply).
    pub created: Vec<Created>,
    /// `snapshots_changed` before and after, per dataset whose snapshots the program
    /// changed (after an apply).
    pub changed: Vec<ListChange>,
}

/// A snapshot the program created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Created {
    pub name: String,
    pub guid: Guid,
    pub createtxg: Txg,
    pub creation: i64,
}

/// A dataset's `snapshots_changed` just before and just after the program's changes, read in
/// its transaction; `None` where the dataset never had a snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ListChange {
    pub dataset: String,
    pub before: Option<u64>,
    pub after: Option<u64>,
}

/// A snapshot the program kept because it has user holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Held {
    pub name: String,
    pub holds: u64,
}

/// What became of the destroy batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DestroyResult {
    /// True when no destroy was refused or failed.
    pub ok: bool,
    /// False when nothing was destroyed (a refusal, check mode).
    pub applied: bool,
    pub failures: Vec<OpFailure>,
    /// Snapshots already gone (not a failure).
    pub missing: Vec<String>,
    /// Snapshots kept because they have user holds (not a failure).
    pub held: Vec<Held>,
    /// Snapshots kept because their guid is not the planned one: another snapshot was
    /// created under the same name since the state was read (not a failure).
    pub replaced: Vec<Replaced>,
}

/// A snapshot the program kept because it is not the one the plan meant to destroy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Replaced {
    pub name: String,
    /// The guid it has now.
    pub guid: Guid,
}

/// `zfs program -j` printed something this parser does not understand.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unexpected channel program output ({reason}): {output}")]
pub struct ResultError {
    pub reason: String,
    pub output: String,
}

/// Parses `{"return": {...}}` printed by `zfs program -j` running [`RUN_PROGRAM`].
///
/// Lua arrays arrive as objects keyed `"1"`, `"2"`, …; an empty Lua table is `{}`.
pub fn parse_result(stdout: &str) -> Result<ProgramResult, ResultError> {
    let bad = |reason: &str| ResultError {
        reason: reason.to_owned(),
        output: stdout.chars().take(2000).collect(),
    };
    let v: Value = serde_json::from_str(stdout.trim()).map_err(|e| bad(&e.to_string()))?;
    let r = v.get("return").ok_or_else(|| bad("no \"return\" key"))?;
    let (ok, applied, failures) = outcome(r).map_err(|e| bad(&e))?;
    let destroy = match r.get("destroy") {
        None => None,
        Some(d) => {
            let (ok, applied, failures) = outcome(d).map_err(|e| bad(&format!("destroy: {e}")))?;
            let missing = lua_array(d.get("missing"))
                .map_err(|e| bad(&e))?
                .into_iter()
                .map(|m| {
                    m.as_str()
                        .map(str::to_owned)
                        .ok_or("missing entry is not text")
                })
                .collect::<Result<Vec<_>, &str>>()
                .map_err(bad)?;
            let held = lua_array(d.get("held"))
                .map_err(|e| bad(&e))?
                .into_iter()
                .map(|h| {
                    Ok(Held {
                        name: text_field(h, "name")?,
                        holds: h
                            .get("holds")
                            .and_then(Value::as_u64)
                            .ok_or("held entry without holds")?,
                    })
                })
                .collect::<Result<Vec<_>, &str>>()
                .map_err(bad)?;
            let replaced = lua_array(d.get("replaced"))
                .map_err(|e| bad(&e))?
                .into_iter()
                .map(|r| {
                    Ok(Replaced {
                        name: text_field(r, "name")?,
                        guid: Guid(
                            r.get("guid")
                                .and_then(Value::as_i64)
                                .ok_or("replaced entry without a guid")?
                                .cast_unsigned(),
                        ),
                    })
                })
                .collect::<Result<Vec<_>, &str>>()
                .map_err(bad)?;
            Some(DestroyResult {
                ok,
                applied,
                failures,
                missing,
                held,
                replaced,
            })
        }
    };
    Ok(ProgramResult {
        ok,
        applied,
        failures,
        unsupported: r
            .get("unsupported")
            .and_then(Value::as_str)
            .map(str::to_owned),
        destroy,
        created: created(r.get("created")).map_err(|e| bad(&e))?,
        changed: changed(r.get("changed")).map_err(|e| bad(&e))?,
    })
}

/// The `changed` table: dataset names with `before`/`after`. `zfs.get_prop` answers 0 for a
/// dataset that never had a snapshot (where `zfs list` prints `-`), read as `None`.
fn changed(v: Option<&Value>) -> Result<Vec<ListChange>, String> {
    lua_array(v)?
        .into_iter()
        .map(|c| {
            let value = |k: &str| match c.get(k) {
                None | Some(Value::Null) => Ok(None),
                Some(n) => n
                    .as_u64()
                    .map(|v| (v != 0).then_some(v))
                    .ok_or(format!("changed entry with a non-numeric {k}")),
            };
            Ok(ListChange {
                dataset: c
                    .get("dataset")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .ok_or("changed entry without a dataset")?,
                before: value("before")?,
                after: value("after")?,
            })
        })
        .collect()
}

/// The `created` table: names with guid and creation. Lua integers are signed 64-bit, so a
/// guid above `i64::MAX` arrives negative and is read back as its two's complement.
fn created(v: Option<&Value>) -> Result<Vec<Created>, String> {
    lua_array(v)?
        .into_iter()
        .map(|c| {
            let number = |k: &str| {
                c.get(k)
                    .and_then(Value::as_i64)
                    .ok_or(format!("created entry without numeric {k}"))
            };
            Ok(Created {
                name: text_field(c, "name").map_err(str::to_owned)?,
                guid: Guid(number("guid")?.cast_unsigned()),
                createtxg: Txg(number("createtxg")?.cast_unsigned()),
                creation: number("creation")?,
            })
        })
        .collect()
}

fn text_field(v: &Value, key: &str) -> Result<String, &'static str> {
    v.get(key)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or("entry without a name")
}

/// `ok`, `phase` (applied or not) and `failures` of a result table.
fn outcome(r: &Value) -> Result<(bool, bool, Vec<OpFailure>), String> {
    let ok = r
        .get("ok")
        .and_then(Value::as_bool)
        .ok_or("no boolean \"ok\"")?;
    let applied = match r.get("phase").and_then(Value::as_str) {
        Some("apply") => true,
        Some("check") => false,
        _ => return Err("no \"phase\" of check/apply".to_owned()),
    };
    let failures = lua_array(r.get("failures"))?
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
        .collect::<Result<Vec<_>, String>>()?;
    Ok((ok, applied, failures))
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

    fn doomed(s: &str, guid: u64) -> Destroy {
        Destroy {
            snapshot: snap(s),
            guid: Guid(guid),
            period: zferry_config::Period::Hourly,
            reason: "test".into(),
        }
    }

    #[test]
    fn args_are_counted_lists_never_lua_text() {
        let props = [PropSet {
            dataset: "tank/vm-100-disk-0".parse().unwrap(),
            property: "label:running".into(),
            value: "pve1".into(),
        }];
        let create = [snap("tank/a@x"), snap("tank/b@x")];
        let later = [snap("tank/a@y")];
        let destroy = [doomed("tank/b@old", 7), doomed("tank/b@older", u64::MAX)];
        let args = run_args(
            Mode::Apply,
            &Batch {
                create: &create,
                props: &props,
                later: &later,
                destroy: &destroy,
            },
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
                "tank/a@y",
                "2",
                "tank/b@old",
                "7",
                "tank/b@older",
                "-1"
            ]
        );
        assert!(!RUN_PROGRAM.contains("tank"));
    }

    #[test]
    fn program_spec_feeds_the_script_on_stdin() {
        let spec = program_spec(
            &"tank".parse().unwrap(),
            RUN_PROGRAM,
            Mode::Check,
            Limits::for_operations(3),
            run_args(
                Mode::Check,
                &Batch {
                    create: &[],
                    props: &[],
                    later: &[],
                    destroy: &[doomed("tank/a@old", 42)],
                },
            ),
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
                "--",
                "check",
                "0",
                "0",
                "0",
                "1",
                "tank/a@old",
                "42"
            ]
        );
        assert_eq!(spec.stdin.as_deref(), Some(RUN_PROGRAM.as_bytes()));
        let big = Limits::for_operations(1_000_000);
        assert_eq!((big.instructions, big.memory), (100_000_000, 100 << 20));
    }

    #[test]
    fn parses_lua_arrays_as_index_keyed_objects() {
        let out = r#"{"return":{"ok":true,"phase":"apply","failures":{},"destroy":{"ok":false,"phase":"check","failures":{"2":{"op":"destroy","name":"p/b@2","err":17},"1":{"op":"destroy","name":"p/b@1","err":16}},"missing":{"1":"p/b@0"}}}}"#;
        let r = parse_result(out).unwrap();
        assert!(r.ok && r.applied && r.failures.is_empty());
        let d = r.destroy.unwrap();
        assert!(!d.ok && !d.applied);
        assert_eq!(d.failures.len(), 2);
        assert_eq!(d.failures[0].name, "p/b@1");
        assert_eq!(d.failures[0].errno, 16);
        assert_eq!(
            d.failures[1].describe(),
            "destroy p/b@2: snapshot has dependent clones (errno 17)"
        );
        assert_eq!(d.missing, ["p/b@0"]);
        assert!(d.replaced.is_empty());
    }

    #[test]
    fn reads_replaced_snapshots_with_their_unsigned_guid() {
        let out = r#"{"return":{"ok":true,"phase":"apply","destroy":{"ok":true,"phase":"apply","replaced":{"1":{"name":"p/b@1","guid":-2}},"failures":{}}}}"#;
        let d = parse_result(out).unwrap().destroy.unwrap();
        assert_eq!(
            d.replaced,
            [Replaced {
                name: "p/b@1".into(),
                guid: Guid(u64::MAX - 1)
            }]
        );
        let bad = r#"{"return":{"ok":true,"phase":"apply","destroy":{"ok":true,"phase":"apply","replaced":{"1":{"name":"p/b@1"}}}}}"#;
        assert!(parse_result(bad).is_err());
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
        let err = parse_result(r#"{"return":{"ok":true,"phase":"apply","destroy":{"ok":1}}}"#)
            .unwrap_err();
        assert!(err.reason.starts_with("destroy: "), "{err}");
    }
}
