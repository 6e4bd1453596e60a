//! Safety guards before a send (M5), as pure checks returning typed refusals.
//!
//! - Empty-source guard: an empty replacement disk must never overwrite the standby, so a
//!   source whose `referenced` is below a fraction (default 50 %) of the target's is refused.
//! - Shrink guard: a dataset that shrank more than a fraction (default 20 %) since the last
//!   recorded successful run is refused unless the admin passes `accept_shrink`.
//!
//! Fractions are stored in parts per million so all comparisons are exact integer math.

use std::fmt;
use std::str::FromStr;

const PPM: u64 = 1_000_000;

/// A fraction in `[0, 1]`, e.g. `0.5` or `50%`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Fraction {
    ppm: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid fraction {0:?}: expected 0..1 (e.g. 0.5) or 0..100% (e.g. 50%)")]
pub struct FractionError(String);

impl Fraction {
    pub const DEFAULT_MIN_SOURCE: Fraction = Fraction { ppm: PPM / 2 };
    pub const DEFAULT_MAX_SHRINK: Fraction = Fraction { ppm: PPM / 5 };

    /// `percent` must be at most 100.
    pub fn from_percent(percent: u8) -> Option<Self> {
        (percent <= 100).then(|| Self {
            ppm: u64::from(percent) * PPM / 100,
        })
    }

    /// `value * self`, rounded down.
    fn of(self, value: u64) -> u128 {
        u128::from(value) * u128::from(self.ppm) / u128::from(PPM)
    }
}

impl FromStr for Fraction {
    type Err = FractionError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || FractionError(s.to_owned());
        let (num, scale) = match s.strip_suffix('%') {
            Some(p) => (p, 100),
            None => (s, 1),
        };
        let (int, frac) = num.split_once('.').unwrap_or((num, ""));
        let digits_ok = |d: &str| d.bytes().all(|b| b.is_ascii_digit());
        if int.is_empty() || !digits_ok(int) || !digits_ok(frac) || frac.len() > 6 {
            return Err(err());
        }
        let int: u64 = int.parse().map_err(|_| err())?;
        let frac_ppm: u64 = format!("{frac:0<6}").parse().map_err(|_| err())?;
        let ppm = int
            .checked_mul(PPM)
            .and_then(|v| v.checked_add(frac_ppm))
            .ok_or_else(err)?
            / scale;
        if ppm > PPM {
            return Err(err());
        }
        Ok(Self { ppm })
    }
}

impl fmt::Display for Fraction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let per_mille = self.ppm / 1000;
        if per_mille.is_multiple_of(10) {
            write!(f, "{}%", per_mille / 10)
        } else {
            write!(f, "{}.{}%", per_mille / 10, per_mille % 10)
        }
    }
}

/// A size in bytes, printed as `12.0 GiB (12884901888 B)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bytes(pub u64);

impl fmt::Display for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
        if self.0 < 1024 {
            return write!(f, "{} B", self.0);
        }
        let mut unit = 0;
        let mut scaled = u128::from(self.0) * 10 / 1024; // tenths
        while scaled >= 10 * 1024 && unit + 1 < UNITS.len() {
            scaled /= 1024;
            unit += 1;
        }
        write!(
            f,
            "{}.{} {} ({} B)",
            scaled / 10,
            scaled % 10,
            UNITS[unit],
            self.0
        )
    }
}

/// Why a guard refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GuardRefusal {
    #[error(
        "empty-source guard: the source references {source_size} but the target {target_size}; \
         below the minimum of {min_fraction} of the target (is the source a fresh, empty \
         replacement disk?); check the source, or lower the job's min-source-fraction"
    )]
    SourceTooSmall {
        source_size: Bytes,
        target_size: Bytes,
        min_fraction: Fraction,
    },
    #[error(
        "shrink guard: the dataset shrank from {previous} at the last successful run to \
         {current}, more than the allowed {max_shrink}; re-run with --accept-shrink if intended"
    )]
    Shrunk {
        previous: Bytes,
        current: Bytes,
        max_shrink: Fraction,
    },
}

/// Empty-source guard: refuses when `source_referenced < min_fraction * target_referenced`.
pub fn check_empty_source(
    source_referenced: u64,
    target_referenced: u64,
    min_fraction: Fraction,
) -> Result<(), GuardRefusal> {
    if u128::from(source_referenced) < min_fraction.of(target_referenced) {
        return Err(GuardRefusal::SourceTooSmall {
            source_size: Bytes(source_referenced),
            target_size: Bytes(target_referenced),
            min_fraction,
        });
    }
    Ok(())
}

