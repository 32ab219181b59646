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
//! | `PTP_CLOCK_GETCAPS`, `PTP_SYS_OFFSET`, `_PRECISE`, `_EXTENDED` (nix's ioctl macros) | [`PhcClock`](crate::clock::PhcClock), [`cross`](crate::clock::phc::cross) |
//! | `clock_adjtime` | [`steer`](crate::clock::phc::steer) (`tempora phc sync`, only when asked) |
//! | `PPS_GETCAP`, `PPS_FETCH` (nix's ioctl macros) | [`PpsDevice`](crate::clock::pps::PpsDevice) |
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
const SIOCETHTOOL: libc::Ioctl = 0x8946;

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
    check(unsafe {
        libc::ioctl(
            socket.as_raw_fd(),
            libc::SIOCSHWTSTAMP as libc::Ioctl,
            &mut request,
        )
    })?;
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

// ---------------------------------------------------------------------------------------
// PTP hardware clocks (linux/ptp_clock.h), PPS devices (linux/pps.h), clock_adjtime.
// The ioctl functions come from nix's macros, which compute the request numbers as the
// kernel's _IOR/_IOW/_IOWR do; `tests` checks every number and layout against the
// kernel's own headers compiled with `cc`.

/// `struct ptp_clock_time`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct PtpClockTime {
    pub sec: i64,
    pub nsec: u32,
    pub reserved: u32,
}

impl PtpClockTime {
    /// Nanoseconds since the clock's epoch.
    pub fn nanos(&self) -> i128 {
        i128::from(self.sec) * 1_000_000_000 + i128::from(self.nsec)
    }
}

/// `struct ptp_clock_caps`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct PtpClockCaps {
    pub max_adj: libc::c_int,
    pub n_alarm: libc::c_int,
    pub n_ext_ts: libc::c_int,
    pub n_per_out: libc::c_int,
    pub pps: libc::c_int,
    pub n_pins: libc::c_int,
    pub cross_timestamping: libc::c_int,
    pub adjust_phase: libc::c_int,
    /// `max_phase_adj` in kernels from 6.2 on; reserved (zero) before.
    pub max_phase_adj: libc::c_int,
    pub rsv: [libc::c_int; 11],
}

/// `PTP_MAX_SAMPLES`: the most samples one offset ioctl takes.
pub(crate) const PTP_MAX_SAMPLES: usize = 25;

/// `struct ptp_sys_offset`: `ts` alternates system, PHC, system, ... (2n + 1 entries).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub(crate) struct PtpSysOffset {
    pub n_samples: libc::c_uint,
    pub rsv: [libc::c_uint; 3],
    pub ts: [PtpClockTime; 2 * PTP_MAX_SAMPLES + 1],
}

/// `struct ptp_sys_offset_extended`: `ts[i]` is (system before, PHC, system after).
/// `clockid` is `rsv[0]` in headers before 6.12, where it must be 0 (`CLOCK_REALTIME`).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub(crate) struct PtpSysOffsetExtended {
    pub n_samples: libc::c_uint,
    pub clockid: libc::clockid_t,
    pub rsv: [libc::c_uint; 2],
    pub ts: [[PtpClockTime; 3]; PTP_MAX_SAMPLES],
}

/// `struct ptp_sys_offset_precise`: one device time and the system times the hardware
/// latched with it.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct PtpSysOffsetPrecise {
    pub device: PtpClockTime,
    pub sys_realtime: PtpClockTime,
    pub sys_monoraw: PtpClockTime,
    pub rsv: [libc::c_uint; 4],
}

const PTP_CLK_MAGIC: u8 = b'=';

