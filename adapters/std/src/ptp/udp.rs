//! PTP over UDP/IPv4 on Linux, with kernel timestamps: the I/O half of the sans-IO
//! [`Port`](tempora_core::ptp::port::Port).
//!
//! Two sockets, bound to the chosen interface: event messages on port 319 (timestamped
//! by the kernel on receive and on send, `SO_TIMESTAMPING`), general messages on 320,
//! both joined to the PTP primary multicast group 224.0.1.129 and the peer-delay group
//! 224.0.0.107. Send timestamps come back on the socket's error queue (see
//! [`socket`](crate::ptp::socket) for software and hardware timestamps).

use std::io;
use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::time::Duration;

use nix::sys::socket::{MsgFlags, SockaddrIn};
use socket2::{Domain, Protocol, Socket, Type};
use tempora_core::ptp::wire::MessageType;

use crate::ptp::socket::{
    drain_error_queue, enable_timestamps, recv_timestamped, wait_send_timestamp,
};
use crate::ptp::timestamping::Timestamps;
use crate::ptp::transport::{Datagram, PtpTransport, Readiness};

/// The PTP primary multicast group.
pub const PTP_PRIMARY: Ipv4Addr = Ipv4Addr::new(224, 0, 1, 129);
/// The peer-delay multicast group (Pdelay_Req, Pdelay_Resp, Pdelay_Resp_Follow_Up).
pub const PTP_PDELAY: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 107);
/// UDP port of event messages.
pub const EVENT_PORT: u16 = 319;
/// UDP port of general messages.
pub const GENERAL_PORT: u16 = 320;

/// The two PTP sockets of one interface.
pub struct UdpTransport {
    event: UdpSocket,
    general: UdpSocket,
    timestamps: Timestamps,
    readable: Readiness,
}

fn iface_ipv4(iface: &str) -> io::Result<Ipv4Addr> {
    let addrs = nix::ifaddrs::getifaddrs().map_err(io::Error::from)?;
    for a in addrs {
        if a.interface_name != iface {
            continue;
        }
        if let Some(sin) = a.address.as_ref().and_then(|s| s.as_sockaddr_in()) {
            return Ok(sin.ip());
        }
    }
    Err(io::Error::new(
        io::ErrorKind::NotFound,
        format!("interface {iface} has no IPv4 address"),
    ))
}

fn open(
    iface: &str,
    addr: Ipv4Addr,
    port: u16,
    timestamps: Option<Timestamps>,
) -> io::Result<UdpSocket> {
    let s = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    s.set_reuse_address(true)?;
    s.bind_device(Some(iface.as_bytes()))?;
    s.bind(&SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port).into())?;
    s.join_multicast_v4(&PTP_PRIMARY, &addr)?;
    s.join_multicast_v4(&PTP_PDELAY, &addr)?;
    s.set_multicast_if_v4(&addr)?;
    s.set_multicast_loop_v4(false)?;
    s.set_multicast_ttl_v4(1)?;
    s.set_nonblocking(true)?;
    let socket = UdpSocket::from(s);
    if let Some(ts) = timestamps {
        enable_timestamps(&socket, ts)?;
    }
    Ok(socket)
}

impl UdpTransport {
    /// Opens both sockets on `iface`, with `timestamps` on the event socket (needs
    /// `CAP_NET_RAW`/root for the device binding and the privileged ports).
    pub fn open(iface: &str, timestamps: Timestamps) -> io::Result<Self> {
        let addr = iface_ipv4(iface)?;
        Ok(Self {
            event: open(iface, addr, EVENT_PORT, Some(timestamps))?,
            general: open(iface, addr, GENERAL_PORT, None)?,
            timestamps,
            readable: Readiness::new(),
        })
    }
}

impl PtpTransport for UdpTransport {
    /// Event socket first.
    fn try_recv(&self) -> io::Result<Option<Datagram>> {
        for (i, event, socket) in [(0, true, &self.event), (1, false, &self.general)] {
            if !self.readable.take(i) {
                continue;
            }
            let queued = recv_timestamped::<SockaddrIn>(
                socket.as_raw_fd(),
                MsgFlags::empty(),
                self.timestamps,
            )?;
            if let Some(r) = queued {
                return Ok(Some(Datagram {
                    event,
                    bytes: r.bytes,
                    timestamp: r.timestamp,
                }));
            }
            if event {
                // Woken with nothing to read: a late send timestamp on the error queue.
                drain_error_queue(socket.as_raw_fd(), self.timestamps)?;
            }
        }
        Ok(None)
    }

    fn send(&self, kind: MessageType, bytes: &[u8]) -> io::Result<()> {
        let (socket, port) = if kind.is_event() {
            (&self.event, EVENT_PORT)
        } else {
            (&self.general, GENERAL_PORT)
        };
        let group = if kind.is_peer_delay() {
            PTP_PDELAY
        } else {
            PTP_PRIMARY
        };
        socket.send_to(bytes, SocketAddrV4::new(group, port))?;
        Ok(())
    }

    fn send_timestamp(&self, sent: &[u8], limit: Duration) -> io::Result<Option<i128>> {
        wait_send_timestamp(&self.event, sent, limit, self.timestamps)
    }

    fn timestamps(&self) -> Timestamps {
        self.timestamps
    }

    fn wait(&self, timeout: Duration, wake: Option<BorrowedFd<'_>>) -> io::Result<bool> {
        self.readable
            .wait(&[self.event.as_fd(), self.general.as_fd()], wake, timeout)
    }
}
