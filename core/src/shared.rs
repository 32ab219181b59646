//! Sharing a structure between tasks and interrupt handlers through `critical-section`.
//!
//! The HLC is lock-free; structures that need `&mut` (a `CausalQueue`, an
//! `IntervalTree`, a pattern `Detector`, a PTP `Port`) go in a [`Shared`], which runs each
//! access in one critical section (on a single-core MCU: with interrupts masked, so keep
//! accesses short). `SharedTemporalQueue` is one with queue methods.
//!
//! Lock-free state written by several cores goes in a [`CachePadded`], so that two hot
//! values never share a cache line (false sharing).

use core::cell::RefCell;
use core::fmt;
use core::ops::{Deref, DerefMut};

use critical_section::Mutex;

/// A value usable from a `static` by tasks and interrupt handlers alike.
///
/// ```
/// use tempora_core::causal::CausalQueue;
/// use tempora_core::shared::Shared;
/// use tempora_core::NodeId;
///
/// static QUEUE: Shared<CausalQueue<u32, 4, 8>> = Shared::new(CausalQueue::new(NodeId(1)));
/// let msg = QUEUE.with(|q| q.send(7)).unwrap();
/// assert_eq!((msg.sender, msg.seq(), msg.payload), (NodeId(1), 1, 7));
/// ```
pub struct Shared<T> {
    inner: Mutex<RefCell<T>>,
}

impl<T> Shared<T> {
    /// Wraps `value`.
    pub const fn new(value: T) -> Self {
        Self {
            inner: Mutex::new(RefCell::new(value)),
        }
    }

    /// Runs `f` on the value inside a critical section.
    ///
    /// # Panics
    /// If `f` calls `with` on the same `Shared` again (a programming error; use
    /// [`Shared::try_with`] where re-entry is possible).
    pub fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        critical_section::with(|cs| f(&mut self.inner.borrow_ref_mut(cs)))
    }

    /// Like [`Shared::with`], but `None` instead of a panic when the value is already
    /// borrowed (re-entry from inside `f`).
    pub fn try_with<R>(&self, f: impl FnOnce(&mut T) -> R) -> Option<R> {
        critical_section::with(|cs| {
            let cell = self.inner.borrow(cs);
            cell.try_borrow_mut().ok().map(|mut v| f(&mut v))
        })
    }
}

/// A value on cache lines of its own, so that writes to it on one core do not evict its
/// neighbours from the caches of the others (false sharing).
///
/// Aligned (and so padded) to 128 bytes where another core can contend for it: x86
/// prefetches cache lines in pairs and recent ARM cores have 128-byte lines. On targets
/// without 64-bit atomics (single-core MCUs such as Cortex-M0/M3) it is not aligned at
/// all and costs no RAM.
///
/// ```
/// use core::sync::atomic::{AtomicUsize, Ordering};
/// use tempora_core::shared::CachePadded;
///
/// struct Counters {
///     pushed: CachePadded<AtomicUsize>,
///     popped: CachePadded<AtomicUsize>,
/// }
/// let c = Counters { pushed: CachePadded::new(AtomicUsize::new(0)), popped: CachePadded::new(AtomicUsize::new(0)) };
/// c.pushed.fetch_add(1, Ordering::Relaxed); // through `Deref`
/// assert_eq!(c.pushed.load(Ordering::Relaxed), 1);
/// #[cfg(target_has_atomic = "64")]
/// assert_eq!(core::mem::align_of::<CachePadded<u8>>(), 128);
/// ```
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
#[cfg_attr(target_has_atomic = "64", repr(align(128)))]
pub struct CachePadded<T>(T);

impl<T> CachePadded<T> {
    /// Pads `value`.
    pub const fn new(value: T) -> Self {
        Self(value)
    }

    /// The value.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> Deref for CachePadded<T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> DerefMut for CachePadded<T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}

impl<T> From<T> for CachePadded<T> {
    fn from(value: T) -> Self {
        Self(value)
    }
}

impl<T: fmt::Debug> fmt::Debug for CachePadded<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("CachePadded").field(&self.0).finish()
    }
}