nix::ioctl_read!(ioctl_ptp_clock_getcaps, PTP_CLK_MAGIC, 1, PtpClockCaps);
// PTP_SYS_OFFSET is declared _IOW, but the kernel writes the samples back: a read-write
// pointer with the _IOW number.
nix::ioctl_readwrite_bad!(
    ioctl_ptp_sys_offset,
    nix::request_code_write!(PTP_CLK_MAGIC, 5, std::mem::size_of::<PtpSysOffset>()),
    PtpSysOffset
);
nix::ioctl_readwrite!(
    ioctl_ptp_sys_offset_precise,
    PTP_CLK_MAGIC,
    8,
    PtpSysOffsetPrecise
);
nix::ioctl_readwrite!(
    ioctl_ptp_sys_offset_extended,
    PTP_CLK_MAGIC,
    9,
    PtpSysOffsetExtended
);

/// The request numbers, for the header check.
#[cfg(test)]
pub(crate) mod request {
    use super::*;
    pub const PTP_CLOCK_GETCAPS: u64 =
        nix::request_code_read!(PTP_CLK_MAGIC, 1, std::mem::size_of::<PtpClockCaps>()) as u64;
    pub const PTP_SYS_OFFSET: u64 =
        nix::request_code_write!(PTP_CLK_MAGIC, 5, std::mem::size_of::<PtpSysOffset>()) as u64;
    pub const PTP_SYS_OFFSET_PRECISE: u64 =
        nix::request_code_readwrite!(PTP_CLK_MAGIC, 8, std::mem::size_of::<PtpSysOffsetPrecise>())
            as u64;
    pub const PTP_SYS_OFFSET_EXTENDED: u64 = nix::request_code_readwrite!(
        PTP_CLK_MAGIC,
        9,
        std::mem::size_of::<PtpSysOffsetExtended>()
    ) as u64;
    pub const PPS_GETCAP: u64 = super::PPS_GETCAP as _;
    pub const PPS_FETCH: u64 = super::PPS_FETCH as _;
}

/// The PHC's capabilities (`PTP_CLOCK_GETCAPS`).
pub(crate) fn phc_caps(phc: &impl AsRawFd) -> io::Result<PtpClockCaps> {
    let mut caps = PtpClockCaps::default();
    // SAFETY: `caps` is a live, writable `ptp_clock_caps` (its exact size is in the
    // request number) that outlives the call; the descriptor is open.
    unsafe { ioctl_ptp_clock_getcaps(phc.as_raw_fd(), &mut caps) }.map_err(io::Error::from)?;
    Ok(caps)
}

/// `PTP_SYS_OFFSET_PRECISE`: one cross-timestamp latched by the hardware.
pub(crate) fn phc_offset_precise(phc: &impl AsRawFd) -> io::Result<PtpSysOffsetPrecise> {
    let mut request = PtpSysOffsetPrecise::default();
    // SAFETY: `request` is a live, writable `ptp_sys_offset_precise` that outlives the
    // call; the kernel writes at most that struct.
    unsafe { ioctl_ptp_sys_offset_precise(phc.as_raw_fd(), &mut request) }
        .map_err(io::Error::from)?;
    Ok(request)
}

/// `PTP_SYS_OFFSET_EXTENDED` with `n` (1..=25) samples, system times on `clockid`
/// (anything but `CLOCK_REALTIME` needs Linux 6.12).
pub(crate) fn phc_offset_extended(
    phc: &impl AsRawFd,
    n: usize,
    clockid: libc::clockid_t,
) -> io::Result<PtpSysOffsetExtended> {
    let mut request = PtpSysOffsetExtended {
        n_samples: n.clamp(1, PTP_MAX_SAMPLES) as libc::c_uint,
        clockid,
        rsv: [0; 2],
        ts: [[PtpClockTime::default(); 3]; PTP_MAX_SAMPLES],
    };
    // SAFETY: `request` is a live, writable `ptp_sys_offset_extended` that outlives
    // the call; `n_samples` is at most PTP_MAX_SAMPLES, so the kernel writes within it.
    unsafe { ioctl_ptp_sys_offset_extended(phc.as_raw_fd(), &mut request) }
        .map_err(io::Error::from)?;
    Ok(request)
}

