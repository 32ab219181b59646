//! PTP on Linux: the sans-IO [`Port`](tempora_core::ptp::port::Port) of `tempora-core`
//! driven over UDP/IPv4 or Ethernet, with kernel software or NIC hardware timestamps,
//! disciplining a [`VirtualClock`].
//!
//! From the bottom up: [`transport`] (what a carrier does, naming none), [`socket`]
//! (the timestamped socket work both carriers share), [`udp`] and [`l2`] (the
//! carriers), [`timestamping`] (which timestamps a NIC gives), [`virtual_clock`] (the
//! disciplined clock) and [`node`] (the port, a carrier and the clock, run together).

pub mod l2;
pub mod node;
pub mod socket;
pub mod timestamping;
pub mod transport;
pub mod udp;
pub mod virtual_clock;

pub use node::{open_transport, NodeEvent, PtpNode};
pub use timestamping::{TimestampMode, Timestamps};
pub use transport::{Datagram, PtpTransport, TransportKind};
pub use virtual_clock::{LocalClock, VirtualClock};
