//! A [`ClockSource`] from a free-running hardware counter and its stated accuracy.
//!
//! The counter gives elapsed time; an *anchor* (set from PTP, PPS or a host) ties a tick
//! count to a time and a bound. Between anchors the bound grows at the counter's stated
//! frequency tolerance, so a reading stays honest however long the board runs alone.

use core::marker::PhantomData;
use core::time::Duration;

use tempora_core::clock::{ClockReading, ClockSource};
use tempora_core::discipline::{Discipline, DisciplineConfig, DisciplineError, OffsetSample};
use tempora_core::time::{Instant, Timescale};

/// A monotonic counter with a known nominal frequency: SysTick extended to 64 bits, a
/// timer peripheral, a cycle counter. Boards implement this for their timer.
pub trait TickCounter {
    /// Ticks since the counter started, extended to 64 bits (never wraps in practice).
    fn ticks(&self) -> u64;
    /// Nominal ticks per second.
    fn frequency_hz(&self) -> u32;
}

impl<T: TickCounter + ?Sized> TickCounter for &T {
    fn ticks(&self) -> u64 {
        (**self).ticks()
    }
    fn frequency_hz(&self) -> u32 {
        (**self).frequency_hz()
    }
}

/// Converts ticks at `hz` to nanoseconds without overflow (saturating past 584 years).
pub fn ticks_to_nanos(ticks: u64, hz: u32) -> u64 {
    let hz = u64::from(hz.max(1));
    let secs = ticks / hz;
    let rem = ticks % hz; // < 2^32, so rem * 1e9 < 2^62
    secs.saturating_mul(1_000_000_000)
        .saturating_add(rem * 1_000_000_000 / hz)
}

/// A measured counter rate: `ticks` counted over `seconds` of reference time (from a
/// pulse-per-second input, say). Converting with it removes the oscillator's frequency
/// error from readings between anchors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rate {
    /// Ticks counted.
    pub ticks: u64,
    /// Over this many reference seconds (at least 1).
    pub seconds: u32,
}

impl Rate {
    /// Nanoseconds for `elapsed` ticks at this rate (saturating).
    pub fn nanos(&self, elapsed: u64) -> u64 {
        if self.ticks == 0 {
            return u64::MAX;
        }
        let n = u128::from(elapsed) * u128::from(self.seconds.max(1)) * 1_000_000_000
            / u128::from(self.ticks);
        u64::try_from(n).unwrap_or(u64::MAX)
    }
}

/// A [`TickCounter`] as a free-running clock: ticks since the counter started, in
/// nanoseconds, with no idea of the date ([`ClockStatus::Unknown`](tempora_core::clock::ClockStatus::Unknown), unbounded). The local
/// clock a [`CounterClock`]'s discipline corrects.
#[derive(Debug)]
pub struct TickClock<T, S> {
    counter: T,
    scale: PhantomData<S>,
}

impl<T: TickCounter, S: Timescale> TickClock<T, S> {
    /// The counter as a clock.
    pub const fn new(counter: T) -> Self {
        Self {
            counter,
            scale: PhantomData,
        }
    }

    /// The counter.
    pub fn counter(&self) -> &T {
        &self.counter
    }

    /// The local time at tick count `ticks`.
    pub fn at(&self, ticks: u64) -> Instant<S> {
        Instant::from_nanos(ticks_to_nanos(ticks, self.counter.frequency_hz()))
    }
}

impl<T: TickCounter, S: Timescale> ClockSource for TickClock<T, S> {
    type Scale = S;

    fn read(&self) -> ClockReading<S> {
        ClockReading::unknown(self.time())
    }

    #[inline]
    fn time(&self) -> Instant<S> {
        self.at(self.counter.ticks())
    }

    fn elapsed_reference(&self) -> Option<u64> {
        Some(self.time().as_nanos())
    }
}

