//! The error every fixed-capacity structure returns when it is full.
//!
//! Nothing in the core allocates, so a structure at capacity refuses an insert and hands
//! the item back whole in a [`Full`]: the queue its message, the interval tree its
//! `(Interval, value)` pair, the pattern detector its event, the causal queue its
//! message. [`Full::into_inner`] takes it out again.

use core::fmt;

/// The structure is full; the item it refused is handed back.
///
/// ```
/// use tempora_core::error::Full;
/// use tempora_core::queue::{Priority, TemporalQueue};
/// use tempora_core::{NodeId, Timestamp, Utc};
///
/// let mut q = TemporalQueue::<&str, Utc, 1>::new();
/// let t = Timestamp::<Utc>::from_raw(1, NodeId(1));
/// q.push(Priority(0), t, "first").unwrap();
/// let err = q.push(Priority(0), t, "second").unwrap_err();
/// assert_eq!(err, Full("second"));
/// assert_eq!(err.to_string(), "full: capacity reached, item handed back");
/// assert_eq!(err.into_inner(), "second");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Full<T>(pub T);

impl<T> Full<T> {
    /// The refused item.
    pub fn into_inner(self) -> T {
        self.0
    }

    /// The refused item, borrowed.
    pub const fn get(&self) -> &T {
        &self.0
    }
}

/// `Full(..)`: the item is not printed, so `T` need not be `Debug` (as with
/// `std::sync::mpsc::TrySendError`).
impl<T> fmt::Debug for Full<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Full(..)")
    }
}

impl<T> fmt::Display for Full<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("full: capacity reached, item handed back")
    }
}

impl<T> core::error::Error for Full<T> {}

#[cfg(feature = "defmt")]
impl<T> defmt::Format for Full<T> {
    fn format(&self, f: defmt::Formatter) {
        defmt::write!(f, "Full(..)")
    }
}
