//! Test support for tempora's sans-IO PTP engine, written once for every test,
//! example and benchmark that drives [`Port`](tempora_core::ptp::port::Port)s:
//!
//! - [`config`]: the port configurations the simulations use (an ordinary clock's port
//!   by a one-byte id, with the fast `(-3, -3, -3, 2)` intervals), and a port brought up
//!   as master;
//! - [`LocalClock`]: a node's free-running clock against true time (offset and drift),
//!   mapped both ways exactly with `i128` arithmetic;
//! - [`actions`] (`std`): picking the packets, send contexts and measurements out of a
//!   call's [`Actions`](tempora_core::ptp::port::Actions);
//! - [`sim`] (`std`): a deterministic, seeded network of N ports on one segment, with
//!   per-link delay, jitter, loss, duplication and reordering, a node that joins late or
//!   falls silent for a while, hooks on every action, and an optional
//!   [`Discipline`](tempora_core::discipline::Discipline) fed by one node's
//!   measurements and read against the truth at a fixed period;
//! - [`stats`] (`std`): RMS, largest magnitude, percentiles.
//!
//! Without the `std` feature only [`config`] and [`LocalClock`] remain, for firmware.
//!
//! ```
//! use tempora_ptp_sim::config;
//! use tempora_ptp_sim::sim::{Link, Simulation};
//! use tempora_ptp_sim::{LocalClock, SECOND};
//!
//! let mut sim = Simulation::new(7, Link::new(2_000, 200));
//! let master = sim.add_node(config::fast(1, 10, false), LocalClock::new(0, 0));
//! let slave = sim.add_node(config::fast(2, 128, true), LocalClock::new(250_000, 30_000));
//! let mut measurements = 0;
//! sim.run_until(5 * SECOND, |seen| {
//!     measurements += usize::from(seen.node == slave && seen.measurement().is_some());
//! });
//! assert!(sim.port(slave).locked());
//! assert!(measurements > 20);
//! # let _ = master;
//! ```
#![cfg_attr(not(feature = "std"), no_std)]
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod clock;
pub mod config;

#[cfg(feature = "std")]
pub mod actions;
#[cfg(feature = "std")]
pub mod sim;
#[cfg(feature = "std")]
pub mod stats;

pub use clock::{LocalClock, EPOCH_NS, SECOND};
