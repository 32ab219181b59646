//! Jump and freeze detection: one source's readings against its elapsed reference.
//!
//! Between two checks a healthy clock advances as much as its elapsed reference
//! (`CLOCK_BOOTTIME`, a board's counter), give or take its rate error. [`Detector`]
//! compares the two and classifies what does not fit as an [`Anomaly`]:
//!
//! | anomaly | seen when, between two checks | response |
//! |---|---|---|
//! | [`SteppedForward`](Anomaly::SteppedForward) | the clock advanced more than the reference by over [`step`](DetectorConfig::step) | [`Resync`](Response::Resync) |
//! | [`SteppedBack`](Anomaly::SteppedBack) | the clock advanced less than the reference by over `step`, or went back | [`Demote`](Response::Demote) |
//! | [`Frozen`](Anomaly::Frozen) | the clock did not move while the reference advanced [`freeze_after`](DetectorConfig::freeze_after) or more | [`FailOver`](Response::FailOver) |
//! | [`Rate`](Anomaly::Rate) | over a [`rate_window`](DetectorConfig::rate_window) of the reference, the clock ran faster or slower than [`max_rate_ppm`](DetectorConfig::max_rate_ppm) | [`Demote`](Response::Demote) |
//!
//! Why these responses:
//! - A **forward step** keeps time moving forward, so the selector's output stays
//!   monotone without help; it is what a discipline does when a measurement corrects a
//!   clock that fell behind, and what a rogue NTP step does. The source stays in use;
//!   the owner is asked to re-synchronise it (re-read the PHC offset, restart the PTP
//!   exchange) and its failback hysteresis starts again.
//! - A **backward step** means the source's readers saw time go back (the selector
//!   hides it, at the price of a wider bound while it slews). The source may be right
//!   afterwards, so it is demoted rather than dropped: any healthy source is preferred
//!   until it has been clean for the hysteresis period, but it is still better than
//!   nothing.
//! - A **frozen** clock is lying about every reading it gives: its bound means nothing.
//!   The selector leaves it at once, for any usable source, and takes it back only
//!   after it has been clean for the hysteresis period.
//! - An **implausible rate** (a wrong frequency correction, a PHC running off a
//!   misprogrammed adjustment) makes the source's bound, which assumes a sane rate,
//!   untrustworthy as it coasts: demoted, like a backward step.
//!
//! Without an elapsed reference only backward steps can be told (a pause between reads
//! looks like a forward step or a freeze), so only those are reported, as the HLC does.

use core::time::Duration;

use crate::clock::Anomaly;
use crate::time::duration_nanos;

/// What a [`Selector`](super::Selector) does about an [`Anomaly`]; the table is in the
/// [module docs](self).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Response {
    /// Keep the source, ask its owner to re-synchronise it, restart its failback
    /// hysteresis.
    Resync,
    /// Prefer any healthy source until this one has been clean for the hysteresis
    /// period; still use it when nothing better is there.
    Demote,
    /// Leave it now for any usable source; take it back only after it has been clean
    /// for the hysteresis period.
    FailOver,
}

impl Response {
    /// The response to `anomaly` (the table in the [module docs](self)).
    pub const fn to(anomaly: Anomaly) -> Self {
        match anomaly {
            Anomaly::SteppedForward { .. } => Self::Resync,
            Anomaly::SteppedBack { .. } | Anomaly::Rate { .. } => Self::Demote,
            Anomaly::Frozen { .. } => Self::FailOver,
        }
    }
}

/// The detector's limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct DetectorConfig {
    /// A step is a difference between the clock's and the reference's progress of more
    /// than this, between two checks. It must exceed what a sane rate error does in one
    /// check interval (`max_rate_ppm` of it) and the clock's resolution; smaller steps
    /// show as a rate.
    pub step: Duration,
    /// A clock that shows the same time while the reference advances this much is
    /// frozen. Below it, an unmoved clock may just be coarse: the check waits for more
    /// reference time.
    pub freeze_after: Duration,
    /// The reference time over which the rate is measured.
    pub rate_window: Duration,
    /// The largest believable rate difference from the reference, ppm: a crystal's
    /// tolerance plus the largest frequency correction a discipline applies.
    pub max_rate_ppm: u32,
}

