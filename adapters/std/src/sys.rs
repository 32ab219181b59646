//! Every call into the kernel that Rust cannot check: the crate's only `unsafe` code.
//!
//! Each function here is safe to call: it owns the memory it hands the kernel, passes
//! its exact size, and checks the result before anything is built from it. Everything
//! else in the crate is `#![deny(unsafe_code)]` and reaches the kernel through these,
//! or through `nix`, `socket2` and `std`.
//!
//! | call | used by |
//! |---|---|
//! | `clock_gettime` (vDSO) | [`SystemClock`](crate::SystemClock), the virtual clock |
//! | `adjtimex` (read only, `modes = 0`) | [`KernelEstimate`](crate::KernelEstimate) |
//! | `ioctl(SIOCETHTOOL, ETHTOOL_GET_TS_INFO)` | [`TimestampingInfo`](crate::ptp::timestamping::TimestampingInfo) |
//! | `ioctl(SIOCSHWTSTAMP)` | [`enable_hardware`](crate::ptp::timestamping::enable_hardware) |
//! | `socket(AF_PACKET)`, `bind`, `setsockopt(SOL_PACKET)` | [`L2Transport`](crate::ptp::l2::L2Transport) |

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// Nanoseconds of a POSIX clock: one vDSO call for REALTIME and BOOTTIME. A clock that
/// reads before its epoch (or a failed call, which these clock ids cannot cause) reads 0.
///
/// Called directly rather than through `SystemTime` or nix's wrapper, whose conversions
/// measured 6-8 ns on top of the 21 ns call: a third of the HLC's budget.
#[inline]
pub(crate) fn clock_nanos(id: libc::clockid_t) -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, exclusively borrowed timespec that the call only writes.
    if unsafe { libc::clock_gettime(id, &mut ts) } != 0 {
        return 0;
    }
    (ts.tv_sec.max(0) as u64)
        .saturating_mul(1_000_000_000)
        .saturating_add(ts.tv_nsec.max(0) as u64)
}

/// `adjtimex` with no mode bits: reads the kernel's clock state and changes nothing.
/// Returns the `timex` and the clock state (`TIME_OK`, `TIME_ERROR`, ...).
pub(crate) fn adjtimex_read() -> io::Result<(libc::timex, libc::c_int)> {
    // SAFETY: `timex` is plain old data for which all-zero bytes are a valid value.
    let mut tx: libc::timex = unsafe { std::mem::zeroed() };
    // Read only: never step or slew the host clock.
    tx.modes = 0;
    // SAFETY: `tx` is a valid, exclusively borrowed `timex` for the duration of the
    // call; with `modes == 0` the kernel only writes into it.
    let state = unsafe { libc::adjtimex(&mut tx) };
    if state == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok((tx, state))
}

fn check(rc: libc::c_int) -> io::Result<libc::c_int> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

/// A datagram socket to address ioctls to.
fn control_socket() -> io::Result<OwnedFd> {
    use nix::sys::socket::{socket, AddressFamily, SockFlag, SockType};
    socket(
        AddressFamily::Inet,
        SockType::Datagram,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .map_err(io::Error::from)
}

/// An `ifreq` naming `iface`; the name must be non-empty, shorter than `IFNAMSIZ` and
/// free of NUL bytes.
fn interface_request(iface: &str) -> io::Result<libc::ifreq> {
    let name = iface.as_bytes();
    if name.is_empty() || name.len() >= libc::IFNAMSIZ || name.contains(&0) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("bad interface name {iface:?}"),
        ));
    }
    // SAFETY: `ifreq` is plain old data (a name array and a union of integers and a
    // pointer) for which all zero bytes are a valid value.
    let mut request: libc::ifreq = unsafe { std::mem::zeroed() };
    for (to, from) in request.ifr_name.iter_mut().zip(name) {
        *to = *from as libc::c_char;
    }
    Ok(request)
}

