//! Value mini-grammars: durations (`"15m"`), byte sizes (`"50M"`) and fractions (`0.5`).
//!
//! Each is a newtype whose `FromStr` is the only way in; the serde impls call it and attach a
//! hint, so a bad value is reported at its own line and column.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use crate::error::HINT_SEP;

const DURATION_HINT: &str = "a duration is an integer followed by one unit: s, m, h, d or w (e.g. \"90s\", \"15m\", \"36h\", \"7d\")";
const SIZE_HINT: &str =
    "a size is an integer optionally followed by K, M, G or T (powers of 1024), e.g. \"50M\"";

/// Why a duration or size string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnitError {
    #[error("invalid {what} {input:?}: {reason}")]
    Invalid {
        what: &'static str,
        input: String,
        reason: String,
    },
}

fn invalid(what: &'static str, input: &str, reason: impl Into<String>) -> UnitError {
    UnitError::Invalid {
        what,
        input: input.to_owned(),
        reason: reason.into(),
    }
}

/// Splits `"15m"` into `(15, "m")`; digits first, then the rest.
fn split_number<'a>(what: &'static str, s: &'a str) -> Result<(u64, &'a str), UnitError> {
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return Err(invalid(
            what,
            s,
            "it must start with a non-negative integer",
        ));
    }
    let n = s[..digits]
        .parse::<u64>()
        .map_err(|_| invalid(what, s, "the number is too large"))?;
    Ok((n, &s[digits..]))
}

/// A duration written as `<integer><unit>` with unit `s`, `m`, `h`, `d` or `w`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DurationSpec(Duration);

impl DurationSpec {
    pub const fn from_secs(secs: u64) -> Self {
        Self(Duration::from_secs(secs))
    }

    pub const fn get(self) -> Duration {
        self.0
    }
}

impl From<DurationSpec> for Duration {
    fn from(d: DurationSpec) -> Duration {
        d.0
    }
}

impl FromStr for DurationSpec {
    type Err = UnitError;
    fn from_str(s: &str) -> Result<Self, UnitError> {
        let (n, unit) = split_number("duration", s)?;
        let scale: u64 = match unit {
            "s" => 1,
            "m" => 60,
            "h" => 3600,
            "d" => 86_400,
            "w" => 604_800,
            "" => return Err(invalid("duration", s, "the unit is missing")),
            other => return Err(invalid("duration", s, format!("unknown unit `{other}`"))),
        };
        let secs = n
            .checked_mul(scale)
            .ok_or_else(|| invalid("duration", s, "it is too long"))?;
        Ok(Self(Duration::from_secs(secs)))
    }
}

impl fmt::Display for DurationSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0.as_secs();
        let (n, unit) = [(604_800, "w"), (86_400, "d"), (3600, "h"), (60, "m")]
            .into_iter()
            .find(|(scale, _)| secs != 0 && secs.is_multiple_of(*scale))
            .map_or((secs, "s"), |(scale, unit)| (secs / scale, unit));
        write!(f, "{n}{unit}")
    }
}

/// Bytes, written as `<integer>[K|M|G|T]` (binary multiples) or a bare TOML integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ByteSize(pub u64);

impl FromStr for ByteSize {
    type Err = UnitError;
    fn from_str(s: &str) -> Result<Self, UnitError> {
        let (n, unit) = split_number("size", s)?;
        let shift = match unit {
            "" => 0,
            "K" | "k" => 10,
            "M" | "m" => 20,
            "G" | "g" => 30,
            "T" | "t" => 40,
            other => return Err(invalid("size", s, format!("unknown unit `{other}`"))),
        };
        n.checked_mul(1u64 << shift)
            .map(ByteSize)
            .ok_or_else(|| invalid("size", s, "it is too large"))
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (n, unit) = [(40, "T"), (30, "G"), (20, "M"), (10, "K")]
            .into_iter()
            .find(|(shift, _)| self.0 != 0 && self.0.is_multiple_of(1u64 << shift))
            .map_or((self.0, ""), |(shift, unit)| (self.0 >> shift, unit));
        write!(f, "{n}{unit}")
    }
}

/// A number in `0..=1`, e.g. the empty-source and shrink guards.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Fraction(f64);

impl Fraction {
    pub fn new(v: f64) -> Result<Self, String> {
        if (0.0..=1.0).contains(&v) {
            Ok(Self(v))
        } else {
            Err(format!("fraction {v} is outside 0..=1"))
        }
    }

