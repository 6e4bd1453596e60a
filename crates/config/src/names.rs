//! Checked scalar values of the config: object names, paths, argv vectors, vmids, dataset names.
//!
//! Dataset names are `zferry_zfs::DatasetName`; this module only wraps its parser so config
//! errors say which value was wrong and how to fix it.

use std::borrow::Borrow;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize};
use toml::Spanned;
use zferry_zfs::DatasetName;

use crate::error::HINT_SEP;

fn custom<E: de::Error>(msg: impl fmt::Display, hint: &str) -> E {
    E::custom(format!("{msg}{HINT_SEP}{hint}"))
}

/// Parses a ZFS dataset name with a config-friendly message.
pub fn parse_dataset_name(s: &str) -> Result<DatasetName, String> {
    s.parse::<DatasetName>()
        .map_err(|e| format!("invalid dataset name {s:?}: {e}"))
}

const DATASET_HINT: &str = "a dataset name is pool/child/...: letters, digits, '_', '-', '.', ':' \
                            and space, no '@', '#' or '%', no empty component";

/// Dataset name deserialized through [`parse_dataset_name`].
struct DatasetArg(DatasetName);

impl<'de> Deserialize<'de> for DatasetArg {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        parse_dataset_name(&s)
            .map(DatasetArg)
            .map_err(|e| custom(e, DATASET_HINT))
    }
}

/// `deserialize_with` for one dataset name.
pub(crate) fn de_dataset<'de, D: Deserializer<'de>>(d: D) -> Result<DatasetName, D::Error> {
    DatasetArg::deserialize(d).map(|a| a.0)
}

/// `deserialize_with` for a list of dataset names, each keeping its span.
pub(crate) fn de_dataset_list<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Vec<Spanned<DatasetName>>, D::Error> {
    let raw = Vec::<Spanned<DatasetArg>>::deserialize(d)?;
    Ok(raw
        .into_iter()
        .map(|s| Spanned::new(s.span(), s.into_inner().0))
        .collect())
}

/// `deserialize_with` for a table keyed by dataset names.
pub(crate) fn de_dataset_map<'de, D, V>(d: D) -> Result<BTreeMap<DatasetName, V>, D::Error>
where
    D: Deserializer<'de>,
    V: Deserialize<'de>,
{
    let raw = BTreeMapRaw::<V>::deserialize(d)?.0;
    Ok(raw.into_iter().map(|(k, v)| (k.0, v)).collect())
}

/// A map in file order whose keys are checked dataset names.
struct BTreeMapRaw<V>(Vec<(DatasetArg, V)>);

impl<'de, V: Deserialize<'de>> Deserialize<'de> for BTreeMapRaw<V> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit<V>(std::marker::PhantomData<V>);
        impl<'de, V: Deserialize<'de>> de::Visitor<'de> for Visit<V> {
            type Value = BTreeMapRaw<V>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a table keyed by dataset names")
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some(entry) = map.next_entry::<DatasetArg, V>()? {
                    out.push(entry);
                }
                Ok(BTreeMapRaw(out))
            }
        }
        d.deserialize_map(Visit(std::marker::PhantomData))
    }
}

/// Name of a node, template, job or service: `[A-Za-z0-9][A-Za-z0-9_.-]*`, at most 63 bytes.
///
/// Names end up in lock files, state paths and log fields, so they are kept path- and
/// shell-inert.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Name(String);

impl Name {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Name {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let first_ok = s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric());
        let rest_ok = s
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
        if s.is_empty() || s.len() > 63 || !first_ok || !rest_ok {
            return Err(format!("invalid name {s:?}"));
        }
        Ok(Self(s.to_owned()))
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Borrow<str> for Name {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for Name {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(|e| {
            custom(e, "names start with a letter or digit and use only letters, digits, '_', '.', '-' (at most 63)")
        })
    }
}

/// An absolute filesystem path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AbsPath(PathBuf);

impl AbsPath {
    pub fn as_path(&self) -> &Path {
        &self.0
    }
}

impl FromStr for AbsPath {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if !s.starts_with('/') || s.contains('\0') {
            return Err(format!("path {s:?} is not absolute"));
        }
        Ok(Self(PathBuf::from(s)))
    }
}

impl<'de> Deserialize<'de> for AbsPath {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse()
            .map_err(|e| custom(e, "write an absolute path starting with '/'"))
    }
}

/// A command as an argv vector (never a shell string): non-empty, absolute program path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Argv(Vec<String>);

impl Argv {
    pub fn new(argv: Vec<String>) -> Result<Self, String> {
        let Some(program) = argv.first() else {
            return Err("argv is empty".to_owned());
        };
        if !program.starts_with('/') {
            return Err(format!("program {program:?} is not an absolute path"));
        }
        if argv.iter().any(|a| a.contains('\0')) {
            return Err("argv contains a NUL byte".to_owned());
        }
        Ok(Self(argv))
    }

    pub fn as_slice(&self) -> &[String] {
        &self.0
    }
}

