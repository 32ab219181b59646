//! Whether a PHC behaves like a clock: it advances, and at a plausible rate against
//! `CLOCK_MONOTONIC_RAW`. Two real faults this catches: QEMU 7.2's e1000e PHC, which
//! never advances, and QEMU 10's, which runs 2.5 times too fast.

use super::cross::CrossTimestamp;

/// What one check found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Health {
    /// Advancing at a plausible rate (or the first sample: nothing to compare yet).
    Good,
    /// Advanced less than 1% of the elapsed time: stopped.
    Frozen,
    /// Advanced at a rate beyond the limit: `error_ppm` off (+: fast).
    RateImplausible {
        /// The rate error in parts per million, saturated to i32.
        error_ppm: i32,
    },
}

/// Compares each cross-timestamp with the previous one.
#[derive(Clone, Debug)]
pub struct HealthCheck {
    max_rate_ppm: u32,
    previous: Option<(i128, i128)>,
}

impl HealthCheck {
    /// Refuses rates more than `max_rate_ppm` off (1 000 ppm: what the core discipline
    /// accepts, and far beyond any crystal).
    pub fn new(max_rate_ppm: u32) -> Self {
        Self {
            max_rate_ppm,
            previous: None,
        }
    }

    /// Forgets the previous sample (a re-opened device).
    pub fn reset(&mut self) {
        self.previous = None;
    }

    /// Checks `ts` against the previous sample. Intervals under 1 ms of raw time are
    /// too short to judge and count as good.
    pub fn check(&mut self, ts: &CrossTimestamp) -> Health {
        let now = (ts.raw_ns, ts.phc_ns);
        let Some((raw0, phc0)) = self.previous.replace(now) else {
            return Health::Good;
        };
        let d_raw = ts.raw_ns - raw0;
        let d_phc = ts.phc_ns - phc0;
        if d_raw < 1_000_000 {
            return Health::Good;
        }
        if d_phc * 100 < d_raw {
            return Health::Frozen;
        }
        let error_ppm = (d_phc - d_raw) * 1_000_000 / d_raw;
        if error_ppm.unsigned_abs() > u128::from(self.max_rate_ppm) {
            Health::RateImplausible {
                error_ppm: i32::try_from(error_ppm).unwrap_or(if error_ppm > 0 {
                    i32::MAX
                } else {
                    i32::MIN
                }),
            }
        } else {
            Health::Good
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::phc::CrossMethod;
    use std::time::Duration;

    fn ts(raw_ns: i128, phc_ns: i128) -> CrossTimestamp {
        CrossTimestamp {
            method: CrossMethod::Extended,
            phc_ns,
            raw_ns,
            window: Duration::ZERO,
            bound: Duration::ZERO,
        }
    }

    #[test]
    fn frozen_fast_and_good_clocks_are_told_apart() {
        let mut h = HealthCheck::new(1_000);
        assert_eq!(h.check(&ts(0, 5_000_000_000)), Health::Good);
        // 250 ms later: 50 ppm fast is fine.
        assert_eq!(h.check(&ts(250_000_000, 5_250_012_500)), Health::Good);
        // Then it stops.
        assert_eq!(h.check(&ts(500_000_000, 5_250_012_500)), Health::Frozen);
        // Then it runs 2.5 times too fast (QEMU 10's e1000e).
        assert_eq!(
            h.check(&ts(750_000_000, 5_875_012_500)),
            Health::RateImplausible {
                error_ppm: 1_500_000
            }
        );
        // Too short an interval to judge.
        assert_eq!(h.check(&ts(750_100_000, 9_000_000_000)), Health::Good);
        h.reset();
        assert_eq!(h.check(&ts(0, 0)), Health::Good);
    }
}
