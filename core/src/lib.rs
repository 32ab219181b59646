//! # tempora-core
//!
//! The allocation-free `#![no_std]` core of tempora: the same code orders events on a
//! Linux server, in firmware on a timestamping NIC, and in a QEMU test.
//!
//! - [`time`]: instants on an explicit timescale ([`time::Tai`] or [`time::Utc`]) and
//!   TrueTime-style intervals.
//! - [`clock`]: the [`ClockSource`] abstraction; a reading is a time,
//!   an error bound and a status.
//! - [`discipline`]: offset measurements in, a bounded clock out: lock, freshness and
//!   holdover, once for every source (PTP, PHC, PPS, a board's counter).
//! - [`select`]: an ordered chain of sources read as one, with jump and freeze
//!   detection, failover, failback and a monotone, still bounded, output.
//! - [`backoff`]: exponential backoff with a cap and seeded jitter, for retries.
//! - [`hooks`]: fault and metrics hooks, free when unused.
//! - [`timestamp`]: HLC timestamps with wire and text forms.
//! - [`hlc`]: the lock-free hybrid logical clock with max-offset protection.
//! - [`causal`]: fixed-capacity vector clocks and the causal-delivery queue.
//! - [`interval`]: a fixed-capacity interval tree (stabbing, overlap, count).
//! - [`graph`]: a temporal graph with time-respecting path queries.
//! - [`pattern`]: sequence, count and absence patterns over out-of-order events.
//! - [`ptp`]: IEEE 1588, sans-IO: the PTPv2 wire codec, the BMCA, the measurement filter
//!   and the port state machine.
//! - [`shared`]: any structure in a `static`, for threads, tasks and interrupts, and
//!   cache-line padding against false sharing.
//! - [`rng`]: a seedable generator for simulations, tests and benchmarks.
//! - [`error`]: [`Full`](error::Full), what every full structure hands back.
//! - [`queue`]: the temporal message queue, ordered by priority and HLC timestamp, with
//!   watermark release, and its `critical-section` shared variant.
//!
//! Nothing here allocates or panics on any input: fallible operations return typed
//! errors, full structures refuse and hand the item back.
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_auto_cfg))]

pub mod backoff;
pub mod causal;
pub mod clock;
pub mod discipline;
pub mod error;
pub mod graph;
pub mod hlc;
pub mod hooks;
pub mod interval;
pub mod pattern;
pub mod ptp;
pub mod queue;
pub mod rng;
pub mod select;
pub mod shared;
mod sync;
pub mod time;
pub mod timestamp;

pub use clock::{ClockReading, ClockSource, ClockStatus};
pub use hlc::{Hlc, HlcConfig, UpdateError};
pub use time::{Instant, Offset, Tai, TimeInterval, Timescale, Utc};
pub use timestamp::{NodeId, Timestamp};

/// The README's Rust examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
