//! A compact notation for snapshot lists in tests and docs.
//!
//! `"@a,1 @b,2 #c,3"` is snapshot `a` at createtxg 1, snapshot `b` at 2 and bookmark `c` at 3.
//! The GUID is derived from the name (FNV-1a), so `@c` and `#c` (a bookmark of it) share one,
//! and a snapshot of the same name on the other side matches. `@x=g7,5` gives GUID 7
//! explicitly: that is how a renamed snapshot (`@renamed=g7`) or an unrelated snapshot with a
//! familiar name is written. Creation time is `1_700_000_000 + createtxg`.

use crate::entry::Entry;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad snapshot-list token {token:?}: {why} (expected @name[=gN],txg or #name[=gN],txg)")]
pub struct DslError {
    token: String,
    why: &'static str,
}

/// The GUID the DSL derives from a name.
pub fn guid_of(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

/// Parses a whitespace-separated snapshot list.
pub fn parse(list: &str) -> Result<Vec<Entry>, DslError> {
    list.split_whitespace().map(token).collect()
}

/// Like [`parse`] for literals in tests; panics with the parse error.
pub fn entries(list: &str) -> Vec<Entry> {
    parse(list).unwrap_or_else(|e| panic!("{e}"))
}

fn token(tok: &str) -> Result<Entry, DslError> {
    let err = |why| DslError {
        token: tok.to_owned(),
        why,
    };
    let (head, txg) = tok.rsplit_once(',').ok_or_else(|| err("missing ,txg"))?;
    let txg: u64 = txg.parse().map_err(|_| err("txg is not a number"))?;
    let (name_part, guid) = match head.split_once("=g") {
        Some((n, g)) => (
            n,
            Some(g.parse::<u64>().map_err(|_| err("guid is not a number"))?),
        ),
        None => (head, None),
    };
    let (snapshot, name) = match (name_part.strip_prefix('@'), name_part.strip_prefix('#')) {
        (Some(n), _) => (true, n),
        (_, Some(n)) => (false, n),
        _ => return Err(err("must start with @ or #")),
    };
    if name.is_empty() {
        return Err(err("empty name"));
    }
    let guid = guid.unwrap_or_else(|| guid_of(name));
    let creation = 1_700_000_000 + txg;
    Ok(if snapshot {
        Entry::snapshot(name, guid, txg, creation)
    } else {
        Entry::bookmark(name, guid, txg, creation)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_notation() {
        let e = entries("@a,1 @b=g7,2 #a,3");
        assert_eq!(e.len(), 3);
        assert_eq!(
            (e[0].name.as_str(), e[0].is_snapshot(), e[0].createtxg.0),
            ("a", true, 1)
        );
        assert_eq!(e[1].guid.0, 7);
        assert!(!e[2].is_snapshot());
        assert_eq!(e[2].guid, e[0].guid, "a bookmark of @a shares its guid");
        assert_ne!(e[0].guid.0, guid_of("b"));
    }

    #[test]
    fn rejects_malformed_tokens() {
        for bad in ["a,1", "@a", "@a,x", "@,1", "@a=gx,1", "%a,1"] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }
}
