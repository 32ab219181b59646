//! Pulse-per-second inputs on Linux, disciplining a clock with the embedded adapter's
//! own [`PpsDiscipline`] (the code the firmware runs): the edge says when a second
//! starts, another source (the system clock, a PHC) says which second it is.
//!
//! Two inputs: a kernel PPS device (`/dev/ppsN`, `PPS_FETCH`: the kernel timestamps
//! each edge on `CLOCK_REALTIME` in its interrupt handler), and a GPIO line on the GPIO
//! character device, either waited on as line events (the kernel timestamps each rising
//! edge on `CLOCK_MONOTONIC` in its interrupt handler) or polled through
//! `linux-embedded-hal`'s [`CdevPin`] as a board polls its pin, the edge then known to
//! within the polling interval. Either way the edge becomes a count of [`RawCounter`]
//! (`CLOCK_MONOTONIC_RAW` at 1 GHz), the local clock the [`CounterClock`] disciplines.

use std::fs::File;
use std::io;
use std::os::fd::AsFd;
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

/// A count of [`RawCounter`] for an instant that another clock (`clock`, one of
/// `CLOCK_REALTIME`, `CLOCK_MONOTONIC`) read as `at_ns`: now on the raw clock, less how
/// long ago that was on the other clock (the two rates differ by at most 1 000 ppm, a
/// few ns over the milliseconds since).
fn raw_ticks_of(clock: libc::clockid_t, at_ns: i128) -> u64 {
    let other = i128::from(sys::clock_nanos(clock));
    let raw = i128::from(sys::clock_nanos(libc::CLOCK_MONOTONIC_RAW));
    u64::try_from(raw - (other - at_ns)).unwrap_or(0)
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
        raw_ticks_of(libc::CLOCK_REALTIME, self.realtime_ns)
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
    ///
    /// A waiting `PPS_FETCH` returns only an event that comes after the call, so an
    /// edge that came since the last call (while the caller did something else) is
    /// first looked for without waiting, by its sequence number.
    pub fn next_edge(&mut self, timeout: Duration) -> io::Result<Option<PpsEdge>> {
        if self.last_sequence.is_some() {
            // A zero timeout is less than a jiffy: the kernel answers without waiting.
            let info = sys::pps_fetch(&self.device, Duration::ZERO)?;
            if let Some(edge) = self.take(info) {
                return Ok(Some(edge));
            }
        }
        let info = match sys::pps_fetch(&self.device, timeout) {
            Ok(info) => info,
            Err(e) if e.raw_os_error() == Some(libc::ETIMEDOUT) => return Ok(None),
            Err(e) => return Err(e),
        };
        Ok(self.take(info))
    }

    /// The assert edge in `info` if it is new.
    fn take(&mut self, info: sys::PpsKinfo) -> Option<PpsEdge> {
        if info.assert_sequence == 0 || Some(info.assert_sequence) == self.last_sequence {
            return None;
        }
        self.last_sequence = Some(info.assert_sequence);
        Some(PpsEdge {
            sequence: info.assert_sequence,
            realtime_ns: i128::from(info.assert_tu.sec) * 1_000_000_000
                + i128::from(info.assert_tu.nsec),
        })
    }
}

/// One rising edge on a GPIO line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GpioEdge {
    /// When it happened, as a [`RawCounter`] count.
    pub ticks: u64,
    /// When it happened, on `CLOCK_REALTIME` (ns): the system clock's reading of the
    /// edge, for numbering its second.
    pub realtime_ns: i128,
}

impl GpioEdge {
    /// The edge at `ticks` of the raw counter, with the system clock's reading of it.
    fn at_ticks(ticks: u64) -> Self {
        let rt = i128::from(sys::clock_nanos(libc::CLOCK_REALTIME));
        let raw = i128::from(sys::clock_nanos(libc::CLOCK_MONOTONIC_RAW));
        Self {
            ticks,
            realtime_ns: rt - (raw - i128::from(ticks)),
        }
    }
}

/// How [`GpioPps`] learns of an edge.
enum GpioInput {
    /// Rising-edge line events: the kernel stamps each edge in its interrupt handler.
    Events(gpio_cdev_error::LineEventHandle),
    /// The line's level, sampled (the embedded [`PpsInput`] over a [`CdevPin`]).
    Polled(PpsInput<CdevPin>),
}

/// A GPIO line carrying a PPS signal, on the GPIO character device (`/dev/gpiochipN`).
///
/// [`GpioPps::open`] asks the kernel for rising-edge events, which it timestamps in the
/// line's interrupt handler: the edge is known to within the interrupt's latency, and
/// nothing runs between edges. [`GpioPps::open_polled`] samples the level instead,
/// through `linux-embedded-hal`'s [`CdevPin`] and the embedded [`PpsInput`] (the code
/// a board runs), for lines whose chip has no interrupt: the edge is then known to
/// within the polling interval, and the caller's loop costs a system call per sample.
pub struct GpioPps {
    input: GpioInput,
}