impl DetectorConfig {
    /// 5 ms steps, frozen after 100 ms, 1 000 ppm over 4 s: the kernel slews at most
    /// 500 ppm and crystals are within 100 ppm, so only a broken clock trips the rate,
    /// a discipline's routine corrections (microseconds) trip neither, and checks up to
    /// 5 s apart keep a sane rate below the step.
    pub const DEFAULT: Self = Self {
        step: Duration::from_millis(5),
        freeze_after: Duration::from_millis(100),
        rate_window: Duration::from_secs(4),
        max_rate_ppm: 1_000,
    };
}

impl Default for DetectorConfig {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// One clock time with the reference time read beside it, in nanoseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Point {
    time: u64,
    reference: u64,
}

impl Point {
    /// `(clock progress - reference progress, reference progress)` since `earlier`;
    /// `None` if the reference went back (a different reference: start again).
    fn since(self, earlier: Point) -> Option<(i128, u64)> {
        let reference = self.reference.checked_sub(earlier.reference)?;
        let time = i128::from(self.time) - i128::from(earlier.time);
        Some((time - i128::from(reference), reference))
    }
}

/// Jump, freeze and rate detection for one source; see the [module docs](self).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Detector {
    /// The last check (the baseline for steps and freezes).
    last: Option<Point>,
    /// The clock time at the last check, for sources without a reference.
    last_time: Option<u64>,
    /// The start of the current rate window.
    window: Option<Point>,
    /// The rate of the last complete window, ppb.
    drift_ppb: i64,
}

fn nanos(d: i128) -> Duration {
    Duration::from_nanos(u64::try_from(d.unsigned_abs()).unwrap_or(u64::MAX))
}

impl Detector {
    /// A detector that has seen nothing yet.
    pub const fn new() -> Self {
        Self {
            last: None,
            last_time: None,
            window: None,
            drift_ppb: 0,
        }
    }

    /// The clock's rate against its reference over the last complete window, in parts
    /// per billion (0 before the first).
    pub const fn drift_ppb(&self) -> i64 {
        self.drift_ppb
    }

    /// Forgets the baseline: the next check starts afresh (after the source was
    /// replaced or re-synchronised on purpose).
    pub fn reset(&mut self) {
        *self = Self::new();
    }