/// `PTP_SYS_OFFSET` with `n` (1..=25) samples: system and PHC readings alternating.
pub(crate) fn phc_offset_basic(phc: &impl AsRawFd, n: usize) -> io::Result<PtpSysOffset> {
    let mut request = PtpSysOffset {
        n_samples: n.clamp(1, PTP_MAX_SAMPLES) as libc::c_uint,
        rsv: [0; 3],
        ts: [PtpClockTime::default(); 2 * PTP_MAX_SAMPLES + 1],
    };
    // SAFETY: `request` is a live, writable `ptp_sys_offset` that outlives the call;
    // `n_samples` is at most PTP_MAX_SAMPLES, so the kernel writes within `ts`.
    unsafe { ioctl_ptp_sys_offset(phc.as_raw_fd(), &mut request) }.map_err(io::Error::from)?;
    Ok(request)
}

/// `clock_adjtime(clock, tx)`: reads (`modes == 0`) or adjusts a clock. Steering is the
/// caller's decision: only `tempora phc sync`, asked for by the user, sets mode bits.
pub(crate) fn clock_adjtime(clock: libc::clockid_t, tx: &mut libc::timex) -> io::Result<i32> {
    // SAFETY: `tx` is a valid, exclusively borrowed `timex` for the duration of the
    // call; the kernel reads and writes only that struct.
    let state = unsafe { libc::clock_adjtime(clock, tx) };
    if state == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(state)
}

/// An all-zero `timex`, to fill in for [`clock_adjtime`].
pub(crate) fn zeroed_timex() -> libc::timex {
    // SAFETY: `timex` is plain old data for which all-zero bytes are a valid value.
    unsafe { std::mem::zeroed() }
}

/// `struct pps_ktime`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct PpsKtime {
    pub sec: i64,
    pub nsec: i32,
    pub flags: u32,
}

/// `struct pps_kinfo`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct PpsKinfo {
    pub assert_sequence: u32,
    pub clear_sequence: u32,
    pub assert_tu: PpsKtime,
    pub clear_tu: PpsKtime,
    pub current_mode: libc::c_int,
}

/// `struct pps_fdata`: what happened, and how long to wait for it.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct PpsFdata {
    pub info: PpsKinfo,
    pub timeout: PpsKtime,
}

// linux/pps.h declares its ioctls with a *pointer* type (`struct pps_fdata *`), so the
// size field of the number is a pointer's, not the struct's.
const PPS_GETCAP: libc::c_ulong =
    nix::request_code_read!(b'p', 0xa3, std::mem::size_of::<*mut libc::c_int>()) as libc::c_ulong;
const PPS_FETCH: libc::c_ulong =
    nix::request_code_readwrite!(b'p', 0xa4, std::mem::size_of::<*mut PpsFdata>()) as libc::c_ulong;

nix::ioctl_read_bad!(ioctl_pps_getcap, PPS_GETCAP, libc::c_int);
nix::ioctl_readwrite_bad!(ioctl_pps_fetch, PPS_FETCH, PpsFdata);

/// The PPS source's capability bits (`PPS_GETCAP`: `PPS_CAPTUREASSERT`, `PPS_CANWAIT`...).
pub(crate) fn pps_caps(pps: &impl AsRawFd) -> io::Result<libc::c_int> {
    let mut caps: libc::c_int = 0;
    // SAFETY: `caps` is a live, writable int that outlives the call.
    unsafe { ioctl_pps_getcap(pps.as_raw_fd(), &mut caps) }.map_err(io::Error::from)?;
    Ok(caps)
}

