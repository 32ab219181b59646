//! Runs inside the hardware-timestamping guest (`tests/hwts`), on PPS sources built out
//! of tree from the guest kernel's own sources (`tests/hwts/pps-modules.sh`). Each
//! scenario prints one line per edge and a summary (`hwts-check` reads it back) and exits
//! non-zero on any failed expectation. `CLOCK_REALTIME` is the guest's truth: nothing
//! steers it while these run.
//!
//! - `device DEV SECONDS`: `pps-ktimer`'s `/dev/ppsN` through [`PpsDevice`], feeding a
//!   [`PpsClock`] with the system clock's reading at each edge (the kernel's own stamp).
//!   pps-ktimer is a timer, not a PPS: it re-arms `HZ` jiffies after each event, which
//!   the timer wheel rounds up to its 8-jiffy granularity (1.024 s at Debian's HZ=250),
//!   at whatever phase of the second it was loaded. So: one edge a second within
//!   [`KTIMER_LATE`], every sequence number seen once, each stamp on `CLOCK_REALTIME`
//!   just before it was fetched, and the [`PpsClock`] must refuse every edge that is not
//!   on a second (and so never read outside its bound of `CLOCK_REALTIME`).
//! - `gpio CHIP LINE PULL SECONDS events|polled`: a gpio-sim line watched by [`GpioPps`]
//!   (kernel-stamped line events, or the level polled through `linux-embedded-hal`'s
//!   `CdevPin`), while a child process (`toggle`) raises the line through gpio-sim's
//!   sysfs `PULL` at the start of each second of `CLOCK_REALTIME` and lowers it half a
//!   second later. Every edge must be seen, within the toggle's own lateness of its
//!   second; the [`PpsClock`] fed with them must take those within the stated edge bound
//!   of their second and refuse the rest, reach synchronized, and keep every reading
//!   within its bound of `CLOCK_REALTIME`.
//! - `toggle PULL SECONDS`: the toggling process.

use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant as MonoInstant, SystemTime, UNIX_EPOCH};

use tempora_core::clock::{ClockReading, ClockSource, ClockStatus};
use tempora_core::time::Instant;
use tempora_embedded::{PpsError, PpsEvent};
use tempora_std::clock::pps::{GpioPps, PpsClock, PpsDevice, PpsEdgeError};

const NS: i128 = 1_000_000_000;
/// How far pps-ktimer's interval may exceed a second: the timer wheel's rounding (24 ms
/// at HZ=250) plus two jiffies of lateness.
const KTIMER_LATE: Duration = Duration::from_millis(32);
/// How much shorter than a second it may be: a jiffy (the previous event late).
const KTIMER_EARLY: Duration = Duration::from_millis(4);
/// The edge bound stated for pps-ktimer's edges: were one on a second, the kernel's stamp
/// of it is exact on `CLOCK_REALTIME`; 1 ms says which edges count as on a second.
const KTIMER_EDGE_BOUND: Duration = Duration::from_millis(1);
/// The edge bound stated for the simulated GPIO line: how late after the start of a second
/// the toggling process raises it (it wakes from a sleep and writes to sysfs: 1 to 1.5 ms
/// under TCG, tens of ms when the host takes the vCPU away), plus, when polled, the
/// polling interval and the sleep's overshoot. A later edge is refused as off the second.
const GPIO_EVENTS_EDGE_BOUND: Duration = Duration::from_millis(3);
const GPIO_POLLED_EDGE_BOUND: Duration = Duration::from_millis(4);
/// Edges that must discipline the clock (anchor, then measure the rate) in 10 s.
const GPIO_MIN_ACCEPTED: u32 = 3;
/// The raw clock's own drift budget (ppm): nothing steers either clock in the guest.
const PPM: u32 = 100;

fn realtime_ns() -> i128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i128)
}

/// How far `ns` is past its nearest whole second (negative: before it).
fn phase_ns(ns: i128) -> i128 {
    let rounded = (ns + NS / 2).div_euclid(NS) * NS;
    ns - rounded
}

/// A [`PpsClock`] fed with edges and read against `CLOCK_REALTIME` between them.
struct Watch {
    pps: PpsClock,
    accepted: u32,
    off_second: u32,
    glitches: u32,
    other_refusals: u32,
    samples: u32,
    violations: u32,
    worst_error_ns: i128,
    worst_bound_ns: u128,
    synchronized: bool,
}