    /// One check: the clock shows `time` (ns) while its elapsed reference shows
    /// `reference` (ns), if it has one. Returns what does not fit, if anything.
    pub fn check(
        &mut self,
        time: u64,
        reference: Option<u64>,
        config: &DetectorConfig,
    ) -> Option<Anomaly> {
        let step = i128::from(duration_nanos(config.step));
        let last_time = self.last_time.replace(time);
        let Some(reference) = reference else {
            self.last = None;
            self.window = None;
            let back = i128::from(last_time?) - i128::from(time);
            return (back > step).then(|| Anomaly::SteppedBack { by: nanos(back) });
        };
        let now = Point { time, reference };
        let (Some(last), Some(window)) = (self.last, self.window) else {
            self.last = Some(now);
            self.window = Some(now);
            return None;
        };
        let Some((excess, elapsed)) = now.since(last) else {
            self.last = Some(now);
            self.window = Some(now);
            return None;
        };
        if time == last.time && elapsed > 0 {
            if elapsed < duration_nanos(config.freeze_after) {
                // Not conclusive yet: a coarse clock may tick later. Keep the baseline.
                self.last_time = last_time;
                return None;
            }
            self.last = Some(now);
            self.window = Some(now);
            return Some(Anomaly::Frozen {
                for_: Duration::from_nanos(elapsed),
            });
        }
        self.last = Some(now);
        if excess > step || excess < -step {
            // A step pollutes the rate: measure it afresh from here.
            self.window = Some(now);
            return Some(if excess > 0 {
                Anomaly::SteppedForward { by: nanos(excess) }
            } else {
                Anomaly::SteppedBack { by: nanos(excess) }
            });
        }
        let (excess, elapsed) = now.since(window)?;
        if elapsed < duration_nanos(config.rate_window) || elapsed == 0 {
            return None;
        }
        self.window = Some(now);
        // |excess| < 2^65 and 10^9 < 2^30: the product fits i128.
        let ppb = excess * 1_000_000_000 / i128::from(elapsed);
        self.drift_ppb = i64::try_from(ppb).unwrap_or(if ppb < 0 { i64::MIN } else { i64::MAX });
        let ppm = ppb / 1_000;
        (ppm.unsigned_abs() > u128::from(config.max_rate_ppm)).then(|| Anomaly::Rate {
            ppm: i64::try_from(ppm).unwrap_or(if ppm < 0 { i64::MIN } else { i64::MAX }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;
    const CONFIG: DetectorConfig = DetectorConfig::DEFAULT;

    /// Checks every `interval` ms of reference time, the clock following `clock(ref)`.
    fn run(
        detector: &mut Detector,
        from: u64,
        to: u64,
        clock: impl Fn(u64) -> u64,
    ) -> Option<(u64, Anomaly)> {
        let mut r = from;
        while r <= to {
            if let Some(a) = detector.check(clock(r), Some(r), &CONFIG) {
                return Some((r, a));
            }
            r += 1_000 * MS;
        }
        None
    }

    #[test]
    fn a_healthy_clock_with_a_sane_rate_shows_nothing() {
        let mut d = Detector::new();
        // 200 ppm fast, 100 s.
        assert_eq!(
            run(&mut d, 0, 100_000 * MS, |r| 5_000 + r + r / 5_000),
            None
        );
        assert_eq!(d.drift_ppb(), 200_000);
    }

    #[test]
    fn each_kind_is_seen_within_one_check_interval() {
        // Forward step of 6 ms after 10 s: seen at the first check after it.
        let mut d = Detector::new();
        let got = run(&mut d, 0, 20_000 * MS, |r| {
            r + if r > 10_000 * MS { 6 * MS } else { 0 }
        });
        assert_eq!(
            got,
            Some((
                11_000 * MS,
                Anomaly::SteppedForward {
                    by: Duration::from_millis(6)
                }
            ))
        );
        assert_eq!(Response::to(got.unwrap().1), Response::Resync);

        let mut d = Detector::new();
        let got = run(&mut d, 0, 20_000 * MS, |r| {
            r - if r > 10_000 * MS { 7 * MS } else { 0 }
        });
        assert_eq!(
            got,
            Some((
                11_000 * MS,
                Anomaly::SteppedBack {
                    by: Duration::from_millis(7)
                }
            ))
        );
        assert_eq!(Response::to(got.unwrap().1), Response::Demote);

        let mut d = Detector::new();
        let got = run(&mut d, 0, 20_000 * MS, |r| r.min(10_000 * MS));
        assert_eq!(
            got,
            Some((
                11_000 * MS,
                Anomaly::Frozen {
                    for_: Duration::from_secs(1)
                }
            ))
        );
        assert_eq!(Response::to(got.unwrap().1), Response::FailOver);

        // 1 500 ppm fast from the start (1.5 ms a check, below the step): at the end of
        // the first rate window, four checks in.
        let mut d = Detector::new();
        let got = run(&mut d, 0, 20_000 * MS, |r| r + r * 3 / 2_000);
        assert_eq!(got, Some((4_000 * MS, Anomaly::Rate { ppm: 1_500 })));
        assert_eq!(Response::to(got.unwrap().1), Response::Demote);
        assert_eq!(d.drift_ppb(), 1_500_000);
    }

    #[test]
    fn a_coarse_clock_is_not_frozen_and_no_reference_sees_only_steps_back() {
        let mut d = Detector::new();
        // Ticks every 10 ms, checked every 1 ms: unmoved for 9 checks at a time.
        for r in 0..1_000u64 {
            let t = (r * MS) / (10 * MS) * (10 * MS);
            assert_eq!(d.check(t, Some(r * MS), &CONFIG), None, "at {r} ms");
        }
        let mut d = Detector::new();
        assert_eq!(d.check(1_000 * MS, None, &CONFIG), None);
        assert_eq!(d.check(9_000 * MS, None, &CONFIG), None);
        assert_eq!(
            d.check(5_000 * MS, None, &CONFIG),
            Some(Anomaly::SteppedBack {
                by: Duration::from_secs(4)
            })
        );
        // A reference that goes back is a new reference: no verdict, a new baseline.
        let mut d = Detector::new();
        assert_eq!(d.check(10 * MS, Some(10 * MS), &CONFIG), None);
        assert_eq!(d.check(0, Some(0), &CONFIG), None);
        assert_eq!(d.check(1_000 * MS, Some(1_000 * MS), &CONFIG), None);
        // Extremes saturate.
        let huge = Duration::from_nanos(u64::MAX - 2_000 * MS);
        assert_eq!(
            d.check(u64::MAX, Some(2_000 * MS), &CONFIG),
            Some(Anomaly::SteppedForward { by: huge })
        );
        assert_eq!(
            d.check(0, Some(u64::MAX), &CONFIG),
            Some(Anomaly::SteppedBack {
                by: Duration::MAX.min(Duration::from_nanos(u64::MAX))
            })
        );
    }
}
