//! Reading and setting the fencing epoch (`zferry:epoch`) on a node's datasets: one `zfs get`
//! per node, one `zfs set` for all of this node's datasets when it becomes master.

use std::collections::BTreeMap;

use zferry_exec::{CommandSpec, Executor};
use zferry_ha::{EPOCH_PROPERTY, Epoch};
use zferry_zfs::DatasetName;

/// The epoch of each filesystem and volume at or under `roots` on `exec`'s host. A root that
/// does not exist (a standby not yet seeded) is simply absent.
pub fn read(
    exec: &dyn Executor,
    roots: &[DatasetName],
) -> Result<BTreeMap<DatasetName, Epoch>, String> {
    if roots.is_empty() {
        return Ok(BTreeMap::new());
    }
    let cmd = CommandSpec::new("zfs")
        .args([
            "get",
            "-H",
            "-p",
            "-r",
            "-t",
            "filesystem,volume",
            "-o",
            "name,value",
            EPOCH_PROPERTY,
        ])
        .args(roots.iter().map(ToString::to_string))
        .label("zfs get zferry:epoch")
        .timeout(zferry_zfs::LIST_TIMEOUT);
    let out = exec
        .run(&cmd)
        .map_err(|e| format!("{}: {e}", exec.host()))?;
    // `zfs get` lists the roots that exist and exits 1 for the others.
    let only_missing = out
        .stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .all(|l| l.contains("dataset does not exist"));
    if !out.success() && !only_missing {
        return Err(out.failure().map_or_else(String::new, |e| e.to_string()));
    }
    parse(&out.stdout_lossy()).map_err(|e| format!("{}: {e}", exec.host()))
}

/// Parses `zfs get -H -p -o name,value zferry:epoch` output.
pub fn parse(stdout: &str) -> Result<BTreeMap<DatasetName, Epoch>, String> {
    let mut out = BTreeMap::new();
    for line in stdout.lines().filter(|l| !l.is_empty()) {
        let (name, value) = line
            .split_once('\t')
            .ok_or_else(|| format!("unexpected `zfs get` line {line:?}"))?;
        let ds: DatasetName = name
            .parse()
            .map_err(|e| format!("`zfs get` dataset {name:?}: {e}"))?;
        let epoch = Epoch::from_property(value).map_err(|e| format!("{ds}: {e}"))?;
        out.insert(ds, epoch);
    }
    Ok(out)
}

/// `zfs set zferry:epoch=<epoch>` on every dataset in one command.
pub fn set_argv(datasets: &[DatasetName], epoch: Epoch) -> CommandSpec {
    CommandSpec::new("zfs")
        .arg("set")
        .arg(format!("{EPOCH_PROPERTY}={}", epoch.property_value()))
        .args(datasets.iter().map(ToString::to_string))
        .label("zfs set zferry:epoch")
        .timeout(zferry_zfs::LIST_TIMEOUT)
}

pub fn set(exec: &dyn Executor, datasets: &[DatasetName], epoch: Epoch) -> Result<(), String> {
    if datasets.is_empty() {
        return Ok(());
    }
    let out = exec
        .run(&set_argv(datasets, epoch))
        .map_err(|e| e.to_string())?;
    out.check().map(|_| ()).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn parses_set_unset_and_refuses_garbage() {
        let m = parse("tank/data\t4\ntank/data/sub\t-\n").unwrap();
        assert_eq!(m[&"tank/data".parse::<DatasetName>().unwrap()], Epoch(4));
        assert_eq!(
            m[&"tank/data/sub".parse::<DatasetName>().unwrap()],
            Epoch(0)
        );
        let err = parse("tank/data\tfour\n").unwrap_err();
        assert!(err.contains("tank/data") && err.contains("four"), "{err}");
        assert!(parse("no tab here\n").is_err());
    }

    #[test]
    fn set_is_one_command_for_all_datasets() {
        let ds: Vec<DatasetName> = vec!["a/x".parse().unwrap(), "b/y z".parse().unwrap()];
        assert_eq!(
            set_argv(&ds, Epoch(3)).argv(),
            ["zfs", "set", "zferry:epoch=3", "a/x", "b/y z"]
        );
    }
}
