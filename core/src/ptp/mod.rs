//! IEEE 1588 (PTP), sans-IO: the engine never touches a socket or a clock. Platform crates
//! feed it packets with their timestamps and timer expiries, and carry out the actions it
//! returns.
//!
//! - [`wire`]: the PTPv2 message codec.
//! - [`bmca`]: the best master clock algorithm.
//! - [`filter`]: offset and delay from timestamps; a Kalman filter with outlier rejection.
//! - [`port`]: the port state machine (master, slave, E2E, one- and two-step).
//! - [`transport`]: what a firmware network interface gives the port (timestamped
//!   messages, and where the timestamps come from), and [`link`], the loop that drives
//!   a port over it.
//! - [`ethernet`]: PTP directly over Ethernet (annex F), for a MAC without an IP stack.

pub mod bmca;
pub mod ethernet;
pub mod filter;
pub mod link;
pub mod port;
pub mod transport;
pub mod wire;
