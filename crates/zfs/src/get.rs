//! `zfs get`: argv builder and parser for `-H -p -o name,property,value,source` output.
//!
//! Used for single properties that `zfs list` does not carry, notably
//! `receive_resume_token`, and to learn where a property's value comes from.

use crate::command::ZfsCommand;
use crate::object::ObjectName;
use crate::parse::{ParseError, numbered_lines};
use crate::props::PropertyName;

/// Where a property value comes from (the `source` column).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum PropSource {
    Local,
    Default,
    Inherited {
        from: ObjectName,
    },
    Temporary,
    Received,
    /// `-`: read-only/statistic properties, or unset user properties.
    None,
}

/// One row of `zfs get` output. `value` is `None` when ZFS printed `-`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PropertyValue {
    pub name: ObjectName,
    pub property: String,
    pub value: Option<String>,
    pub source: PropSource,
}

/// `zfs get -H -p -o name,property,value,source <p1,p2,…> <targets…>`.
pub fn get_argv(props: &[PropertyName], targets: &[ObjectName]) -> ZfsCommand {
    let props: Vec<&str> = props.iter().map(PropertyName::as_str).collect();
    ZfsCommand::new("zfs")
        .args(["get", "-H", "-p", "-o", "name,property,value,source"])
        .arg(props.join(","))
        .args(targets.iter().map(ToString::to_string))
}

const COLUMNS: [&str; 4] = ["name", "property", "value", "source"];

fn bad(line: usize, col: usize, value: &str, reason: impl Into<String>) -> ParseError {
    ParseError::BadValue {
        line,
        column: COLUMNS[col].to_owned(),
        value: value.to_owned(),
        reason: reason.into(),
    }
}

fn parse_source(line: usize, s: &str) -> Result<PropSource, ParseError> {
    Ok(match s {
        "local" => PropSource::Local,
        "default" => PropSource::Default,
        "temporary" => PropSource::Temporary,
        "received" => PropSource::Received,
        "-" => PropSource::None,
        _ => {
            let from = s
                .strip_prefix("inherited from ")
                .ok_or_else(|| bad(line, 3, s, "unknown property source"))?;
            let from = from
                .parse()
                .map_err(|e: crate::NameError| bad(line, 3, s, e.to_string()))?;
            PropSource::Inherited { from }
        }
    })
}

/// Parses the stdout of a command built by [`get_argv`]. A value may itself contain tabs: the
/// first two and the last field are split off and the rest is the value.
pub fn parse_get(stdout: &str) -> Result<Vec<PropertyValue>, ParseError> {
    numbered_lines(stdout)
        .map(|(line, text)| {
            let count = || ParseError::FieldCount {
                line,
                expected: 4,
                found: text.split('\t').count(),
            };
            let (name, rest) = text.split_once('\t').ok_or_else(count)?;
            let (property, rest) = rest.split_once('\t').ok_or_else(count)?;
            let (value, source) = rest.rsplit_once('\t').ok_or_else(count)?;
            Ok(PropertyValue {
                name: name
                    .parse()
                    .map_err(|e: crate::NameError| bad(line, 0, name, e.to_string()))?,
                property: property.to_owned(),
                value: (value != "-").then(|| value.to_owned()),
                source: parse_source(line, source)?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argv_is_exact() {
        let cmd = get_argv(
            &[
                "receive_resume_token".parse().unwrap(),
                "zferry:policy".parse().unwrap(),
            ],
            &["tank/a".parse().unwrap(), "tank/a@s".parse().unwrap()],
        );
        assert_eq!(
            cmd.argv(),
            [
                "zfs",
                "get",
                "-H",
                "-p",
                "-o",
                "name,property,value,source",
                "receive_resume_token,zferry:policy",
                "tank/a",
                "tank/a@s"
            ]
        );
    }

    #[test]
    fn parses_every_source() {
        let out = "tank/a\tcompression\tlz4\tinherited from tank\n\
                   tank/a\tzferry:policy\t-\t-\n\
                   tank/a\tquota\t0\tdefault\n\
                   tank/a\tmountpoint\t/mnt/a b\tlocal\n\
                   tank/a\treadonly\ton\ttemporary\n\
                   tank/a\tzferry:x\ta\tb\treceived\n";
        let rows = parse_get(out).unwrap();
        assert_eq!(
            rows[0].source,
            PropSource::Inherited {
                from: "tank".parse().unwrap()
            }
        );
        assert_eq!(rows[0].value.as_deref(), Some("lz4"));
        assert_eq!(
            (rows[1].value.as_ref(), &rows[1].source),
            (None, &PropSource::None)
        );
        assert_eq!(rows[2].source, PropSource::Default);
        assert_eq!(rows[3].value.as_deref(), Some("/mnt/a b"));
        assert_eq!(rows[3].source, PropSource::Local);
        assert_eq!(rows[4].source, PropSource::Temporary);
        assert_eq!(rows[5].value.as_deref(), Some("a\tb"));
        assert_eq!(rows[5].source, PropSource::Received);
    }

    #[test]
    fn bad_source_is_reported() {
        let err = parse_get("tank\tguid\t1\tweird\n").unwrap_err();
        assert_eq!(
            err,
            ParseError::BadValue {
                line: 1,
                column: "source".into(),
                value: "weird".into(),
                reason: "unknown property source".into()
            }
        );
        assert_eq!(
            parse_get("tank\tguid\n").unwrap_err(),
            ParseError::FieldCount {
                line: 1,
                expected: 4,
                found: 2
            }
        );
    }
}
