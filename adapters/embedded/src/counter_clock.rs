//! A [`ClockSource`] from a free-running hardware counter and its stated accuracy.
//!
//! The counter gives elapsed time; an *anchor* (set from PTP, PPS or a host) ties a tick
//! count to a time and a bound. Between anchors the bound grows at the counter's stated
//! frequency tolerance, so a reading stays honest however long the board runs alone.

use core::cell::Cell;
use core::time::Duration;

use critical_section::Mutex;
use tempora_core::clock::{ClockReading, ClockSource, ClockStatus};
use tempora_core::time::{duration_nanos, Instant, Timescale};

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

#[derive(Clone, Copy)]
struct Anchor<S: Timescale> {
    ticks: u64,
    time: Instant<S>,
    bound: Duration,
    rate: Option<Rate>,
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

/// Time from a [`TickCounter`], anchored to a reference.
///
/// Before the first anchor the reading is [`ClockStatus::Unknown`] with an unbounded error
/// (the counter knows elapsed time, not the date). For `fresh_for` after an anchor it is
/// [`ClockStatus::Synchronized`]; after that [`ClockStatus::Holdover`]. The bound is the
/// anchor's bound plus `ppm` of the time since the anchor.
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
/// clock.anchor(Instant::from_nanos(1_000_000_000), Duration::from_micros(1));
/// clock.counter().0.set(2_000_000); // two seconds later, no new anchor
/// let r = clock.read();
/// assert_eq!(r.time.as_nanos(), 3_000_000_000);
/// assert_eq!(r.status, ClockStatus::Holdover);
/// assert_eq!(r.bound, Duration::from_micros(1 + 100)); // 50 ppm of 2 s
/// ```
pub struct CounterClock<T: TickCounter, S: Timescale> {
    counter: T,
    ppm: u32,
    fresh_for: u64,
    anchor: Mutex<Cell<Option<Anchor<S>>>>,
}

impl<T: TickCounter, S: Timescale> CounterClock<T, S> {
    /// A clock over `counter`, whose frequency is within `ppm` parts per million of
    /// nominal; an anchor counts as synchronized for `fresh_for`.
    pub const fn new(counter: T, ppm: u32, fresh_for: Duration) -> Self {
        Self {
            counter,
            ppm,
            fresh_for: duration_nanos(fresh_for),
            anchor: Mutex::new(Cell::new(None)),
        }
    }

    /// The counter.
    pub fn counter(&self) -> &T {
        &self.counter
    }

    /// Ties the current tick count to `time`, known within `bound`.
    pub fn anchor(&self, time: Instant<S>, bound: Duration) {
        self.anchor_at(self.counter.ticks(), time, bound, None);
    }

    /// Ties an earlier tick count (a captured edge) to `time`, known within `bound`, and
    /// optionally sets the measured rate to convert ticks with from now on.
    pub fn anchor_at(&self, ticks: u64, time: Instant<S>, bound: Duration, rate: Option<Rate>) {
        critical_section::with(|cs| {
            self.anchor.borrow(cs).set(Some(Anchor {
                ticks,
                time,
                bound,
                rate,
            }));
        });
    }

    fn drift(&self, elapsed_ns: u64) -> Duration {
        // ppm of elapsed, rounded up so the bound is never too small.
        let ppm = u64::from(self.ppm);
        Duration::from_nanos(
            (elapsed_ns / 1_000_000).saturating_mul(ppm)
                + ((elapsed_ns % 1_000_000) * ppm).div_ceil(1_000_000),
        )
    }
}

impl<T: TickCounter, S: Timescale> ClockSource for CounterClock<T, S> {
    type Scale = S;

    fn read(&self) -> ClockReading<S> {
        let anchor = critical_section::with(|cs| self.anchor.borrow(cs).get());
        let ticks = self.counter.ticks();
        let hz = self.counter.frequency_hz();
        match anchor {
            None => ClockReading {
                time: Instant::from_nanos(ticks_to_nanos(ticks, hz)),
                bound: Duration::MAX,
                status: ClockStatus::Unknown,
            },
            Some(a) => {
                let elapsed_ticks = ticks.saturating_sub(a.ticks);
                let elapsed = match a.rate {
                    Some(rate) => rate.nanos(elapsed_ticks),
                    None => ticks_to_nanos(elapsed_ticks, hz),
                };
                ClockReading {
                    time: Instant::from_nanos(a.time.as_nanos().saturating_add(elapsed)),
                    bound: a.bound.saturating_add(self.drift(elapsed)),
                    status: if elapsed <= self.fresh_for {
                        ClockStatus::Synchronized
                    } else {
                        ClockStatus::Holdover
                    },
                }
            }
        }
    }

    fn elapsed_reference(&self) -> Option<u64> {
        Some(ticks_to_nanos(
            self.counter.ticks(),
            self.counter.frequency_hz(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
        c.anchor(Instant::from_nanos(5), Duration::from_nanos(10));
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
