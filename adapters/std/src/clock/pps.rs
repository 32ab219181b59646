//! Pulse-per-second inputs on Linux, disciplining a clock with the embedded adapter's
//! own [`PpsDiscipline`] (the code the firmware runs): the edge says when a second
//! starts, another source (the system clock, a PHC) says which second it is.
//!
//! Two inputs: a kernel PPS device (`/dev/ppsN`, `PPS_FETCH`: the kernel timestamps
//! each edge on `CLOCK_REALTIME` in its interrupt handler), and a GPIO line read through
//! `linux-embedded-hal`'s character-device pin ([`CdevPin`]) by polling, whose edge is
//! known to within the polling interval. Either way the edge becomes a count of
//! [`RawCounter`] (`CLOCK_MONOTONIC_RAW` at 1 GHz), the local clock the
//! [`CounterClock`] disciplines.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use linux_embedded_hal::CdevPin;
use tempora_core::clock::{ClockReading, ClockSource};
use tempora_core::time::{Instant, Utc, NANOS_PER_SEC};
use tempora_embedded::{CounterClock, PpsDiscipline, PpsError, PpsEvent, PpsInput, TickCounter};

use crate::sys;

/// `CLOCK_MONOTONIC_RAW` as a 1 GHz tick counter: never stepped or slewed.
#[derive(Clone, Copy, Debug, Default)]
pub struct RawCounter;

impl TickCounter for RawCounter {
    fn ticks(&self) -> u64 {
        sys::clock_nanos(libc::CLOCK_MONOTONIC_RAW)
    }

    fn frequency_hz(&self) -> u32 {
        1_000_000_000
    }
}

/// One edge a kernel PPS device saw.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PpsEdge {
    /// The kernel's count of assert edges.
    pub sequence: u32,
    /// When it happened, on `CLOCK_REALTIME` (ns).
    pub realtime_ns: i128,
}

impl PpsEdge {
    /// The edge as a [`RawCounter`] count: now on the raw clock, less how long ago the
    /// edge was on the system clock (the two rates differ by at most 1 000 ppm, a few
    /// ns over the milliseconds since the edge).
    pub fn raw_ticks(&self) -> u64 {
        let rt = i128::from(sys::clock_nanos(libc::CLOCK_REALTIME));
        let raw = i128::from(sys::clock_nanos(libc::CLOCK_MONOTONIC_RAW));
        u64::try_from(raw - (rt - self.realtime_ns)).unwrap_or(0)
    }
}

/// A kernel PPS source, `/dev/ppsN`.
#[derive(Debug)]
pub struct PpsDevice {
    device: File,
    path: PathBuf,
    last_sequence: Option<u32>,
}

/// `PPS_CAPTUREASSERT` (linux/pps.h).
const PPS_CAPTUREASSERT: libc::c_int = 0x01;

impl PpsDevice {
    /// Opens the device and checks that it captures assert edges.
    pub fn open(path: impl AsRef<Path>) -> io::Result<Self> {
        let path = path.as_ref();
        let device = File::open(path)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
        let caps = sys::pps_caps(&device).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("{} is not a PPS source: {e}", path.display()),
            )
        })?;
        if caps & PPS_CAPTUREASSERT == 0 {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                format!("{} does not capture assert edges", path.display()),
            ));
        }
        Ok(Self {
            device,
            path: path.to_path_buf(),
            last_sequence: None,
        })
    }

    /// The device's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The next assert edge, waiting up to `timeout`; `None` if none came.
    pub fn next_edge(&mut self, timeout: Duration) -> io::Result<Option<PpsEdge>> {
        let info = match sys::pps_fetch(&self.device, timeout) {
            Ok(info) => info,
            Err(e) if e.raw_os_error() == Some(libc::ETIMEDOUT) => return Ok(None),
            Err(e) => return Err(e),
        };
        if info.assert_sequence == 0 || Some(info.assert_sequence) == self.last_sequence {
            return Ok(None);
        }
        self.last_sequence = Some(info.assert_sequence);
        Ok(Some(PpsEdge {
            sequence: info.assert_sequence,
            realtime_ns: i128::from(info.assert_tu.sec) * 1_000_000_000
                + i128::from(info.assert_tu.nsec),
        }))
    }
}