    pub const fn get(self) -> f64 {
        self.0
    }
}

impl fmt::Display for Fraction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

fn with_hint<E: de::Error>(msg: impl fmt::Display, hint: &str) -> E {
    E::custom(format!("{msg}{HINT_SEP}{hint}"))
}

impl<'de> Deserialize<'de> for DurationSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = DurationSpec;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration string such as \"15m\"")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<DurationSpec, E> {
                s.parse().map_err(|e| with_hint(e, DURATION_HINT))
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<DurationSpec, E> {
                Err(with_hint(
                    format!("invalid duration {n}: the unit is missing"),
                    DURATION_HINT,
                ))
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = ByteSize;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a size such as \"50M\"")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<ByteSize, E> {
                s.parse().map_err(|e| with_hint(e, SIZE_HINT))
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<ByteSize, E> {
                u64::try_from(n)
                    .map(ByteSize)
                    .map_err(|_| with_hint(format!("invalid size {n}: it is negative"), SIZE_HINT))
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for Fraction {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Fraction;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number between 0 and 1")
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Fraction, E> {
                Fraction::new(v).map_err(|e| with_hint(e, "write a fraction such as 0.5 (50 %)"))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Fraction, E> {
                #[allow(
                    clippy::cast_precision_loss,
                    reason = "any integer but 0 and 1 is refused"
                )]
                self.visit_f64(v as f64)
            }
        }
        d.deserialize_any(V)
    }
}

macro_rules! serialize_display {
    ($($ty:ty),*) => {$(
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
    )*};
}
serialize_display!(DurationSpec, ByteSize);

impl Serialize for Fraction {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dur(s: &str) -> Result<u64, UnitError> {
        s.parse::<DurationSpec>().map(|d| d.get().as_secs())
    }

    #[test]
    fn durations_parse_every_unit() {
        assert_eq!(dur("90s").unwrap(), 90);
        assert_eq!(dur("15m").unwrap(), 900);
        assert_eq!(dur("36h").unwrap(), 129_600);
        assert_eq!(dur("7d").unwrap(), 604_800);
        assert_eq!(dur("2w").unwrap(), 1_209_600);
        assert_eq!(dur("0s").unwrap(), 0);
    }

    #[test]
    fn durations_refuse_malformed() {
        for bad in [
            "", "m", "15", "15x", "1.5h", "-1m", " 15m", "15m ", "15mm", "1h30m",
        ] {
            assert!(dur(bad).is_err(), "{bad:?} accepted");
        }
        let e = dur("15x").unwrap_err().to_string();
        assert_eq!(e, "invalid duration \"15x\": unknown unit `x`");
        assert!(dur("99999999999999999999s").is_err());
        assert!(dur("999999999999999999w").is_err());
    }

    #[test]
    fn durations_display_in_largest_unit() {
        assert_eq!(DurationSpec::from_secs(5400).to_string(), "90m");
        assert_eq!(DurationSpec::from_secs(86_400).to_string(), "1d");
        assert_eq!(DurationSpec::from_secs(0).to_string(), "0s");
        assert_eq!(DurationSpec::from_secs(61).to_string(), "61s");
    }

    #[test]
    fn sizes_use_binary_multiples() {
        assert_eq!("50M".parse::<ByteSize>().unwrap(), ByteSize(50 << 20));
        assert_eq!("1k".parse::<ByteSize>().unwrap(), ByteSize(1024));
        assert_eq!("2T".parse::<ByteSize>().unwrap(), ByteSize(2 << 40));
        assert_eq!("123".parse::<ByteSize>().unwrap(), ByteSize(123));
        assert!("50MB".parse::<ByteSize>().is_err());
        assert!("M".parse::<ByteSize>().is_err());
        assert!("99999999999T".parse::<ByteSize>().is_err());
        assert_eq!(ByteSize(50 << 20).to_string(), "50M");
    }

    #[test]
    fn fractions_are_bounded() {
        assert!(Fraction::new(0.0).is_ok());
        assert!(Fraction::new(1.0).is_ok());
        assert!(Fraction::new(1.01).is_err());
        assert!(Fraction::new(-0.1).is_err());
        assert!(Fraction::new(f64::NAN).is_err());
    }
}
