//! The daemon's PHC work: list the machine's PHCs, read one as a bounded source, and
//! steer a clock to one (`tempora phc list`, `--source phc:...`, `tempora phc sync`).

use std::io::{self, Write};
use std::sync::Arc;
use std::time::{Duration, Instant as MonoInstant};

use tempora_core::clock::{ClockReading, ClockSource, ClockStatus};
use tempora_core::hlc::Hlc;
use tempora_core::time::{Offset, TaiOffset, Utc};

use crate::clock::phc::discovery;
use crate::clock::phc::steer::{self, SyncOptions, SyncUpdate};
use crate::clock::phc::{PhcSelector, PhcSource, PhcSourceConfig};
use crate::clock::SystemClock;
use crate::clock::TaiAsUtc;
use crate::hooks::CountingHooks;
use crate::stop::StopSignal;
use crate::timeservice::Publisher;

use super::{ClockOptions, Error, RunSummary, Schedule, Source, StatusLine};

/// How a PHC source is read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PhcOptions {
    /// Which PHC.
    pub selector: PhcSelector,
    /// How it is measured.
    pub config: PhcSourceConfig,
    /// TAI - UTC, for readings in UTC.
    pub tai_minus_utc: TaiOffset,
    /// How long to wait for the first estimate.
    pub warmup: Duration,
}

fn phc_error(selector: &PhcSelector, source: io::Error) -> Error {
    Error::Phc {
        phc: selector.to_string(),
        source,
    }
}

/// Prints one line per PHC (`/dev/ptp0 clock_name=... interfaces=eth0
/// cross_timestamps=extended refused=precise max_adj=...`), or that there is none.
/// Returns how many there are.
pub fn list(out: &mut impl Write) -> io::Result<usize> {
    let phcs = discovery::list()?;
    if phcs.is_empty() {
        writeln!(
            out,
            "no PTP hardware clocks (/sys/class/ptp is empty or absent)"
        )?;
    }
    for p in &phcs {
        writeln!(out, "{p}")?;
    }
    Ok(phcs.len())
}

/// One PHC reading as a status line; `offset` is the system clock minus the PHC's
/// time, both on UTC, read together.
fn phc_line(hlc: &Hlc<TaiAsUtc<&PhcSource>, &CountingHooks>, selector: &PhcSelector) -> StatusLine {
    let reading = hlc.clock().read();
    let system = SystemClock::realtime_nanos();
    let mut line = StatusLine::new(Source::Phc(selector.clone()), &reading, hlc.now());
    line.offset = i64::try_from(i128::from(system) - i128::from(reading.time.as_nanos()))
        .ok()
        .map(Offset::from_nanos);
    line
}

pub(super) fn open(options: &PhcOptions, hooks: &Arc<CountingHooks>) -> Result<PhcSource, Error> {
    let source = PhcSource::open(
        options.selector.clone(),
        options.config,
        options.warmup,
        Arc::clone(hooks) as Arc<dyn tempora_core::hooks::FaultHook + Send + Sync>,
    )
    .map_err(|e| phc_error(&options.selector, e))?;
    let reading = TaiAsUtc::new(&source, options.tai_minus_utc).read();
    if let Some(why) = disagreement(&reading, &SystemClock::new().read()) {
        tracing::warn!(
            phc = %options.selector,
            "{why}: is something disciplining this PHC, and on the timescale --phc-timescale says?"
        );
    }
    Ok(source)
}

/// Why a PHC's reading and the system clock's cannot both be right (their intervals do
/// not meet, with a millisecond for the reads between them), if they cannot. A PHC
/// source trusts its PHC: one that nothing disciplines reads as `synchronized` at the
/// wrong time, so this is said once at the start, where an operator sees it.
pub fn disagreement(phc: &ClockReading<Utc>, system: &ClockReading<Utc>) -> Option<String> {
    if phc.status == ClockStatus::Unknown || system.status == ClockStatus::Unknown {
        return None;
    }
    let apart = phc.time.abs_diff(system.time);
    let allowed = phc
        .bound
        .saturating_add(system.bound)
        .saturating_add(Duration::from_millis(1));
    (apart > allowed).then(|| {
        format!(
            "the PHC reads {:.6} s from the system clock, beyond both their bounds ({:.6} s)",
            apart.as_secs_f64() * if phc.time < system.time { -1.0 } else { 1.0 },
            allowed.as_secs_f64()
        )
    })
}