impl std::fmt::Debug for GpioPps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GpioPps")
            .field("events", &matches!(self.input, GpioInput::Events(_)))
            .finish_non_exhaustive()
    }
}

impl GpioPps {
    /// Requests `line` of `/dev/gpiochipN` at `chip` as an input with rising-edge
    /// events, as consumer `tempora`.
    pub fn open(chip: impl AsRef<Path>, line: u32) -> io::Result<Self> {
        let fail = gpio_error(chip.as_ref(), line);
        let events = gpio_line(chip.as_ref(), line)?
            .events(
                gpio_cdev_error::LineRequestFlags::INPUT,
                gpio_cdev_error::EventRequestFlags::RISING_EDGE,
                "tempora",
            )
            .map_err(&fail)?;
        Ok(Self {
            input: GpioInput::Events(events),
        })
    }

    /// Requests `line` of `/dev/gpiochipN` at `chip` as a plain input, as consumer
    /// `tempora`, to be sampled with [`GpioPps::poll`].
    pub fn open_polled(chip: impl AsRef<Path>, line: u32) -> io::Result<Self> {
        let fail = gpio_error(chip.as_ref(), line);
        let handle = gpio_line(chip.as_ref(), line)?
            .request(gpio_cdev_error::LineRequestFlags::INPUT, 0, "tempora")
            .map_err(&fail)?;
        let pin = CdevPin::new(handle).map_err(&fail)?;
        Ok(Self {
            input: GpioInput::Polled(PpsInput::new(pin)),
        })
    }

    /// Whether edges come as kernel-timestamped events ([`GpioPps::open`]).
    pub fn is_event_driven(&self) -> bool {
        matches!(self.input, GpioInput::Events(_))
    }

    /// Samples the line: the [`RawCounter`] count now if it rose since the last sample.
    /// On an event-driven line, the next queued edge if there is one, without waiting.
    pub fn poll(&mut self) -> io::Result<Option<u64>> {
        match &mut self.input {
            GpioInput::Polled(input) => match input.poll() {
                Ok(true) => Ok(Some(RawCounter.ticks())),
                Ok(false) => Ok(None),
                Err(e) => Err(io::Error::other(e.to_string())),
            },
            GpioInput::Events(_) => Ok(self.next_edge(Duration::ZERO)?.map(|e| e.ticks)),
        }
    }

    /// The next rising edge, waiting up to `timeout`; `None` if none came. An
    /// event-driven line sleeps in the kernel until the edge; a polled one is sampled
    /// every [`GpioPps::POLL_INTERVAL`], which is its capture error (plus the sleep's
    /// overshoot).
    pub fn next_edge(&mut self, timeout: Duration) -> io::Result<Option<GpioEdge>> {
        let deadline = std::time::Instant::now() + timeout;
        match &mut self.input {
            GpioInput::Events(events) => loop {
                let left = deadline.saturating_duration_since(std::time::Instant::now());
                if !crate::ptp::socket::wait_readable(&[events.as_fd()], left)? {
                    if left.is_zero() {
                        return Ok(None);
                    }
                    continue;
                }
                let event = events
                    .get_event()
                    .map_err(|e| io::Error::other(e.to_string()))?;
                if event.event_type() != gpio_cdev_error::EventType::RisingEdge {
                    continue;
                }
                // Since Linux 5.7 the v1 line event is stamped on CLOCK_MONOTONIC.
                let ticks = raw_ticks_of(libc::CLOCK_MONOTONIC, i128::from(event.timestamp()));
                return Ok(Some(GpioEdge::at_ticks(ticks)));
            },
            GpioInput::Polled(input) => loop {
                match input.poll() {
                    Ok(true) => return Ok(Some(GpioEdge::at_ticks(RawCounter.ticks()))),
                    Ok(false) => {}
                    Err(e) => return Err(io::Error::other(e.to_string())),
                }
                let now = std::time::Instant::now();
                if now >= deadline {
                    return Ok(None);
                }
                std::thread::sleep(Self::POLL_INTERVAL.min(deadline - now));
            },
        }
    }

    /// How often [`GpioPps::next_edge`] samples a polled line.
    pub const POLL_INTERVAL: Duration = Duration::from_millis(1);
}

/// An error of `line` on `chip` as an `io::Error` that names them.
/// Line `line` of the GPIO chip at `chip`, not yet requested.
fn gpio_line(chip: &Path, line: u32) -> io::Result<gpio_cdev_error::Line> {
    let fail = gpio_error(chip, line);
    gpio_cdev_error::Chip::new(chip)
        .map_err(&fail)?
        .get_line(line)
        .map_err(&fail)
}

fn gpio_error(chip: &Path, line: u32) -> impl Fn(gpio_cdev_error::Error) -> io::Error + '_ {
    move |e| io::Error::other(format!("{}: line {line}: {e}", chip.display()))
}