/// `struct ethtool_ts_info` (linux/ethtool.h).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct EthtoolTsInfo {
    pub cmd: u32,
    pub so_timestamping: u32,
    pub phc_index: i32,
    pub tx_types: u32,
    pub tx_reserved: [u32; 3],
    pub rx_filters: u32,
    pub rx_reserved: [u32; 3],
}

/// ethtool's command (linux/ethtool.h) and ioctl number (linux/sockios.h).
const ETHTOOL_GET_TS_INFO: u32 = 0x41;
const SIOCETHTOOL: libc::c_ulong = 0x8946;

/// What the driver of `iface` can timestamp (`ethtool -T`).
pub(crate) fn ethtool_ts_info(iface: &str) -> io::Result<EthtoolTsInfo> {
    let socket = control_socket()?;
    let mut info = EthtoolTsInfo {
        cmd: ETHTOOL_GET_TS_INFO,
        ..EthtoolTsInfo::default()
    };
    let mut request = interface_request(iface)?;
    request.ifr_ifru.ifru_data = (&mut info as *mut EthtoolTsInfo).cast();
    // SAFETY: `request` names the interface and points at `info`, a live, writable
    // `ethtool_ts_info` that outlives the call; the kernel writes at most that struct.
    check(unsafe { libc::ioctl(socket.as_raw_fd(), SIOCETHTOOL, &mut request) })?;
    Ok(info)
}

/// `SIOCSHWTSTAMP` on `iface`: hands the driver `config` and returns the settings it
/// applied. Needs `CAP_NET_ADMIN`.
pub(crate) fn set_hwtstamp(
    iface: &str,
    mut config: libc::hwtstamp_config,
) -> io::Result<libc::hwtstamp_config> {
    let socket = control_socket()?;
    let mut request = interface_request(iface)?;
    request.ifr_ifru.ifru_data = (&mut config as *mut libc::hwtstamp_config).cast();
    // SAFETY: `request` names the interface and points at `config`, a live, writable
    // `hwtstamp_config` that outlives the call; the kernel reads it and writes back the
    // settings it applied, no more than that struct.
    check(unsafe { libc::ioctl(socket.as_raw_fd(), libc::SIOCSHWTSTAMP, &mut request) })?;
    Ok(config)
}

/// A non-blocking, close-on-exec `AF_PACKET` raw socket for ethertype `protocol`
/// (given in network byte order, as the kernel wants it).
pub(crate) fn packet_socket(protocol: u16) -> io::Result<OwnedFd> {
    // SAFETY: plain socket(2) call with constant arguments; the result is checked
    // before it is wrapped.
    let fd = check(unsafe {
        libc::socket(
            libc::AF_PACKET,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
            libc::c_int::from(protocol),
        )
    })?;
    // SAFETY: `fd` is a freshly created descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Binds a packet socket to `address`.
pub(crate) fn bind_packet(socket: &OwnedFd, address: &libc::sockaddr_ll) -> io::Result<()> {
    // SAFETY: `address` is a valid `sockaddr_ll` and its exact size is passed; the
    // kernel only reads it; `socket` is an open descriptor.
    check(unsafe {
        libc::bind(
            socket.as_raw_fd(),
            (address as *const libc::sockaddr_ll).cast(),
            std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
        )
    })
    .map(drop)
}

/// `setsockopt(SOL_PACKET, name)` with `value`, which the kernel reads as `T`.
pub(crate) fn set_packet_option<T: Copy>(
    socket: &OwnedFd,
    name: libc::c_int,
    value: &T,
) -> io::Result<()> {
    let len = std::mem::size_of::<T>() as libc::socklen_t;
    // SAFETY: `value` points to a live, initialised `T` of `len` bytes for the duration
    // of the call, and the kernel only reads it; `socket` is an open descriptor.
    check(unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_PACKET,
            name,
            (value as *const T).cast(),
            len,
        )
    })
    .map(drop)
}
