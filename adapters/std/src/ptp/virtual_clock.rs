//! The virtual clock a PTP slave disciplines: its local clock (the system clock or a
//! NIC's PHC, shifted onto TAI) corrected by the core's clock
//! [`Discipline`], a [`ClockSource`] on the TAI
//! scale with a bound and a status. The host clock is never stepped or slewed.
//!
//! This module only supplies the local clock; the lock, freshness and holdover policy,
//! and the bound's growth, are the core's, the same code a board's counter runs.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};

use tempora_core::clock::{ClockReading, ClockSource};
use tempora_core::discipline::{Discipline, DisciplineConfig, DisciplineError, Estimate};
use tempora_core::ptp::port::Measurement;
use tempora_core::time::{Instant, Offset, Tai, TaiOffset};

use crate::clock::phc::PhcClock;
use crate::clock::system::SystemClock;

/// The clock a PTP node timestamps on: `CLOCK_REALTIME` (software timestamps) or the
/// NIC's PHC (hardware ones), plus a shift that puts it on TAI (TAI - UTC, plus any
/// offset a test injects). Free-running: its readings carry no bound.
#[derive(Debug)]
pub struct LocalClock {
    shift: Offset,
    /// The base clock: a PHC, or `CLOCK_REALTIME` when `None`.
    phc: RwLock<Option<Arc<PhcClock>>>,
    /// PHC minus `CLOCK_REALTIME` at the last good PHC reading (ns): should the PHC stop
    /// reading (a NIC unplugged), local time carries on from the system clock without
    /// a jump, and the holdover bound grows from there.
    phc_minus_realtime: AtomicI64,
}

impl LocalClock {
    /// `CLOCK_REALTIME + shift`.
    pub fn new(shift: Offset) -> Self {
        Self {
            shift,
            phc: RwLock::new(None),
            phc_minus_realtime: AtomicI64::new(0),
        }
    }

    /// The shift onto TAI.
    pub fn shift(&self) -> Offset {
        self.shift
    }

    fn set_base(&self, phc: Option<Arc<PhcClock>>) {
        *self.phc.write().unwrap_or_else(|p| p.into_inner()) = phc;
    }

    /// A timestamp the transport took (ns on the base clock) as local time; `None`
    /// outside the representable range.
    pub fn stamp(&self, raw_ns: i128) -> Option<Instant<Tai>> {
        let ns = raw_ns.checked_add(i128::from(self.shift.as_nanos()))?;
        u64::try_from(ns).ok().map(Instant::from_nanos)
    }

    fn base_ns(&self) -> i128 {
        let realtime = i128::from(SystemClock::realtime_nanos());
        let phc = self.phc.read().unwrap_or_else(|p| p.into_inner());
        match phc.as_ref().map(|c| c.now_ns()) {
            None => realtime,
            Some(Ok(t)) => {
                let diff = i64::try_from(t - realtime).unwrap_or(0);
                self.phc_minus_realtime.store(diff, Ordering::Relaxed);
                t
            }
            Some(Err(_)) => realtime + i128::from(self.phc_minus_realtime.load(Ordering::Relaxed)),
        }
    }
}

impl ClockSource for LocalClock {
    type Scale = Tai;

    fn read(&self) -> ClockReading<Tai> {
        ClockReading::unknown(self.time())
    }

    fn time(&self) -> Instant<Tai> {
        // Before 1970 or after 2554 cannot happen on a running host; clamp rather than
        // wrap should a broken PHC claim it.
        let ns = self.base_ns() + i128::from(self.shift.as_nanos());
        Instant::from_nanos(u64::try_from(ns.max(0)).unwrap_or(u64::MAX))
    }
}

/// A local clock corrected by a PTP slave's estimate: `master = local - offset`.
///
/// Readings are TAI. Until the first measurement they are the local clock's own,
/// [`ClockStatus::Unknown`](tempora_core::clock::ClockStatus::Unknown) and unbounded; after it, the core discipline's (see
/// [`Measurement::sample`] for what the bound is made of).
#[derive(Debug)]
pub struct VirtualClock {
    discipline: Discipline<LocalClock>,
    /// TAI - UTC, for the offset of the system clock a user reads.
    utc: TaiOffset,
}

impl VirtualClock {
    /// A clock whose local time is `CLOCK_REALTIME + shift`, not yet disciplined;
    /// `utc` is TAI - UTC, `config` how freshness and holdover are judged.
    pub fn new(shift: Offset, utc: TaiOffset, config: DisciplineConfig) -> Self {
        Self {
            discipline: Discipline::new(LocalClock::new(shift), config),
            utc,
        }
    }

    /// The local clock.
    pub fn local(&self) -> &LocalClock {
        self.discipline.local()
    }

    /// The discipline's configuration.
    pub fn config(&self) -> &DisciplineConfig {
        self.discipline.config()
    }

    /// Takes `phc` as the base clock (`None`: the system clock). The estimate is
    /// dropped: it described the other clock.
    pub fn set_base(&self, phc: Option<Arc<PhcClock>>) -> Result<(), DisciplineError> {
        self.discipline.local().set_base(phc);
        self.discipline.reset()
    }

    /// Feeds a slave's measurement; `to_tai` is what puts the master's time on TAI (0
    /// for a master on the PTP timescale; TAI - UTC for an ARB master, which in practice,
    /// linuxptp on `CLOCK_REALTIME`, sends UTC).
    pub fn update(&self, m: &Measurement, to_tai: Offset) -> Result<(), DisciplineError> {
        let mut sample = m.sample();
        // local - master_tai = local - (master + to_tai).
        sample.offset = sample.offset.saturating_sub(to_tai);
        self.discipline.update(sample).map(|_| ())
    }

    /// The current estimate, if disciplined.
    pub fn estimate(&self) -> Option<Estimate<Tai>> {
        self.discipline.estimate()
    }

    /// How far the base clock is ahead of the master, on one timescale: the number a
    /// user means by "offset" (for a PHC, the UTC-TAI convention of the system clock is
    /// assumed for it too). `None` until disciplined.
    pub fn system_offset(&self) -> Option<Offset> {
        // local = base + shift and the discipline's offset is local - master (TAI); the
        // base is UTC, so base - master (UTC) = offset - shift + (TAI - UTC).
        let e = self.estimate()?;
        let offset = e.offset_at(self.local().time());
        Some(
            offset
                .saturating_sub(self.local().shift())
                .saturating_add(Offset::from(self.utc)),
        )
    }
}

impl ClockSource for VirtualClock {
    type Scale = Tai;

    fn read(&self) -> ClockReading<Tai> {
        self.discipline.read()
    }

    fn time(&self) -> Instant<Tai> {
        self.discipline.time()
    }
}