impl Watch {
    fn new(edge_bound: Duration) -> Self {
        Self {
            pps: PpsClock::new(edge_bound, PPM, Duration::from_secs(2)),
            accepted: 0,
            off_second: 0,
            glitches: 0,
            other_refusals: 0,
            samples: 0,
            violations: 0,
            worst_error_ns: 0,
            worst_bound_ns: 0,
            synchronized: false,
        }
    }

    /// Feeds an edge at `ticks` of the raw counter, which the system clock read as
    /// `realtime_ns`: the time of day, exact here (the guest's truth).
    fn edge(&mut self, ticks: u64, realtime_ns: i128) -> String {
        let tod = ClockReading {
            time: Instant::from_nanos(u64::try_from(realtime_ns).unwrap_or(0)),
            bound: Duration::ZERO,
            status: ClockStatus::Synchronized,
        };
        match self.pps.edge(ticks, &tod) {
            Ok(PpsEvent::Anchored) => {
                self.accepted += 1;
                "anchored".into()
            }
            Ok(PpsEvent::Disciplined { seconds, error_ppb }) => {
                self.accepted += 1;
                format!("disciplined(seconds={seconds},error_ppb={error_ppb})")
            }
            Err(PpsEdgeError::OffSecond { off_ns, .. }) => {
                self.off_second += 1;
                format!("refused:off-second({off_ns}ns)")
            }
            Err(PpsEdgeError::Discipline(PpsError::Glitch { after_ns })) => {
                self.glitches += 1;
                format!("refused:glitch(after={after_ns}ns)")
            }
            Err(e) => {
                self.other_refusals += 1;
                format!("refused:{}", e.to_string().replace(' ', "_"))
            }
        }
    }

    /// One reading, between two of `CLOCK_REALTIME`: outside its bound of both is a
    /// violation. Unbounded readings (before the first edge) are only counted.
    fn sample(&mut self) {
        let before = realtime_ns();
        let r = self.pps.read();
        let after = realtime_ns();
        self.samples += 1;
        if r.status == ClockStatus::Unknown || r.bound == Duration::MAX {
            return;
        }
        if r.status == ClockStatus::Synchronized {
            self.synchronized = true;
        }
        let t = i128::from(r.time.as_nanos());
        let bound = r.bound.as_nanos() as i128;
        if after < t - bound || before > t + bound {
            self.violations += 1;
            if self.violations <= 5 {
                println!("violation reading={r} realtime_before={before} realtime_after={after}");
            }
        }
        let error = t - (before + after) / 2;
        if error.abs() > self.worst_error_ns.abs() {
            self.worst_error_ns = error;
        }
        self.worst_bound_ns = self.worst_bound_ns.max(r.bound.as_nanos());
    }

    fn summary(&self) -> String {
        format!(
            "accepted={} off_second={} glitches={} other_refused={} synchronized={} samples={} violations={} worst_error_ns={} worst_bound_ns={}",
            self.accepted,
            self.off_second,
            self.glitches,
            self.other_refusals,
            if self.synchronized { "yes" } else { "no" },
            self.samples,
            self.violations,
            self.worst_error_ns,
            self.worst_bound_ns
        )
    }
}

/// Min, max and mean of `v`.
fn spread(v: &[i128]) -> (i128, i128, i128) {
    let min = v.iter().copied().min().unwrap_or(0);
    let max = v.iter().copied().max().unwrap_or(0);
    let mean = if v.is_empty() {
        0
    } else {
        v.iter().sum::<i128>() / v.len() as i128
    };
    (min, max, mean)
}

