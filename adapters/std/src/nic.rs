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
    Ok(poll_fds(fds, None, nix::poll::PollFlags::POLLIN, timeout)? != 0)
}

/// At most this many descriptors are polled at once (a transport's sockets and a stop
/// request); more is an `InvalidInput` error, never a silent truncation.
pub(crate) const POLL_MAX: usize = 8;

/// Waits up to `timeout` (to the nanosecond: `ppoll`, so a wait of 0.9 ms is not
/// rounded down to a busy 0 ms one) for any of `fds`, and `also` if given (at most
/// [`POLL_MAX`] in all), to report one of `events`, or an error condition. Bit `i` of
/// the result is set when `fds[i]` did, bit `fds.len()` when `also` did; 0 on timeout
/// or a signal.
pub(crate) fn poll_fds(
    fds: &[BorrowedFd<'_>],
    also: Option<BorrowedFd<'_>>,
    events: nix::poll::PollFlags,
    timeout: Duration,
) -> io::Result<u8> {
    use nix::poll::{ppoll, PollFd};
    let n = fds.len() + usize::from(also.is_some());
    if n > POLL_MAX {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{n} descriptors to poll, at most {POLL_MAX}"),
        ));
    }
    let Some(&first) = fds.first().or(also.as_ref()) else {
        // Nothing to wait for: the wait is a sleep.
        std::thread::sleep(timeout);
        return Ok(0);
    };
    // A fixed array, no allocation per wait; only the first `n` go to the kernel.
    let mut polled: [PollFd<'_>; POLL_MAX] = core::array::from_fn(|i| {
        let fd = fds.get(i).copied().or(also.filter(|_| i == fds.len()));
        PollFd::new(fd.unwrap_or(first), events)
    });
    let polled = &mut polled[..n];
    match ppoll(
        polled,
        Some(nix::sys::time::TimeSpec::from_duration(timeout)),
        None,
    ) {
        Ok(0) | Err(nix::errno::Errno::EINTR) => Ok(0),
        Ok(_) => Ok(polled
            .iter()
            .enumerate()
            .filter(|(_, p)| p.revents().is_some_and(|r| !r.is_empty()))
            .fold(0, |mask, (i, _)| mask | 1 << i)),
        Err(e) => Err(io::Error::from(e)),
    }
}

#[cfg(test)]
mod tests {
    use std::os::fd::AsFd;
    use std::os::unix::net::UnixStream;
    use std::time::Duration;

    use super::*;

    #[test]
    fn poll_fds_names_the_readable_ones_and_refuses_too_many() {
        let (a, a_peer) = UnixStream::pair().unwrap();
        let (b, mut b_peer) = UnixStream::pair().unwrap();
        let fds = [a.as_fd(), b.as_fd()];
        let flags = nix::poll::PollFlags::POLLIN;
        let (c, mut c_peer) = UnixStream::pair().unwrap();
        let wait = |also| poll_fds(&fds, also, flags, Duration::from_millis(5)).unwrap();
        assert_eq!(wait(Some(c.as_fd())), 0);
        std::io::Write::write_all(&mut b_peer, b"x").unwrap();
        assert_eq!(wait(None), 0b10);
        drop(a_peer);
        assert_eq!(wait(None), 0b11);
        std::io::Write::write_all(&mut c_peer, b"x").unwrap();
        assert_eq!(
            wait(Some(c.as_fd())),
            0b111,
            "`also` is the bit after `fds`"
        );
        let eight = [a.as_fd(); POLL_MAX];
        let err = poll_fds(&eight, Some(c.as_fd()), flags, Duration::ZERO).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert_eq!(poll_fds(&eight, None, flags, Duration::ZERO).unwrap(), 0xFF);
        assert_eq!(
            poll_fds(&[], None, flags, Duration::from_millis(1)).unwrap(),
            0
        );
    }
}
