//! Property tests for snapshot names: every name we write parses back to itself, and the
//! civil time in it is the instant it was taken at, in UTC and in DST zones.

#![allow(
    clippy::unwrap_used,
    reason = "a test should fail loudly on a bad fixture"
)]

use jiff::Timestamp;
use jiff::tz::TimeZone;
use proptest::prelude::*;
use zferry_config::{Period, SnapshotPrefix};
use zferry_snap::naming::{SnapKind, SnapName};

fn kind() -> impl Strategy<Value = SnapKind> {
    prop_oneof![
        Just(SnapKind::Stopped),
        (0..Period::ALL.len()).prop_map(|i| SnapKind::Period(Period::ALL[i])),
    ]
}

fn zone() -> impl Strategy<Value = TimeZone> {
    prop_oneof![
        Just(TimeZone::UTC),
        Just(TimeZone::get("Europe/Berlin").unwrap()),
        Just(TimeZone::get("America/New_York").unwrap()),
    ]
}

proptest! {
    #[test]
    fn written_names_round_trip(
        secs in 0i64..4_102_444_800, // 1970 .. 2100
        prefix in "[A-Za-z0-9.-]{1,20}",
        kind in kind(),
        tz in zone(),
    ) {
        let prefix: SnapshotPrefix = prefix.parse().unwrap();
        let now = Timestamp::from_second(secs).unwrap();
        let name = SnapName::at(&prefix, now, &tz, kind);
        let text = name.to_string();
        let back: SnapName = text.parse().unwrap();
        prop_assert_eq!(&back, &name);
        prop_assert_eq!(back.to_string(), text);
        // Outside folds the name denotes the very instant; in a fold, the earlier one.
        let instant = back.instant(&tz).unwrap();
        prop_assert!(instant <= now);
        prop_assert!(now.as_second() - instant.as_second() <= 3600);
        if tz == TimeZone::UTC {
            prop_assert_eq!(instant, now);
        }
    }

    #[test]
    fn arbitrary_text_never_panics_and_reparses_identically(s in "\\PC{0,48}") {
        if let Ok(n) = s.parse::<SnapName>() {
            prop_assert_eq!(n.to_string(), s);
        }
    }

    #[test]
    fn mutated_names_are_refused(pos in 0usize..35, c in "[_:T +a-zA]") {
        let good = "autosnap_2024-06-30_12:34:56_daily";
        let mut bytes = good.as_bytes().to_vec();
        let pos = pos % bytes.len();
        // Only mutate the stamp and kind, where a changed character breaks the shape.
        prop_assume!(pos >= 8);
        bytes[pos] = c.as_bytes()[0];
        let text = String::from_utf8(bytes).unwrap();
        prop_assume!(text != good);
        prop_assert!(text.parse::<SnapName>().is_err(), "{} accepted", text);
    }
}
