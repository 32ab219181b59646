//! The socket work both carriers share: asking the kernel for timestamps
//! (`SO_TIMESTAMPING`), reading a message with its timestamp (`recvmsg` and its control
//! messages), fetching send timestamps from the error queue, and waiting for input.

use std::io;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::time::{Duration, Instant as MonoInstant};

use nix::poll::PollFlags;
use nix::sys::socket::{
    recvmsg, setsockopt, sockopt, ControlMessageOwned, MsgFlags, SockaddrLike, TimestampingFlag,
};

pub(crate) use crate::nic::wait_readable;
use crate::ptp::timestamping::Timestamps;

/// Asks the kernel for receive and send timestamps of kind `ts` on `socket`.
pub(crate) fn enable_timestamps(socket: &impl std::os::fd::AsFd, ts: Timestamps) -> io::Result<()> {
    let flags = match ts {
        Timestamps::Software => {
            TimestampingFlag::SOF_TIMESTAMPING_SOFTWARE
                | TimestampingFlag::SOF_TIMESTAMPING_RX_SOFTWARE
                | TimestampingFlag::SOF_TIMESTAMPING_TX_SOFTWARE
        }
        Timestamps::Hardware { .. } => {
            TimestampingFlag::SOF_TIMESTAMPING_RAW_HARDWARE
                | TimestampingFlag::SOF_TIMESTAMPING_RX_HARDWARE
                | TimestampingFlag::SOF_TIMESTAMPING_TX_HARDWARE
        }
    };
    setsockopt(socket, sockopt::Timestamping, &flags).map_err(io::Error::from)
}

fn nanos(ts: &nix::sys::time::TimeSpec) -> i128 {
    i128::from(ts.tv_sec()) * 1_000_000_000 + i128::from(ts.tv_nsec())
}

/// One message off a socket: its bytes, its kernel timestamp, the sender's address.
pub(crate) struct Received<S> {
    pub bytes: Vec<u8>,
    pub timestamp: Option<i128>,
    pub from: Option<S>,
}

/// A message already queued on `fd` (the error queue with `MSG_ERRQUEUE`), without
/// waiting.
pub(crate) fn recv_timestamped<S: SockaddrLike>(
    fd: RawFd,
    flags: MsgFlags,
    ts: Timestamps,
) -> io::Result<Option<Received<S>>> {
    let mut buf = [0u8; 1500];
    // Room for the timestamps and, on the error queue, the extended error record too;
    // a truncated control buffer would lose the timestamp.
    let mut cmsg = nix::cmsg_space!(nix::sys::socket::Timestamps, [u8; 128]);
    let mut iov = [io::IoSliceMut::new(&mut buf)];
    let msg = match recvmsg::<S>(
        fd,
        &mut iov,
        Some(&mut cmsg),
        flags | MsgFlags::MSG_DONTWAIT,
    ) {
        Ok(m) => m,
        Err(nix::errno::Errno::EAGAIN) => return Ok(None),
        Err(e) => return Err(io::Error::from(e)),
    };
    let mut ts_found = None;
    for c in msg.cmsgs().map_err(io::Error::from)? {
        if let ControlMessageOwned::ScmTimestampsns(t) = c {
            // Three slots: software (`CLOCK_REALTIME`), a legacy one, and the raw
            // hardware timestamp (the PHC). An empty slot is zero: no timestamp.
            let slot = match ts {
                Timestamps::Software => nanos(&t.system),
                Timestamps::Hardware { .. } => nanos(&t.hw_raw),
            };
            ts_found = (slot != 0).then_some(slot);
        }
    }
    let (n, from) = (msg.bytes, msg.address);
    Ok(Some(Received {
        bytes: buf[..n].to_vec(),
        timestamp: ts_found,
        from,
    }))
}

/// The send timestamp of `sent` from `socket`'s error queue, waiting up to `limit`.
/// The error queue returns the whole frame (from its link-layer header on), so the
/// message is matched as its tail. Between reads the thread sleeps in `ppoll` until
/// the queue has something (a non-empty error queue is `POLLERR`, reported whatever
/// events are asked for; asking for none keeps received messages from waking it).
pub(crate) fn wait_send_timestamp(
    socket: &(impl AsRawFd + AsFd),
    sent: &[u8],
    limit: Duration,
    ts: Timestamps,
) -> io::Result<Option<i128>> {
    let start = MonoInstant::now();
    loop {
        let queued = recv_timestamped::<()>(socket.as_raw_fd(), MsgFlags::MSG_ERRQUEUE, ts)?;
        if let Some(r) = queued {
            if let (Some(ts), true) = (r.timestamp, r.bytes.ends_with(sent)) {
                return Ok(Some(ts));
            }
            continue;
        }
        let left = limit.saturating_sub(start.elapsed());
        if left.is_zero() {
            return Ok(None);
        }
        crate::nic::poll_fds(&[socket.as_fd()], None, PollFlags::empty(), left)?;
    }
}

/// Discards send timestamps left on `socket`'s error queue (ones that came after their
/// wait gave up). A non-empty error queue makes every `poll` of the socket return at
/// once (`POLLERR`), so one left there would turn the node's sleep into a busy loop.
/// Reads at most 64: the queue cannot refill faster than the port sends.
pub(crate) fn drain_error_queue(fd: RawFd, ts: Timestamps) -> io::Result<usize> {
    let mut dropped = 0;
    while dropped < 64 {
        if recv_timestamped::<()>(fd, MsgFlags::MSG_ERRQUEUE, ts)?.is_none() {
            break;
        }
        dropped += 1;
    }
    Ok(dropped)
}
