//! Cross-timestamps: a PHC reading paired with the system time it was taken at, as
//! linuxptp's `sysoff` takes them, best method first:
//!
//! | method | what the kernel does | window |
//! |---|---|---|
//! | [`Precise`](CrossMethod::Precise) | the NIC latches its clock and the system's together (PTM, ART) | none |
//! | [`ExtendedRaw`](CrossMethod::ExtendedRaw) | reads the system clock (`CLOCK_MONOTONIC_RAW`, Linux 6.12+) just before and after the driver reads the PHC | the driver's read |
//! | [`Extended`](CrossMethod::Extended) | the same on `CLOCK_REALTIME` | the driver's read |
//! | [`Basic`](CrossMethod::Basic) | reads system, PHC, system, ... in the ioctl | a whole register read and more |
//!
//! Each call takes several samples and keeps the one with the narrowest window; the
//! true pairing lies within half of it. System times on `CLOCK_REALTIME` are put onto
//! `CLOCK_MONOTONIC_RAW` (the local clock of a [`PhcSource`](super::PhcSource), which
//! nothing steps or slews) with a pair of vDSO reads, whose own width joins the bound.

use std::fmt;
use std::io;
use std::time::Duration;

use crate::sys;

use super::PhcClock;

/// How a cross-timestamp was taken, best first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CrossMethod {
    /// `PTP_SYS_OFFSET_PRECISE`: latched by the hardware.
    Precise,
    /// `PTP_SYS_OFFSET_EXTENDED` with `CLOCK_MONOTONIC_RAW` system times.
    ExtendedRaw,
    /// `PTP_SYS_OFFSET_EXTENDED` with `CLOCK_REALTIME` system times.
    Extended,
    /// `PTP_SYS_OFFSET`: system and PHC readings alternating.
    Basic,
}

impl CrossMethod {
    /// Every method, best first: the fallback chain.
    pub const CHAIN: [Self; 4] = [
        Self::Precise,
        Self::ExtendedRaw,
        Self::Extended,
        Self::Basic,
    ];

    /// The name `tempora phc list` prints.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Precise => "precise",
            Self::ExtendedRaw => "extended-monoraw",
            Self::Extended => "extended",
            Self::Basic => "basic",
        }
    }
}

impl fmt::Display for CrossMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One PHC reading and the `CLOCK_MONOTONIC_RAW` time it was taken at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CrossTimestamp {
    /// How it was taken.
    pub method: CrossMethod,
    /// The PHC's time (ns since its epoch).
    pub phc_ns: i128,
    /// `CLOCK_MONOTONIC_RAW` (ns) at that PHC reading, as best known.
    pub raw_ns: i128,
    /// The width of the window the pairing was taken in (0 for a hardware latch):
    /// the true pairing is within half of it, plus the conversion's error.
    pub window: Duration,
    /// The pairing's error bound: half the window, plus the error of putting the system
    /// time onto `CLOCK_MONOTONIC_RAW` (none for the raw methods).
    pub bound: Duration,
}

impl CrossTimestamp {
    /// PHC minus `CLOCK_MONOTONIC_RAW` (ns).
    pub fn phc_minus_raw(&self) -> i128 {
        self.phc_ns - self.raw_ns
    }
}

/// Whether an error means "this ioctl is not offered here", so the next method is
/// worth trying, rather than "this device is broken or gone".
fn unsupported(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EOPNOTSUPP | libc::ENOTTY | libc::EINVAL | libc::ENOSYS)
    )
}

fn nanos(d: i128) -> Duration {
    Duration::from_nanos(u64::try_from(d.max(0)).unwrap_or(u64::MAX))
}

/// `CLOCK_MONOTONIC_RAW - CLOCK_REALTIME` now (ns) and its error: the narrowest of
/// three (realtime, raw, realtime) triples of vDSO reads.
pub(crate) fn raw_minus_realtime() -> (i128, Duration) {
    let mut best: Option<(i128, i128)> = None;
    for _ in 0..3 {
        let a = i128::from(sys::clock_nanos(libc::CLOCK_REALTIME));
        let raw = i128::from(sys::clock_nanos(libc::CLOCK_MONOTONIC_RAW));
        let b = i128::from(sys::clock_nanos(libc::CLOCK_REALTIME));
        let width = b - a;
        if best.is_none_or(|(_, w)| width < w) {
            best = Some((raw - (a + b) / 2, width));
        }
    }
    let (diff, width) = best.unwrap_or((0, 0));
    // Half the window, rounded up, plus what the two clocks' rates (within 1 000 ppm of
    // each other: the kernel's slew and frequency limits) can do in the microseconds
    // since the ioctl's samples: 100 ns covers 100 µs.
    (diff, nanos((width + 1) / 2 + 100))
}

/// The narrowest of `(before, phc, after)` triples, as a cross-timestamp on the
/// system clock the triples are on.
fn narrowest(triples: impl Iterator<Item = (i128, i128, i128)>) -> Option<(i128, i128, i128)> {
    triples
        .filter(|(before, _, after)| after >= before)
        .min_by_key(|(before, _, after)| after - before)
        .map(|(before, phc, after)| (phc, before + (after - before) / 2, after - before))
}

/// Takes cross-timestamps from one PHC, remembering which method works on it.
#[derive(Debug)]
pub struct CrossTimestamper {
    samples: usize,
    /// The method that worked last, where the chain starts next time.
    method: Option<CrossMethod>,
    /// Methods that were refused, and the kernel's word for it.
    refused: Vec<(CrossMethod, String)>,
}

