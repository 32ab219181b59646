//! What a network interface offers for time, below both the clocks and PTP: its
//! timestamping capabilities and its PTP hardware clock (`ETHTOOL_GET_TS_INFO`, what
//! `ethtool -T` prints; [`clock::phc`](crate::clock::phc) maps PHCs to interfaces with
//! it, [`ptp::timestamping`](crate::ptp::timestamping) chooses timestamps with it), and
//! waiting for a descriptor to become readable (sockets, inotify).

use std::io;
use std::os::fd::BorrowedFd;
use std::time::Duration;

use crate::sys;

/// `SOF_TIMESTAMPING_*` capability bits (linux/net_tstamp.h).
pub(crate) const TX_HARDWARE: u32 = 1 << 0;
pub(crate) const RX_HARDWARE: u32 = 1 << 2;
pub(crate) const RAW_HARDWARE: u32 = 1 << 6;

/// What an interface can timestamp (`ethtool -T IFACE`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimestampingInfo {
    /// `SOF_TIMESTAMPING_*` bits the interface supports.
    pub capabilities: u32,
    /// Its PHC, if it has one.
    pub phc: Option<u32>,
    /// Bit `1 << HWTSTAMP_TX_*` for each transmit mode it supports.
    pub tx_types: u32,
    /// Bit `1 << HWTSTAMP_FILTER_*` for each receive filter it supports.
    pub rx_filters: u32,
}

/// `capabilities=0x5f phc=/dev/ptp1 tx_types=0x3 rx_filters=0x7fff hardware=yes`, or
/// `phc=-` without a PHC.
impl std::fmt::Display for TimestampingInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "capabilities={:#x} phc=", self.capabilities)?;
        match self.phc {
            Some(n) => write!(f, "/dev/ptp{n}")?,
            None => f.write_str("-")?,
        }
        write!(
            f,
            " tx_types={:#x} rx_filters={:#x} hardware={}",
            self.tx_types,
            self.rx_filters,
            if self.hardware() { "yes" } else { "no" }
        )
    }
}

impl TimestampingInfo {
    /// Asks the driver of `iface`.
    pub fn query(iface: &str) -> io::Result<Self> {
        let info = sys::ethtool_ts_info(iface)?;
        Ok(Self {
            capabilities: info.so_timestamping,
            phc: u32::try_from(info.phc_index).ok(),
            tx_types: info.tx_types,
            rx_filters: info.rx_filters,
        })
    }

    /// Whether the interface stamps sent and received packets on a PHC of its own.
    pub fn hardware(&self) -> bool {
        let all = TX_HARDWARE | RX_HARDWARE | RAW_HARDWARE;
        self.capabilities & all == all
            && self.phc.is_some()
            && self.tx_types & (1 << libc::HWTSTAMP_TX_ON) != 0
    }

    /// The receive filter to ask for: PTPv2 event messages over `layer2` or UDP, the
    /// same for both, or all packets, whichever the driver offers first.
    pub fn rx_filter(&self, layer2: bool) -> Option<libc::c_uint> {
        let specific = if layer2 {
            libc::HWTSTAMP_FILTER_PTP_V2_L2_EVENT
        } else {
            libc::HWTSTAMP_FILTER_PTP_V2_L4_EVENT
        };
        [
            specific,
            libc::HWTSTAMP_FILTER_PTP_V2_EVENT,
            libc::HWTSTAMP_FILTER_ALL,
        ]
        .into_iter()
        .find(|f| self.rx_filters & (1 << f) != 0)
    }
}

/// Waits up to `timeout` for any of `fds` to be readable; `false` on timeout or signal.
pub(crate) fn wait_readable(fds: &[BorrowedFd<'_>], timeout: Duration) -> io::Result<bool> {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    let ms = u16::try_from(timeout.as_millis().min(u128::from(u16::MAX))).unwrap_or(u16::MAX);
    let mut polled: Vec<PollFd<'_>> = fds
        .iter()
        .map(|fd| PollFd::new(*fd, PollFlags::POLLIN))
        .collect();
    match poll(&mut polled, PollTimeout::from(ms)) {
        Ok(0) | Err(nix::errno::Errno::EINTR) => Ok(false),
        Ok(_) => Ok(true),
        Err(e) => Err(io::Error::from(e)),
    }
}
