//! The bandwidth limit's arithmetic (pure): a token bucket in its "virtual finish time" form.
//!
//! Each chunk costs `bytes / rate` seconds of link time. The limiter keeps the instant its
//! booked link time runs out; a chunk may go once that instant, minus the burst allowance,
//! is not in the future. So by any instant `t` after the first chunk, at most
//! `burst + rate × t` bytes have been let through, and an idle link earns no more credit than
//! `burst`. The caller owns the clock: it passes "time since start" in and sleeps for what it
//! gets back (no polling).

use std::time::Duration;

const NANOS_PER_SEC: u128 = 1_000_000_000;

/// A rate limiter for one stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenBucket {
    rate: u64,
    burst_ns: u128,
    /// When the link time booked so far runs out (ns since the stream's start).
    booked_until_ns: u128,
}

impl TokenBucket {
    /// `rate` bytes per second (at least 1) with `burst` bytes of allowance.
    pub fn new(rate: u64, burst: u64) -> Self {
        let rate = rate.max(1);
        Self {
            rate,
            burst_ns: cost_ns(burst, rate),
            booked_until_ns: 0,
        }
    }

    /// The allowance zferry uses: 50 ms of the rate, at least 64 KiB (one relay chunk).
    pub fn for_rate(rate: u64) -> Self {
        Self::new(rate, (rate / 20).max(64 * 1024))
    }

    /// Books `bytes` at `now` (time since the start); returns how long to wait before
    /// letting them through (zero when the allowance covers them).
    pub fn take(&mut self, now: Duration, bytes: u64) -> Duration {
        let now_ns = now.as_nanos();
        self.booked_until_ns = self.booked_until_ns.max(now_ns) + cost_ns(bytes, self.rate);
        let may_go_at = self.booked_until_ns.saturating_sub(self.burst_ns);
        let wait = may_go_at.saturating_sub(now_ns);
        Duration::from_nanos(u64::try_from(wait).unwrap_or(u64::MAX))
    }
}

/// Link time of `bytes` at `rate` bytes/s, in ns, rounded up.
fn cost_ns(bytes: u64, rate: u64) -> u128 {
    (u128::from(bytes) * NANOS_PER_SEC).div_ceil(u128::from(rate))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MIB: u64 = 1024 * 1024;

    #[test]
    fn eight_mib_at_two_mib_per_second_takes_four_seconds_less_the_burst() {
        let mut bucket = TokenBucket::new(2 * MIB, 0);
        let mut now = Duration::ZERO;
        for _ in 0..64 {
            now += bucket.take(now, 128 * 1024);
        }
        assert_eq!(now, Duration::from_secs(4));
        let mut bursty = TokenBucket::new(2 * MIB, MIB);
        let mut now = Duration::ZERO;
        for _ in 0..64 {
            now += bursty.take(now, 128 * 1024);
        }
        assert_eq!(now, Duration::from_millis(3500));
    }

    #[test]
    fn the_allowance_passes_without_waiting_and_idle_time_earns_no_more() {
        let mut bucket = TokenBucket::new(MIB, 256 * 1024);
        assert_eq!(bucket.take(Duration::ZERO, 256 * 1024), Duration::ZERO);
        assert_eq!(
            bucket.take(Duration::ZERO, 256 * 1024),
            Duration::from_millis(250)
        );
        // A minute idle: still only the allowance passes at once.
        let later = Duration::from_mins(1);
        assert_eq!(bucket.take(later, 256 * 1024), Duration::ZERO);
        assert_eq!(bucket.take(later, 512 * 1024), Duration::from_millis(500));
    }

    #[test]
    fn a_huge_rate_never_waits_and_zero_is_treated_as_one_byte_per_second() {
        let mut fast = TokenBucket::for_rate(u64::MAX);
        assert_eq!(fast.take(Duration::ZERO, 1 << 20), Duration::ZERO);
        let mut slow = TokenBucket::new(0, 0);
        assert_eq!(slow.take(Duration::ZERO, 2), Duration::from_secs(2));
    }

    proptest! {
        /// Whatever the chunk sizes and the caller's extra delays, by each chunk's release
        /// at most `burst + rate × t` bytes have gone; and a caller that sleeps exactly as
        /// told is not slowed below the rate (done by the stream's link time).
        #[test]
        fn never_above_the_rate_and_never_needlessly_below(
            rate in 1_000u64..1_000_000_000,
            burst in 0u64..4_000_000,
            chunks in proptest::collection::vec((1u64..1_000_000, 0u64..50_000_000), 1..60),
        ) {
            let mut bucket = TokenBucket::new(rate, burst);
            let mut now = Duration::ZERO;
            let mut sent: u128 = 0;
            for &(bytes, delay_ns) in &chunks {
                now += Duration::from_nanos(delay_ns);
                now += bucket.take(now, bytes);
                sent += u128::from(bytes);
                let allowed = u128::from(burst)
                    + (now.as_nanos() * u128::from(rate)).div_ceil(NANOS_PER_SEC)
                    + 1;
                prop_assert!(sent <= allowed, "sent {sent} > allowed {allowed} at {now:?}");
            }
            let mut punctual = TokenBucket::new(rate, burst);
            let mut now = Duration::ZERO;
            let mut total = 0;
            for &(bytes, _) in &chunks {
                now += punctual.take(now, bytes);
                total += bytes;
            }
            // Each chunk's link time is rounded up to whole nanoseconds.
            let slack = u128::try_from(chunks.len()).unwrap_or(u128::MAX);
            prop_assert!(
                now.as_nanos() <= cost_ns(total, rate) + slack,
                "{now:?} for {total} bytes"
            );
        }
    }
}
