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

use std::cell::Cell;
use std::io;
use std::os::fd::BorrowedFd;
use std::time::Duration;

use nix::poll::PollFlags;

use tempora_core::ptp::wire::MessageType;

use crate::nic::poll_fds;
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

    /// A message already queued, without waiting. Reads only the sockets the last
    /// [`wait`](Self::wait) found readable and not yet read: one `recvmsg` per
    /// message, not one per socket per turn.
    fn try_recv(&self) -> io::Result<Option<Datagram>>;

    /// Waits up to `timeout` for something to read, and notes which sockets have it;
    /// `false` on timeout, a signal, or `wake` becoming readable (a stop request's
    /// [`fd`](crate::stop::StopSignal::fd)).
    fn wait(&self, timeout: Duration, wake: Option<BorrowedFd<'_>>) -> io::Result<bool>;

    /// Which timestamps this transport delivers.
    fn timestamps(&self) -> Timestamps;

    /// Waits up to `timeout` (or until `wake` is readable) for a message: what the last wait found and is still
    /// unread first, then one `ppoll` and one `recvmsg`.
    fn recv(
        &self,
        timeout: Duration,
        wake: Option<BorrowedFd<'_>>,
    ) -> io::Result<Option<Datagram>> {
        if let Some(d) = self.try_recv()? {
            return Ok(Some(d));
        }
        if self.wait(timeout, wake)? {
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

/// Which of a transport's sockets (bit `i` for socket `i`) the last wait found readable
/// and have not been read since: a socket is read after a wait says so, once, and then
/// waited for again, so an idle socket costs no `recvmsg` that fails with `EAGAIN`.
#[derive(Debug)]
pub(crate) struct Readiness(Cell<u8>);

impl Readiness {
    /// All sockets marked: anything queued before the first wait is read first.
    pub(crate) fn new() -> Self {
        Self(Cell::new(u8::MAX))
    }

    /// Marks the sockets a wait found readable.
    pub(crate) fn set(&self, mask: u8) {
        self.0.set(self.0.get() | mask);
    }

    /// Waits up to `timeout` on `sockets` (bit `i` for `sockets[i]`) and on `wake`,
    /// and marks the sockets found readable; `false` when none is (a timeout, a signal,
    /// or only `wake`). What each transport's [`PtpTransport::wait`] does.
    pub(crate) fn wait(
        &self,
        sockets: &[BorrowedFd<'_>],
        wake: Option<BorrowedFd<'_>>,
        timeout: Duration,
    ) -> io::Result<bool> {
        let mask = poll_fds(sockets, wake, PollFlags::POLLIN, timeout)?;
        // The sockets' bits only: the bit after them is `wake`'s.
        let shift = u32::try_from(sockets.len()).unwrap_or(u32::MAX);
        let mask = mask & !u8::MAX.checked_shl(shift).unwrap_or(0);
        self.set(mask);
        Ok(mask != 0)
    }

    /// Whether socket `i` is marked; the mark is taken (the caller reads it once).
    pub(crate) fn take(&self, i: u8) -> bool {
        let bit = 1 << i;
        let marked = self.0.get() & bit != 0;
        self.0.set(self.0.get() & !bit);
        marked
    }
}

#[cfg(test)]
mod tests {
    use super::Readiness;

    #[test]
    fn a_socket_is_read_once_per_wait_that_marks_it() {
        let r = Readiness::new();
        assert!(
            r.take(0) && r.take(1),
            "before any wait, everything is tried"
        );
        assert!(!r.take(0) && !r.take(1));
        r.set(0b10);
        assert!(!r.take(0));
        assert!(r.take(1));
        assert!(!r.take(1));
    }
}
