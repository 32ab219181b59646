//! Clocks to read: the Linux system clock bounded by the kernel's own estimate, and a
//! NIC's PTP hardware clock.

pub mod phc;
pub mod system;

pub use phc::PhcClock;
pub use system::{KernelEstimate, SystemClock};