/// Why an anchor was not taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum AnchorError {
    /// The time is more than ±292 years from the counter's own count (the offset does
    /// not fit the discipline's 64-bit nanoseconds).
    OutOfRange,
    /// The measured rate is more than 1 000 ppm from nominal.
    Rate,
    /// An update of the discipline was in progress (an anchor from an interrupt that
    /// pre-empted another); nothing changed.
    Busy,
}

impl core::fmt::Display for AnchorError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::OutOfRange => "anchor time too far from the counter's count",
            Self::Rate => "measured rate more than 1000 ppm from nominal",
            Self::Busy => "another anchor was being taken",
        })
    }
}

impl core::error::Error for AnchorError {}

/// Time from a [`TickCounter`], anchored to a reference: a thin user of the core's
/// [`Discipline`], which owns the freshness and holdover policy for every source.
///
/// Before the first anchor the reading is [`ClockStatus::Unknown`](tempora_core::clock::ClockStatus::Unknown) with an unbounded error
/// (the counter knows elapsed time, not the date). For `fresh_for` after an anchor it is
/// [`ClockStatus::Synchronized`](tempora_core::clock::ClockStatus::Synchronized); after that [`ClockStatus::Holdover`](tempora_core::clock::ClockStatus::Holdover). The bound is the
/// anchor's bound plus `ppm` of the time since the anchor, rounded up.
///
/// A PTP port feeds it through [`CounterClock::discipline`] like any other source; a PPS
/// input or a host anchors it with [`CounterClock::anchor`].
///
/// ```
/// use core::cell::Cell;
/// use core::time::Duration;
/// use tempora_core::clock::{ClockSource, ClockStatus};
/// use tempora_core::time::{Instant, Tai};
/// use tempora_embedded::{CounterClock, TickCounter};
///
/// struct Fake(Cell<u64>);
/// impl TickCounter for Fake {
///     fn ticks(&self) -> u64 { self.0.get() }
///     fn frequency_hz(&self) -> u32 { 1_000_000 }
/// }
///
/// let clock = CounterClock::<_, Tai>::new(Fake(Cell::new(0)), 50, Duration::from_secs(1));
/// clock.anchor(Instant::from_nanos(1_000_000_000), Duration::from_micros(1)).unwrap();
/// clock.counter().0.set(2_000_000); // two seconds later, no new anchor
/// let r = clock.read();
/// assert_eq!(r.time.as_nanos(), 3_000_000_000);
/// assert_eq!(r.status, ClockStatus::Holdover);
/// assert_eq!(r.bound, Duration::from_micros(1 + 100)); // 50 ppm of 2 s
/// ```
pub struct CounterClock<T: TickCounter, S: Timescale> {
    discipline: Discipline<TickClock<T, S>>,
}

impl<T: TickCounter, S: Timescale> CounterClock<T, S> {
    /// A clock over `counter`, whose frequency is within `ppm` parts per million of
    /// nominal; an anchor counts as synchronized for `fresh_for`.
    pub const fn new(counter: T, ppm: u32, fresh_for: Duration) -> Self {
        Self {
            discipline: Discipline::new(
                TickClock::new(counter),
                DisciplineConfig {
                    fresh_for,
                    drift_ppb: ppm.saturating_mul(1_000),
                    // The counter's stated tolerance is all that is known of its rate.
                    tolerance_ppb: ppm.saturating_mul(1_000),
                },
            ),
        }
    }

    /// The counter.
    pub fn counter(&self) -> &T {
        self.discipline.local().counter()
    }

    /// The discipline: feed it a PTP port's (or any source's) offset samples, taken
    /// against [`TickClock`] time (`self.discipline().local()`).
    pub fn discipline(&self) -> &Discipline<TickClock<T, S>> {
        &self.discipline
    }

    /// Ties the current tick count to `time`, known within `bound`.
    pub fn anchor(&self, time: Instant<S>, bound: Duration) -> Result<(), AnchorError> {
        self.anchor_at(self.counter().ticks(), time, bound, None)
    }

