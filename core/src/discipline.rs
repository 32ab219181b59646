//! One clock discipline: offset measurements in, a bounded [`ClockSource`] out.
//!
//! Every way tempora learns the time ends in the same question: given a free-running
//! local clock and measurements of how far it is from a reference, what time is it now,
//! how sure are we, and for how much longer? A PTP port answers with its filtered
//! estimate after each exchange, a PHC with a cross-timestamp, a PPS input at each edge.
//! [`Discipline`] takes those [`OffsetSample`]s and *is* the clock the rest of the system
//! reads: the local time corrected by the latest estimate, with a bound that
//!
//! - starts from the measurement's own bound,
//! - grows with the time since it at the configured drift rate, always: a bound is never
//!   frozen, however long measurements stay away (an estimate that has not converged
//!   coasts without its frequency, which may be far off, and grows at the local clock's
//!   whole tolerance instead), and
//! - carries a status: [`Synchronized`](ClockStatus::Synchronized) while measurements are
//!   fresh and the producer says its estimate has converged,
//!   [`Holdover`](ClockStatus::Holdover) once they stop after that,
//!   [`FreeRunning`](ClockStatus::FreeRunning) while acquiring, and the local clock's own
//!   reading before any measurement.
//!
//! A gap or a change of reference does not throw away what is known: a sample that has
//! not converged replaces the current estimate only when its bound is tighter than
//! what the current estimate, coasted to that moment, can still promise.
//!
//! Readers never block and never see a torn estimate; they may run on other threads or in
//! an interrupt that pre-empted the writer (two slots, each under a sequence count: the
//! writer fills the slot readers are not using, then flips).
//!
//! ```
//! use core::time::Duration;
//! use tempora_core::clock::{ClockSource, ClockStatus, ManualClock};
//! use tempora_core::discipline::{Discipline, DisciplineConfig, OffsetSample};
//! use tempora_core::time::{Instant, Offset, Tai};
//!
//! static LOCAL: ManualClock<Tai> = ManualClock::new(1_000_000_000);
//! let clock = Discipline::new(&LOCAL, DisciplineConfig {
//!     fresh_for: Duration::from_secs(4),
//!     drift_ppb: 1_000,
//!     tolerance_ppb: 100_000,
//! });
//! // The local clock is 500 ns ahead of the reference, known to within 100 ns.
//! clock
//!     .update(OffsetSample {
//!         at: Instant::from_nanos(1_000_000_000),
//!         offset: Offset::from_nanos(500),
//!         frequency_ppt: 0,
//!         bound: Duration::from_nanos(100),
//!         locked: true,
//!     })
//!     .unwrap();
//! let r = clock.read();
//! assert_eq!(r.time.as_nanos(), 999_999_500);
//! assert_eq!(r.status, ClockStatus::Synchronized);
//! // Ten seconds without a measurement: holdover, and 1 ppm of 10 s more bound.
//! LOCAL.advance(10_000_000_000);
//! let r = clock.read();
//! assert_eq!(r.status, ClockStatus::Holdover);
//! assert_eq!(r.bound, Duration::from_nanos(100 + 10_000));
//! ```

use core::fmt;
use core::time::Duration;

use crate::clock::{ClockReading, ClockSource, ClockStatus};
use crate::sync::{fence, spin_hint, AtomicU64, Ordering};
use crate::time::{duration_nanos, Instant, Offset, Timescale, NANOS_PER_SEC};

/// How a [`Discipline`] judges freshness and grows its bound.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct DisciplineConfig {
    /// How long after a converged measurement readings stay
    /// [`Synchronized`](ClockStatus::Synchronized). A few of the producer's intervals:
    /// for PTP, four Sync intervals or so.
    pub fresh_for: Duration,
    /// How fast the bound grows with the time since the last measurement, in parts per
    /// billion: the worst frequency error the estimate may have, or acquire, while it
    /// coasts (a crystal's temperature wander; for a counter without a measured rate,
    /// its stated tolerance).
    pub drift_ppb: u32,
    /// How far the local clock's rate may be from the reference's at all, in parts per
    /// billion (its oscillator's tolerance, plus any slew the kernel applies to it). An
    /// estimate that has not converged coasts at the local clock's own rate (its
    /// frequency may be anything: one delayed exchange among a producer's first few can
    /// make it hundreds of ppm wrong), so its bound grows at this rate until a converged
    /// estimate arrives.
    pub tolerance_ppb: u32,
}

