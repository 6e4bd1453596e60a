//! Property tests for preferred times: the answer is at or before `now`, it is itself a
//! preferred time (a fixed point), nothing preferred lies between it and `now`, and the
//! function never goes back in time as `now` advances — in UTC and across DST changes.

#![allow(
    clippy::unwrap_used,
    reason = "a test should fail loudly on a bad fixture"
)]

use std::time::Duration;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use proptest::prelude::*;
use zferry_config::{Period, Schedule};
use zferry_snap::schedule::last_preferred;

fn zone() -> impl Strategy<Value = TimeZone> {
    prop_oneof![
        Just(TimeZone::UTC),
        Just(TimeZone::get("Europe/Berlin").unwrap()),
        Just(TimeZone::get("America/New_York").unwrap()),
        Just(TimeZone::get("Australia/Lord_Howe").unwrap()), // 30-minute DST shift
    ]
}

fn schedule() -> impl Strategy<Value = Schedule> {
    (0u8..60, 0u8..24, 0u8..60, 0u8..7, 1u8..32, 1u8..13, 1u8..29).prop_map(
        |(m, h, m2, wday, mday, mon, yday)| Schedule {
            hourly_min: m,
            daily_hour: h,
            daily_min: m2,
            weekly_wday: wday,
            weekly_hour: h,
            weekly_min: m,
            monthly_mday: mday,
            monthly_hour: h,
            monthly_min: m2,
            yearly_mon: mon,
            yearly_mday: yday,
            yearly_hour: h,
            yearly_min: m,
        },
    )
}

fn period() -> impl Strategy<Value = Period> {
    (0..Period::ALL.len()).prop_map(|i| Period::ALL[i])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn answer_is_the_latest_preferred_instant(
        secs in 946_684_800i64..4_102_444_800, // 2000 .. 2100
        step in 1i64..200_000,
        fp in prop_oneof![Just(1u64), Just(5), Just(15), Just(45), Just(60)],
        period in period(),
        s in schedule(),
        tz in zone(),
    ) {
        let fp = Duration::from_mins(fp);
        let now = Timestamp::from_second(secs).unwrap();
        let lp = |t: Timestamp| last_preferred(period, &s, fp, t, &tz);
        let p = lp(now);
        prop_assert!(p <= now);
        prop_assert!(now.as_second() - p.as_second() <= 366 * 86_400 + 7200, "{p} for {now}");
        prop_assert_eq!(lp(p), p, "not a fixed point");
        let before = Timestamp::from_second(p.as_second() - 1).unwrap();
        prop_assert!(lp(before) < p);
        // Any instant between p and now has the same answer; later instants never go back.
        let mid = Timestamp::from_second(p.as_second() + (now.as_second() - p.as_second()) / 2).unwrap();
        prop_assert_eq!(lp(mid), p);
        let later = Timestamp::from_second(secs + step).unwrap();
        prop_assert!(lp(later) >= p);
    }
}