fn device(path: &str, seconds: u64) -> Result<(), String> {
    let mut dev = PpsDevice::open(path).map_err(|e| e.to_string())?;
    let mut watch = Watch::new(KTIMER_EDGE_BOUND);
    let started = MonoInstant::now();
    let (mut edges, mut gaps, mut wrongly_taken) = (0u32, 0u32, 0u32);
    let (mut intervals, mut latencies) = (Vec::new(), Vec::new());
    let mut last: Option<(u32, i128)> = None;
    let mut failures = Vec::new();
    while started.elapsed() < Duration::from_secs(seconds) {
        let edge = dev
            .next_edge(Duration::from_millis(100))
            .map_err(|e| e.to_string())?;
        if let Some(edge) = edge {
            let fetched = realtime_ns();
            let ticks = edge.raw_ticks();
            edges += 1;
            let latency = fetched - edge.realtime_ns;
            latencies.push(latency);
            if !(0..=100_000_000).contains(&latency) {
                failures.push(format!(
                    "edge {} stamped {latency} ns before it was fetched",
                    edge.sequence
                ));
            }
            let mut interval = 0;
            if let Some((seq, at)) = last {
                if edge.sequence != seq.wrapping_add(1) {
                    gaps += 1;
                }
                interval = edge.realtime_ns - at;
                intervals.push(interval);
                let (lo, hi) = (
                    NS - KTIMER_EARLY.as_nanos() as i128,
                    NS + KTIMER_LATE.as_nanos() as i128,
                );
                if !(lo..=hi).contains(&interval) {
                    failures.push(format!(
                        "edge {} came {interval} ns after the last, not 1 s (-{KTIMER_EARLY:?}, +{KTIMER_LATE:?})",
                        edge.sequence
                    ));
                }
            }
            last = Some((edge.sequence, edge.realtime_ns));
            let result = watch.edge(ticks, edge.realtime_ns);
            let phase = phase_ns(edge.realtime_ns);
            // Only an edge on a second, within the edge bound, may discipline the clock.
            if phase.unsigned_abs() > KTIMER_EDGE_BOUND.as_nanos() && !result.starts_with("refused")
            {
                wrongly_taken += 1;
            }
            println!(
                "edge seq={} realtime_ns={} phase_ns={phase} interval_ns={interval} fetch_latency_ns={latency} pps_clock={result}",
                edge.sequence,
                edge.realtime_ns,
            );
        }
        watch.sample();
    }
    let (imin, imax, imean) = spread(&intervals);
    let (_, lmax, _) = spread(&latencies);
    println!(
        "pps-device {path} seconds={seconds} edges={edges} sequence_gaps={gaps} interval_min_ns={imin} interval_max_ns={imax} interval_mean_ns={imean} interval_spread_ns={} fetch_latency_max_ns={lmax} {}",
        imax - imin,
        watch.summary()
    );
    if !(9..=11).contains(&edges) {
        failures.push(format!("{edges} edges in {seconds} s"));
    }
    if gaps > 0 {
        failures.push(format!("{gaps} sequence gaps"));
    }
    if watch.violations > 0 {
        failures.push(format!(
            "{} readings outside their bound of CLOCK_REALTIME",
            watch.violations
        ));
    }
    if wrongly_taken > 0 {
        failures.push(format!(
            "{wrongly_taken} edges off the second by more than {KTIMER_EDGE_BOUND:?} disciplined the clock"
        ));
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(failures.join("; "))
    }
}

/// Raises the line through `pull` at the start of each second of `CLOCK_REALTIME` and
/// lowers it half a second later, `seconds` times; prints when each rise was written.
fn toggle(pull: &str, seconds: u64) -> Result<(), String> {
    let write = |v: &str| std::fs::write(pull, v).map_err(|e| format!("{pull}: {e}"));
    write("pull-down")?;
    for _ in 0..seconds {
        let now = realtime_ns();
        let second = now.div_euclid(NS) + 1;
        std::thread::sleep(Duration::from_nanos((second * NS - now) as u64));
        write("pull-up")?;
        let late = realtime_ns() - second * NS;
        println!("toggle second={second} late_ns={late}");
        let now = realtime_ns();
        let half = second * NS + NS / 2;
        if half > now {
            std::thread::sleep(Duration::from_nanos((half - now) as u64));
        }
        write("pull-down")?;
    }
    Ok(())
}