/// `PPS_FETCH`: the latest events, after waiting up to `timeout` for a new one; the
/// kernel says `ETIMEDOUT` when none came in time.
pub(crate) fn pps_fetch(pps: &impl AsRawFd, timeout: std::time::Duration) -> io::Result<PpsKinfo> {
    let mut data = PpsFdata {
        timeout: PpsKtime {
            sec: i64::try_from(timeout.as_secs()).unwrap_or(i64::MAX),
            nsec: timeout.subsec_nanos() as i32,
            flags: 0,
        },
        ..PpsFdata::default()
    };
    // SAFETY: `data` is a live, writable `pps_fdata` that outlives the call; the kernel
    // reads the timeout and writes the info, no more than that struct.
    unsafe { ioctl_pps_fetch(pps.as_raw_fd(), &mut data) }.map_err(io::Error::from)?;
    Ok(data.info)
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::{offset_of, size_of};

    /// Compiles a C program against the installed kernel headers (linux-libc-dev) and
    /// returns what it prints, `NAME VALUE` per line.
    fn from_kernel_headers() -> std::collections::HashMap<String, u64> {
        let dir = std::env::temp_dir().join(format!("tempora-headers-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let src = dir.join("h.c");
        let exe = dir.join("h");
        std::fs::write(
            &src,
            r#"
#include <stdio.h>
#include <stddef.h>
#include <linux/ptp_clock.h>
#include <linux/pps.h>
#define P(n, v) printf("%s %llu\n", n, (unsigned long long)(v))
int main(void) {
    P("PTP_CLOCK_GETCAPS", PTP_CLOCK_GETCAPS);
    P("PTP_SYS_OFFSET", PTP_SYS_OFFSET);
    P("PTP_SYS_OFFSET_PRECISE", PTP_SYS_OFFSET_PRECISE);
    P("PTP_SYS_OFFSET_EXTENDED", PTP_SYS_OFFSET_EXTENDED);
    P("PPS_GETCAP", PPS_GETCAP);
    P("PPS_FETCH", PPS_FETCH);
    P("PTP_MAX_SAMPLES", PTP_MAX_SAMPLES);
    P("sizeof ptp_clock_time", sizeof(struct ptp_clock_time));
    P("sizeof ptp_clock_caps", sizeof(struct ptp_clock_caps));
    P("sizeof ptp_sys_offset", sizeof(struct ptp_sys_offset));
    P("sizeof ptp_sys_offset_extended", sizeof(struct ptp_sys_offset_extended));
    P("sizeof ptp_sys_offset_precise", sizeof(struct ptp_sys_offset_precise));
    P("offsetof ptp_clock_caps.cross_timestamping", offsetof(struct ptp_clock_caps, cross_timestamping));
    P("offsetof ptp_clock_caps.adjust_phase", offsetof(struct ptp_clock_caps, adjust_phase));
    P("offsetof ptp_sys_offset.ts", offsetof(struct ptp_sys_offset, ts));
    P("offsetof ptp_sys_offset_extended.ts", offsetof(struct ptp_sys_offset_extended, ts));
    P("offsetof ptp_sys_offset_precise.sys_monoraw", offsetof(struct ptp_sys_offset_precise, sys_monoraw));
    P("sizeof pps_ktime", sizeof(struct pps_ktime));
    P("sizeof pps_kinfo", sizeof(struct pps_kinfo));
    P("sizeof pps_fdata", sizeof(struct pps_fdata));
    P("offsetof pps_kinfo.assert_tu", offsetof(struct pps_kinfo, assert_tu));
    P("offsetof pps_kinfo.current_mode", offsetof(struct pps_kinfo, current_mode));
    P("offsetof pps_fdata.timeout", offsetof(struct pps_fdata, timeout));
    return 0;
}
"#,
        )
        .unwrap();
        let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
        let status = std::process::Command::new(&cc)
            .arg(&src)
            .arg("-o")
            .arg(&exe)
            .status()
            .unwrap_or_else(|e| panic!("{cc} (a C compiler, for the header check): {e}"));
        assert!(
            status.success(),
            "compiling against linux/ptp_clock.h and linux/pps.h"
        );
        let out = std::process::Command::new(&exe).output().unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| {
                let (name, value) = l.rsplit_once(' ').unwrap();
                (name.to_string(), value.parse().unwrap())
            })
            .collect()
    }

    #[test]
    fn ioctl_numbers_and_layouts_match_the_kernel_headers() {
        let k = from_kernel_headers();
        let expect = |name: &str, ours: u64| {
            assert_eq!(k.get(name).copied(), Some(ours), "{name}");
        };
        expect("PTP_CLOCK_GETCAPS", request::PTP_CLOCK_GETCAPS);
        expect("PTP_SYS_OFFSET", request::PTP_SYS_OFFSET);
        expect("PTP_SYS_OFFSET_PRECISE", request::PTP_SYS_OFFSET_PRECISE);
        expect("PTP_SYS_OFFSET_EXTENDED", request::PTP_SYS_OFFSET_EXTENDED);
        expect("PPS_GETCAP", request::PPS_GETCAP);
        expect("PPS_FETCH", request::PPS_FETCH);
        expect("PTP_MAX_SAMPLES", PTP_MAX_SAMPLES as u64);
        expect("sizeof ptp_clock_time", size_of::<PtpClockTime>() as u64);
        expect("sizeof ptp_clock_caps", size_of::<PtpClockCaps>() as u64);
        expect("sizeof ptp_sys_offset", size_of::<PtpSysOffset>() as u64);
        expect(
            "sizeof ptp_sys_offset_extended",
            size_of::<PtpSysOffsetExtended>() as u64,
        );
        expect(
            "sizeof ptp_sys_offset_precise",
            size_of::<PtpSysOffsetPrecise>() as u64,
        );
        expect(
            "offsetof ptp_clock_caps.cross_timestamping",
            offset_of!(PtpClockCaps, cross_timestamping) as u64,
        );
        expect(
            "offsetof ptp_clock_caps.adjust_phase",
            offset_of!(PtpClockCaps, adjust_phase) as u64,
        );
        expect(
            "offsetof ptp_sys_offset.ts",
            offset_of!(PtpSysOffset, ts) as u64,
        );
        expect(
            "offsetof ptp_sys_offset_extended.ts",
            offset_of!(PtpSysOffsetExtended, ts) as u64,
        );
        expect(
            "offsetof ptp_sys_offset_precise.sys_monoraw",
            offset_of!(PtpSysOffsetPrecise, sys_monoraw) as u64,
        );
        expect("sizeof pps_ktime", size_of::<PpsKtime>() as u64);
        expect("sizeof pps_kinfo", size_of::<PpsKinfo>() as u64);
        expect("sizeof pps_fdata", size_of::<PpsFdata>() as u64);
        expect(
            "offsetof pps_kinfo.assert_tu",
            offset_of!(PpsKinfo, assert_tu) as u64,
        );
        expect(
            "offsetof pps_kinfo.current_mode",
            offset_of!(PpsKinfo, current_mode) as u64,
        );
        expect(
            "offsetof pps_fdata.timeout",
            offset_of!(PpsFdata, timeout) as u64,
        );
    }

    #[test]
    fn the_numbers_are_the_ones_linuxptp_uses() {
        // Hard-coded from the header's arithmetic on x86_64 (_IOC: dir << 30 | size << 16
        // | type << 8 | nr), so a broken C toolchain cannot hide a wrong number.
        assert_eq!(request::PTP_CLOCK_GETCAPS, 0x8050_3d01);
        assert_eq!(request::PTP_SYS_OFFSET, 0x4340_3d05);
        assert_eq!(request::PTP_SYS_OFFSET_PRECISE, 0xc040_3d08);
        assert_eq!(request::PTP_SYS_OFFSET_EXTENDED, 0xc4c0_3d09);
        assert_eq!(request::PPS_FETCH, 0xc008_70a4);
    }

    #[test]
    fn ptp_calls_on_a_file_that_is_no_phc_are_errors() {
        let f = std::fs::File::open("/proc/self/status").unwrap();
        assert!(phc_caps(&f).is_err());
        assert!(phc_offset_precise(&f).is_err());
        assert!(phc_offset_extended(&f, 5, libc::CLOCK_REALTIME).is_err());
        assert!(phc_offset_basic(&f, 5).is_err());
        assert!(pps_caps(&f).is_err());
        assert!(pps_fetch(&f, std::time::Duration::ZERO).is_err());
    }
}