impl DisciplineConfig {
    /// Four seconds of freshness, 10 ppm of drift and 500 ppm of tolerance (the range a
    /// PTP filter's frequency is held to): a conservative start for a PTP slave at one
    /// Sync a second on an unknown oscillator.
    pub const DEFAULT: Self = Self {
        fresh_for: Duration::from_secs(4),
        drift_ppb: 10_000,
        tolerance_ppb: 500_000,
    };
}

impl Default for DisciplineConfig {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// One measurement of the local clock against a reference.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct OffsetSample<S: Timescale> {
    /// The local time the measurement describes.
    pub at: Instant<S>,
    /// Local minus reference at `at`.
    pub offset: Offset,
    /// Local minus reference rate, in parts per trillion (ps per s); 0 if unknown.
    /// Integer, so a discipline costs no floating point on an MCU without an FPU;
    /// within ±[`MAX_FREQUENCY_PPT`] (1 000 ppm).
    pub frequency_ppt: i64,
    /// The true offset lies within `offset ± bound` at `at`: the producer's error
    /// bound (a PTP filter's few standard deviations plus the path's possible
    /// asymmetry; half a cross-timestamp's window plus the device's error).
    pub bound: Duration,
    /// Whether the producer's estimate has converged (a PTP port's lock). Only a
    /// converged estimate makes readings [`Synchronized`](ClockStatus::Synchronized).
    pub locked: bool,
}

/// The largest frequency error a sample may state: 1 000 ppm, in parts per trillion.
pub const MAX_FREQUENCY_PPT: i64 = 1_000_000_000;

/// What [`Discipline::update`] did with a sample.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Applied {
    /// The sample is the new estimate.
    Taken,
    /// The sample had not converged and promised less than the current estimate
    /// coasted to its time: the current estimate stays (a re-acquisition after a gap
    /// or a change of reference, still settling).
    KeptCurrent,
}

/// Why [`Discipline::update`] refused a sample.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum DisciplineError {
    /// Another update was in progress (updates must come from one context at a time;
    /// this one pre-empted it). Nothing changed.
    Busy,
    /// The frequency is beyond ±[`MAX_FREQUENCY_PPT`]: no oscillator a clock is
    /// disciplined from is that far off; the producer's estimate is broken.
    Frequency,
}

impl fmt::Display for DisciplineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Busy => "another discipline update was in progress",
            Self::Frequency => "the sample's frequency is beyond 1000 ppm",
        })
    }
}

impl core::error::Error for DisciplineError {}

/// The estimate a discipline holds, for status lines and metrics.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Estimate<S: Timescale> {
    /// The last sample taken.
    pub sample: OffsetSample<S>,
    /// Whether any converged sample was ever taken (the difference between holdover and
    /// free running once samples stop).
    pub was_synchronized: bool,
}

impl<S: Timescale> Estimate<S> {
    /// The offset (local minus reference) predicted at local time `local`: moving at
    /// the sample's frequency once it has converged, constant before.
    pub fn offset_at(&self, local: Instant<S>) -> Offset {
        if !self.sample.locked {
            return self.sample.offset;
        }
        let age = local.offset_from(self.sample.at).unwrap_or(Offset::ZERO);
        // Whole seconds and the rest, so every product fits 64 bits: |frequency| is at
        // most 10^9 ppt, seconds below 2^33 (272 years) and the rest below 10^9 ns.
        let nanos = age.as_nanos();
        let (secs, rest) = (nanos / NANOS_PER_SEC as i64, nanos % NANOS_PER_SEC as i64);
        let f = self.sample.frequency_ppt;
        let drift = f
            .saturating_mul(secs)
            .div_euclid(1_000)
            .saturating_add(f.saturating_mul(rest).div_euclid(1_000_000_000_000));
        self.sample.offset.saturating_add(Offset::from_nanos(drift))
    }