/// The shrink guard's verdict; an accepted shrink is still reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShrinkVerdict {
    Pass,
    /// It shrank too much but the admin passed `accept_shrink`.
    Accepted(GuardRefusal),
    Refused(GuardRefusal),
}

/// Shrink guard: compares `current` with the size recorded at the last success (`previous`,
/// `None` on the first run) and refuses a drop of more than `max_shrink`.
pub fn check_shrink(
    previous: Option<u64>,
    current: u64,
    max_shrink: Fraction,
    accept_shrink: bool,
) -> ShrinkVerdict {
    let Some(previous) = previous else {
        return ShrinkVerdict::Pass;
    };
    let drop = previous.saturating_sub(current);
    if u128::from(drop) <= max_shrink.of(previous) {
        return ShrinkVerdict::Pass;
    }
    let refusal = GuardRefusal::Shrunk {
        previous: Bytes(previous),
        current: Bytes(current),
        max_shrink,
    };
    if accept_shrink {
        ShrinkVerdict::Accepted(refusal)
    } else {
        ShrinkVerdict::Refused(refusal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GIB: u64 = 1 << 30;

    #[test]
    fn parses_fractions() {
        assert_eq!("0.5".parse(), Ok(Fraction::DEFAULT_MIN_SOURCE));
        assert_eq!("50%".parse(), Ok(Fraction::DEFAULT_MIN_SOURCE));
        assert_eq!("20%".parse(), Ok(Fraction::DEFAULT_MAX_SHRINK));
        assert_eq!("1".parse(), Ok(Fraction { ppm: PPM }));
        assert_eq!(
            "0.125".parse::<Fraction>().map(|f| f.to_string()),
            Ok("12.5%".to_owned())
        );
        for bad in [
            "",
            "1.5",
            "101%",
            "-0.1",
            ".5",
            "0,5",
            "abc",
            "0.1234567",
            "5e-1",
        ] {
            assert!(bad.parse::<Fraction>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn bytes_display() {
        assert_eq!(Bytes(512).to_string(), "512 B");
        assert_eq!(Bytes(12 * GIB).to_string(), "12.0 GiB (12884901888 B)");
        assert_eq!(Bytes(1536).to_string(), "1.5 KiB (1536 B)");
    }

    #[test]
    fn empty_source_guard_refuses_small_source_naming_both_sizes() {
        let r = check_empty_source(12 * GIB, 800 * GIB, Fraction::DEFAULT_MIN_SOURCE);
        let Err(refusal) = r else {
            panic!("expected a refusal, got {r:?}")
        };
        let msg = refusal.to_string();
        assert!(
            msg.contains("12.0 GiB") && msg.contains("800.0 GiB") && msg.contains("50%"),
            "{msg}"
        );
    }

    #[test]
    fn empty_source_guard_boundaries() {
        let half = Fraction::DEFAULT_MIN_SOURCE;
        assert_eq!(check_empty_source(50, 100, half), Ok(()));
        assert!(check_empty_source(49, 100, half).is_err());
        assert_eq!(check_empty_source(0, 0, half), Ok(()), "new target");
        assert_eq!(check_empty_source(u64::MAX, u64::MAX, half), Ok(()));
        assert!(
            check_empty_source(0, 1 << 20, half).is_err(),
            "empty replacement disk"
        );
    }

    #[test]
    fn shrink_guard() {
        let max = Fraction::DEFAULT_MAX_SHRINK;
        assert_eq!(check_shrink(None, 0, max, false), ShrinkVerdict::Pass);
        assert_eq!(check_shrink(Some(100), 80, max, false), ShrinkVerdict::Pass);
        assert_eq!(
            check_shrink(Some(100), 500, max, false),
            ShrinkVerdict::Pass
        );
        let ShrinkVerdict::Refused(r) = check_shrink(Some(10 * GIB), 7 * GIB, max, false) else {
            panic!("expected a refusal")
        };
        assert!(r.to_string().contains("10.0 GiB") && r.to_string().contains("--accept-shrink"));
        assert!(matches!(
            check_shrink(Some(100), 79, max, true),
            ShrinkVerdict::Accepted(_)
        ));
    }
}