/// A GPIO line carrying a PPS signal, read through the GPIO character device by
/// polling ([`PpsInput`] over a [`CdevPin`], as a board polls its pin).
pub struct GpioPps {
    input: PpsInput<CdevPin>,
}

impl GpioPps {
    /// Requests `line` of `/dev/gpiochipN` at `chip` as an input, as consumer `tempora`.
    pub fn open(chip: impl AsRef<Path>, line: u32) -> io::Result<Self> {
        let fail = |e: gpio_cdev_error::Error| {
            io::Error::other(format!("{}: line {line}: {e}", chip.as_ref().display()))
        };
        let mut chip_dev = gpio_cdev_error::Chip::new(chip.as_ref()).map_err(fail)?;
        let handle = chip_dev
            .get_line(line)
            .map_err(fail)?
            .request(gpio_cdev_error::LineRequestFlags::INPUT, 0, "tempora")
            .map_err(fail)?;
        let pin = CdevPin::new(handle).map_err(fail)?;
        Ok(Self {
            input: PpsInput::new(pin),
        })
    }

    /// Samples the line: the [`RawCounter`] count now if it rose since the last sample.
    pub fn poll(&mut self) -> io::Result<Option<u64>> {
        match self.input.poll() {
            Ok(true) => Ok(Some(RawCounter.ticks())),
            Ok(false) => Ok(None),
            Err(e) => Err(io::Error::other(e.to_string())),
        }
    }
}

/// The gpio-cdev types `linux-embedded-hal` hands out.
mod gpio_cdev_error {
    pub use linux_embedded_hal::gpio_cdev::{errors::Error, Chip, LineRequestFlags};
}

/// Why an edge did not discipline the clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PpsEdgeError {
    /// The time-of-day source is too uncertain (or unbounded) to say which second the
    /// edge starts.
    Ambiguous {
        /// Its bound.
        bound: Duration,
    },
    /// The embedded discipline refused the edge (a glitch, say).
    Discipline(PpsError),
}

impl std::fmt::Display for PpsEdgeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Ambiguous { bound } => write!(
                f,
                "the time of day is known only to within {bound:?}: which second the edge starts is ambiguous"
            ),
            Self::Discipline(e) => write!(f, "PPS edge refused: {e:?}"),
        }
    }
}

impl std::error::Error for PpsEdgeError {}

/// A clock disciplined by PPS edges: [`CounterClock`] over [`RawCounter`], anchored at
/// each edge by the embedded [`PpsDiscipline`], the second numbered from a time-of-day
/// reading.
pub struct PpsClock {
    clock: CounterClock<RawCounter, Utc>,
    discipline: Mutex<PpsDiscipline<Utc>>,
}

impl std::fmt::Debug for PpsClock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PpsClock").finish_non_exhaustive()
    }
}

impl PpsClock {
    /// Edges known within `edge_bound` (the capture error plus the reference's own),
    /// the raw clock within `ppm` of true rate, fresh for `fresh_for` after an edge.
    pub fn new(edge_bound: Duration, ppm: u32, fresh_for: Duration) -> Self {
        Self {
            clock: CounterClock::new(RawCounter, ppm, fresh_for),
            discipline: Mutex::new(PpsDiscipline::new(edge_bound, ppm)),
        }
    }

    /// The clock.
    pub fn clock(&self) -> &CounterClock<RawCounter, Utc> {
        &self.clock
    }

    /// Takes an edge captured at `ticks` of the [`RawCounter`]; `time_of_day` is a
    /// reading of another source taken at (or near) the edge, which numbers the second
    /// the first time (and after a refused edge).
    pub fn edge(
        &self,
        ticks: u64,
        time_of_day: &ClockReading<Utc>,
    ) -> Result<PpsEvent, PpsEdgeError> {
        let mut d = self.discipline.lock().unwrap_or_else(|p| p.into_inner());
        match d.on_edge(&self.clock, ticks) {
            Err(PpsError::NoEpoch) => {
                d.set_next_second(nearest_second(time_of_day)?);
                d.on_edge(&self.clock, ticks)
                    .map_err(PpsEdgeError::Discipline)
            }
            Err(e) => {
                // Number the next edge afresh: a glitch may mean a lost count.
                if let Ok(next) = nearest_second(time_of_day) {
                    d.set_next_second(next.saturating_add(Duration::from_secs(1)));
                }
                Err(PpsEdgeError::Discipline(e))
            }
            Ok(event) => Ok(event),
        }
    }
}

