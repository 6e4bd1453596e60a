//! sanoid's preferred snapshot times, computed in the civil time of the naming zone.
//!
//! A period is due when its newest snapshot was created before the most recent preferred time
//! ([`last_preferred`]): hourly at `:hourly_min` of every hour, daily at
//! `daily_hour:daily_min`, weekly on `weekly_wday` (0 = Sunday), monthly on `monthly_mday`,
//! yearly on `yearly_mon`/`yearly_mday`, and "frequently" at every multiple of
//! `frequent_period` minutes past the hour (so 45 minutes gives :00 and :45, like sanoid).
//!
//! Where this deliberately differs from sanoid 2.1:
//! - Civil times are turned into instants by the time zone database, not by sanoid's DST
//!   offset corrections. A preferred time inside a DST gap (spring forward) is the instant the
//!   gap ends; an ambiguous one (fall back) is the earlier instant, so the repeated hour adds
//!   no second preferred time. Result: no duplicate names and no missing daily across DST.
//! - When the yearly preferred time is later this year, sanoid subtracts 31 × 365.25 days
//!   (a bug: 31 years instead of one); we take last year's preferred time.
//! - `monthly_mday` beyond a month's length means its last day (sanoid's `timelocal` would
//!   roll into the next month or fail); `yearly_mday = 29` in February is the 28th in common
//!   years.

use std::time::Duration;

use jiff::civil::{Date, DateTime};
use jiff::tz::{AmbiguousOffset, TimeZone};
use jiff::{Timestamp, ToSpan};
use zferry_config::{Period, Schedule};

/// How far ahead of `now`'s civil time the search starts, so that an answer whose civil time
/// is later than `now`'s (inside a fold, civil time runs back by up to this much) is found.
const FOLD_SLACK_HOURS: i64 = 3;

/// The most recent preferred time of `period` at or before `now`, in zone `tz`.
/// `frequent_period` is only used for [`Period::Frequently`] (whole minutes, 1..=60).
pub fn last_preferred(
    period: Period,
    schedule: &Schedule,
    frequent_period: Duration,
    now: Timestamp,
    tz: &TimeZone,
) -> Timestamp {
    let rule = Rule {
        period,
        schedule,
        frequent_minutes: frequent_minutes(frequent_period),
    };
    let start = tz
        .to_datetime(now)
        .checked_add(FOLD_SLACK_HOURS.hours())
        .expect("now plus a few hours is a valid date-time");
    let mut civil = rule.at_or_before(start);
    loop {
        let instant = resolve(tz, civil);
        if instant <= now {
            return instant;
        }
        civil = rule.before(civil);
    }
}

/// The instant a preferred civil time stands for: unambiguous as is, in a gap the end of the
/// gap, in a fold the earlier instant.
pub fn resolve(tz: &TimeZone, civil: DateTime) -> Timestamp {
    let amb = tz.to_ambiguous_timestamp(civil);
    let to = |offset: jiff::tz::Offset| {
        offset
            .to_timestamp(civil)
            .expect("preferred times are far from the ends of the supported range")
    };
    match amb.offset() {
        AmbiguousOffset::Unambiguous { offset } => to(offset),
        AmbiguousOffset::Fold { before, .. } => to(before),
        AmbiguousOffset::Gap { before, after } => tz
            .following(to(after))
            .next()
            .map_or_else(|| to(before), |t| t.timestamp()),
    }
}

fn frequent_minutes(d: Duration) -> i8 {
    let minutes = (d.as_secs() / 60).clamp(1, 60);
    i8::try_from(minutes).expect("clamped to 1..=60")
}

/// One period's preferred civil times.
struct Rule<'a> {
    period: Period,
    schedule: &'a Schedule,
    frequent_minutes: i8,
}