impl CrossTimestamper {
    /// Takes `samples` (1 to 25) per call and keeps the narrowest.
    pub fn new(samples: usize) -> Self {
        Self {
            samples: samples.clamp(1, sys::PTP_MAX_SAMPLES),
            method: None,
            refused: Vec::new(),
        }
    }

    /// The method in use, once one worked.
    pub fn method(&self) -> Option<CrossMethod> {
        self.method
    }

    /// The methods the device refused, with the kernel's error.
    pub fn refused(&self) -> &[(CrossMethod, String)] {
        &self.refused
    }

    /// Forgets what worked (a different device was opened).
    pub fn reset(&mut self) {
        self.method = None;
        self.refused.clear();
    }

    /// One cross-timestamp: with the method that worked before, or down the chain from
    /// the best until one works. An error that is not "unsupported" (the device went
    /// away, say) is returned as it is.
    pub fn take(&mut self, phc: &PhcClock) -> io::Result<CrossTimestamp> {
        let start = self
            .method
            .and_then(|m| CrossMethod::CHAIN.iter().position(|c| *c == m))
            .unwrap_or(0);
        let mut last = None;
        for &method in &CrossMethod::CHAIN[start..] {
            match take_with(phc, method, self.samples) {
                Ok(ts) => {
                    self.method = Some(method);
                    return Ok(ts);
                }
                Err(e) if unsupported(&e) => {
                    if !self.refused.iter().any(|(m, _)| *m == method) {
                        self.refused.push((method, e.to_string()));
                    }
                    last = Some(e);
                }
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| io::Error::from_raw_os_error(libc::EOPNOTSUPP)))
    }
}

/// One cross-timestamp with `method` and `samples` samples.
pub fn take_with(
    phc: &PhcClock,
    method: CrossMethod,
    samples: usize,
) -> io::Result<CrossTimestamp> {
    let dev = phc.device();
    let bad = || {
        io::Error::new(
            io::ErrorKind::InvalidData,
            "the PHC returned no usable sample",
        )
    };
    let (phc_ns, sys_ns, window, on_raw) = match method {
        CrossMethod::Precise => {
            let p = sys::phc_offset_precise(dev)?;
            (p.device.nanos(), p.sys_monoraw.nanos(), 0, true)
        }
        CrossMethod::ExtendedRaw | CrossMethod::Extended => {
            let raw = method == CrossMethod::ExtendedRaw;
            let clock = if raw {
                libc::CLOCK_MONOTONIC_RAW
            } else {
                libc::CLOCK_REALTIME
            };
            let e = sys::phc_offset_extended(dev, samples, clock)?;
            let n = (e.n_samples as usize).min(sys::PTP_MAX_SAMPLES);
            let (p, s, w) = narrowest(
                e.ts[..n]
                    .iter()
                    .map(|t| (t[0].nanos(), t[1].nanos(), t[2].nanos())),
            )
            .ok_or_else(bad)?;
            (p, s, w, raw)
        }
        CrossMethod::Basic => {
            let b = sys::phc_offset_basic(dev, samples)?;
            let n = (b.n_samples as usize).min(sys::PTP_MAX_SAMPLES);
            let (p, s, w) = narrowest((0..n).map(|i| {
                (
                    b.ts[2 * i].nanos(),
                    b.ts[2 * i + 1].nanos(),
                    b.ts[2 * i + 2].nanos(),
                )
            }))
            .ok_or_else(bad)?;
            (p, s, w, false)
        }
    };
    let half = nanos((window + 1) / 2);
    let (raw_ns, bound) = if on_raw {
        (sys_ns, half)
    } else {
        let (diff, err) = raw_minus_realtime();
        (sys_ns + diff, half + err)
    };
    Ok(CrossTimestamp {
        method,
        phc_ns,
        raw_ns,
        window: nanos(window),
        bound,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_narrowest_triple_wins_and_its_midpoint_is_the_system_time() {
        let triples = [(100, 5_000, 180), (300, 5_200, 320), (400, 5_300, 390)];
        // The last is inverted (after < before): no valid window, skipped.
        assert_eq!(narrowest(triples.into_iter()), Some((5_200, 310, 20)));
        assert_eq!(narrowest(std::iter::empty()), None);
    }

    #[test]
    fn only_refusals_move_down_the_chain() {
        for errno in [libc::EOPNOTSUPP, libc::ENOTTY, libc::EINVAL] {
            assert!(unsupported(&io::Error::from_raw_os_error(errno)));
        }
        for errno in [libc::ENODEV, libc::EIO, libc::EBADF] {
            assert!(!unsupported(&io::Error::from_raw_os_error(errno)));
        }
    }

    #[test]
    fn realtime_converts_to_raw_within_a_small_bound() {
        let (diff, err) = raw_minus_realtime();
        let rt = i128::from(sys::clock_nanos(libc::CLOCK_REALTIME));
        let raw = i128::from(sys::clock_nanos(libc::CLOCK_MONOTONIC_RAW));
        // Read a moment later, the pair agrees with the conversion to within its error
        // and the time between the reads (generously: a loaded 2-core CI machine).
        assert!((raw - rt - diff).abs() < err.as_nanos() as i128 + 1_000_000);
        assert!(err < Duration::from_millis(1), "{err:?}");
    }

    #[test]
    fn the_chain_is_best_first() {
        assert_eq!(CrossMethod::CHAIN[0], CrossMethod::Precise);
        assert_eq!(CrossMethod::CHAIN[3], CrossMethod::Basic);
        assert_eq!(CrossMethod::ExtendedRaw.to_string(), "extended-monoraw");
    }
}
