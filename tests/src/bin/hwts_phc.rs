//! Runs inside the hardware-timestamping guest (`tests/hwts`), on the real igb and
//! e1000e drivers' PTP hardware clocks. One scenario per subcommand; each prints what it
//! measured (`hwts-checks` reads it back into the docs' figures) and exits non-zero on
//! any failed expectation:
//!
//! - `methods DEV`: discovery, capabilities, and every cross-timestamp method's window
//!   (the fallback chain: igb refuses PRECISE).
//! - `fast DEV SECONDS PPB`: sets the PHC's time and frequency on purpose, then checks
//!   that fast reads of a [`PhcSource`] keep the PHC inside their bound and never go
//!   backwards, for SECONDS.
//! - `fault PHC` (a path, index or interface): a PHC that runs at an implausible rate or not at all (QEMU's e1000e)
//!   must be reported within one check interval and never read as synchronized.
//! - `hotplug IFACE`: the NIC is unplugged and plugged back through QEMU's monitor
//!   (lines `== QMP ...`, which `hwts-qmp` on the host carries out); the source must
//!   report the loss, coast in holdover, re-open the device and synchronize again,
//!   without a reading going backwards.

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant as MonoInstant};

use tempora_core::clock::{ClockSource, ClockStatus};
use tempora_core::hooks::{Fault, FaultHook};
use tempora_std::clock::phc::cross::take_with;
use tempora_std::clock::phc::discovery;
use tempora_std::clock::phc::steer::SteerableClock;
use tempora_std::clock::phc::{
    CrossMethod, CrossTimestamper, PhcClock, PhcSelector, PhcSource, PhcSourceConfig,
};
use tempora_std::SystemClock;

/// Faults, with when they came.
#[derive(Default)]
struct Recorder {
    faults: Mutex<Vec<(Fault, MonoInstant)>>,
}

impl FaultHook for Recorder {
    fn fault(&self, fault: Fault) {
        println!("fault {fault:?}");
        self.faults
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((fault, MonoInstant::now()));
    }
}

