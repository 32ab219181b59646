//! The daemon's part in the host-wide [time service](crate::timeservice): opening the
//! segment for a run, publishing each source's reading, and `tempora now` reading it.

use std::path::Path;
use std::time::Duration;

use tempora_core::clock::ClockSource;
use tempora_core::time::TaiOffset;

use super::{ClockOptions, Schedule, Source, StatusLine};
use crate::clock::SystemClock;
use crate::clock::TaiAsUtc;
use crate::ptp::{Timestamps, VirtualClock};
use crate::timeservice::{Health, HistoryEntry, OpenError, Publisher, PublisherOptions, Reader};

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

/// Journals `line` in the segment, for `tempora status` and `tempora top`.
pub(super) fn record(publisher: &mut Publisher, line: &StatusLine) {
    publisher.record(&HistoryEntry {
        time: line.time,
        status: line.status,
        offset: line.offset,
        bound: line.bound,
    });
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
    let config = clock.config();
    let estimate = clock.estimate();
    // Before the port locks, the discipline coasts without the estimate's frequency
    // and grows the bound at the clock's tolerance: publish it the same way.
    let drift = estimate.map_or(config.drift_ppb, |e| e.growth_ppb(config));
    match timestamps {
        Timestamps::Software => (
            estimate
                .filter(|e| e.sample.locked)
                .map_or(0, |e| e.sample.frequency_ppt),
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

/// Seconds with nanosecond digits, as the status line prints them.
fn seconds(d: Duration) -> String {
    format!("{}.{:09}s", d.as_secs(), d.subsec_nanos())
}

/// `values` as a one-line chart of eight heights from their smallest to their largest
/// (a missing value, NaN, at the bottom).
fn sparkline(values: &[f64]) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let finite = values.iter().copied().filter(|v| v.is_finite());
    let (min, max) = finite.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    values
        .iter()
        .map(|v| {
            if !v.is_finite() || max <= min {
                BARS[0]
            } else {
                BARS[(((v - min) / (max - min)) * 7.0).round().clamp(0.0, 7.0) as usize]
            }
        })
        .collect()
}

/// A chart line: the sparkline and the range it spans, in seconds.
fn chart(values: &[f64]) -> String {
    let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    let (lo, hi) = finite
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(*v), hi.max(*v))
        });
    if finite.is_empty() {
        return "-".to_string();
    }
    let s = |ns: f64| seconds(Duration::from_nanos(ns.max(0.0) as u64));
    format!("{}  {} .. {}", sparkline(values), s(lo), s(hi))
}

/// What `tempora status` prints: the daemon behind the segment at `path` (alive,
/// stopped or gone), its source and this process's bounded read now, the journal's last
/// `lines` status lines with a chart of the bound and the offset, and its warnings.
/// Works after the daemon stopped too: the journal stays for a post-mortem.
pub fn status_report(path: &Path, lines: usize) -> Result<String, String> {
    use std::fmt::Write as _;
    let reader = Reader::open(path).map_err(|e| e.to_string())?;
    let health = reader.health().map_err(|e| e.to_string())?;
    let h = &health.header;
    let state = if health.is_live() {
        "running"
    } else if !h.running {
        "stopped"
    } else if !health.pid_alive {
        "gone (killed?)"
    } else {
        "not publishing"
    };
    let mut out = String::new();
    let age = health.heartbeat_age.map_or("never".to_string(), |a| {
        format!("{:.3} s ago", a.as_secs_f64())
    });
    let _ = writeln!(
        out,
        "daemon: pid {} {state}, generation {}, {} publications every {}, last {age}",
        h.pid,
        h.generation,
        health.publications,
        seconds(h.interval)
    );
    let _ = writeln!(out, "source: {}", reader.source());
    let now = reader.read();
    if now.status == tempora_core::clock::ClockStatus::Unknown {
        let _ = writeln!(out, "now:    unknown (no live daemon publishing)");
    } else {
        let _ = writeln!(out, "now:    {now}");
    }
    let history = reader.history();
    let shown = &history[history.len().saturating_sub(lines)..];
    if !shown.is_empty() {
        let bounds: Vec<f64> = shown
            .iter()
            .map(|e| e.bound.map_or(f64::NAN, |b| b.as_nanos() as f64))
            .collect();
        let offsets: Vec<f64> = shown
            .iter()
            .map(|e| {
                e.offset
                    .map_or(f64::NAN, |o| o.as_nanos().unsigned_abs() as f64)
            })
            .collect();
        let _ = writeln!(out, "bound:    {}", chart(&bounds));
        let _ = writeln!(out, "|offset|: {}", chart(&offsets));
    }
    let _ = writeln!(
        out,
        "history ({} of the last {}):",
        shown.len(),
        history.len()
    );
    for e in shown {
        let offset = e.offset.map_or("-".to_string(), |o| o.to_string());
        let bound = e.bound.map_or("unbounded".to_string(), seconds);
        let _ = writeln!(
            out,
            "  {}  {:<12} offset={offset} bound={bound}",
            e.time,
            e.status.as_str()
        );
    }
    let events = reader.events();
    let _ = writeln!(out, "warnings ({}):", events.len());
    for e in &events {
        let _ = writeln!(out, "  {}  {}", e.time, e.text);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sparkline_scales_to_its_largest_value() {
        assert_eq!(sparkline(&[0.0, 1.0, 2.0, 4.0]), "▁▃▅█");
        assert_eq!(sparkline(&[16.0, 16.5, 17.0]), "▁▅█");
        assert_eq!(sparkline(&[0.0, 0.0]), "▁▁");
        assert_eq!(sparkline(&[f64::NAN, 1.0, 3.0]), "▁▁█");
        assert_eq!(sparkline(&[]), "");
        assert_eq!(
            chart(&[1_000.0, 3_000.0]),
            "▁█  0.000001000s .. 0.000003000s"
        );
        assert_eq!(chart(&[f64::NAN]), "-");
    }
}
