//! PTP over Ethernet (IEEE 1588 annex F): raw frames with ethertype 0x88F7, through an
//! `AF_PACKET` socket bound to one interface, with kernel timestamps.
//!
//! Messages go to the PTP primary address 01-1B-19-00-00-00, and the peer-delay messages
//! (Pdelay_Req, Pdelay_Resp, Pdelay_Resp_Follow_Up) to 01-80-C2-00-00-0E, which bridges
//! do not forward. The socket joins both multicast addresses on the interface, so a NIC
//! that filters by address passes them up.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::time::Duration;

use nix::sys::socket::{LinkAddr, MsgFlags};
use tempora_core::ptp::ethernet;
use tempora_core::ptp::wire::MessageType;

use crate::ptp::socket::{
    drain_error_queue, enable_timestamps, recv_timestamped, wait_send_timestamp,
};
use crate::ptp::timestamping::Timestamps;
use crate::ptp::transport::{Datagram, PtpTransport, Readiness};
use crate::sys;

pub use tempora_core::ptp::ethernet::{PTP_ETHERTYPE, PTP_PDELAY_MAC, PTP_PRIMARY_MAC};

/// The Ethernet frame carrying `message` of type `kind` from `source`, to the address
/// the core's framing gives its type. Not padded: the kernel pads short frames, and the
/// send timestamp is matched to the frame's bytes as sent.
fn frame(source: [u8; 6], kind: MessageType, message: &[u8]) -> Vec<u8> {
    let mut frame = Vec::with_capacity(ethernet::HEADER_LEN + message.len());
    frame.extend_from_slice(&ethernet::destination(kind));
    frame.extend_from_slice(&source);
    frame.extend_from_slice(&PTP_ETHERTYPE.to_be_bytes());
    frame.extend_from_slice(message);
    frame
}

/// One `AF_PACKET` socket on one interface.
pub struct L2Transport {
    socket: OwnedFd,
    /// The interface's own MAC address (the frames' source).
    mac: [u8; 6],
    timestamps: Timestamps,
    readable: Readiness,
}

fn interface_mac(iface: &str) -> io::Result<[u8; 6]> {
    let addrs = nix::ifaddrs::getifaddrs().map_err(io::Error::from)?;
    for a in addrs {
        if a.interface_name != iface {
            continue;
        }
        if let Some(mac) = a
            .address
            .as_ref()
            .and_then(|s| s.as_link_addr())
            .and_then(LinkAddr::addr)
        {
            return Ok(mac);
        }
    }
    Err(io::Error::new(
        io::ErrorKind::NotFound,
        format!("interface {iface} has no MAC address"),
    ))
}

impl L2Transport {
    /// Opens a packet socket for ethertype 0x88F7 on `iface` with `timestamps` (needs
    /// `CAP_NET_RAW`).
    pub fn open(iface: &str, timestamps: Timestamps) -> io::Result<Self> {
        let mac = interface_mac(iface)?;
        let index = nix::net::if_::if_nametoindex(iface).map_err(io::Error::from)?;
        let index = libc::c_int::try_from(index)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "interface index"))?;
        let protocol = PTP_ETHERTYPE.to_be();
        let socket = sys::packet_socket(protocol)?;
        let address = libc::sockaddr_ll {
            sll_family: libc::AF_PACKET as libc::c_ushort,
            sll_protocol: protocol,
            sll_ifindex: index,
            sll_hatype: 0,
            sll_pkttype: 0,
            sll_halen: 0,
            sll_addr: [0; 8],
        };
        sys::bind_packet(&socket, &address)?;
        for group in [PTP_PRIMARY_MAC, PTP_PDELAY_MAC] {
            let mut mr_address = [0u8; 8];
            mr_address[..6].copy_from_slice(&group);
            let membership = libc::packet_mreq {
                mr_ifindex: index,
                mr_type: libc::PACKET_MR_MULTICAST as libc::c_ushort,
                mr_alen: 6,
                mr_address,
            };
            sys::set_packet_option(&socket, libc::PACKET_ADD_MEMBERSHIP, &membership)?;
        }
        // Our own frames are not for us (Linux 4.20+; older kernels are filtered below).
        let _ = sys::set_packet_option(&socket, libc::PACKET_IGNORE_OUTGOING, &1 as &libc::c_int);
        enable_timestamps(&socket, timestamps)?;
        Ok(Self {
            socket,
            mac,
            timestamps,
            readable: Readiness::new(),
        })
    }
}

impl PtpTransport for L2Transport {
    /// Frames that are not PTP, or our own, are dropped.
    fn try_recv(&self) -> io::Result<Option<Datagram>> {
        if !self.readable.take(0) {
            return Ok(None);
        }
        // Frames that are not for us are skipped until a PTP one or none is queued.
        loop {
            let queued = recv_timestamped::<LinkAddr>(
                self.socket.as_raw_fd(),
                MsgFlags::empty(),
                self.timestamps,
            )?;
            let Some(r) = queued else {
                // Woken with nothing to read, maybe by a late send timestamp on the
                // error queue.
                drain_error_queue(self.socket.as_raw_fd(), self.timestamps)?;
                return Ok(None);
            };
            if r.from.is_some_and(|a| a.pkttype() == libc::PACKET_OUTGOING) {
                continue;
            }
            // The core's framing: PTP's ethertype, after one 802.1Q tag if any.
            let Some(bytes) = ethernet::payload(&r.bytes).filter(|b| !b.is_empty()) else {
                continue;
            };
            let bytes = bytes.to_vec();
            let kind = bytes.first().map(|b| MessageType::from_nibble(*b));
            return Ok(Some(Datagram {
                event: kind.is_some_and(|k| k.is_ok_and(MessageType::is_event)),
                bytes,
                timestamp: r.timestamp,
            }));
        }
    }

    fn send(&self, kind: MessageType, bytes: &[u8]) -> io::Result<()> {
        let frame = frame(self.mac, kind, bytes);
        nix::sys::socket::send(self.socket.as_raw_fd(), &frame, MsgFlags::empty())
            .map_err(io::Error::from)?;
        Ok(())
    }

    fn send_timestamp(&self, sent: &[u8], limit: Duration) -> io::Result<Option<i128>> {
        wait_send_timestamp(&self.socket, sent, limit, self.timestamps)
    }

    fn timestamps(&self) -> Timestamps {
        self.timestamps
    }

    fn wait(&self, timeout: Duration, wake: Option<BorrowedFd<'_>>) -> io::Result<bool> {
        self.readable.wait(&[self.socket.as_fd()], wake, timeout)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The destinations are the core's (`ptp::ethernet`, tested there); what is this
    /// transport's own is that the frame is not padded, so the send timestamp's copy
    /// from the error queue matches it byte for byte.
    #[test]
    fn frames_carry_the_message_unpadded_to_the_cores_destination() {
        let source = [0x02, 0, 0, 0, 0, 7];
        for kind in [MessageType::Sync, MessageType::PdelayReq] {
            let f = frame(source, kind, &[0xAB; 44]);
            assert_eq!(f.len(), ethernet::HEADER_LEN + 44);
            assert_eq!(f[..6], ethernet::destination(kind), "{kind:?}");
            assert_eq!(f[6..12], source);
            assert_eq!(f[12..14], PTP_ETHERTYPE.to_be_bytes());
            assert_eq!(f[14..], [0xAB; 44]);
        }
    }
}
