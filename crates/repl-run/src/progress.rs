//! Progress of one `zfs send -v -P`, parsed from its stderr.
//!
//! With `-P`, zfs prints its estimate first (`full|incremental … <bytes>` per snapshot, then
//! `size\t<total>`), then once a second `HH:MM:SS\t<bytes>\t<snapshot>`. The byte count
//! restarts for each snapshot of an `-I` range, so the total so far is the sum of the
//! finished snapshots plus the current one. A resumed send (`-t`) also prints the token's
//! contents (`resume token contents:` and an indented nvlist). All of these lines are
//! consumed; anything else is an error message and is kept.

/// What one stderr line of `zfs send -vP` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendLine {
    /// `size\t<bytes>`: the estimated stream size.
    Estimate(u64),
    /// `full|incremental …`: the estimate of one snapshot's part of the stream.
    Part,
    /// `HH:MM:SS\t<bytes>\t<snapshot>`: bytes sent so far of `snapshot`'s part.
    Progress { bytes: u64, snapshot: String },
    /// The resume token's decoded contents (`zfs send -t`).
    TokenInfo,
    /// Anything else: an error or warning to keep.
    Other,
}

/// Classifies one stderr line.
pub fn parse_line(line: &str) -> SendLine {
    let cols: Vec<&str> = line.split('\t').collect();
    match cols[..] {
        ["size", n] => n.parse().map_or(SendLine::Other, SendLine::Estimate),
        ["full", _, n] | ["incremental", _, _, n] if n.parse::<u64>().is_ok() => SendLine::Part,
        [time, n, snap] if is_clock(time) => match n.parse() {
            Ok(bytes) => SendLine::Progress {
                bytes,
                snapshot: snap.to_owned(),
            },
            Err(_) => SendLine::Other,
        },
        _ if is_token_info(line) => SendLine::TokenInfo,
        _ => SendLine::Other,
    }
}

fn is_clock(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 8
        && b[2] == b':'
        && b[5] == b':'
        && [0, 1, 3, 4, 6, 7].iter().all(|&i| b[i].is_ascii_digit())
}

fn is_token_info(line: &str) -> bool {
    line == "resume token contents:"
        || line.starts_with("nvlist version:")
        || (line.starts_with('\t') && line.contains(" = "))
}

/// Running totals of one transfer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Progress {
    /// zfs's estimate of the whole stream, once known.
    pub estimate: Option<u64>,
    /// Bytes of snapshots already finished in this stream.
    finished: u64,
    current: Option<(String, u64)>,
}

impl Progress {
    /// Feeds one line; returns whether it was a progress or estimate line (consumed).
    pub fn feed(&mut self, line: &str) -> bool {
        match parse_line(line) {
            SendLine::Estimate(n) => self.estimate = Some(n),
            SendLine::Progress { bytes, snapshot } => match &mut self.current {
                Some((snap, sent)) if *snap == snapshot => *sent = bytes,
                _ => {
                    self.finished += self.current.take().map_or(0, |(_, n)| n);
                    self.current = Some((snapshot, bytes));
                }
            },
            SendLine::Part | SendLine::TokenInfo => {}
            SendLine::Other => return false,
        }
        true
    }

    /// Bytes sent so far (as of the last progress line).
    pub fn sent(&self) -> u64 {
        self.finished + self.current.as_ref().map_or(0, |(_, n)| *n)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn captured_progress_sums_per_snapshot_counts() {
        let mut p = Progress::default();
        for line in include_str!("../fixtures/send-vP-progress.txt").lines() {
            assert!(p.feed(line), "{line:?} should be consumed");
        }
        assert_eq!(p.estimate, Some(126_061_280));
        assert_eq!(p.sent(), 56_370_840 + 41_126_040);
    }

    #[test]
    fn captured_estimates_are_consumed() {
        for (file, size) in [
            (include_str!("../fixtures/send-vP-full.txt"), 8_416_880),
            (
                include_str!("../fixtures/send-vP-incremental.txt"),
                6_311_776,
            ),
        ] {
            let mut p = Progress::default();
            assert!(file.lines().all(|l| p.feed(l)));
            assert_eq!(p.estimate, Some(size));
        }
    }

    #[test]
    fn errors_and_token_dumps_are_told_apart() {
        let kept = "cannot resume send: 'la/src/part@p1' used in the initial send no longer exists";
        assert_eq!(parse_line(kept), SendLine::Other);
        for info in [
            "resume token contents:",
            "nvlist version: 0",
            "\tobject = 0x2",
            "\ttoname = la/src/part@p1",
        ] {
            assert_eq!(parse_line(info), SendLine::TokenInfo, "{info:?}");
        }
        assert_eq!(parse_line("12:3x:00\t5\tp@s"), SendLine::Other);
        assert_eq!(parse_line("size\tbig"), SendLine::Other);
    }
}