    /// The bound at local time `local`: the sample's, plus `drift_ppb` of the time
    /// since it (in either direction, should the local clock have stepped back),
    /// rounded up: a bound is never too small.
    pub fn bound_at(&self, local: Instant<S>, drift_ppb: u32) -> Duration {
        let age = local.abs_diff(self.sample.at);
        let drift = u64::from(drift_ppb);
        let growth = drift
            .saturating_mul(age.as_secs())
            .saturating_add((drift * u64::from(age.subsec_nanos())).div_ceil(NANOS_PER_SEC));
        self.sample
            .bound
            .saturating_add(Duration::from_nanos(growth))
    }

    /// How fast this estimate's bound grows under `config`: its drift once converged,
    /// the local clock's whole tolerance before (see [`Estimate::offset_at`]).
    pub fn growth_ppb(&self, config: &DisciplineConfig) -> u32 {
        if self.sample.locked {
            config.drift_ppb
        } else {
            config.tolerance_ppb.max(config.drift_ppb)
        }
    }

    /// The status at local time `local`.
    pub fn status_at(&self, local: Instant<S>, fresh_for: Duration) -> ClockStatus {
        let fresh = local
            .checked_duration_since(self.sample.at)
            .is_some_and(|age| age <= fresh_for);
        if self.sample.locked && fresh {
            ClockStatus::Synchronized
        } else if self.was_synchronized {
            ClockStatus::Holdover
        } else {
            ClockStatus::FreeRunning
        }
    }
}

const HAS_SAMPLE: u64 = 1;
const LOCKED: u64 = 1 << 1;
const WAS_SYNCHRONIZED: u64 = 1 << 2;

/// One copy of the estimate, under its own sequence count (odd while being written).
#[derive(Debug)]
struct Slot {
    seq: AtomicU64,
    /// Which publication this slot holds.
    version: AtomicU64,
    at: AtomicU64,
    offset: AtomicU64,
    frequency: AtomicU64,
    bound: AtomicU64,
    flags: AtomicU64,
}

impl Slot {
    #[cfg(not(loom))]
    const fn new() -> Self {
        Self {
            seq: AtomicU64::new(0),
            version: AtomicU64::new(0),
            at: AtomicU64::new(0),
            offset: AtomicU64::new(0),
            frequency: AtomicU64::new(0),
            bound: AtomicU64::new(0),
            flags: AtomicU64::new(0),
        }
    }

    #[cfg(loom)]
    fn new() -> Self {
        Self {
            seq: AtomicU64::new(0),
            version: AtomicU64::new(0),
            at: AtomicU64::new(0),
            offset: AtomicU64::new(0),
            frequency: AtomicU64::new(0),
            bound: AtomicU64::new(0),
            flags: AtomicU64::new(0),
        }
    }
}

/// A local clock disciplined by offset measurements; see the [module docs](self).
///
/// `C` is the free-running local clock the measurements were taken against (the system
/// clock plus a shift, a PHC, a board's counter). Updates come from one context at a
/// time (a second concurrent one is refused with [`DisciplineError::Busy`]); any number
/// of readers may read at once, from any thread or interrupt.
#[derive(Debug)]
pub struct Discipline<C: ClockSource> {
    local: C,
    config: DisciplineConfig,
    slots: [Slot; 2],
    /// Publications so far; the latest is in slot `version % 2`.
    version: AtomicU64,
    /// 1 while an update is in progress.
    writing: AtomicU64,
}

impl<C: ClockSource> Discipline<C> {
    /// A discipline over `local`, with no measurement yet: until the first, readings
    /// are the local clock's own.
    #[cfg(not(loom))]
    pub const fn new(local: C, config: DisciplineConfig) -> Self {
        Self {
            local,
            config,
            slots: [Slot::new(), Slot::new()],
            version: AtomicU64::new(0),
            writing: AtomicU64::new(0),
        }
    }

