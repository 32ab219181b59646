//! A seeded, deterministic whole-system simulation of tempora, and the checks that make
//! it worth running.
//!
//! - [`system`]: many nodes whose clocks drift, step and freeze; PTP with a failing
//!   grandmaster and BMCA elections over a lossy network; disciplines and a selector
//!   that fails over; HLC-stamped messages through causal-delivery queues on a network
//!   that loses, duplicates and reorders; pattern detectors on what is delivered. All in
//!   simulated time from one seed, recorded as a [`trace::Trace`].
//! - [`check`] and [`trace::check`]: the invariants (HLC order, causal order, nothing
//!   lost or delivered twice, honest bounds, pattern results equal to a
//!   [`reference`](mod@reference)), each counted; a checker must be seen to fail, so the tests feed
//!   them broken traces too.
//! - [`scale`]: causal delivery alone, at 64 nodes and up to millions of messages,
//!   checked as it runs.
//! - [`net`]: the lossy broadcast network both share.
//!
//! The `tempora-sim` binary runs seeds and prints the command that replays a failing
//! one; `docs/simulation.md` says what is driven, what is checked and why.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod check;
pub mod net;
pub mod reference;
pub mod scale;
pub mod system;
pub mod trace;
