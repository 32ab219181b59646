//! The atomics the core builds on: portable-atomic everywhere (native instructions where
//! the target has them, a critical section on thumbv6m), loom's models under `--cfg loom`.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{fence, AtomicU64, Ordering};
#[cfg(not(loom))]
pub(crate) use portable_atomic::{fence, AtomicU64, Ordering};
