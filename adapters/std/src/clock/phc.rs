//! A PTP hardware clock (PHC): the clock on a NIC that its hardware timestamps are
//! taken on, read through its character device `/dev/ptpN` as a dynamic POSIX clock.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::path::Path;

use nix::time::{clock_gettime, ClockId};

/// One open PHC. Reading it needs only read access to the device.
#[derive(Debug)]
pub struct PhcClock {
    /// The open device; its descriptor is the clock's id.
    device: File,
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

    /// Opens the PHC device at `path`, and checks that it reads as a clock.
    pub fn open_path(path: impl AsRef<Path>) -> io::Result<Self> {
        let path = path.as_ref();
        let device = File::open(path)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
        let phc = Self { device };
        phc.now_ns().map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("{} does not read as a clock: {e}", path.display()),
            )
        })?;
        Ok(phc)
    }

    /// The PHC's time now (ns since its epoch, usually TAI's).
    pub fn now_ns(&self) -> io::Result<i128> {
        let id = ClockId::from_raw(clock_id(self.device.as_raw_fd()));
        let t = clock_gettime(id).map_err(io::Error::from)?;
        Ok(i128::from(t.tv_sec()) * 1_000_000_000 + i128::from(t.tv_nsec()))
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
