//! Helpers shared by tempora's cross-crate tests.

use tempora_core::clock::{ClockReading, ClockSource};
use tempora_core::time::Instant;

/// Another clock source shifted by a fixed signed offset: a node whose clock is wrong by
/// a known amount, on top of a real clock.
pub struct SkewedClock<C> {
    /// The underlying source.
    pub inner: C,
    /// Added to every reading, in nanoseconds.
    pub skew_ns: i64,
}

impl<C: ClockSource> ClockSource for SkewedClock<C> {
    type Scale = C::Scale;
    fn read(&self) -> ClockReading<C::Scale> {
        let mut r = self.inner.read();
        r.time = self.shift(r.time);
        r
    }
    fn time(&self) -> Instant<C::Scale> {
        self.shift(self.inner.time())
    }
    fn elapsed_reference(&self) -> Option<u64> {
        self.inner.elapsed_reference()
    }
}

impl<C: ClockSource> SkewedClock<C> {
    fn shift(&self, t: Instant<C::Scale>) -> Instant<C::Scale> {
        Instant::from_nanos(t.as_nanos().saturating_add_signed(self.skew_ns))
    }
}