/// The gpio-cdev types `linux-embedded-hal` hands out.
mod gpio_cdev_error {
    pub use linux_embedded_hal::gpio_cdev::{
        errors::Error, Chip, EventRequestFlags, EventType, Line, LineEventHandle, LineRequestFlags,
    };
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
    /// The edge is further from a whole second of the time of day than the time of
    /// day's bound and the edge's together allow: the pulse does not mark the start of
    /// a second (a timer, not a PPS; the wrong polarity; a delay not compensated).
    OffSecond {
        /// How far the time of day at the edge is from its nearest whole second (ns).
        off_ns: u64,
        /// The time of day's bound plus the edge's.
        allowed: Duration,
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
            Self::OffSecond { off_ns, allowed } => write!(
                f,
                "PPS edge {off_ns} ns from the second the time of day names, more than its bound and the edge's ({allowed:?})"
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
    edge_bound: Duration,
}

impl std::fmt::Debug for PpsClock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PpsClock").finish_non_exhaustive()
    }
}

impl PpsClock {
    /// Edges known within `edge_bound` (the capture error plus the reference's own),
    /// the raw clock within `ppm` of true rate, fresh for `fresh_for` after an edge.
    ///
    /// The rate the discipline measures between two edges a second apart is itself off
    /// by up to twice `edge_bound` per second, so the clock's bound grows by that as well
    /// as by `ppm` between edges: 0.1 ppm more for a 50 ns edge, 2 000 ppm more for a
    /// GPIO line polled every millisecond.
    pub fn new(edge_bound: Duration, ppm: u32, fresh_for: Duration) -> Self {
        let rate_ppm = u32::try_from(edge_bound.as_nanos().saturating_mul(2).div_ceil(1_000))
            .unwrap_or(u32::MAX);
        Self {
            clock: CounterClock::new(RawCounter, ppm.saturating_add(rate_ppm), fresh_for),
            discipline: Mutex::new(PpsDiscipline::new(edge_bound, ppm)),
            edge_bound,
        }
    }

    /// The clock.
    pub fn clock(&self) -> &CounterClock<RawCounter, Utc> {
        &self.clock
    }

    /// Takes an edge captured at `ticks` of the [`RawCounter`]; `time_of_day` is a
    /// reading of another source at the edge (a reading taken later must be moved back
    /// to it, or carry the delay in its bound), which numbers the second the first time
    /// (and after a refused edge), and which every edge must agree with: an edge
    /// further from a whole second of it than its bound and the edge's allow is
    /// refused ([`PpsEdgeError::OffSecond`]), whatever the discipline would make of it.
    pub fn edge(
        &self,
        ticks: u64,
        time_of_day: &ClockReading<Utc>,
    ) -> Result<PpsEvent, PpsEdgeError> {
        let off_ns = off_second_ns(time_of_day);
        let allowed = time_of_day.bound.saturating_add(self.edge_bound);
        if Duration::from_nanos(off_ns) > allowed {
            return Err(PpsEdgeError::OffSecond { off_ns, allowed });
        }
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

/// How far (ns) a reading is from its nearest whole second.
fn off_second_ns(r: &ClockReading<Utc>) -> u64 {
    let ns = r.time.as_nanos();
    let rounded = (ns + NANOS_PER_SEC / 2) / NANOS_PER_SEC * NANOS_PER_SEC;
    ns.abs_diff(rounded)
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
        // A glitch half a second later on the counter, though the time of day (wrong,
        // or read late) puts it on a second: the discipline refuses it.
        assert!(matches!(
            pps.edge(
                t1 + 500_000_000,
                &reading(second + 2 * NANOS_PER_SEC + 1_000_000, 5)
            ),
            Err(PpsEdgeError::Discipline(PpsError::Glitch { .. }))
        ));
    }

    #[test]
    fn edges_off_the_second_are_refused() {
        // A timer that fires 300 ms into a second (as pps-ktimer's does, at whatever
        // phase it was loaded), read on a time of day good to 1 ms: refused, and the
        // clock stays unanchored rather than 300 ms off inside a 50 us bound.
        let pps = PpsClock::new(Duration::from_micros(50), 100, Duration::from_secs(3));
        let second = 1_800_000_000u64 * NANOS_PER_SEC;
        let err = pps
            .edge(RawCounter.ticks(), &reading(second + 300_000_000, 1))
            .unwrap_err();
        assert_eq!(
            err,
            PpsEdgeError::OffSecond {
                off_ns: 300_000_000,
                allowed: Duration::from_micros(1_050)
            }
        );
        assert!(err.to_string().contains("300000000 ns"), "{err}");
        assert!(pps.clock().discipline().estimate().is_none());
        // Just inside the two bounds together, it anchors.
        assert_eq!(
            pps.edge(RawCounter.ticks(), &reading(second + 1_040_000, 1)),
            Ok(PpsEvent::Anchored)
        );
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