impl Rule<'_> {
    /// The latest preferred civil time strictly before `civil`.
    fn before(&self, civil: DateTime) -> DateTime {
        let earlier = civil
            .checked_sub(1.second())
            .expect("preferred times are far from the ends of the supported range");
        self.at_or_before(earlier)
    }

    /// The latest preferred civil time at or before `dt`.
    fn at_or_before(&self, dt: DateTime) -> DateTime {
        let s = self.schedule;
        let day = dt.date();
        match self.period {
            Period::Frequently => {
                let slice = dt.minute() / self.frequent_minutes * self.frequent_minutes;
                day.at(dt.hour(), slice, 0, 0)
            }
            Period::Hourly => {
                let c = day.at(dt.hour(), min(s.hourly_min), 0, 0);
                if c <= dt {
                    return c;
                }
                let prev = dt.checked_sub(1.hour()).expect("in range");
                prev.date().at(prev.hour(), min(s.hourly_min), 0, 0)
            }
            Period::Daily => latest(dt, |back| {
                at(day_minus(day, back), s.daily_hour, s.daily_min)
            }),
            Period::Weekly => {
                let today = i64::from(day.weekday().to_sunday_zero_offset());
                let back = (today - i64::from(s.weekly_wday)).rem_euclid(7);
                latest(dt, |weeks| {
                    at(
                        day_minus(day, back + 7 * weeks),
                        s.weekly_hour,
                        s.weekly_min,
                    )
                })
            }
            Period::Monthly => latest(dt, |months| {
                let first = day
                    .first_of_month()
                    .checked_sub(months.months())
                    .expect("in range");
                at(
                    clamp_day(first, s.monthly_mday),
                    s.monthly_hour,
                    s.monthly_min,
                )
            }),
            Period::Yearly => latest(dt, |years| {
                let mon = i8::try_from(s.yearly_mon.clamp(1, 12)).expect("1..=12");
                let year = day.year() - i16::try_from(years).expect("0 or 1");
                let first = Date::new(year, mon, 1).expect("valid month");
                at(clamp_day(first, s.yearly_mday), s.yearly_hour, s.yearly_min)
            }),
        }
    }
}

/// `candidate(0)` if it is not after `dt`, else `candidate(1)` (the previous cycle).
fn latest(dt: DateTime, candidate: impl Fn(i64) -> DateTime) -> DateTime {
    let this = candidate(0);
    if this <= dt { this } else { candidate(1) }
}

fn day_minus(day: Date, days: i64) -> Date {
    day.checked_sub(days.days()).expect("in range")
}

fn at(day: Date, hour: u8, minute: u8) -> DateTime {
    let hour = i8::try_from(hour.min(23)).expect("0..=23");
    day.at(hour, min(minute), 0, 0)
}

fn min(minute: u8) -> i8 {
    i8::try_from(minute.min(59)).expect("0..=59")
}

