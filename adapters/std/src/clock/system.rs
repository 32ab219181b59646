//! The Linux system clock as a [`ClockSource`], with the kernel's own error estimate.
//!
//! The time is `CLOCK_REALTIME` (a vDSO read, about 22 ns here). The bound and status come
//! from `adjtimex` (`maxerror`, `STA_UNSYNC`), which is a real system call (about 1 µs), so
//! it is refreshed at most once per [`SystemClock::REFRESH`] and grown in between at the
//! kernel's own worst-case rate of 500 ppm, exactly as the kernel grows `maxerror`.
//! The clock is only read: the `adjtimex` call sets no mode bits.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tempora_core::clock::{ClockReading, ClockSource, ClockStatus};
use tempora_core::time::{Instant, TaiOffset, Utc};

/// The kernel's worst-case frequency error, by which `maxerror` grows (MAXFREQ).
const MAX_DRIFT_PPM: u64 = 500;
/// Status codes packed into the low bits of the cached estimate.
const ST_SYNC: u64 = 0;
const ST_UNSYNC: u64 = 1;
const ST_UNKNOWN: u64 = 2;

/// What `adjtimex` said, decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KernelEstimate {
    /// The kernel's maximum error.
    pub max_error: Duration,
    /// The kernel's estimated error.
    pub est_error: Duration,
    /// `STA_UNSYNC` was set, or the clock state is `TIME_ERROR`.
    pub unsynchronized: bool,
    /// TAI - UTC as the kernel knows it (0 when nobody told it).
    pub tai_offset: TaiOffset,
}

impl KernelEstimate {
    /// Asks the kernel, without changing anything.
    pub fn read() -> std::io::Result<Self> {
        let (tx, state) = crate::sys::adjtimex_read()?;
        let micros = |v: libc::c_long| Duration::from_micros(u64::try_from(v).unwrap_or(0));
        Ok(Self {
            max_error: micros(tx.maxerror),
            est_error: micros(tx.esterror),
            unsynchronized: tx.status & libc::STA_UNSYNC != 0 || state == libc::TIME_ERROR,
            tai_offset: TaiOffset(tx.tai),
        })
    }

    /// The status the [`SystemClock`] reports for this estimate.
    pub fn clock_status(&self) -> ClockStatus {
        if self.unsynchronized {
            ClockStatus::FreeRunning
        } else {
            ClockStatus::Synchronized
        }
    }
}

/// `maxerror=16.000000000s esterror=16.000000000s unsynchronized=true tai_offset=37s`.
impl std::fmt::Display for KernelEstimate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = |d: Duration| format!("{}.{:09}s", d.as_secs(), d.subsec_nanos());
        write!(
            f,
            "maxerror={} esterror={} unsynchronized={} tai_offset={}s",
            s(self.max_error),
            s(self.est_error),
            self.unsynchronized,
            self.tai_offset.0
        )
    }
}

/// `CLOCK_REALTIME` with a cached kernel error bound.
///
/// ```
/// use tempora_core::clock::ClockSource;
/// use tempora_std::SystemClock;
///
/// let clock = SystemClock::new();
/// let r = clock.read();
/// assert!(r.interval().contains(r.time));
/// ```
#[derive(Debug)]
pub struct SystemClock {
    /// Realtime nanoseconds of the last refresh (0: never).
    refreshed_at: AtomicU64,
    /// Max error in nanoseconds << 2 | status code.
    estimate: AtomicU64,
}

impl Default for SystemClock {
    fn default() -> Self {
        Self::new()
    }
}

impl SystemClock {
    /// How often the kernel estimate is re-read.
    pub const REFRESH: Duration = Duration::from_secs(1);

    /// A system clock; the kernel estimate is read on the first [`ClockSource::read`].
    pub const fn new() -> Self {
        Self {
            refreshed_at: AtomicU64::new(0),
            estimate: AtomicU64::new(ST_UNKNOWN),
        }
    }

    /// `CLOCK_REALTIME` in nanoseconds, read the fast way (shared with the PTP node).
    #[inline]
    pub(crate) fn realtime_nanos() -> u64 {
        crate::sys::clock_nanos(libc::CLOCK_REALTIME)
    }

    fn refresh(&self, now: u64, seen: u64) {
        // One thread per period does the system call; the rest use the old estimate.
        if self
            .refreshed_at
            .compare_exchange(seen, now, Ordering::AcqRel, Ordering::Relaxed)
            .is_err()
        {
            return;
        }
        let packed = match KernelEstimate::read() {
            Ok(k) => {
                let max = u64::try_from(k.max_error.as_nanos()).unwrap_or(u64::MAX >> 2);
                (max.min(u64::MAX >> 2) << 2) | if k.unsynchronized { ST_UNSYNC } else { ST_SYNC }
            }
            Err(_) => ST_UNKNOWN,
        };
        self.estimate.store(packed, Ordering::Release);
    }
}

impl ClockSource for SystemClock {
    type Scale = Utc;

    fn read(&self) -> ClockReading<Utc> {
        let now = Self::realtime_nanos();
        let mut at = self.refreshed_at.load(Ordering::Acquire);
        if at == 0 || now.abs_diff(at) >= Self::REFRESH.as_nanos() as u64 {
            self.refresh(now, at);
            at = self.refreshed_at.load(Ordering::Acquire);
        }
        let packed = self.estimate.load(Ordering::Acquire);
        let (status, bound) = match packed & 3 {
            ST_UNKNOWN => (ClockStatus::Unknown, Duration::MAX),
            code => {
                // Grow the estimate as the kernel would have since we asked it.
                let grown = now.saturating_sub(at) / 1_000_000 * MAX_DRIFT_PPM;
                let bound = Duration::from_nanos((packed >> 2).saturating_add(grown));
                let status = if code == ST_SYNC {
                    ClockStatus::Synchronized
                } else {
                    ClockStatus::FreeRunning
                };
                (status, bound)
            }
        };
        ClockReading {
            time: Instant::from_nanos(now),
            bound,
            status,
        }
    }

    #[inline]
    fn time(&self) -> Instant<Utc> {
        Instant::from_nanos(Self::realtime_nanos())
    }

    #[inline]
    fn elapsed_reference(&self) -> Option<u64> {
        Some(crate::sys::clock_nanos(libc::CLOCK_BOOTTIME)).filter(|&n| n != 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reading_agrees_with_the_kernel() {
        let k = KernelEstimate::read().expect("adjtimex read");
        let clock = SystemClock::new();
        let r = clock.read();
        assert_eq!(r.status, k.clock_status());
        // Cached plus growth is never below what the kernel says at refresh time.
        assert!(r.bound >= k.max_error);
        assert!(r.bound <= k.max_error + Duration::from_millis(1));
        let before = SystemClock::realtime_nanos();
        let t = clock.time().as_nanos();
        assert!(t >= before);
    }

    #[test]
    fn elapsed_reference_advances_with_realtime() {
        let clock = SystemClock::new();
        let (r0, t0) = (clock.elapsed_reference().unwrap(), clock.time());
        std::thread::sleep(Duration::from_millis(20));
        let (r1, t1) = (clock.elapsed_reference().unwrap(), clock.time());
        let dr = r1 - r0;
        let dt = t1.as_nanos() - t0.as_nanos();
        assert!(dr >= 20_000_000);
        assert!(
            dr.abs_diff(dt) < 5_000_000,
            "boottime {dr} vs realtime {dt}"
        );
    }
}