    /// A discipline over `local`, with no measurement yet.
    #[cfg(loom)]
    pub fn new(local: C, config: DisciplineConfig) -> Self {
        Self {
            local,
            config,
            slots: [Slot::new(), Slot::new()],
            version: AtomicU64::new(0),
            writing: AtomicU64::new(0),
        }
    }

    /// The local clock.
    pub fn local(&self) -> &C {
        &self.local
    }

    /// The configuration.
    pub fn config(&self) -> &DisciplineConfig {
        &self.config
    }

    /// The current estimate, if any sample was taken.
    pub fn estimate(&self) -> Option<Estimate<C::Scale>> {
        loop {
            let v = self.version.load(Ordering::Acquire);
            let slot = &self.slots[usize::from(v % 2 == 1)];
            let s1 = slot.seq.load(Ordering::Acquire);
            let version = slot.version.load(Ordering::Relaxed);
            let at = slot.at.load(Ordering::Relaxed);
            let offset = slot.offset.load(Ordering::Relaxed);
            let frequency = slot.frequency.load(Ordering::Relaxed);
            let bound = slot.bound.load(Ordering::Relaxed);
            let flags = slot.flags.load(Ordering::Relaxed);
            fence(Ordering::Acquire);
            // Being written, rewritten since, or holding another publication than the
            // one `v` names (a stale `v`): read again. Taking only publication `v` keeps
            // one reader's successive estimates in publication order.
            if s1 % 2 == 1 || slot.seq.load(Ordering::Relaxed) != s1 || version != v {
                spin_hint();
                continue;
            }
            if flags & HAS_SAMPLE == 0 {
                return None;
            }
            return Some(Estimate {
                sample: OffsetSample {
                    at: Instant::from_nanos(at),
                    offset: Offset::from_nanos(offset as i64),
                    frequency_ppt: frequency as i64,
                    bound: Duration::from_nanos(bound),
                    locked: flags & LOCKED != 0,
                },
                was_synchronized: flags & WAS_SYNCHRONIZED != 0,
            });
        }
    }

    /// Takes a measurement. A converged one (`locked`) always becomes the estimate; one
    /// still settling only when it promises a tighter bound than the current estimate
    /// coasted to its time.
    pub fn update(&self, sample: OffsetSample<C::Scale>) -> Result<Applied, DisciplineError> {
        if sample.frequency_ppt.unsigned_abs() > MAX_FREQUENCY_PPT as u64 {
            return Err(DisciplineError::Frequency);
        }
        self.exclusive(|| {
            let current = self.estimate();
            let was_synchronized = current.is_some_and(|e| e.was_synchronized);
            if let Some(e) = current.filter(|_| !sample.locked) {
                if e.bound_at(sample.at, e.growth_ppb(&self.config)) < sample.bound {
                    return Applied::KeptCurrent;
                }
            }
            let mut flags = HAS_SAMPLE;
            if sample.locked {
                flags |= LOCKED | WAS_SYNCHRONIZED;
            } else if was_synchronized {
                flags |= WAS_SYNCHRONIZED;
            }
            self.publish(&sample, flags);
            Applied::Taken
        })
    }

    /// Forgets the estimate (the local clock was replaced, say): readings are the local
    /// clock's own again until the next measurement.
    pub fn reset(&self) -> Result<(), DisciplineError> {
        self.exclusive(|| {
            let empty = OffsetSample {
                at: Instant::EPOCH,
                offset: Offset::ZERO,
                frequency_ppt: 0,
                bound: Duration::ZERO,
                locked: false,
            };
            self.publish(&empty, 0);
        })
    }

    fn exclusive<R>(&self, f: impl FnOnce() -> R) -> Result<R, DisciplineError> {
        if self
            .writing
            .compare_exchange(0, 1, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            return Err(DisciplineError::Busy);
        }
        let r = f();
        self.writing.store(0, Ordering::Release);
        Ok(r)
    }

