//! The atomics the core builds on: portable-atomic everywhere (native instructions where
//! the target has them, a critical section on thumbv6m), loom's models under `--cfg loom`.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{fence, AtomicU64, Ordering};
#[cfg(not(loom))]
pub(crate) use portable_atomic::{fence, AtomicU64, Ordering};

/// In a retry loop: a CPU hint normally, a yield to loom's scheduler in its models.
#[inline]
pub(crate) fn spin_hint() {
    #[cfg(loom)]
    loom::thread::yield_now();
    #[cfg(not(loom))]
    core::hint::spin_loop();
}
