//! What a PTP port needs from a network, whatever carries its messages: send a message,
//! learn when an event message left (the kernel's send timestamp), and receive messages
//! with their receive timestamps.
//!
//! Two carriers implement it: UDP over IPv4 ([`UdpTransport`](crate::ptp::udp::UdpTransport))
//! and raw Ethernet frames with ethertype 0x88F7 ([`L2Transport`](crate::ptp::l2::L2Transport)).
//! Both take their timestamps from `SO_TIMESTAMPING`: the kernel's software timestamps
//! on `CLOCK_REALTIME`, or the NIC's hardware timestamps on its PHC
//! ([`Timestamps`], chosen by [`timestamping::choose`](crate::ptp::timestamping::choose)).
//!
//! This module names no carrier: each imports the trait, and what picks one by its
//! [`TransportKind`] ([`open_transport`](crate::ptp::node::open_transport)) sits above
//! them all.

use std::io;
use std::time::Duration;

use tempora_core::ptp::wire::MessageType;

use crate::ptp::timestamping::Timestamps;

/// A received PTP message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Datagram {
    /// Whether it is an event message (it came to UDP port 319, or its type is one).
    pub event: bool,
    /// The PTP message (for Layer 2, without the Ethernet header).
    pub bytes: Vec<u8>,
    /// The receive timestamp (ns on the transport's clock: `CLOCK_REALTIME` for
    /// software timestamps, the PHC for hardware ones), if any.
    pub timestamp: Option<i128>,
}

/// A carrier of PTP messages with kernel timestamps.
pub trait PtpTransport: Send {
    /// Sends one message of type `kind` to its PTP multicast destination: the event or
    /// general UDP port, the primary or the peer-delay address.
    fn send(&self, kind: MessageType, bytes: &[u8]) -> io::Result<()>;

    /// Waits up to `limit` for the send timestamp of the event message `sent` (ns on
    /// the transport's clock). Timestamps of other (older) messages still queued are
    /// skipped: using one of them would pair a message with another's send time.
    fn send_timestamp(&self, sent: &[u8], limit: Duration) -> io::Result<Option<i128>>;

    /// A message already queued, without waiting.
    fn try_recv(&self) -> io::Result<Option<Datagram>>;

    /// Waits up to `timeout` for something to read; `false` on timeout or a signal.
    fn wait(&self, timeout: Duration) -> io::Result<bool>;

    /// Which timestamps this transport delivers.
    fn timestamps(&self) -> Timestamps;

    /// Waits up to `timeout` for a message.
    fn recv(&self, timeout: Duration) -> io::Result<Option<Datagram>> {
        if let Some(d) = self.try_recv()? {
            return Ok(Some(d));
        }
        if self.wait(timeout)? {
            return self.try_recv();
        }
        Ok(None)
    }
}

/// Which carrier.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransportKind {
    /// UDP over IPv4: multicast 224.0.1.129, ports 319 and 320.
    Udpv4,
    /// Ethernet frames with ethertype 0x88F7 to 01-1B-19-00-00-00.
    L2,
}

/// As on the command line: `udpv4` or `l2`.
impl std::fmt::Display for TransportKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Udpv4 => "udpv4",
            Self::L2 => "l2",
        })
    }
}
