//! The daemon's part in the host-wide [time service](crate::timeservice): opening the
//! segment for a run, publishing each source's reading, and `tempora now` reading it.

use std::path::Path;

use tempora_core::clock::ClockSource;
use tempora_core::time::TaiOffset;

use super::{ClockOptions, Schedule, Source, StatusLine};
use crate::clock::TaiAsUtc;
use crate::ptp::{Timestamps, VirtualClock};
use crate::timeservice::{Health, OpenError, Publisher, PublisherOptions, Reader};
use crate::SystemClock;

/// How fast the kernel's `maxerror` grows, 500 ppm: what a system clock reading's bound
/// grows by between publications (as [`SystemClock`] grows it between `adjtimex` reads).
pub(super) const SYSTEM_DRIFT_PPB: u32 = 500_000;

/// Where and for whom a run publishes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimeServiceOptions {
    /// The segment (`PATH` and `PATH.hlc`).
    pub path: std::path::PathBuf,
    /// A group whose members may take host-wide HLC timestamps.
    pub hlc_group: Option<u32>,
}

/// Takes over the segment for a run from `source`, publishing every status interval.
pub fn open_publisher(
    service: &TimeServiceOptions,
    clock: &ClockOptions,
    schedule: &Schedule,
    source: &Source,
    tai_minus_utc: TaiOffset,
) -> Result<Publisher, OpenError> {
    let mut options = PublisherOptions::new(schedule.interval, clock.node, source.to_string());
    options.tai_minus_utc = tai_minus_utc;
    options.hlc_group = service.hlc_group;
    options.max_offset = clock.max_offset;
    Publisher::open(&service.path, &options)
}

/// Publishes the system clock's reading: the kernel's bound, growing as the kernel
/// grows it.
pub(super) fn publish_system(publisher: &mut Publisher, clock: &SystemClock) {
    publisher.publish_realtime_reading(&clock.read(), SYSTEM_DRIFT_PPB);
}

/// Publishes a PTP slave's reading. With software timestamps its local clock is
/// `CLOCK_REALTIME` itself, so the estimate's frequency carries over; with hardware
/// ones it is the NIC's clock, whose rate against `CLOCK_REALTIME` nobody measured,
/// so the bound grows by the kernel's worst case on top of the discipline's drift.
pub(super) fn publish_ptp(
    publisher: &mut Publisher,
    clock: &TaiAsUtc<&VirtualClock>,
    timestamps: Timestamps,
) {
    let (frequency, drift) = ptp_rate(clock.inner(), timestamps);
    publisher.publish_reading(|| clock.read(), frequency, drift);
}

/// How a PTP slave's time moves against `CLOCK_REALTIME`: its estimated frequency
/// (ppt) and its bound's growth (ppb), as [`publish_ptp`] says.
pub(super) fn ptp_rate(clock: &VirtualClock, timestamps: Timestamps) -> (i64, u32) {
    let drift = clock.config().drift_ppb;
    match timestamps {
        Timestamps::Software => (
            clock.estimate().map_or(0, |e| e.sample.frequency_ppt),
            drift,
        ),
        Timestamps::Hardware { .. } => (0, foreign_drift(drift)),
    }
}

/// A bound's growth against `CLOCK_REALTIME` for a source on a clock of its own (a
/// PHC): its own drift, plus the kernel's worst case, as nobody measured the rate
/// between the two.
pub(super) fn foreign_drift(source_drift_ppb: u32) -> u32 {
    source_drift_ppb.saturating_add(SYSTEM_DRIFT_PPB)
}

/// Publishes a reading of a source on a clock of its own (a PHC source, or a chain
/// reading one): no known rate against `CLOCK_REALTIME`, so the bound grows by
/// [`foreign_drift`].
pub(super) fn publish_foreign<C: ClockSource<Scale = tempora_core::time::Utc>>(
    publisher: &mut Publisher,
    clock: &C,
    source_drift_ppb: u32,
) {
    publisher.publish_reading(|| clock.read(), 0, foreign_drift(source_drift_ppb));
}

/// `tempora now` through a running daemon: its status line (the daemon's source, this
/// process's bounded read, a host-wide HLC timestamp where this user may take one, else
/// one from an HLC of its own on the host's node), and the daemon's health. An error
/// says why not (no segment, no live daemon), for the caller to fall back on.
pub fn now_from_service(path: &Path) -> Result<(StatusLine, Health), String> {
    let reader = Reader::open(path).map_err(|e| e.to_string())?;
    let health = reader.health().map_err(|e| e.to_string())?;
    if !health.is_live() {
        return Err(if !health.header.running {
            "no daemon running".to_string()
        } else if !health.pid_alive {
            format!("daemon pid {} is gone", health.header.pid)
        } else {
            format!("daemon pid {} stopped publishing", health.header.pid)
        });
    }
    let reading = reader.read();
    let hlc = match reader.hlc() {
        Ok(hlc) => hlc.now(),
        Err(_) => tempora_core::hlc::Hlc::new(SystemClock::new(), reader.node()).now(),
    };
    let source = reader.source().parse().unwrap_or(Source::System);
    Ok((StatusLine::new(source, &reading, hlc), health))
}