impl<'de> Deserialize<'de> for Argv {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Vec::<String>::deserialize(d)?;
        Argv::new(v).map_err(|e| {
            custom(e, "write argv as a list such as [\"/usr/local/bin/tool\", \"--flag\"]; no shell is involved")
        })
    }
}

/// A Proxmox guest id (`100..=999999999`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Vmid(u32);

impl Vmid {
    pub fn new(n: u64) -> Result<Self, String> {
        u32::try_from(n)
            .ok()
            .filter(|n| (100..=999_999_999).contains(n))
            .map(Self)
            .ok_or_else(|| format!("vmid {n} is outside 100..=999999999"))
    }

    pub const fn get(self) -> u32 {
        self.0
    }
}

impl fmt::Display for Vmid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl<'de> Deserialize<'de> for Vmid {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = u64::deserialize(d)?;
        Vmid::new(n).map_err(|e| custom(e, "Proxmox guest ids are 100 or above"))
    }
}

/// Snapshot name prefix (sanoid's `autosnap`): letters, digits, '-' and '.'; no '_', which
/// separates the fields of a snapshot name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SnapshotPrefix(String);

impl SnapshotPrefix {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for SnapshotPrefix {
    fn default() -> Self {
        Self("autosnap".to_owned())
    }
}

impl FromStr for SnapshotPrefix {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let ok = !s.is_empty()
            && s.len() <= 64
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.'));
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(format!("invalid snapshot prefix {s:?}"))
        }
    }
}

impl<'de> Deserialize<'de> for SnapshotPrefix {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(|e| {
            custom(
                e,
                "use letters, digits, '-' and '.'; '_' separates the parts of a snapshot name",
            )
        })
    }
}

/// A ZFS user property name, `module:property` (e.g. `label:running`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserProperty(String);

impl UserProperty {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for UserProperty {
    fn default() -> Self {
        Self("label:running".to_owned())
    }
}

impl FromStr for UserProperty {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let chars_ok = s.chars().all(|c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, ':' | '_' | '-' | '.')
        });
        let shape_ok = s
            .split_once(':')
            .is_some_and(|(m, p)| !m.is_empty() && !p.is_empty());
        if chars_ok && shape_ok && s.len() <= 256 {
            Ok(Self(s.to_owned()))
        } else {
            Err(format!("invalid user property {s:?}"))
        }
    }
}

impl<'de> Deserialize<'de> for UserProperty {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(|e| {
            custom(
                e,
                "ZFS user properties are lowercase `module:name`, e.g. \"label:running\"",
            )
        })
    }
}

/// An SSH destination host (name or IP) or user: no whitespace, no leading '-', no '@'.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SshWord(String);

impl SshWord {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for SshWord {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = s.is_empty()
            || s.starts_with('-')
            || s.chars()
                .any(|c| c.is_whitespace() || c.is_control() || c == '@');
        if bad {
            Err(format!("invalid ssh host or user {s:?}"))
        } else {
            Ok(Self(s.to_owned()))
        }
    }
}

impl<'de> Deserialize<'de> for SshWord {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse()
            .map_err(|e| custom(e, "no spaces, no '@', and it may not start with '-'"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_path_inert() {
        assert!("pve1".parse::<Name>().is_ok());
        assert!("nfs-data.v2_x".parse::<Name>().is_ok());
        for bad in ["", "-x", ".x", "a/b", "a b", "a\u{1}", &"x".repeat(64)] {
            assert!(bad.parse::<Name>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn argv_needs_absolute_program() {
        assert!(Argv::new(vec!["/bin/true".into()]).is_ok());
        assert_eq!(Argv::new(vec![]).unwrap_err(), "argv is empty");
        assert!(Argv::new(vec!["true".into()]).is_err());
        assert!(Argv::new(vec!["/bin/x".into(), "a\0".into()]).is_err());
    }

    #[test]
    fn vmid_range() {
        assert_eq!(Vmid::new(103).unwrap().get(), 103);
        assert!(Vmid::new(99).is_err());
        assert!(Vmid::new(1_000_000_000).is_err());
    }

    #[test]
    fn dataset_name_errors_name_the_value() {
        assert_eq!(
            parse_dataset_name("zpool1/data").unwrap().as_str(),
            "zpool1/data"
        );
        let e = parse_dataset_name("zpool1//x").unwrap_err();
        assert!(
            e.starts_with("invalid dataset name \"zpool1//x\": empty component"),
            "{e}"
        );
        assert!(parse_dataset_name("zpool1/a@b").is_err());
    }

    #[test]
    fn prefix_property_and_ssh_words() {
        assert!("autosnap".parse::<SnapshotPrefix>().is_ok());
        assert!("auto_snap".parse::<SnapshotPrefix>().is_err());
        assert!("label:running".parse::<UserProperty>().is_ok());
        assert!("running".parse::<UserProperty>().is_err());
        assert!("10.0.0.1".parse::<SshWord>().is_ok());
        assert!("-oProxyCommand=x".parse::<SshWord>().is_err());
        assert!("root@h".parse::<SshWord>().is_err());
    }
}