/// The PHC's status line now (what `tempora now --source phc:...` prints).
pub fn now(clock: &ClockOptions, options: &PhcOptions) -> Result<StatusLine, Error> {
    let hooks = Arc::new(CountingHooks::new());
    let source = open(options, &hooks)?;
    let hlc = Hlc::with_hooks(
        TaiAsUtc::new(&source, options.tai_minus_utc),
        clock.node,
        clock.hlc_config(),
        &*hooks,
    );
    Ok(phc_line(&hlc, &options.selector))
}

/// Prints the PHC source's status line every interval until stopped; faults (a frozen
/// or lost PHC) are logged and counted, and the source coasts in holdover meanwhile.
pub fn run(
    clock: &ClockOptions,
    options: &PhcOptions,
    schedule: &Schedule,
    mut publisher: Option<&mut Publisher>,
    stop: &StopSignal,
    out: &mut impl Write,
    metrics: Option<&super::DaemonMetrics>,
) -> Result<RunSummary, Error> {
    let hooks = Arc::new(CountingHooks::new());
    let source = open(options, &hooks)?;
    let hlc = Hlc::with_hooks(
        TaiAsUtc::new(&source, options.tai_minus_utc),
        clock.node,
        clock.hlc_config(),
        &*hooks,
    );
    let started = MonoInstant::now();
    let mut lines = 0u64;
    loop {
        if let Some(p) = publisher.as_deref_mut() {
            super::service::publish_foreign(p, hlc.clock(), options.config.drift_ppb);
        }
        let line = phc_line(&hlc, &options.selector);
        if let Some(p) = publisher.as_deref_mut() {
            super::service::record(p, &line);
        }
        if let Some(m) = metrics {
            m.observe(&line);
        }
        if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
            break;
        }
        if lines == 0 {
            super::notify::ready("reading a PTP hardware clock");
        }
        lines += 1;
        if !schedule.wait_for_line(started, lines, stop) {
            break;
        }
    }
    Ok(RunSummary::of(started, lines, &hooks))
}

/// Steers as `options` say (the system clock to the PHC, or the PHC to the system
/// clock), printing one line per update. Only ever run when the user asks for it.
pub fn sync(
    selector: &PhcSelector,
    options: &SyncOptions,
    stop: &StopSignal,
    out: &mut impl Write,
) -> Result<u64, Error> {
    let path = selector.resolve().map_err(|e| phc_error(selector, e))?;
    let phc = match options.steered {
        steer::Steered::Phc => crate::clock::PhcClock::open_writable(&path),
        steer::Steered::System => crate::clock::PhcClock::open_path(&path),
    }
    .map_err(|e| phc_error(selector, e))?;
    steer::run_sync(&phc, options, stop, |u: &SyncUpdate| {
        let _ = writeln!(out, "phc-sync {} {u}", path.display()).and_then(|()| out.flush());
    })
    .map_err(|e| phc_error(selector, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tempora_core::time::Instant;

    fn reading(secs: u64, bound_ms: u64, status: ClockStatus) -> ClockReading<Utc> {
        ClockReading {
            time: Instant::from_nanos(secs * 1_000_000_000),
            bound: Duration::from_millis(bound_ms),
            status,
        }
    }

    #[test]
    fn a_phc_far_from_the_system_clock_beyond_both_bounds_is_said() {
        let system = reading(1_000, 16_000, ClockStatus::FreeRunning);
        // 2199 s ahead (what QEMU's igb PHC read in the guest), a 140 ns bound.
        let phc = reading(3_199, 0, ClockStatus::Synchronized);
        let why = disagreement(&phc, &system).unwrap();
        assert!(why.contains("2199.000000 s from the system clock"), "{why}");
        // Within the system clock's own 16 s bound: nothing to say.
        assert_eq!(
            disagreement(&reading(1_010, 0, ClockStatus::Synchronized), &system),
            None
        );
        // Behind, with a tight system clock.
        let ntp = reading(1_000, 5, ClockStatus::Synchronized);
        let behind = disagreement(&reading(963, 0, ClockStatus::Synchronized), &ntp).unwrap();
        assert!(behind.contains("-37.000000 s"), "{behind}");
        // An unknown reading proves nothing.
        assert_eq!(
            disagreement(&reading(0, 0, ClockStatus::Unknown), &ntp),
            None
        );
    }
}