fn gpio(chip: &str, line: u32, pull: &str, seconds: u64, mode: &str) -> Result<(), String> {
    let (mut input, edge_bound) = match mode {
        "events" => (GpioPps::open(chip, line), GPIO_EVENTS_EDGE_BOUND),
        "polled" => (GpioPps::open_polled(chip, line), GPIO_POLLED_EDGE_BOUND),
        other => return Err(format!("unknown mode {other} (events, polled)")),
    };
    let input = input.as_mut().map_err(|e| e.to_string())?;
    let mut watch = Watch::new(edge_bound);
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let toggler = Command::new(exe)
        .args(["toggle", pull, &seconds.to_string()])
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("toggle: {e}"))?;
    let started = MonoInstant::now();
    let mut edges: Vec<i128> = Vec::new();
    let mut results = Vec::new();
    let mut last_sample = MonoInstant::now();
    // The toggles, plus a second for the first to come and a little for the last.
    while started.elapsed() < Duration::from_secs(seconds + 1) + Duration::from_millis(300) {
        let wait = if input.is_event_driven() {
            Duration::from_millis(100)
        } else {
            Duration::from_millis(20)
        };
        if let Some(edge) = input.next_edge(wait).map_err(|e| e.to_string())? {
            let result = watch.edge(edge.ticks, edge.realtime_ns);
            edges.push(edge.realtime_ns);
            results.push(result);
        }
        if last_sample.elapsed() >= Duration::from_millis(50) {
            watch.sample();
            last_sample = MonoInstant::now();
        }
    }
    let out = toggler
        .wait_with_output()
        .map_err(|e| format!("toggle: {e}"))?;
    let toggles: Vec<(i128, i128)> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let second = l.split("second=").nth(1)?.split(' ').next()?.parse().ok()?;
            let late = l.split("late_ns=").nth(1)?.trim().parse().ok()?;
            Some((second, late))
        })
        .collect();
    let mut failures = Vec::new();
    if !out.status.success() {
        failures.push(format!("the toggling process failed: {}", out.status));
    }
    let mut delays = Vec::new();
    let mut intervals = Vec::new();
    for (i, (&at, result)) in edges.iter().zip(&results).enumerate() {
        let second = (at + NS / 2).div_euclid(NS);
        let late = toggles.iter().find(|t| t.0 == second).map(|t| t.1);
        // From the start of the second to the edge as captured.
        let delay = at - second * NS;
        delays.push(delay);
        let interval = if i > 0 { at - edges[i - 1] } else { 0 };
        if i > 0 {
            intervals.push(interval);
        }
        println!(
            "edge realtime_ns={at} delay_ns={delay} toggle_late_ns={} interval_ns={interval} pps_clock={result}",
            late.map_or("none".into(), |l| l.to_string())
        );
        // The clock must take an edge on the second and refuse one off it.
        let off = delay.unsigned_abs() > edge_bound.as_nanos();
        if off != result.starts_with("refused:off-second") {
            failures.push(format!(
                "the edge {delay} ns into its second, edge bound {edge_bound:?}, was {result}"
            ));
        }
        match late {
            None => failures.push(format!("an edge at {at} ns that no toggle made")),
            // Events are stamped in the interrupt the sysfs write raises, before the
            // write returns; a polled line sees the edge a polling interval later.
            Some(l) if delay < 0 || (mode == "events" && delay > l) => failures.push(format!(
                "the edge of second {second} was captured {delay} ns after it started, the toggle written {l} ns after"
            )),
            Some(_) => {}
        }
    }
    let (dmin, dmax, dmean) = spread(&delays);
    let (imin, imax, imean) = spread(&intervals);
    let (lmin, lmax, _) = spread(&toggles.iter().map(|t| t.1).collect::<Vec<_>>());
    println!(
        "pps-gpio {chip} line={line} mode={mode} seconds={seconds} toggles={} edges={} delay_min_ns={dmin} delay_max_ns={dmax} delay_mean_ns={dmean} interval_min_ns={imin} interval_max_ns={imax} interval_mean_ns={imean} toggle_late_min_ns={lmin} toggle_late_max_ns={lmax} edge_bound_ns={} {}",
        toggles.len(),
        edges.len(),
        edge_bound.as_nanos(),
        watch.summary()
    );
    if edges.len() != toggles.len() || !(9..=11).contains(&edges.len()) {
        failures.push(format!(
            "{} edges for {} toggles",
            edges.len(),
            toggles.len()
        ));
    }
    if !watch.synchronized {
        failures.push("the PPS clock never read synchronized".into());
    }
    if watch.violations > 0 {
        failures.push(format!(
            "{} readings outside their bound of CLOCK_REALTIME",
            watch.violations
        ));
    }
    // A toggle later than the edge bound is rightly refused, and so is a rate that
    // jitter puts beyond the discipline's 1 000 ppm; enough must remain.
    if watch.accepted < GPIO_MIN_ACCEPTED {
        failures.push(format!(
            "only {} of {} edges accepted",
            watch.accepted,
            edges.len()
        ));
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(failures.join("; "))
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| args.get(i).cloned().unwrap_or_default();
    let result = match arg(0).as_str() {
        "device" => device(&arg(1), arg(2).parse().unwrap_or(10)),
        "gpio" => gpio(
            &arg(1),
            arg(2).parse().unwrap_or(0),
            &arg(3),
            arg(4).parse().unwrap_or(10),
            &arg(5),
        ),
        "toggle" => toggle(&arg(1), arg(2).parse().unwrap_or(10)),
        other => Err(format!("unknown scenario '{other}' (device, gpio, toggle)")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            println!("FAIL {e}");
            ExitCode::FAILURE
        }
    }
}
