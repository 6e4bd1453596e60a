//! `zfs list`: the argv builder and the parser for its scripted (`-H -p`) output.
//!
//! One fixed column set is always requested so that the parser never has to guess: the base
//! columns below, then the caller's user properties in the order given.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::command::ZfsCommand;
use crate::name::DatasetName;
use crate::object::{ObjectName, ZfsObject};
use crate::parse::{Fields, ParseError, numbered_lines};
use crate::props::{ObjectType, UserPropName};

/// How long a listing may run before it is given up. Listings are read-only and their time
/// grows with the snapshot count: minutes on large or slow pools (sanoid #995/#1045), and
/// 10 000 snapshots took over 10 min in the loaded emulated lab, where a shorter limit made
/// every run on such a pool fail. A hung ssh connection is caught by ssh's keepalive, so
/// this only bounds a pool that stopped answering.
pub const LIST_TIMEOUT: Duration = Duration::from_hours(1);

/// The columns always requested, in order.
pub const LIST_COLUMNS: [&str; 8] = [
    "name",
    "type",
    "guid",
    "createtxg",
    "creation",
    "used",
    "referenced",
    "written",
];

/// `zfs list -H -p -o <LIST_COLUMNS>[,user props] -t <types> [-r] [roots…]`.
///
/// An empty `types` lists every type. With no `roots` ZFS lists all pools.
pub fn list_argv(
    types: &[ObjectType],
    roots: &[DatasetName],
    recursive: bool,
    user_props: &[UserPropName],
) -> ZfsCommand {
    let columns: Vec<&str> = LIST_COLUMNS
        .iter()
        .copied()
        .chain(user_props.iter().map(UserPropName::as_str))
        .collect();
    let types = if types.is_empty() {
        &ObjectType::ALL[..]
    } else {
        types
    };
    let types: Vec<&str> = types.iter().map(|t| t.as_str()).collect();
    let mut cmd = ZfsCommand::new("zfs")
        .args(["list", "-H", "-p", "-o"])
        .arg(columns.join(","))
        .arg("-t")
        .arg(types.join(","));
    if recursive {
        cmd = cmd.arg("-r");
    }
    cmd.args(roots.iter().map(ToString::to_string))
}

/// Parses the stdout of a command built by [`list_argv`] with the same `user_props`.
pub fn parse_list(stdout: &str, user_props: &[UserPropName]) -> Result<Vec<ZfsObject>, ParseError> {
    let columns: Vec<&str> = LIST_COLUMNS
        .iter()
        .copied()
        .chain(user_props.iter().map(UserPropName::as_str))
        .collect();
    numbered_lines(stdout)
        .map(|(n, line)| parse_row(&Fields::split(n, line, &columns)?, user_props))
        .collect()
}

fn parse_row(f: &Fields<'_>, user_props: &[UserPropName]) -> Result<ZfsObject, ParseError> {
    let name: ObjectName = f.parse(0)?;
    let kind: ObjectType = f.parse(1)?;
    let shape_ok = matches!(
        (&name, kind),
        (
            ObjectName::Dataset(_),
            ObjectType::Filesystem | ObjectType::Volume
        ) | (ObjectName::Snapshot(_), ObjectType::Snapshot)
            | (ObjectName::Bookmark(_), ObjectType::Bookmark)
    );
    if !shape_ok {
        return Err(f.bad(0, format!("name does not have the shape of a {kind}")));
    }
    let user_props: BTreeMap<String, Option<String>> = user_props
        .iter()
        .enumerate()
        .map(|(i, p)| (p.as_str().to_owned(), f.text_opt(LIST_COLUMNS.len() + i)))
        .collect();
    Ok(ZfsObject {
        name,
        kind,
        guid: f.parse(2)?,
        createtxg: f.parse(3)?,
        creation: f.parse(4)?,
        used: f.parse_opt(5)?,
        referenced: f.parse_opt(6)?,
        written: f.parse_opt(7)?,
        user_props,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::ParseError;
    use crate::props::{Guid, Txg};

    fn up(s: &str) -> UserPropName {
        s.parse().unwrap()
    }

    #[test]
    fn argv_is_exact() {
        let cmd = list_argv(
            &[ObjectType::Snapshot, ObjectType::Bookmark],
            &["rpool/data".parse().unwrap(), "tank".parse().unwrap()],
            true,
            &[up("zferry:policy"), up("zferry:origin")],
        );
        assert_eq!(
            cmd.argv(),
            [
                "zfs",
                "list",
                "-H",
                "-p",
                "-o",
                "name,type,guid,createtxg,creation,used,referenced,written,zferry:policy,zferry:origin",
                "-t",
                "snapshot,bookmark",
                "-r",
                "rpool/data",
                "tank",
            ]
        );
        let all = list_argv(&[], &[], false, &[]);
        assert_eq!(all.args[5..], ["-t", "filesystem,volume,snapshot,bookmark"]);
    }

    #[test]
    fn parses_rows_and_dashes() {
        let out = "tank\tfilesystem\t111\t1\t1700000000\t1000\t24576\t24576\t-\n\
                   tank/a@s1\tsnapshot\t222\t17\t1700000100\t0\t24576\t8192\tdaily\n\
                   tank/a#b1\tbookmark\t222\t17\t1700000100\t-\t-\t-\t-\n";
        let rows = parse_list(out, &[up("zferry:policy")]).unwrap();
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0].kind, ObjectType::Filesystem);
        assert_eq!(rows[0].user_props["zferry:policy"], None);
        assert_eq!(rows[1].name.as_str(), "tank/a@s1");
        assert_eq!(rows[1].guid, Guid(222));
        assert_eq!(rows[1].createtxg, Txg(17));
        assert_eq!(rows[1].written, Some(8192));
        assert_eq!(
            rows[1].user_props["zferry:policy"].as_deref(),
            Some("daily")
        );
        assert_eq!(rows[2].used, None);
        assert_eq!(rows[2].referenced, None);
    }

    #[test]
    fn errors_name_line_column_value() {
        let out = "tank\tfilesystem\t1\t1\t1\t1\t1\t1\ntank/b\tfilesystem\t1\tx7\t1\t1\t1\t1\n";
        let err = parse_list(out, &[]).unwrap_err();
        assert_eq!(
            err,
            ParseError::BadValue {
                line: 2,
                column: "createtxg".into(),
                value: "x7".into(),
                reason: "invalid digit found in string".into()
            }
        );
        let err = parse_list("tank\tfilesystem\t1\n", &[]).unwrap_err();
        assert_eq!(
            err,
            ParseError::FieldCount {
                line: 1,
                expected: 8,
                found: 3
            }
        );
        let err = parse_list("tank@s\tfilesystem\t1\t1\t1\t1\t1\t1\n", &[]).unwrap_err();
        assert!(
            matches!(err, ParseError::BadValue { ref column, .. } if column == "name"),
            "{err}"
        );
        let err = parse_list("tank\tpool\t1\t1\t1\t1\t1\t1\n", &[]).unwrap_err();
        assert!(
            matches!(err, ParseError::BadValue { ref column, .. } if column == "type"),
            "{err}"
        );
    }
}
