//! PAX extended-header records (`x` and `g` tar entries), parsed here rather than by the
//! `tar` crate: GNU tar writes `SCHILY.acl.*` values with one ACL entry per line, and the
//! crate splits records at newlines, so it refuses every archive with an ACL.
//!
//! A record is `<len> <key>=<value>\n`, where `<len>` is the decimal byte length of the
//! whole record, its own digits and the final newline included. The length is what
//! delimits a record, so a value may hold any byte, newlines too (binary xattr values do).
//! Keys are UTF-8 (POSIX); values are kept as bytes.

use std::fmt;

/// One `key=value` record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub key: String,
    pub value: Vec<u8>,
}

/// Why a PAX header was refused: what is wrong and at which byte of the header data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaxError {
    pub offset: usize,
    pub reason: String,
}

impl fmt::Display for PaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "malformed PAX record at byte {} of the extended header: {}",
            self.offset, self.reason
        )
    }
}

/// Parses the data of a PAX `x`/`g` entry into its records, in order. Trailing NUL bytes
/// (padding some writers leave) end the data.
pub fn parse(data: &[u8]) -> Result<Vec<Record>, PaxError> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < data.len() && data[at] != 0 {
        let (record, len) =
            parse_one(&data[at..]).map_err(|reason| PaxError { offset: at, reason })?;
        out.push(record);
        at += len;
    }
    Ok(out)
}

/// The record at the start of `rest` and its length.
fn parse_one(rest: &[u8]) -> Result<(Record, usize), String> {
    let space = rest
        .iter()
        .take(24)
        .position(|&b| b == b' ')
        .ok_or("no '<length> ' prefix")?;
    let digits = &rest[..space];
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(format!(
            "the length {:?} is not a decimal number",
            String::from_utf8_lossy(digits)
        ));
    }
    let len: usize = std::str::from_utf8(digits)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or("the length is too large")?;
    if len <= space + 1 {
        return Err(format!("the length {len} is too short for the record"));
    }
    if len > rest.len() {
        return Err(format!(
            "the length {len} runs past the end of the header ({} bytes left)",
            rest.len()
        ));
    }
    let record = &rest[space + 1..len];
    let Some((b'\n', body)) = record.split_last() else {
        return Err(format!(
            "the record of length {len} does not end with a newline"
        ));
    };
    let eq = body
        .iter()
        .position(|&b| b == b'=')
        .ok_or("no '=' between key and value")?;
    let key = std::str::from_utf8(&body[..eq]).map_err(|_| {
        format!(
            "the key {:?} is not UTF-8",
            String::from_utf8_lossy(&body[..eq])
        )
    })?;
    if key.is_empty() {
        return Err("an empty key".to_owned());
    }
    let record = Record {
        key: key.to_owned(),
        value: body[eq + 1..].to_vec(),
    };
    Ok((record, len))
}

/// Appends one record `"<len> <key>=<value>\n"` (the inverse of [`parse`]).
pub fn write_record(out: &mut Vec<u8>, key: &[u8], value: &[u8]) {
    let body = key.len() + value.len() + 3; // ' ', '=', '\n'
    // The length counts its own digits: try the digit count of the body alone, then one more.
    let mut len = body + body.to_string().len();
    if len.to_string().len() != body.to_string().len() {
        len = body + len.to_string().len();
    }
    out.extend_from_slice(len.to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(key);
    out.push(b'=');
    out.extend_from_slice(value);
    out.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn rec(key: &str, value: &[u8]) -> Record {
        Record {
            key: key.to_owned(),
            value: value.to_vec(),
        }
    }

    #[test]
    fn gnu_tar_acl_records_keep_their_newlines() {
        // As GNU tar 1.34 wrote them for the fixture's var/log/journal.
        let data = b"20 atime=1714564800\n78 SCHILY.acl.access=user::rwx\ngroup::r-x\ngroup:adm:r-x\nmask::r-x\nother::r-x\n\n";
        let got = parse(data).expect("valid");
        assert_eq!(
            got,
            vec![
                rec("atime", b"1714564800"),
                rec(
                    "SCHILY.acl.access",
                    b"user::rwx\ngroup::r-x\ngroup:adm:r-x\nmask::r-x\nother::r-x\n"
                ),
            ]
        );
    }

    #[test]
    fn binary_values_and_nul_padding() {
        let data = b"34 SCHILY.xattr.user.binary=\n\x00\xff\nA\n\0\0\0";
        assert_eq!(
            parse(data).expect("valid"),
            vec![rec("SCHILY.xattr.user.binary", b"\n\x00\xff\nA")]
        );
        assert_eq!(parse(b"").expect("empty"), vec![]);
        assert_eq!(
            parse(b"8 path=\n").expect("empty value"),
            vec![rec("path", b"")]
        );
    }

    #[test]
    fn malformed_records_are_clean_errors_with_the_offset() {
        for (data, offset, why) in [
            (&b"10 path=ab\n"[..], 0, "does not end with a newline"), // one too short
            (b"12 path=ab\n", 0, "runs past the end"),                // one too long
            (
                b"10 path=a\n11 path=abc\n",
                10,
                "does not end with a newline",
            ),
            (b"10 pathab\n\n", 0, "no '='"),
            (b"8 \xff\xfe=ab\n", 0, "not UTF-8"),
            (b"x path=a\n", 0, "not a decimal number"),
            (b" 9 path=\n", 0, "not a decimal number"),
            (b"path=a\n", 0, "no '<length> ' prefix"),
            (b"2 a=b\n", 0, "too short"),
            (b"99999999999999999999999 a=b\n", 0, "too large"),
            (
                b"999999999999999999999999 a=b\n",
                0,
                "no '<length> ' prefix",
            ),
            (b"18446744073709551616 a=\n", 0, "too large"),
            (b"5 =a\n", 0, "empty key"),
        ] {
            let e = parse(data).expect_err(&String::from_utf8_lossy(data));
            assert_eq!(e.offset, offset, "{e}");
            assert!(e.reason.contains(why), "{data:?}: {e}");
        }
    }

    #[test]
    fn record_lengths_at_digit_boundaries() {
        for n in 0..1200 {
            let mut out = Vec::new();
            write_record(&mut out, b"k", &vec![b'v'; n]);
            assert_eq!(parse(&out).expect("valid"), vec![rec("k", &vec![b'v'; n])]);
        }
    }

    proptest! {
        #[test]
        fn written_records_parse_back(
            records in proptest::collection::vec(
                ("[a-zA-Z.]{1,20}", proptest::collection::vec(any::<u8>(), 0..300)),
                0..6,
            )
        ) {
            let mut out = Vec::new();
            for (k, v) in &records {
                write_record(&mut out, k.as_bytes(), v);
            }
            let want: Vec<Record> = records.iter().map(|(k, v)| rec(k, v)).collect();
            prop_assert_eq!(parse(&out).expect("valid"), want);
        }

        #[test]
        fn any_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = parse(&data);
        }
    }
}