    /// Fills the slot readers are not using, then points them at it.
    fn publish(&self, s: &OffsetSample<C::Scale>, flags: u64) {
        let v = self.version.load(Ordering::Relaxed).wrapping_add(1);
        let slot = &self.slots[usize::from(v % 2 == 1)];
        let seq = slot.seq.load(Ordering::Relaxed);
        slot.seq.store(seq.wrapping_add(1), Ordering::Relaxed);
        fence(Ordering::Release);
        slot.version.store(v, Ordering::Relaxed);
        slot.at.store(s.at.as_nanos(), Ordering::Relaxed);
        slot.offset
            .store(s.offset.as_nanos() as u64, Ordering::Relaxed);
        slot.frequency
            .store(s.frequency_ppt as u64, Ordering::Relaxed);
        slot.bound.store(duration_nanos(s.bound), Ordering::Relaxed);
        slot.flags.store(flags, Ordering::Relaxed);
        slot.seq.store(seq.wrapping_add(2), Ordering::Release);
        self.version.store(v, Ordering::Release);
    }

    /// A reading at local time `local` (a reading of [`Discipline::local`]), for a
    /// caller that already has one.
    pub fn read_at(&self, local: ClockReading<C::Scale>) -> ClockReading<C::Scale> {
        let Some(e) = self.estimate() else {
            return local;
        };
        let t = local.time;
        ClockReading {
            time: t.saturating_add_offset(e.offset_at(t).saturating_neg()),
            bound: e.bound_at(t, e.growth_ppb(&self.config)),
            status: e.status_at(t, self.config.fresh_for),
        }
    }
}

impl<C: ClockSource> ClockSource for Discipline<C> {
    type Scale = C::Scale;

    fn read(&self) -> ClockReading<C::Scale> {
        self.read_at(self.local.read())
    }

    #[inline]
    fn time(&self) -> Instant<C::Scale> {
        let t = self.local.time();
        match self.estimate() {
            Some(e) => t.saturating_add_offset(e.offset_at(t).saturating_neg()),
            None => t,
        }
    }

