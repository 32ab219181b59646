//! A simulated node's free-running clock against true time.
//!
//! True time `t` counts nanoseconds from the start of a simulation; a node's clock reads
//! `epoch + offset + t + ⌊drift_ppb · t / 10⁹⌋`. Both directions are exact integer
//! arithmetic (`i128`), so a timer armed for a local time fires at the first true
//! nanosecond at which the clock has reached it, never one before.

use tempora_core::time::{Instant, Tai};

/// One second in nanoseconds.
pub const SECOND: i128 = 1_000_000_000;

/// Where the simulations' clocks start by default: 2023-11-14, so that every local time
/// is a plausible present-day PTP time.
pub const EPOCH_NS: i128 = 1_700_000_000 * SECOND;

/// A node's clock: `offset_ns` ahead of true time at the start and `drift_ppb` fast.
///
/// ```
/// use tempora_ptp_sim::{LocalClock, EPOCH_NS, SECOND};
///
/// let fast = LocalClock::new(250_000, 30_000);
/// assert_eq!(fast.local_ns(SECOND), EPOCH_NS + 250_000 + SECOND + 30_000);
/// // The inverse is exact: the first true time at which the clock reads that much.
/// assert_eq!(fast.true_ns(fast.local_ns(SECOND)), SECOND);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LocalClock {
    /// What the clock reads at true time 0, less the offset.
    pub epoch_ns: i128,
    /// How far ahead of true time it starts (ns).
    pub offset_ns: i128,
    /// How fast it runs (ppb; above -10⁹, or it would not run).
    pub drift_ppb: i128,
}

impl LocalClock {
    /// A clock `offset_ns` ahead, `drift_ppb` fast, counting from [`EPOCH_NS`].
    pub const fn new(offset_ns: i128, drift_ppb: i128) -> Self {
        Self {
            epoch_ns: EPOCH_NS,
            offset_ns,
            drift_ppb,
        }
    }

    /// The same clock counting from `epoch_ns` instead (0: from the Unix epoch, as
    /// firmware without a date does).
    pub const fn with_epoch(mut self, epoch_ns: i128) -> Self {
        self.epoch_ns = epoch_ns;
        self
    }

    /// What the clock reads at true time `t` (ns).
    pub const fn local_ns(&self, t: i128) -> i128 {
        self.epoch_ns + self.offset_ns + ((SECOND + self.drift_ppb) * t).div_euclid(SECOND)
    }

    /// The same as a port takes it.
    ///
    /// # Panics
    ///
    /// If the reading is before 1970 or after 2554 (outside [`Instant`]'s range).
    pub fn local(&self, t: i128) -> Instant<Tai> {
        let ns = self.local_ns(t);
        Instant::from_nanos(u64::try_from(ns).expect("a local time inside 1970..2554"))
    }

    /// The first true time (ns) at which the clock reads `local_ns` or later: when a
    /// timer armed for that local time fires. For a clock that is not slow
    /// (`drift_ppb >= 0`) it is the exact inverse of [`local_ns`](Self::local_ns),
    /// `true_ns(local_ns(t)) == t`; a slow one reads some nanoseconds twice.
    pub const fn true_ns(&self, local_ns: i128) -> i128 {
        let ahead = local_ns - self.epoch_ns - self.offset_ns;
        // The smallest t with ⌊(10⁹ + drift) t / 10⁹⌋ >= ahead: ⌈ahead 10⁹ / (10⁹ + drift)⌉.
        let rate = SECOND + self.drift_ppb;
        -(-(ahead * SECOND)).div_euclid(rate)
    }

    /// [`true_ns`](Self::true_ns) of a port's local instant.
    pub fn true_time(&self, local: Instant<Tai>) -> i128 {
        self.true_ns(i128::from(local.as_nanos()))
    }

    /// This clock minus `reference` at true time `t` (ns): the offset a slave with this
    /// clock should measure against a master with that one.
    pub const fn minus(&self, reference: &LocalClock, t: i128) -> i128 {
        self.local_ns(t) - reference.local_ns(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLOCKS: [LocalClock; 5] = [
        LocalClock::new(0, 0),
        LocalClock::new(250_000, 30_000),
        LocalClock::new(-3_000_000, -5_000),
        LocalClock::new(7, 999_999),
        LocalClock::new(250_000, 20_000).with_epoch(0),
    ];

    #[test]
    fn a_timer_fires_at_the_first_true_time_the_clock_reaches_it() {
        for c in CLOCKS {
            let start = c.local_ns(0);
            for l in (start..start + 2_000_000)
                .step_by(997)
                .chain([c.local_ns(59 * SECOND) + 13])
            {
                let t = c.true_ns(l);
                assert!(c.local_ns(t) >= l, "{c:?}: {l} not reached at {t}");
                assert!(c.local_ns(t - 1) < l, "{c:?}: {l} reached before {t}");
            }
        }
    }

    #[test]
    fn the_inverse_is_exact_for_a_clock_that_never_stands_still() {
        for c in CLOCKS.into_iter().filter(|c| c.drift_ppb >= 0) {
            for t in (0..2_000_000i128).step_by(997).chain([59 * SECOND + 13]) {
                assert_eq!(c.true_ns(c.local_ns(t)), t, "{c:?} at {t}");
            }
        }
    }

    #[test]
    fn a_clock_runs_at_its_drift() {
        let c = LocalClock::new(250_000, 30_000);
        assert_eq!(c.local_ns(0), EPOCH_NS + 250_000);
        assert_eq!(
            c.local_ns(10 * SECOND) - c.local_ns(0),
            10 * SECOND + 300_000
        );
        let slow = LocalClock::new(0, -5_000);
        // Floor, also for a slow clock: 1 ns of true time reads as 0 ns more.
        assert_eq!(slow.local_ns(1), EPOCH_NS);
        assert_eq!(slow.local_ns(SECOND), EPOCH_NS + SECOND - 5_000);
        assert_eq!(c.minus(&LocalClock::new(0, 0), SECOND), 280_000);
    }

    #[test]
    fn instants_round_trip() {
        let c = LocalClock::new(-3_000_000, 5_000);
        let at = c.local(42 * SECOND + 5);
        assert_eq!(at.as_nanos() as i128, c.local_ns(42 * SECOND + 5));
        assert_eq!(c.true_time(at), 42 * SECOND + 5);
    }
}