/// Day `mday` of `first`'s month, or the month's last day when it is shorter.
fn clamp_day(first: Date, mday: u8) -> Date {
    let mday = i8::try_from(mday.clamp(1, 31)).expect("1..=31");
    let day = mday.min(first.days_in_month());
    first.with().day(day).build().expect("day within the month")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn lp(period: Period, now: &str, tz: &TimeZone) -> Timestamp {
        let s = Schedule::default();
        last_preferred(period, &s, Duration::from_mins(15), ts(now), tz)
    }

    #[test]
    fn sanoid_defaults_in_utc() {
        let utc = TimeZone::UTC;
        let now = "2026-03-04T14:07:30Z"; // a Wednesday
        let table = [
            (Period::Frequently, "2026-03-04T14:00:00Z"),
            (Period::Hourly, "2026-03-04T14:00:00Z"),
            (Period::Daily, "2026-03-03T23:59:00Z"),
            (Period::Weekly, "2026-03-02T23:30:00Z"),
            (Period::Monthly, "2026-03-01T00:00:00Z"),
            (Period::Yearly, "2026-01-01T00:00:00Z"),
        ];
        for (period, want) in table {
            assert_eq!(lp(period, now, &utc), ts(want), "{period}");
        }
    }

    #[test]
    fn exact_preferred_time_counts_as_passed() {
        let utc = TimeZone::UTC;
        assert_eq!(
            lp(Period::Daily, "2026-03-04T23:59:00Z", &utc),
            ts("2026-03-04T23:59:00Z")
        );
        assert_eq!(
            lp(Period::Daily, "2026-03-04T23:58:59Z", &utc),
            ts("2026-03-03T23:59:00Z")
        );
    }

    #[test]
    fn custom_times_and_previous_cycles() {
        let utc = TimeZone::UTC;
        let s = Schedule {
            hourly_min: 30,
            weekly_wday: 0,
            monthly_mday: 31,
            yearly_mon: 7,
            yearly_mday: 4,
            ..Schedule::default()
        };
        let now = ts("2026-03-04T14:07:30Z");
        let f = |p| last_preferred(p, &s, Duration::from_mins(45), now, &utc);
        assert_eq!(f(Period::Frequently), ts("2026-03-04T14:00:00Z"));
        assert_eq!(f(Period::Hourly), ts("2026-03-04T13:30:00Z"));
        assert_eq!(f(Period::Weekly), ts("2026-03-01T23:30:00Z"));
        // Feb 2026 has 28 days: day 31 is clamped to the 28th.
        assert_eq!(f(Period::Monthly), ts("2026-02-28T00:00:00Z"));
        // sanoid would look 31 years back; last year's July 4th is right.
        assert_eq!(f(Period::Yearly), ts("2025-07-04T00:00:00Z"));
        let late = ts("2026-03-04T14:50:00Z");
        let g = last_preferred(Period::Frequently, &s, Duration::from_mins(45), late, &utc);
        assert_eq!(g, ts("2026-03-04T14:45:00Z"));
    }

    #[test]
    fn dst_gap_resolves_to_the_end_of_the_gap() {
        let berlin = TimeZone::get("Europe/Berlin").unwrap();
        // 2026-03-29: 02:00 CET jumps to 03:00 CEST (01:00Z). Daily at 02:30 does not exist.
        let s = Schedule {
            daily_hour: 2,
            daily_min: 30,
            ..Schedule::default()
        };
        let f = |now: &str| {
            last_preferred(Period::Daily, &s, Duration::from_mins(15), ts(now), &berlin)
        };
        assert_eq!(f("2026-03-29T01:00:00Z"), ts("2026-03-29T01:00:00Z"));
        assert_eq!(f("2026-03-29T00:59:59Z"), ts("2026-03-28T01:30:00Z"));
        assert_eq!(f("2026-03-30T00:30:00Z"), ts("2026-03-30T00:30:00Z"));
    }

    #[test]
    fn dst_fold_takes_the_earlier_instant_only() {
        let berlin = TimeZone::get("Europe/Berlin").unwrap();
        // 2026-10-25: 03:00 CEST falls back to 02:00 CET at 01:00Z; 02:xx happens twice.
        let h = |now: &str| lp(Period::Hourly, now, &berlin);
        assert_eq!(h("2026-10-25T00:30:00Z"), ts("2026-10-25T00:00:00Z")); // 02:30 CEST
        assert_eq!(h("2026-10-25T01:30:00Z"), ts("2026-10-25T00:00:00Z")); // 02:30 CET
        assert_eq!(h("2026-10-25T02:00:00Z"), ts("2026-10-25T02:00:00Z")); // 03:00 CET
        // Frequently in the repeated hour: the first pass's 02:45 is still the latest.
        assert_eq!(
            lp(Period::Frequently, "2026-10-25T01:10:00Z", &berlin),
            ts("2026-10-25T00:45:00Z")
        );
    }

    #[test]
    fn new_york_daily_across_both_changes() {
        let ny = TimeZone::get("America/New_York").unwrap();
        // 23:59 local: EST is -05, EDT is -04.
        assert_eq!(
            lp(Period::Daily, "2026-03-08T12:00:00Z", &ny),
            ts("2026-03-08T04:59:00Z")
        );
        assert_eq!(
            lp(Period::Daily, "2026-03-09T12:00:00Z", &ny),
            ts("2026-03-09T03:59:00Z")
        );
        assert_eq!(
            lp(Period::Daily, "2026-11-01T12:00:00Z", &ny),
            ts("2026-11-01T03:59:00Z")
        );
        assert_eq!(
            lp(Period::Daily, "2026-11-02T12:00:00Z", &ny),
            ts("2026-11-02T04:59:00Z")
        );
    }
}
