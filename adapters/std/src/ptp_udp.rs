//! PTP over UDP/IPv4 on Linux, with kernel timestamps: the I/O half of the sans-IO
//! [`Port`](tempora_core::ptp::port::Port).
//!
//! Two sockets, bound to the chosen interface: event messages on port 319 (timestamped
//! by the kernel on receive and on send, `SO_TIMESTAMPING`), general messages on 320,
//! both joined to the PTP primary multicast group 224.0.1.129. Send timestamps come back
//! on the socket's error queue. Software timestamps now; the same cmsg carries hardware
//! timestamps when the NIC has them.

use std::io;
use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::os::fd::AsFd;
use std::time::{Duration, Instant as MonoInstant};

use nix::sys::socket::{
    recvmsg, setsockopt, sockopt, ControlMessageOwned, MsgFlags, SockaddrIn, TimestampingFlag,
};
use socket2::{Domain, Protocol, Socket, Type};

/// The PTP primary multicast group.
pub const PTP_PRIMARY: Ipv4Addr = Ipv4Addr::new(224, 0, 1, 129);
/// UDP port of event messages.
pub const EVENT_PORT: u16 = 319;
/// UDP port of general messages.
pub const GENERAL_PORT: u16 = 320;

/// A received datagram.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Datagram {
    /// Whether it came to the event port.
    pub event: bool,
    /// The payload.
    pub bytes: Vec<u8>,
    /// The kernel's receive timestamp (`CLOCK_REALTIME` ns), if any.
    pub timestamp: Option<i128>,
}

/// The two PTP sockets of one interface.
pub struct UdpTransport {
    event: UdpSocket,
    general: UdpSocket,
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

fn open(iface: &str, addr: Ipv4Addr, port: u16, timestamped: bool) -> io::Result<UdpSocket> {
    let s = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    s.set_reuse_address(true)?;
    s.bind_device(Some(iface.as_bytes()))?;
    s.bind(&SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port).into())?;
    s.join_multicast_v4(&PTP_PRIMARY, &addr)?;
    s.set_multicast_if_v4(&addr)?;
    s.set_multicast_loop_v4(false)?;
    s.set_multicast_ttl_v4(1)?;
    s.set_nonblocking(true)?;
    let socket = UdpSocket::from(s);
    if timestamped {
        let flags = TimestampingFlag::SOF_TIMESTAMPING_SOFTWARE
            | TimestampingFlag::SOF_TIMESTAMPING_RX_SOFTWARE
            | TimestampingFlag::SOF_TIMESTAMPING_TX_SOFTWARE;
        setsockopt(&socket, sockopt::Timestamping, &flags).map_err(io::Error::from)?;
    }
    Ok(socket)
}

fn nanos(ts: &nix::sys::time::TimeSpec) -> i128 {
    i128::from(ts.tv_sec()) * 1_000_000_000 + i128::from(ts.tv_nsec())
}

impl UdpTransport {
    /// Opens both sockets on `iface` (needs `CAP_NET_RAW`/root for the device binding
    /// and the privileged ports).
    pub fn open(iface: &str) -> io::Result<Self> {
        let addr = iface_ipv4(iface)?;
        Ok(Self {
            event: open(iface, addr, EVENT_PORT, true)?,
            general: open(iface, addr, GENERAL_PORT, false)?,
        })
    }

    /// Sends to the multicast group, on the event or general port.
    pub fn send(&self, event: bool, bytes: &[u8]) -> io::Result<()> {
        let (socket, port) = if event {
            (&self.event, EVENT_PORT)
        } else {
            (&self.general, GENERAL_PORT)
        };
        socket.send_to(bytes, SocketAddrV4::new(PTP_PRIMARY, port))?;
        Ok(())
    }

    /// Waits up to `limit` for the send timestamp of the event message `sent`
    /// (`CLOCK_REALTIME` ns). Timestamps of
    /// other (older) packets still queued are skipped: using one of them would pair a
    /// message with another's send time.
    pub fn send_timestamp(&self, sent: &[u8], limit: Duration) -> io::Result<Option<i128>> {
        let start = MonoInstant::now();
        loop {
            if let Some((bytes, Some(ts))) = Self::recv_on(&self.event, MsgFlags::MSG_ERRQUEUE)? {
                // The error queue returns the frame from its link-layer header on; the
                // PTP message is its tail.
                if bytes.ends_with(sent) {
                    return Ok(Some(ts));
                }
                continue;
            }
            if start.elapsed() >= limit {
                return Ok(None);
            }
            std::thread::sleep(Duration::from_micros(20));
        }
    }

    fn recv_on(socket: &UdpSocket, flags: MsgFlags) -> io::Result<Option<(Vec<u8>, Option<i128>)>> {
        use std::os::fd::AsRawFd;
        let mut buf = [0u8; 1500];
        // Room for the timestamps and, on the error queue, the IP_RECVERR record too;
        // a truncated control buffer would lose the timestamp.
        let mut cmsg = nix::cmsg_space!(nix::sys::socket::Timestamps, [u8; 128]);
        let mut iov = [io::IoSliceMut::new(&mut buf)];
        let r = recvmsg::<SockaddrIn>(
            socket.as_raw_fd(),
            &mut iov,
            Some(&mut cmsg),
            flags | MsgFlags::MSG_DONTWAIT,
        );
        let msg = match r {
            Ok(m) => m,
            Err(nix::errno::Errno::EAGAIN) => return Ok(None),
            Err(e) => return Err(io::Error::from(e)),
        };
        let mut ts = None;
        for c in msg.cmsgs().map_err(io::Error::from)? {
            if let ControlMessageOwned::ScmTimestampsns(t) = c {
                // Hardware timestamp when the NIC gives one, else the software one.
                let hw = nanos(&t.hw_raw);
                ts = Some(if hw != 0 { hw } else { nanos(&t.system) });
            }
        }
        let n = msg.bytes;
        Ok(Some((buf[..n].to_vec(), ts)))
    }

    /// A datagram already queued on either socket (event first), without waiting.
    fn try_recv(&self) -> io::Result<Option<Datagram>> {
        for (event, socket) in [(true, &self.event), (false, &self.general)] {
            if let Some((bytes, timestamp)) = Self::recv_on(socket, MsgFlags::empty())? {
                return Ok(Some(Datagram {
                    event,
                    bytes,
                    timestamp,
                }));
            }
        }
        Ok(None)
    }

    /// Waits up to `timeout` for a datagram on either socket.
    pub fn recv(&self, timeout: Duration) -> io::Result<Option<Datagram>> {
        use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
        if let Some(d) = self.try_recv()? {
            return Ok(Some(d));
        }
        let ms = u16::try_from(timeout.as_millis().min(u128::from(u16::MAX))).unwrap_or(u16::MAX);
        let mut fds = [
            PollFd::new(self.event.as_fd(), PollFlags::POLLIN),
            PollFd::new(self.general.as_fd(), PollFlags::POLLIN),
        ];
        match poll(&mut fds, PollTimeout::from(ms)) {
            Ok(0) | Err(nix::errno::Errno::EINTR) => Ok(None),
            Ok(_) => self.try_recv(),
            Err(e) => Err(io::Error::from(e)),
        }
    }
}
