//! Sharing a structure between tasks and interrupt handlers through `critical-section`.
//!
//! The HLC is lock-free; structures that need `&mut` (a `CausalQueue`, an
//! `IntervalTree`, a pattern `Detector`, a PTP `Port`) go in a [`Shared`], which runs each
//! access in one critical section (on a single-core MCU: with interrupts masked, so keep
//! accesses short). `SharedTemporalQueue` is one with queue methods.

use core::cell::RefCell;

use critical_section::Mutex;

/// A value usable from a `static` by tasks and interrupt handlers alike.
///
/// ```
/// use tempora_core::causal::CausalQueue;
/// use tempora_core::shared::Shared;
/// use tempora_core::NodeId;
///
/// static QUEUE: Shared<CausalQueue<u32, 4, 8>> = Shared::new(CausalQueue::new(NodeId(1)));
/// let clock = QUEUE.with(|q| q.stamp_send()).unwrap();
/// assert_eq!(clock.get(NodeId(1)), 1);
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
