//! # tempora-embedded
//!
//! Embedded adapter for [`tempora_core`]: clock sources built from a board's free-running
//! hardware counter, shared between tasks and interrupts through `critical-section`.
#![no_std]
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod counter_clock;

pub use counter_clock::{CounterClock, TickCounter};