impl Recorder {
    fn all(&self) -> Vec<(Fault, MonoInstant)> {
        self.faults
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

fn percentile(v: &mut [u64], p: usize) -> u64 {
    if v.is_empty() {
        return 0;
    }
    v.sort_unstable();
    v[(v.len() - 1) * p / 100]
}

fn methods(dev: &str) -> Result<(), String> {
    for p in discovery::list().map_err(|e| e.to_string())? {
        println!("phc {p}");
    }
    let phc = PhcClock::open_path(dev).map_err(|e| e.to_string())?;
    let caps = phc.caps().map_err(|e| e.to_string())?;
    println!("caps {dev} {caps}");
    let mut chain = CrossTimestamper::new(7);
    let ts = chain.take(&phc).map_err(|e| e.to_string())?;
    let refused: Vec<String> = chain
        .refused()
        .iter()
        .map(|(m, e)| format!("{m}({e})"))
        .collect();
    println!(
        "chain {dev} method={} refused={}",
        ts.method,
        if refused.is_empty() {
            "-".into()
        } else {
            refused.join(",")
        }
    );
    for method in CrossMethod::CHAIN {
        let mut windows = Vec::new();
        let mut bounds = Vec::new();
        let mut error = None;
        for _ in 0..200 {
            match take_with(&phc, method, 1) {
                Ok(ts) => {
                    windows.push(ts.window.as_nanos() as u64);
                    bounds.push(ts.bound.as_nanos() as u64);
                }
                Err(e) => {
                    error = Some(e.to_string());
                    break;
                }
            }
        }
        match error {
            Some(e) => println!("window {dev} method={method} refused error={}", e.replace(' ', "_")),
            None => println!(
                "window {dev} method={method} samples={} min_ns={} median_ns={} p99_ns={} median_bound_ns={}",
                windows.len(),
                percentile(&mut windows, 0),
                percentile(&mut windows, 50),
                percentile(&mut windows, 99),
                percentile(&mut bounds, 50)
            ),
        }
    }
    Ok(())
}

fn fast(dev: &str, seconds: u64, ppb: f64) -> Result<(), String> {
    let phc = PhcClock::open_writable(dev).map_err(|e| e.to_string())?;
    let steer = SteerableClock::phc(&phc);
    // Put the PHC on TAI (37 s ahead of the system clock) with set-time, and make it
    // run `ppb` fast: the source must follow both.
    let target = i128::from(SystemClock::new().time().as_nanos()) + 37_000_000_000;
    steer
        .set_time(target)
        .map_err(|e| format!("set-time: {e}"))?;
    steer
        .set_frequency(ppb)
        .map_err(|e| format!("adjfreq: {e}"))?;
    let set = steer.frequency().map_err(|e| e.to_string())?;
    println!("fast {dev} set_time=ok frequency_ppb={set:.1}");
    let recorder = Arc::new(Recorder::default());
    let source = PhcSource::open(
        PhcSelector::Path(dev.into()),
        PhcSourceConfig::DEFAULT,
        Duration::from_secs(5),
        recorder.clone(),
    )
    .map_err(|e| e.to_string())?;
    let first = source.read();
    let tai_vs_system =
        i128::from(first.time.as_nanos()) - i128::from(SystemClock::new().time().as_nanos());
    if (tai_vs_system - 37_000_000_000).abs() > 50_000_000 {
        return Err(format!(
            "the source reads {tai_vs_system} ns ahead of the system clock, not 37 s"
        ));
    }
    let started = MonoInstant::now();
    let (mut reads, mut violations, mut backwards, mut unsynced) = (0u64, 0u64, 0u64, 0u64);
    let mut errors = Vec::new();
    let mut brackets = Vec::new();
    let mut bounds = Vec::new();
    let mut last = 0u64;
    while started.elapsed() < Duration::from_secs(seconds) {
        let a = source.read();
        let p = phc.now_ns().map_err(|e| e.to_string())?;
        let b = source.read();
        reads += 2;
        if a.time.as_nanos() < last || b.time < a.time {
            backwards += 1;
        }
        last = b.time.as_nanos();
        if a.status != ClockStatus::Synchronized || b.status != ClockStatus::Synchronized {
            unsynced += 1;
        }
        let earliest = i128::from(a.time.as_nanos()) - a.bound.as_nanos() as i128;
        let latest = i128::from(b.time.as_nanos()) + b.bound.as_nanos() as i128;
        if p < earliest || p > latest {
            violations += 1;
            if violations <= 5 {
                println!(
                    "violation phc={p} read_a={a} read_b={b} below={} above={}",
                    earliest - p,
                    p - latest
                );
            }
        }
        // The error is how far the PHC read lies outside the two readings around it: a
        // direct read between them can be anywhere from `a` to `b`, and the guest's
        // vCPU may stall between the calls (the bracket is reported on its own).
        let (ta, tb) = (i128::from(a.time.as_nanos()), i128::from(b.time.as_nanos()));
        let outside = (ta - p).max(p - tb).max(0);
        errors.push(outside.unsigned_abs() as u64);
        brackets.push((tb - ta).unsigned_abs() as u64);
        bounds.push(a.bound.as_nanos() as u64);
        std::thread::sleep(Duration::from_millis(2));
    }
    let st = source.state();
    let faults = recorder.all().len();
    println!(
        "fast {dev} seconds={seconds} reads={reads} violations={violations} backwards={backwards} unsynchronized={unsynced} median_error_ns={} max_error_ns={} median_bracket_ns={} max_bracket_ns={} median_bound_ns={} max_bound_ns={} method={} measurements={} faults={faults}",
        percentile(&mut errors.clone(), 50),
        percentile(&mut errors, 100),
        percentile(&mut brackets.clone(), 50),
        percentile(&mut brackets, 100),
        percentile(&mut bounds.clone(), 50),
        percentile(&mut bounds, 100),
        st.method.map_or("-", |m| m.as_str()),
        st.measurements
    );
    steer.set_frequency(0.0).map_err(|e| e.to_string())?;
    if violations > 0 || backwards > 0 || unsynced > 0 || faults > 0 {
        return Err("fast reads left their bound, went backwards, or lost sync".into());
    }
    Ok(())
}

fn fault(phc: &str) -> Result<(), String> {
    let selector: PhcSelector = phc.parse()?;
    let dev = selector.resolve().map_err(|e| e.to_string())?;
    let dev = dev.display();
    let config = PhcSourceConfig::DEFAULT;
    let recorder = Arc::new(Recorder::default());
    let opened = MonoInstant::now();
    let source = PhcSource::open(
        selector,
        config,
        Duration::from_millis(1_500),
        recorder.clone(),
    )
    .map_err(|e| e.to_string())?;
    // Whatever warm-up did, the fault must be in by now, and the first check came one
    // interval after the first measurement, at the open.
    let faults = recorder.all();
    let r = source.read();
    let st = source.state();
    println!(
        "fault {dev} faults={} status={} bound={:?} measurements={}",
        faults.len(),
        r.status,
        r.bound,
        st.measurements
    );
    let Some((f, at)) = faults.first() else {
        return Err(format!("{dev}: no fault reported"));
    };
    let after = at.duration_since(opened);
    println!(
        "fault {dev} kind={f:?} after_ms={} interval_ms={}",
        after.as_millis(),
        config.interval.as_millis()
    );
    if !matches!(f, Fault::SourceFrozen | Fault::SourceRateImplausible { .. }) {
        return Err(format!(
            "{dev}: reported {f:?}, not frozen or implausible rate"
        ));
    }
    // The first measurement is taken as the thread starts; the check is the next one.
    if after > config.interval * 2 {
        return Err(format!("{dev}: the fault took {after:?}, more than one check interval after the first measurement"));
    }
    if r.status == ClockStatus::Synchronized {
        return Err(format!("{dev}: a faulty PHC reads as synchronized"));
    }
    Ok(())
}

fn wait_for(
    what: &str,
    limit: Duration,
    mut done: impl FnMut() -> bool,
) -> Result<Duration, String> {
    let started = MonoInstant::now();
    while !done() {
        if started.elapsed() > limit {
            return Err(format!("{what}: not within {limit:?}"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(started.elapsed())
}

fn hotplug(iface: &str, add: &str) -> Result<(), String> {
    let recorder = Arc::new(Recorder::default());
    let source = Arc::new(
        PhcSource::open(
            PhcSelector::Interface(iface.into()),
            PhcSourceConfig::DEFAULT,
            Duration::from_secs(5),
            recorder.clone(),
        )
        .map_err(|e| e.to_string())?,
    );
    // A reader all along: no reading may go backwards, whatever happens to the device.
    let stop = Arc::new(AtomicBool::new(false));
    let backwards = Arc::new(AtomicU64::new(0));
    let reads = Arc::new(AtomicU64::new(0));
    let reader = {
        let (source, stop, backwards, reads) = (
            source.clone(),
            stop.clone(),
            backwards.clone(),
            reads.clone(),
        );
        std::thread::spawn(move || {
            let mut last = 0u64;
            let started = MonoInstant::now();
            while !stop.load(Ordering::SeqCst) && started.elapsed() < Duration::from_secs(120) {
                let r = source.read();
                if r.time.as_nanos() < last {
                    backwards.fetch_add(1, Ordering::SeqCst);
                }
                last = r.time.as_nanos();
                reads.fetch_add(1, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(1));
            }
        })
    };
    let result = (|| {
        wait_for(
            "synchronized before the unplug",
            Duration::from_secs(10),
            || source.read().status == ClockStatus::Synchronized,
        )?;
        println!("== QMP device_del id=hp0");
        let lost = wait_for("the loss reported", Duration::from_secs(60), || {
            source.state().fault == Some(Fault::SourceLost)
        })?;
        let at_loss = source.read();
        std::thread::sleep(Duration::from_secs(2));
        let later = source.read();
        println!(
            "hotplug {iface} lost_after_ms={} status={} bound_at_loss={:?} bound_2s_later={:?}",
            lost.as_millis(),
            later.status,
            at_loss.bound,
            later.bound
        );
        if later.status != ClockStatus::Holdover || later.bound <= at_loss.bound {
            return Err(
                "after the loss the source is not in holdover with a growing bound".to_string(),
            );
        }
        println!("== QMP device_add {add}");
        let back = wait_for(
            "re-opened and synchronized",
            Duration::from_secs(60),
            || {
                let st = source.state();
                st.reopened >= 1
                    && st.fault.is_none()
                    && source.read().status == ClockStatus::Synchronized
            },
        )?;
        let st = source.state();
        println!(
            "hotplug {iface} recovered_after_ms={} device={:?} reopened={} faults={:?}",
            back.as_millis(),
            st.device,
            st.reopened,
            recorder.all().iter().map(|(f, _)| *f).collect::<Vec<_>>()
        );
        Ok(())
    })();
    stop.store(true, Ordering::SeqCst);
    reader
        .join()
        .map_err(|_| "the reader panicked".to_string())?;
    println!(
        "hotplug {iface} reads={} backwards={}",
        reads.load(Ordering::Relaxed),
        backwards.load(Ordering::SeqCst)
    );
    result?;
    if backwards.load(Ordering::SeqCst) > 0 {
        return Err("a reading went backwards".into());
    }
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| args.get(i).cloned().unwrap_or_default();
    let result = match arg(0).as_str() {
        "methods" => methods(&arg(1)),
        "fast" => fast(
            &arg(1),
            arg(2).parse().unwrap_or(30),
            arg(3).parse().unwrap_or(50_000.0),
        ),
        "fault" => fault(&arg(1)),
        "hotplug" => hotplug(&arg(1), &arg(2)),
        other => Err(format!(
            "unknown scenario '{other}' (methods, fast, fault, hotplug)"
        )),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            println!("FAIL {e}");
            ExitCode::FAILURE
        }
    }
}