/// The whole second a reading taken at an edge names: its time rounded, if the
/// reading's bound leaves no doubt which second that is.
fn nearest_second(r: &ClockReading<Utc>) -> Result<Instant<Utc>, PpsEdgeError> {
    let ns = r.time.as_nanos();
    let rounded = (ns + NANOS_PER_SEC / 2) / NANOS_PER_SEC * NANOS_PER_SEC;
    let off = ns.abs_diff(rounded);
    if r.bound.as_nanos() + u128::from(off) >= u128::from(NANOS_PER_SEC / 2) {
        return Err(PpsEdgeError::Ambiguous { bound: r.bound });
    }
    Ok(Instant::from_nanos(rounded))
}

impl ClockSource for PpsClock {
    type Scale = Utc;

    fn read(&self) -> ClockReading<Utc> {
        self.clock.read()
    }

    fn time(&self) -> Instant<Utc> {
        self.clock.time()
    }

    fn elapsed_reference(&self) -> Option<u64> {
        Some(RawCounter.ticks())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tempora_core::clock::ClockStatus;

    fn reading(ns: u64, bound_ms: u64) -> ClockReading<Utc> {
        ClockReading {
            time: Instant::from_nanos(ns),
            bound: Duration::from_millis(bound_ms),
            status: ClockStatus::Synchronized,
        }
    }

    #[test]
    fn the_second_is_named_only_when_unambiguous() {
        assert_eq!(
            nearest_second(&reading(1_700_000_000_020_000_000, 10)),
            Ok(Instant::from_nanos(1_700_000_000_000_000_000))
        );
        assert_eq!(
            nearest_second(&reading(1_699_999_999_990_000_000, 10)),
            Ok(Instant::from_nanos(1_700_000_000_000_000_000))
        );
        assert!(nearest_second(&reading(1_700_000_000_400_000_000, 200)).is_err());
    }

    #[test]
    fn edges_a_second_apart_discipline_the_raw_clock() {
        // Edges made up on the raw counter's own scale, one reference second apart,
        // with the counter 20 ppm fast; the time of day comes from a reading 3 ms off.
        let pps = PpsClock::new(Duration::from_micros(50), 100, Duration::from_secs(3));
        let t0 = RawCounter.ticks();
        let second = 1_800_000_000u64 * NANOS_PER_SEC;
        let tod = reading(second + 3_000_000, 5);
        assert_eq!(pps.edge(t0, &tod), Ok(PpsEvent::Anchored));
        let t1 = t0 + 1_000_020_000;
        assert_eq!(
            pps.edge(t1, &reading(second + NANOS_PER_SEC, 5)),
            Ok(PpsEvent::Disciplined {
                seconds: 1,
                error_ppb: 20_000
            })
        );
        // At the second edge the clock reads the edge's second.
        let e = pps.clock().discipline().estimate().unwrap();
        let at = Instant::from_nanos(t1);
        assert_eq!(
            at.saturating_add_offset(e.offset_at(at).saturating_neg())
                .as_nanos(),
            second + NANOS_PER_SEC
        );
        // A glitch half a second later is refused, and the clock keeps its anchor.
        assert!(matches!(
            pps.edge(
                t1 + 500_000_000,
                &reading(second + NANOS_PER_SEC + 500_000_000, 5)
            ),
            Err(PpsEdgeError::Discipline(PpsError::Glitch { .. }))
        ));
    }

    #[test]
    fn files_that_are_not_pps_devices_are_refused() {
        let err = PpsDevice::open("/proc/self/status").unwrap_err();
        assert!(err.to_string().contains("is not a PPS source"), "{err}");
        assert_eq!(
            PpsDevice::open("/dev/pps-none").unwrap_err().kind(),
            io::ErrorKind::NotFound
        );
        assert!(GpioPps::open("/dev/gpiochip-none", 0).is_err());
    }
}