    #[inline]
    fn elapsed_reference(&self) -> Option<u64> {
        self.local.elapsed_reference()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::time::Tai;

    fn sample(at: u64, offset: i64, bound: u64, locked: bool) -> OffsetSample<Tai> {
        OffsetSample {
            at: Instant::from_nanos(at),
            offset: Offset::from_nanos(offset),
            frequency_ppt: 0,
            bound: Duration::from_nanos(bound),
            locked,
        }
    }

    const CONFIG: DisciplineConfig = DisciplineConfig {
        fresh_for: Duration::from_secs(4),
        drift_ppb: 1_000,
        tolerance_ppb: 100_000,
    };

    #[test]
    fn an_unconverged_estimate_coasts_without_its_frequency_at_the_tolerance() {
        let local = ManualClock::<Tai>::new(1_000_000_000);
        let d = Discipline::new(&local, CONFIG);
        // A settling estimate claims -237 ppm; the truth may be anything within 100 ppm.
        let mut s = sample(1_000_000_000, 500, 100, false);
        s.frequency_ppt = -237_000_000;
        d.update(s).unwrap();
        local.advance(1_000_000_000);
        let r = d.read();
        assert_eq!(r.status, ClockStatus::FreeRunning);
        assert_eq!(
            r.time.as_nanos(),
            2_000_000_000 - 500,
            "no frequency applied"
        );
        assert_eq!(
            r.bound,
            Duration::from_nanos(100 + 100_000),
            "tolerance: 100 ppm of 1 s"
        );
        // Converged, the same frequency is applied and the bound grows at the drift.
        s.locked = true;
        s.at = Instant::from_nanos(2_000_000_000);
        d.update(s).unwrap();
        local.advance(1_000_000_000);
        let r = d.read();
        assert_eq!(r.status, ClockStatus::Synchronized);
        assert_eq!(r.time.as_nanos(), 3_000_000_000 - 500 + 237_000);
        assert_eq!(r.bound, Duration::from_nanos(100 + 1_000));
    }

    #[test]
    fn passes_the_local_reading_through_before_any_sample() {
        let local = ManualClock::<Tai>::new(42);
        let d = Discipline::new(&local, CONFIG);
        assert_eq!(d.read(), local.read());
        assert!(d.estimate().is_none());
    }

    #[test]
    fn corrects_by_offset_and_frequency() {
        let local = ManualClock::<Tai>::new(1_000_000_000);
        let d = Discipline::new(&local, CONFIG);
        let mut s = sample(1_000_000_000, 1_000, 50, true);
        s.frequency_ppt = 2_000_000; // 2 µs per second ahead
        assert_eq!(d.update(s), Ok(Applied::Taken));
        local.advance(1_000_000_000);
        let r = d.read();
        // local 2 s, offset 1 µs + 2 µs: the reference is 3 µs behind.
        assert_eq!(r.time.as_nanos(), 2_000_000_000 - 3_000);
        assert_eq!(r.bound, Duration::from_nanos(50 + 1_000));
        assert_eq!(r.status, ClockStatus::Synchronized);
        assert_eq!(d.time(), r.time);
    }

    #[test]
    fn statuses_follow_lock_and_freshness() {
        let local = ManualClock::<Tai>::new(0);
        let d = Discipline::new(&local, CONFIG);
        d.update(sample(0, 0, 10, false)).unwrap();
        assert_eq!(d.read().status, ClockStatus::FreeRunning);
        local.advance(5_000_000_000);
        // Never synchronized: stale but still free running, bound growing at the
        // tolerance (100 ppm of 5 s).
        assert_eq!(d.read().status, ClockStatus::FreeRunning);
        assert_eq!(d.read().bound, Duration::from_nanos(10 + 500_000));
        d.update(sample(5_000_000_000, 0, 10, true)).unwrap();
        assert_eq!(d.read().status, ClockStatus::Synchronized);
        local.advance(4_000_000_001);
        assert_eq!(d.read().status, ClockStatus::Holdover);
    }

    #[test]
    fn an_unsettled_sample_does_not_replace_a_better_estimate() {
        let local = ManualClock::<Tai>::new(0);
        let d = Discipline::new(&local, CONFIG);
        d.update(sample(0, 300, 100, true)).unwrap();
        // 1 s later the coasted bound is 100 + 1 000 ns: a settling sample promising
        // 5 µs is worse, one promising 500 ns is better.
        assert_eq!(
            d.update(sample(1_000_000_000, 9_000, 5_000, false)),
            Ok(Applied::KeptCurrent)
        );
        assert_eq!(d.estimate().unwrap().sample.offset, Offset::from_nanos(300));
        assert_eq!(
            d.update(sample(1_000_000_000, 400, 500, false)),
            Ok(Applied::Taken)
        );
        let e = d.estimate().unwrap();
        assert!(e.was_synchronized && !e.sample.locked);
        local.advance(1_000_000_000);
        assert_eq!(d.read().status, ClockStatus::Holdover);
    }

    #[test]
    fn reset_and_errors() {
        let local = ManualClock::<Tai>::new(0);
        let d = Discipline::new(&local, CONFIG);
        d.update(sample(0, 300, 100, true)).unwrap();
        d.reset().unwrap();
        assert!(d.estimate().is_none());
        let mut s = sample(0, 0, 0, true);
        s.frequency_ppt = MAX_FREQUENCY_PPT + 1;
        assert_eq!(d.update(s), Err(DisciplineError::Frequency));
    }

    #[test]
    fn extremes_saturate() {
        let local = ManualClock::<Tai>::new(u64::MAX);
        let d = Discipline::new(&local, CONFIG);
        let mut s = sample(0, i64::MIN, u64::MAX, true);
        s.frequency_ppt = -MAX_FREQUENCY_PPT;
        d.update(s).unwrap();
        let r = d.read();
        assert_eq!(r.bound, Duration::MAX.min(r.bound));
        assert_eq!(r.status, ClockStatus::Holdover);
        local.set(0);
        let _ = d.read();
    }
}
