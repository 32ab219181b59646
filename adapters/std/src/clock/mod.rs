//! Clocks to read: the Linux system clock bounded by the kernel's own estimate, a NIC's
//! PTP hardware clock, and pulse-per-second inputs; and device hot-plug.

pub mod hotplug;
pub mod phc;
pub mod pps;
pub mod system;

pub use phc::{PhcClock, PhcSource};
pub use system::{KernelEstimate, SystemClock};

use tempora_core::clock::{ClockReading, ClockSource};
use tempora_core::time::{Instant, Tai, TaiOffset, Utc};

/// A TAI clock read as UTC, with TAI - UTC given: what an HLC or a status line in UTC
/// needs from a PTP slave's [`VirtualClock`](crate::VirtualClock). The bound and
/// status are the clock's own; a time before 1970 UTC reads as the epoch.
#[derive(Clone, Debug)]
pub struct TaiAsUtc<C> {
    clock: C,
    tai_minus_utc: TaiOffset,
}

impl<C: ClockSource<Scale = Tai>> TaiAsUtc<C> {
    /// `clock` on UTC, `tai_minus_utc` (37 s since 2017) behind it.
    pub fn new(clock: C, tai_minus_utc: TaiOffset) -> Self {
        Self {
            clock,
            tai_minus_utc,
        }
    }

    /// The TAI clock underneath.
    pub fn inner(&self) -> &C {
        &self.clock
    }

    fn utc(&self, t: Instant<Tai>) -> Instant<Utc> {
        t.to_utc(self.tai_minus_utc).unwrap_or(Instant::EPOCH)
    }
}

impl<C: ClockSource<Scale = Tai>> ClockSource for TaiAsUtc<C> {
    type Scale = Utc;

    fn read(&self) -> ClockReading<Utc> {
        let r = self.clock.read();
        ClockReading {
            time: self.utc(r.time),
            bound: r.bound,
            status: r.status,
        }
    }

    fn time(&self) -> Instant<Utc> {
        self.utc(self.clock.time())
    }

    fn elapsed_reference(&self) -> Option<u64> {
        self.clock.elapsed_reference()
    }
}
