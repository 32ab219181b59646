//! Exponential backoff with a cap and jitter, for retrying what failed: a source's
//! re-synchronisation, a socket re-open.
//!
//! The n-th delay (from 0) is `base · 2^n`, held at `max`, then shortened by a random
//! fraction of up to `jitter_percent` %: never longer than the cap, never shorter than
//! `100 - jitter_percent` % of the nominal delay. Jitter keeps many nodes that failed
//! together from retrying together. The randomness is the core's seedable
//! [`SplitMix64`]: give each node its own seed (its clock identity, its node id), and
//! a test replays the same delays.
//!
//! ```
//! use core::time::Duration;
//! use tempora_core::backoff::Backoff;
//!
//! let mut b = Backoff::new(Duration::from_millis(100), Duration::from_secs(1), 7).with_jitter(0);
//! let delays: Vec<_> = (0..6).map(|_| b.next_delay().as_millis()).collect();
//! assert_eq!(delays, [100, 200, 400, 800, 1_000, 1_000]);
//! b.reset(); // it worked: start again from the base
//! assert_eq!(b.next_delay(), Duration::from_millis(100));
//! ```

use core::time::Duration;

use crate::rng::SplitMix64;
use crate::time::duration_nanos;

/// Exponential backoff state; see the [module docs](self).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Backoff {
    base: Duration,
    max: Duration,
    jitter_percent: u8,
    attempt: u32,
    rng: SplitMix64,
}

impl Backoff {
    /// A backoff from `base`, doubling up to `max`, with 20 % jitter drawn from `seed`.
    /// A `max` below `base` caps every delay at `max`.
    pub const fn new(base: Duration, max: Duration, seed: u64) -> Self {
        Self {
            base,
            max,
            jitter_percent: 20,
            attempt: 0,
            rng: SplitMix64::new(seed),
        }
    }

    /// The same with up to `percent` % (held at 100) taken off each delay at random;
    /// 0 for exact delays.
    pub const fn with_jitter(mut self, percent: u8) -> Self {
        self.jitter_percent = if percent > 100 { 100 } else { percent };
        self
    }

    /// Failures since the last [`reset`](Backoff::reset).
    pub const fn attempts(&self) -> u32 {
        self.attempt
    }

    /// The delay before the next attempt, without jitter.
    pub fn nominal(&self) -> Duration {
        let factor = 1u64.checked_shl(self.attempt.min(63)).unwrap_or(u64::MAX);
        let nanos = duration_nanos(self.base).saturating_mul(factor);
        Duration::from_nanos(nanos).min(self.max)
    }

    /// Counts a failure and returns how long to wait before trying again.
    pub fn next_delay(&mut self) -> Duration {
        let nominal = duration_nanos(self.nominal());
        self.attempt = self.attempt.saturating_add(1);
        // nominal * percent / 100 without overflow: nominal < 2^64, percent <= 100.
        let span = (u128::from(nominal) * u128::from(self.jitter_percent) / 100) as u64;
        let cut = self.rng.below(span.saturating_add(1));
        Duration::from_nanos(nominal - cut.min(nominal))
    }

    /// It worked: the next delay is `base` again.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn doubles_up_to_the_cap_and_resets() {
        let mut b = Backoff::new(10 * MS, 100 * MS, 1).with_jitter(0);
        let got: [Duration; 6] = core::array::from_fn(|_| b.next_delay());
        assert_eq!(
            got,
            [10 * MS, 20 * MS, 40 * MS, 80 * MS, 100 * MS, 100 * MS]
        );
        assert_eq!(b.attempts(), 6);
        b.reset();
        assert_eq!(b.attempts(), 0);
        assert_eq!(b.next_delay(), 10 * MS);
    }

    #[test]
    fn jitter_stays_within_its_share_below_the_nominal_delay() {
        let mut b = Backoff::new(10 * MS, 80 * MS, 42).with_jitter(25);
        let mut distinct = 0;
        let mut last = Duration::ZERO;
        for _ in 0..1_000 {
            let nominal = b.nominal();
            let d = b.next_delay();
            assert!(d <= nominal && d >= nominal * 3 / 4, "{d:?} of {nominal:?}");
            distinct += usize::from(d != last);
            last = d;
        }
        // Jitter actually varies the delay (at the cap, nominal is constant).
        assert!(distinct > 900, "{distinct}");
    }

    #[test]
    fn same_seed_same_delays_and_no_overflow() {
        let mut a = Backoff::new(Duration::MAX, Duration::MAX, 9);
        let mut b = Backoff::new(Duration::MAX, Duration::MAX, 9);
        for _ in 0..100 {
            let (x, y) = (a.next_delay(), b.next_delay());
            assert_eq!(x, y);
            assert!(x <= Duration::from_nanos(u64::MAX));
        }
        let mut tiny = Backoff::new(Duration::ZERO, MS, 3);
        for _ in 0..70 {
            assert_eq!(tiny.next_delay(), Duration::ZERO);
        }
        let mut capped = Backoff::new(MS, Duration::ZERO, 3);
        assert_eq!(capped.next_delay(), Duration::ZERO);
        assert_eq!(Backoff::new(MS, MS, 0).with_jitter(200).jitter_percent, 100);
    }
}