    /// Ties an earlier tick count (a captured edge) to `time`, known within `bound`, and
    /// optionally sets the measured rate to convert ticks with from now on.
    pub fn anchor_at(
        &self,
        ticks: u64,
        time: Instant<S>,
        bound: Duration,
        rate: Option<Rate>,
    ) -> Result<(), AnchorError> {
        let local = self.discipline.local().at(ticks);
        let offset = local.offset_from(time).ok_or(AnchorError::OutOfRange)?;
        let frequency_ppt = rate.map_or(0, |r| self.rate_error_ppt(r));
        self.discipline
            .update(OffsetSample {
                at: local,
                offset,
                frequency_ppt,
                bound,
                locked: true,
            })
            .map(|_| ())
            .map_err(|e| match e {
                DisciplineError::Busy => AnchorError::Busy,
                DisciplineError::Frequency => AnchorError::Rate,
            })
    }

    /// How far the counter's nominal rate is ahead of the measured one, in parts per
    /// trillion (integers only: no soft float on the board). A rate beyond the
    /// discipline's ±1 000 ppm is refused there.
    fn rate_error_ppt(&self, rate: Rate) -> i64 {
        let nominal = ticks_to_nanos(rate.ticks, self.counter().frequency_hz());
        let reference = u64::from(rate.seconds.max(1)) * 1_000_000_000;
        // ppt = (nominal - reference) / reference * 10^12 = difference * 1000 / seconds.
        let difference = i128::from(nominal) - i128::from(reference);
        let ppt = difference * 1_000 / i128::from(rate.seconds.max(1));
        i64::try_from(ppt).unwrap_or(i64::MAX)
    }
}

impl<T: TickCounter, S: Timescale> ClockSource for CounterClock<T, S> {
    type Scale = S;

    fn read(&self) -> ClockReading<S> {
        self.discipline.read()
    }

    #[inline]
    fn time(&self) -> Instant<S> {
        self.discipline.time()
    }

    fn elapsed_reference(&self) -> Option<u64> {
        self.discipline.elapsed_reference()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::cell::Cell;
    use tempora_core::clock::ClockStatus;
    use tempora_core::time::Tai;

    struct Fake(Cell<u64>, u32);
    impl TickCounter for Fake {
        fn ticks(&self) -> u64 {
            self.0.get()
        }
        fn frequency_hz(&self) -> u32 {
            self.1
        }
    }

    #[test]
    fn conversion_is_exact_and_saturates() {
        assert_eq!(ticks_to_nanos(12_000_000, 12_000_000), 1_000_000_000);
        assert_eq!(ticks_to_nanos(1, 3), 333_333_333);
        assert_eq!(ticks_to_nanos(u64::MAX, 1), u64::MAX);
        assert_eq!(ticks_to_nanos(5, 0), 5_000_000_000); // 0 Hz is treated as 1 Hz
    }

    #[test]
    fn unanchored_is_unknown_and_anchored_grows_its_bound() {
        let c = CounterClock::<_, Tai>::new(
            Fake(Cell::new(0), 12_000_000),
            100,
            Duration::from_secs(1),
        );
        assert_eq!(c.read().status, ClockStatus::Unknown);
        assert_eq!(c.read().bound, Duration::MAX);
        c.anchor(Instant::from_nanos(5), Duration::from_nanos(10))
            .unwrap();
        let r = c.read();
        assert_eq!(
            (r.time.as_nanos(), r.bound, r.status),
            (5, Duration::from_nanos(10), ClockStatus::Synchronized)
        );
        c.counter().0.set(12_000_000 * 10);
        let r = c.read();
        assert_eq!(r.time.as_nanos(), 10_000_000_005);
        assert_eq!(r.bound, Duration::from_nanos(10 + 1_000_000));
        assert_eq!(r.status, ClockStatus::Holdover);
        c.counter().0.set(12_000_000 * 10 + 1);
        // 83.33 ns more at 100 ppm rounds the drift up, never down.
        assert_eq!(c.read().bound, Duration::from_nanos(10 + 1_000_000 + 1));
    }
}
