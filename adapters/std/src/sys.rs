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
//! | `mmap(MAP_SHARED)`, `munmap`, atomics over the mapping | [`timeservice`](crate::timeservice) |

use std::io;
use std::num::NonZeroUsize;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering};

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

/// The first `len` bytes of a file mapped shared (`MAP_SHARED`), seen as 64-bit words
/// that are only ever accessed atomically, by this process and by every other process
/// that maps the file (the time service's segment); unmapped on drop.
///
/// A read-only mapping only offers [`SharedMap::load`], a `Relaxed` load: the one
/// atomic access Rust defines on read-only memory (8-byte loads on x86_64 and
/// aarch64). Callers order their loads with fences.
#[derive(Debug)]
pub(crate) struct SharedMap {
    ptr: NonNull<libc::c_void>,
    len: usize,
    writable: bool,
}

// SAFETY: the mapping is plain shared memory that every access reaches through atomics,
// so it may be used from any thread, and by several at once.
unsafe impl Send for SharedMap {}
// SAFETY: as above: all access is atomic.
unsafe impl Sync for SharedMap {}

impl SharedMap {
    /// Maps the first `len` bytes (a positive multiple of 8) of `file`, which must be at
    /// least that long, readable, and writable too if `writable`.
    pub(crate) fn map(file: &std::fs::File, len: usize, writable: bool) -> io::Result<Self> {
        use nix::sys::mman::{mmap, MapFlags, ProtFlags};
        let Some(size) = NonZeroUsize::new(len).filter(|_| len % 8 == 0) else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a mapping is a positive number of 64-bit words",
            ));
        };
        // Shorter than `len`: the pages past its end would fault (SIGBUS) when touched.
        if file.metadata()?.len() < len as u64 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("the file is shorter than {len} bytes"),
            ));
        }
        let prot = if writable {
            ProtFlags::PROT_READ | ProtFlags::PROT_WRITE
        } else {
            ProtFlags::PROT_READ
        };
        // SAFETY: a fresh shared mapping at an address the kernel chooses, so no
        // existing memory is replaced; `file` is open (with write access if `writable`,
        // else the call fails) and at least `len` bytes long, checked above. The owner
        // of the file could still shrink it later; touching the lost pages then raises
        // SIGBUS (the process dies), it never reads memory that is not the file's. The
        // daemon never shrinks its segment.
        let ptr = unsafe { mmap(None, size, prot, MapFlags::MAP_SHARED, file, 0) }?;
        Ok(Self { ptr, len, writable })
    }

    fn atomic(&self, index: usize) -> Option<&AtomicU64> {
        if index >= self.len / 8 {
            return None;
        }
        // SAFETY: `index` is within the mapping, which stays mapped while `self` lives;
        // the mapping is page aligned, so every 8-byte word is aligned as `AtomicU64`
        // (same size and alignment as `u64`); every access to the words, in this
        // process and in others (the C header uses C11 atomics), is atomic, so no data
        // race. A read-only mapping only gets `Relaxed` loads (see `load`).
        Some(unsafe { &*self.ptr.as_ptr().cast::<AtomicU64>().add(index) })
    }

    /// Word `index`, a `Relaxed` load; 0 past the end.
    #[inline]
    pub(crate) fn load(&self, index: usize) -> u64 {
        self.atomic(index).map_or(0, |w| w.load(Ordering::Relaxed))
    }

    /// Words `start..start + N`, each a `Relaxed` load in order, with one bounds check;
    /// zeros past the end.
    #[inline]
    pub(crate) fn load_words<const N: usize>(&self, start: usize) -> [u64; N] {
        let mut out = [0u64; N];
        if start.checked_add(N).is_some_and(|end| end <= self.len / 8) {
            // SAFETY: as in `atomic`: `start..start + N` is within the mapping, checked
            // just above; each word is aligned and only accessed atomically.
            let words = unsafe {
                std::slice::from_raw_parts(self.ptr.as_ptr().cast::<AtomicU64>().add(start), N)
            };
            for (o, w) in out.iter_mut().zip(words) {
                *o = w.load(Ordering::Relaxed);
            }
        }
        out
    }

    /// Word `index` for any atomic access, if the mapping is writable and long enough.
    #[inline]
    pub(crate) fn word(&self, index: usize) -> Option<&AtomicU64> {
        self.atomic(index).filter(|_| self.writable)
    }

    /// Whether the mapping may be written.
    pub(crate) fn writable(&self) -> bool {
        self.writable
    }
}

impl Drop for SharedMap {
    fn drop(&mut self) {
        // SAFETY: `ptr` and `len` are exactly what `mmap` returned and was given, and
        // every reference into the mapping borrows `self`, so none outlives this.
        let _ = unsafe { nix::sys::mman::munmap(self.ptr, self.len) };
    }
}
