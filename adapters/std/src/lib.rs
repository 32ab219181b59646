//! # tempora-std
//!
//! Linux adapter for [`tempora_core`]: the system clock as a bounded
//! [`ClockSource`](tempora_core::ClockSource) with the kernel's own error estimate, hooks
//! that count and log what the core reports, a concurrent temporal queue, and the
//! `tempora` daemon's building blocks.
//!
//! Modules by concept: [`nic`] (what an interface offers for time), [`clock`] (the system clock, a NIC's PHC), [`ptp`] (transports,
//! timestamps, the node and its virtual clock), [`daemon`] (what the `tempora` binary
//! runs, and its [`StatusLine`]), [`timeservice`] (bounded time and one HLC for every
//! process on the host, through shared memory), [`stop`] (a stop request that wakes
//! every waiting loop), [`hooks`], [`prometheus`] (the hooks as
//! Prometheus metrics), [`concurrent_queue`], and
//! `sys`, the only module with `unsafe` code: every kernel call Rust cannot check, each
//! behind a safe function.
#![deny(missing_docs)]
#![deny(unsafe_code)]
#![warn(clippy::undocumented_unsafe_blocks)]

pub mod clock;
pub mod concurrent_queue;
pub mod daemon;
pub mod hooks;
pub mod nic;
pub mod prometheus;
pub mod ptp;
pub mod stop;
#[allow(unsafe_code)]
mod sys;
pub mod timeservice;

pub use clock::{KernelEstimate, PhcClock, PhcSource, SystemClock, TaiAsUtc};
pub use concurrent_queue::ConcurrentTemporalQueue;
pub use daemon::StatusLine;
pub use hooks::CountingHooks;
pub use prometheus::PrometheusHooks;
pub use ptp::{PtpNode, VirtualClock};
