//! 64-bit tick counts from a narrow hardware counter that wraps, without a wrap race.
//!
//! Timers such as SysTick count through a short period (24 bits) and raise an interrupt
//! at each wrap. [`Extended`] counts wraps in that interrupt ([`Extended::on_wrap`]) and
//! combines them with the live count. The race: the counter can wrap after the wrap count
//! is read but before the interrupt has run. Reading inside a critical section (so the
//! interrupt cannot run meanwhile) and checking the interrupt's pending flag settles it:
//! if a wrap is pending, the live count is read again (it is now surely past the wrap)
//! and one more wrap is counted.

use core::cell::Cell;

use critical_section::Mutex;

use crate::counter_clock::TickCounter;

/// A hardware counter that counts up from 0 to `period() - 1` and wraps, raising an
/// interrupt (and a pending flag) at each wrap. Down-counters present themselves as
/// up-counters (`period - 1 - value`).
pub trait WrappingCounter {
    /// Ticks per wrap.
    fn period(&self) -> u32;
    /// The live count, `0..period()`.
    fn count(&self) -> u32;
    /// Whether a wrap has happened whose interrupt has not run yet.
    fn wrap_pending(&self) -> bool;
    /// Nominal ticks per second.
    fn frequency_hz(&self) -> u32;
}

/// A [`WrappingCounter`] extended to 64 bits by counting wraps.
///
/// Call [`Extended::on_wrap`] from the counter's wrap interrupt (and nowhere else).
pub struct Extended<C> {
    counter: C,
    wraps: Mutex<Cell<u64>>,
}

impl<C: WrappingCounter> Extended<C> {
    /// Extends `counter`, starting from zero wraps.
    pub const fn new(counter: C) -> Self {
        Self {
            counter,
            wraps: Mutex::new(Cell::new(0)),
        }
    }

    /// The hardware counter.
    pub fn counter(&self) -> &C {
        &self.counter
    }

    /// Counts one wrap: call from the wrap interrupt handler.
    pub fn on_wrap(&self) {
        critical_section::with(|cs| {
            let w = self.wraps.borrow(cs);
            w.set(w.get().saturating_add(1));
        });
    }
}

impl<C: WrappingCounter> TickCounter for Extended<C> {
    fn ticks(&self) -> u64 {
        critical_section::with(|cs| {
            let wraps = self.wraps.borrow(cs).get();
            let period = u64::from(self.counter.period());
            let count = self.counter.count();
            if self.counter.wrap_pending() {
                // The wrap happened before this check, so a fresh read is past it.
                let count = self.counter.count();
                wraps
                    .saturating_add(1)
                    .saturating_mul(period)
                    .saturating_add(u64::from(count))
            } else {
                wraps
                    .saturating_mul(period)
                    .saturating_add(u64::from(count))
            }
        })
    }

    fn frequency_hz(&self) -> u32 {
        self.counter.frequency_hz()
    }
}

/// A wrapping counter extended to 64 bits by polling, for counters with no wrap interrupt
/// (the DWT cycle counter, a free-running timer): each read compares the live count with
/// the previous one and counts a wrap when it went down.
///
/// It must be read at least once per period (2^32 cycles: 36 s at 120 MHz), e.g. from a
/// periodic task; a longer gap loses whole periods without notice.
pub struct Polled<C> {
    counter: C,
    /// (wraps, last count seen)
    state: Mutex<Cell<(u64, u32)>>,
}

impl<C: WrappingCounter> Polled<C> {
    /// Extends `counter`.
    pub const fn new(counter: C) -> Self {
        Self {
            counter,
            state: Mutex::new(Cell::new((0, 0))),
        }
    }

    /// The hardware counter.
    pub fn counter(&self) -> &C {
        &self.counter
    }
}

impl<C: WrappingCounter> TickCounter for Polled<C> {
    fn ticks(&self) -> u64 {
        critical_section::with(|cs| {
            let cell = self.state.borrow(cs);
            let (mut wraps, last) = cell.get();
            let count = self.counter.count();
            if count < last {
                wraps = wraps.saturating_add(1);
            }
            cell.set((wraps, count));
            wraps
                .saturating_mul(u64::from(self.counter.period()))
                .saturating_add(u64::from(count))
        })
    }

    fn frequency_hz(&self) -> u32 {
        self.counter.frequency_hz()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::cell::Cell;

    /// A simulated counter that advances by `step` on every read, and whose wrap
    /// interrupt is held pending until the test "services" it.
    struct Sim {
        now: Cell<u64>,
        step: u64,
        serviced: Cell<u64>,
    }

    impl WrappingCounter for Sim {
        fn period(&self) -> u32 {
            1000
        }
        fn count(&self) -> u32 {
            let n = self.now.get();
            self.now.set(n + self.step);
            (n % 1000) as u32
        }
        fn wrap_pending(&self) -> bool {
            self.now.get() / 1000 > self.serviced.get()
        }
        fn frequency_hz(&self) -> u32 {
            1000
        }
    }

    #[test]
    fn reads_across_a_pending_wrap_never_go_backwards() {
        // Steps of 7 make reads land on every side of each wrap.
        let ext = Extended::new(Sim {
            now: Cell::new(0),
            step: 7,
            serviced: Cell::new(0),
        });
        let mut last = 0;
        for i in 0..10_000u64 {
            let t = ext.ticks();
            assert!(t >= last, "went back from {last} to {t} at read {i}");
            // The true time is between the counter's first and last read in ticks().
            assert!(t <= ext.counter().now.get());
            last = t;
            // The interrupt runs late, every third read: the pending path gets used.
            if i % 3 == 0 {
                let wraps_due = ext.counter().now.get() / 1000;
                while ext.counter().serviced.get() < wraps_due {
                    ext.counter().serviced.set(ext.counter().serviced.get() + 1);
                    ext.on_wrap();
                }
            }
        }
        assert!(last > 60_000);
    }

    #[test]
    fn polling_often_enough_counts_every_wrap() {
        let p = Polled::new(Sim {
            now: Cell::new(0),
            step: 333,
            serviced: Cell::new(0),
        });
        let mut last = 0;
        for _ in 0..1_000 {
            let t = p.ticks();
            assert!(t > last || last == 0);
            // Each read advances the simulated counter by 333 (< one period of 1000).
            assert_eq!(t, p.counter().now.get() - 333);
            last = t;
        }
    }
}
