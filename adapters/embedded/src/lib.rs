//! # tempora-embedded
//!
//! Embedded adapter for [`tempora_core`]: time from a board's hardware counter, shared
//! between tasks and interrupts through `critical-section`, disciplined by a PPS input,
//! and logged through `defmt` (or `log` on Linux) from the same call sites.
//!
//! - [`CounterClock`]: a [`ClockSource`](tempora_core::ClockSource) from any
//!   [`TickCounter`], with a bound from the counter's stated ppm.
//! - [`Extended`]: a narrow wrapping timer (SysTick) extended to 64 bits without the
//!   wrap race; `systick::SysTick` on Cortex-M targets. [`Polled`] extends counters that have
//!   no wrap interrupt (DWT `CYCCNT`), given a read at least once per period.
//! - [`PpsDiscipline`] and [`PpsInput`]: anchor the clock at pulse-per-second edges read
//!   through `embedded-hal`.
//! - [`Shared`] (from the core): any core structure in a `static`, for tasks and
//!   interrupts.
//! - [`error!`], [`warn!`], [`info!`], [`debug!`], [`trace!`]: the logging shim.
#![no_std]
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod counter_clock;
pub mod extended;
#[doc(hidden)]
#[macro_use]
pub mod log;
pub mod pps;
#[cfg(all(target_arch = "arm", target_os = "none"))]
pub mod systick;

pub use counter_clock::{AnchorError, CounterClock, Rate, TickClock, TickCounter};
pub use extended::{Extended, Polled, WrappingCounter};
pub use pps::{PpsDiscipline, PpsError, PpsEvent, PpsInput};
/// Any core structure in a `static`, shared through `critical-section` (from the core).
pub use tempora_core::shared::Shared;
