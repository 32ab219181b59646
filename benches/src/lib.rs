//! The logic shared by the load and soak tools in `src/bin` (`load-hlc`, `load-queue`,
//! `soak`), kept here so `tests/` can run it briefly and on broken input.
//!
//! These tools are not criterion benchmarks: each runs for a set time, prints its
//! figures, checks what it measured (no duplicate timestamp, no lost message, a flat
//! memory line) and emits a markdown block for `docs/benchmarks.md`.

pub mod hlc_load;
pub mod http;
pub mod lab;
pub mod procfs;
pub mod queue_load;
pub mod report;
pub mod stats;
pub mod verify;
