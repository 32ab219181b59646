//! The virtual clock a PTP slave disciplines: its local clock (the system clock or a
//! NIC's PHC) corrected by the estimated offset and frequency, a [`ClockSource`] on the
//! TAI scale with a bound and a status. The host clock is never stepped or slewed.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use tempora_core::clock::{ClockReading, ClockSource, ClockStatus};
use tempora_core::time::{Instant, Tai};

use crate::clock::phc::PhcClock;
use crate::clock::system::SystemClock;

/// The slave's estimate as the virtual clock holds it: what the bound is made of.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Discipline {
    /// Local time (ns) of the prediction.
    pub at: i128,
    /// Local minus master (ns) at `at`.
    pub offset: f64,
    /// Local minus master frequency (ppb).
    pub frequency: f64,
    /// Standard deviation of `offset` (ns).
    pub sigma: f64,
    /// The path noise of one exchange (ns).
    pub noise: f64,
    /// Mean path delay (ns).
    pub delay: f64,
    /// The status readings carry.
    pub status: ClockStatus,
}

/// `offset=+212.0ns freq=+12.345ppb sigma=18.0ns noise=35.0ns delay=4100.0ns
/// status=synchronized at=...ns`: the estimate in the filter's own units.
impl std::fmt::Display for Discipline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "offset={:+.1}ns freq={:+.3}ppb sigma={:.1}ns noise={:.1}ns delay={:.1}ns status={} at={}ns",
            self.offset, self.frequency, self.sigma, self.noise, self.delay, self.status, self.at
        )
    }
}

/// The system clock corrected by a PTP slave's estimate: `master = local - offset`.
///
/// Readings are TAI. The bound is three standard deviations of the offset estimate plus
/// the mean path delay: a path's asymmetry is invisible to PTP and can be anywhere up to
/// the delay itself (the filter takes each direction at its floor, so the residual
/// asymmetry is that of the floors, which lie below the mean delay). It grows while no
/// exchange completes (holdover).
#[derive(Debug)]
pub struct VirtualClock {
    /// Local time = the base clock + `shift` (TAI - UTC, plus any injected offset).
    pub(crate) shift: i128,
    /// The base clock: a PHC, or `CLOCK_REALTIME` when `None`.
    phc: RwLock<Option<Arc<PhcClock>>>,
    /// PHC minus `CLOCK_REALTIME` at the last good PHC reading (ns): should the PHC stop
    /// reading (a NIC unplugged), local time carries on from the system clock without
    /// a jump, and the holdover bound grows from there.
    phc_minus_realtime: std::sync::atomic::AtomicI64,
    /// Added to readings to put the master's time on TAI: 0 for a master on the PTP
    /// timescale; TAI - UTC for an ARB master, which in practice (linuxptp on
    /// `CLOCK_REALTIME`) sends UTC.
    pub(crate) to_tai: std::sync::atomic::AtomicI64,
    /// TAI - UTC (ns).
    utc: i128,
    state: Mutex<Option<Discipline>>,
}

impl VirtualClock {
    /// A clock whose local time is `CLOCK_REALTIME + shift_ns`, not yet disciplined;
    /// `utc_offset_ns` is TAI - UTC.
    pub fn new(shift_ns: i128, utc_offset_ns: i128) -> Self {
        Self {
            shift: shift_ns,
            phc: RwLock::new(None),
            phc_minus_realtime: std::sync::atomic::AtomicI64::new(0),
            to_tai: std::sync::atomic::AtomicI64::new(0),
            utc: utc_offset_ns,
            state: Mutex::new(None),
        }
    }

    /// Takes `phc` as the base clock (`None`: the system clock). The estimate is
    /// dropped: it described the other clock.
    pub fn set_base(&self, phc: Option<Arc<PhcClock>>) {
        *self.phc.write().unwrap_or_else(|p| p.into_inner()) = phc;
        *self.state.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// How far the base clock is ahead of the master (ns), on one timescale: the
    /// number a user means by "offset" (for a PHC, the UTC-TAI convention of the system
    /// clock is assumed for it too). `None` until disciplined.
    pub fn system_offset(&self) -> Option<f64> {
        // local = system + shift; the master's TAI = its raw time + to_tai; the system
        // clock is UTC = TAI - (TAI - UTC).
        let offset = self.estimate()?.offset;
        let to_tai = self.to_tai.load(Ordering::Relaxed) as f64;
        Some(offset - self.shift as f64 - to_tai + self.utc as f64)
    }

    /// Local time now (ns), before correction.
    pub fn local_ns(&self) -> i128 {
        let realtime = i128::from(SystemClock::realtime_nanos());
        let phc = self.phc.read().unwrap_or_else(|p| p.into_inner());
        let base = match phc.as_ref().map(|c| c.now_ns()) {
            None => realtime,
            Some(Ok(t)) => {
                let diff = i64::try_from(t - realtime).unwrap_or(0);
                self.phc_minus_realtime.store(diff, Ordering::Relaxed);
                t
            }
            Some(Err(_)) => realtime + i128::from(self.phc_minus_realtime.load(Ordering::Relaxed)),
        };
        base + self.shift
    }

    /// The current estimate, if disciplined.
    pub fn estimate(&self) -> Option<Discipline> {
        *self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn set(&self, d: Discipline) {
        *self.state.lock().unwrap_or_else(|p| p.into_inner()) = Some(d);
    }
}

impl ClockSource for VirtualClock {
    type Scale = Tai;

    fn read(&self) -> ClockReading<Tai> {
        let local = self.local_ns();
        let d = *self.state.lock().unwrap_or_else(|p| p.into_inner());
        let clamp = |ns: i128| Instant::<Tai>::from_nanos(ns.clamp(0, i128::from(u64::MAX)) as u64);
        match d {
            None => ClockReading {
                time: clamp(local),
                bound: Duration::MAX,
                status: ClockStatus::Unknown,
            },
            Some(d) => {
                let dt = (local - d.at) as f64 / 1e9;
                let offset = d.offset + d.frequency * dt;
                let bound = 3.0 * d.sigma + d.delay.abs();
                let to_tai = i128::from(self.to_tai.load(Ordering::Relaxed));
                ClockReading {
                    time: clamp(local - offset as i128 + to_tai),
                    bound: Duration::from_nanos(bound.max(0.0) as u64),
                    status: d.status,
                }
            }
        }
    }
}
