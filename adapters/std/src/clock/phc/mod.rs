//! PTP hardware clocks (PHCs): the clock on a NIC that its hardware timestamps are taken
//! on, read through its character device `/dev/ptpN` as a dynamic POSIX clock.
//!
//! By concept: [`discovery`] (which PHCs exist, on which interfaces; choosing one),
//! [`caps`] (what a PHC can do), [`cross`] (cross-timestamps against the system clock,
//! with linuxptp's fallback chain), [`health`] (frozen and implausibly fast clocks),
//! [`source`] (a PHC as a bounded [`ClockSource`](tempora_core::clock::ClockSource)
//! with fast reads), and [`steer`] (`tempora phc sync`: steering a clock, only when
//! asked). [`PhcClock`] is the open device all of them use.

pub mod caps;
pub mod cross;
pub mod discovery;
pub mod health;
pub mod source;
pub mod steer;

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use nix::time::{clock_gettime, ClockId};

use crate::sys;

pub use caps::PhcCaps;
pub use cross::{CrossMethod, CrossTimestamp, CrossTimestamper};
pub use discovery::{PhcInfo, PhcSelector};
pub use source::{FastClock, PhcSource, PhcSourceConfig};

/// One open PHC. Reading it needs only read access to the device; steering it
/// ([`steer`]) needs write access and `CAP_SYS_TIME`.
#[derive(Debug)]
pub struct PhcClock {
    /// The open device; its descriptor is the clock's id.
    device: File,
    path: PathBuf,
}

/// The dynamic clock id of an open PHC descriptor (`FD_TO_CLOCKID` in the kernel's
/// `posix-timers` documentation): the complemented descriptor, shifted, with the
/// per-file clock type 3.
pub fn clock_id(fd: libc::c_int) -> libc::clockid_t {
    ((!fd) << 3) | 3
}

impl PhcClock {
    /// Opens `/dev/ptp<index>`.
    pub fn open(index: u32) -> io::Result<Self> {
        Self::open_path(format!("/dev/ptp{index}"))
    }

    /// Opens the PHC device at `path` read-only, and checks that it reads as a clock.
    pub fn open_path(path: impl AsRef<Path>) -> io::Result<Self> {
        Self::open_with(path.as_ref(), false)
    }

    /// Opens the PHC at `path` for reading and writing, as steering it needs.
    pub fn open_writable(path: impl AsRef<Path>) -> io::Result<Self> {
        Self::open_with(path.as_ref(), true)
    }

    fn open_with(path: &Path, write: bool) -> io::Result<Self> {
        let device = OpenOptions::new()
            .read(true)
            .write(write)
            .open(path)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
        let phc = Self {
            device,
            path: path.to_path_buf(),
        };
        phc.now_ns().map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("{} does not read as a clock: {e}", path.display()),
            )
        })?;
        Ok(phc)
    }

    /// The device's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The clock id to hand `clock_gettime` and `clock_adjtime`.
    pub fn clock_id(&self) -> libc::clockid_t {
        clock_id(self.device.as_raw_fd())
    }

    /// The PHC's time now (ns since its epoch, usually TAI's).
    pub fn now_ns(&self) -> io::Result<i128> {
        let t = clock_gettime(ClockId::from_raw(self.clock_id())).map_err(io::Error::from)?;
        Ok(i128::from(t.tv_sec()) * 1_000_000_000 + i128::from(t.tv_nsec()))
    }

    /// What the PHC can do (`PTP_CLOCK_GETCAPS`).
    pub fn caps(&self) -> io::Result<PhcCaps> {
        sys::phc_caps(&self.device).map(PhcCaps::from)
    }

    pub(crate) fn device(&self) -> &File {
        &self.device
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_ids_follow_the_kernel_encoding() {
        // FD_TO_CLOCKID(3) = (~3 << 3) | 3 = -29: negative, so never a static clock id.
        assert_eq!(clock_id(3), -29);
        assert_eq!(clock_id(0), -5);
        assert_eq!(clock_id(1000) & 7, 3);
    }

    #[test]
    fn a_missing_device_is_an_error_naming_it() {
        let err = PhcClock::open(4_000_000).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        assert!(err.to_string().contains("/dev/ptp4000000"), "{err}");
    }

    #[test]
    fn a_file_that_is_not_a_clock_is_refused() {
        // A regular file's descriptor is no dynamic clock: clock_gettime says EINVAL.
        let err = PhcClock::open_path("/proc/self/status").unwrap_err();
        assert!(
            err.to_string().contains("does not read as a clock"),
            "{err}"
        );
    }
}
