//! # tempora-std
//!
//! Linux adapter for [`tempora_core`]: the system clock as a bounded
//! [`ClockSource`](tempora_core::ClockSource) with the kernel's own error estimate, hooks
//! that count and log what the core reports, a concurrent temporal queue, and the
//! `tempora` daemon's building blocks.
#![deny(missing_docs)]

pub mod concurrent_queue;
pub mod hooks;
pub mod phc;
pub mod ptp_l2;
pub mod ptp_node;
pub mod ptp_transport;
pub mod ptp_udp;
pub mod system_clock;
pub mod timestamping;

pub use concurrent_queue::ConcurrentTemporalQueue;
pub use hooks::CountingHooks;
pub use ptp_node::{PtpNode, VirtualClock};
pub use system_clock::{KernelEstimate, SystemClock};
