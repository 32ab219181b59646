//! Several sources read as one: `tempora run --source ptp:eth0 --source system` (or a
//! configuration file's `sources`), in order of preference, through the core's
//! [`Selector`]: each checked every quarter second for health, steps and freezes,
//! failover when the active one fails or its bound exceeds `--max-bound`, failback to a
//! preferred one after `--failback-after` of unbroken health, and a served time that
//! never goes back across a switch, its bound covering the step.
//!
//! Every switch is logged with its reason; the status line names the source being read.
//! A PTP source that fails for good (its thread ends with an error) stays in the chain
//! with its last estimate coasting, so the selector moves on from it as its bound grows.

use std::io::Write;
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant as MonoInstant};

use tempora_core::clock::{ClockReading, ClockSource};
use tempora_core::hlc::Hlc;
use tempora_core::select::{Selector, SelectorConfig};
use tempora_core::time::{Instant, Offset, Tai, TaiOffset, Utc};

use super::phc::PhcOptions;
use super::{
    add_ptp_status, notify, on_node_event, open_node, run_hooks, service, timestamp, ClockOptions,
    DaemonMetrics, Error, PtpOptions, RunHooks, RunSummary, Schedule, Shared, Source, StatusLine,
};
use crate::clock::phc::PhcSelector;
use crate::clock::SystemClock;
use crate::clock::TaiAsUtc;
use crate::hooks::CountingHooks;
use crate::ptp::VirtualClock;
use crate::stop::StopSignal;
use crate::timeservice::Publisher;

/// The most sources a chain takes.
pub const MAX_SOURCES: usize = 4;

/// How often the chain is checked.
const CHECK_EVERY: Duration = Duration::from_millis(250);

/// A PTP slave's virtual clock, shared with its node's thread.
struct SharedVirtual(Arc<VirtualClock>);

impl ClockSource for SharedVirtual {
    type Scale = Tai;
    fn read(&self) -> ClockReading<Tai> {
        self.0.read()
    }
    fn time(&self) -> Instant<Tai> {
        self.0.time()
    }
}

/// One source of the chain, on UTC.
#[derive(Clone)]
struct Link(Arc<dyn ClockSource<Scale = Utc> + Send + Sync>);

impl ClockSource for Link {
    type Scale = Utc;
    fn read(&self) -> ClockReading<Utc> {
        self.0.read()
    }
    fn time(&self) -> Instant<Utc> {
        self.0.time()
    }
    fn elapsed_reference(&self) -> Option<u64> {
        self.0.elapsed_reference()
    }
}

/// A PTP source's node thread and what it reports.
struct PtpWorker {
    iface: String,
    clock: Arc<VirtualClock>,
    shared: Arc<Mutex<Shared>>,
    thread: Option<JoinHandle<std::io::Result<()>>>,
}

/// The selector behind a lock: checked by this thread, read by the HLC.
struct Chain(RwLock<Selector<Link, MAX_SOURCES, RunHooks>>);

impl ClockSource for Chain {
    type Scale = Utc;
    fn read(&self) -> ClockReading<Utc> {
        self.0.read().unwrap_or_else(|p| p.into_inner()).read()
    }
}

/// Publishes the chain's reading to the time service, moving against `CLOCK_REALTIME`
/// as its active `source` does.
fn publish(
    publisher: &mut Publisher,
    chain: &Chain,
    source: &Source,
    worker: Option<&PtpWorker>,
    phc: &dyn Fn(&PhcSelector) -> PhcOptions,
) {
    let (frequency, drift) = match (source, worker) {
        (Source::Ptp(_), Some(w)) => {
            let timestamps = w
                .shared
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .timestamps;
            service::ptp_rate(&w.clock, timestamps)
        }
        (Source::Phc(which), _) => (0, service::foreign_drift(phc(which).config.drift_ppb)),
        _ => (0, service::SYSTEM_DRIFT_PPB),
    };
    publisher.publish_reading(|| chain.read(), frequency, drift);
}

/// Which source of `sources` slot `i` of the padded chain is.
fn source_of(i: usize, count: usize) -> usize {
    i.min(count.saturating_sub(1))
}

/// Reads `sources` as one, printing the status line of the source being read every
/// interval, until stopped.
#[allow(clippy::too_many_arguments)] // the run's settings, one per kind of source
pub fn run_chain(
    sources: &[Source],
    clock: &ClockOptions,
    ptp: &PtpOptions,
    phc: &dyn Fn(&PhcSelector) -> PhcOptions,
    selector: SelectorConfig,
    schedule: &Schedule,
    mut publisher: Option<&mut Publisher>,
    stop: &Arc<StopSignal>,
    out: &mut impl Write,
    metrics: Option<&DaemonMetrics>,
) -> Result<RunSummary, Error> {
    if sources.is_empty() || sources.len() > MAX_SOURCES {
        return Err(Error::Sources(sources.len()));
    }
    let tai_minus_utc: TaiOffset = ptp.tai_minus_utc();
    let mut links: Vec<Link> = Vec::new();
    let mut workers: Vec<Option<PtpWorker>> = Vec::new();
    for source in sources {
        match source {
            Source::System => {
                links.push(Link(Arc::new(SystemClock::new())));
                workers.push(None);
            }
            Source::Phc(which) => {
                let options = phc(which);
                let hooks = Arc::new(CountingHooks::new());
                let source = super::phc::open(&options, &hooks)?;
                links.push(Link(Arc::new(TaiAsUtc::new(source, options.tai_minus_utc))));
                workers.push(None);
            }
            Source::Ptp(iface) => {
                let config = ptp.port_config(clock.node.0, 255, true);
                let port_hooks = metrics.map(|m| m.hooks().clone());
                let mut node =
                    open_node(iface, ptp, config, Offset::from(tai_minus_utc), port_hooks)?;
                let virtual_clock = node.clock();
                let shared = Arc::new(Mutex::new(Shared {
                    state: None,
                    measurements: 0,
                    timestamps: node.timestamps(),
                    last: None,
                }));
                let thread = {
                    let (stop, shared, iface) =
                        (Arc::clone(stop), Arc::clone(&shared), iface.clone());
                    std::thread::spawn(move || {
                        node.run(&stop, None, |e, _| on_node_event(&iface, &shared, e))
                    })
                };
                links.push(Link(Arc::new(TaiAsUtc::new(
                    SharedVirtual(Arc::clone(&virtual_clock)),
                    tai_minus_utc,
                ))));
                workers.push(Some(PtpWorker {
                    iface: iface.clone(),
                    clock: virtual_clock,
                    shared,
                    thread: Some(thread),
                }));
            }
        }
    }
    // The selector's chain has a fixed length: the last source fills the rest.
    let padded: [Link; MAX_SOURCES] =
        std::array::from_fn(|i| links[source_of(i, links.len())].clone());
    let chain = Chain(RwLock::new(Selector::with_hooks(
        padded,
        selector,
        run_hooks(metrics),
    )));
    let hooks = run_hooks(metrics);
    let hlc = Hlc::with_hooks(&chain, clock.node, clock.hlc_config(), &hooks);
    let started = MonoInstant::now();
    let mut lines = 0u64;
    let mut next_line = Some(started);
    let mut active = usize::MAX;
    loop {
        let report = chain.0.write().unwrap_or_else(|p| p.into_inner()).check();
        let now_active = source_of(usize::from(report.active), sources.len());
        if now_active != active {
            match report.switch {
                Some(switch) if active != usize::MAX => tracing::warn!(
                    from = %sources[source_of(usize::from(switch.from), sources.len())],
                    to = %sources[now_active],
                    reason = ?switch.reason,
                    "source switched"
                ),
                _ => tracing::info!(source = %sources[now_active], "reading source"),
            }
            active = now_active;
            if let Some(p) = publisher.as_deref_mut() {
                p.set_source(&sources[active].to_string());
            }
        }
        for w in workers.iter_mut().flatten() {
            if w.thread.as_ref().is_some_and(JoinHandle::is_finished) {
                if let Some(Ok(Err(e))) = w.thread.take().map(JoinHandle::join) {
                    tracing::error!(iface = %w.iface, error = %e, "PTP source stopped; its clock coasts");
                }
            }
        }
        if next_line.is_some_and(|n| MonoInstant::now() >= n) {
            if let Some(p) = publisher.as_deref_mut() {
                publish(p, &chain, &sources[active], workers[active].as_ref(), phc);
            }
            let reading = chain.read();
            let stamp = timestamp(&hlc, metrics);
            let mut line = StatusLine::new(sources[active].clone(), &reading, stamp);
            if let Some(w) = &workers[active] {
                let shared = w.shared.lock().unwrap_or_else(|p| p.into_inner());
                add_ptp_status(&mut line, &w.clock, &shared);
            }
            if let Some(m) = metrics {
                m.observe(&line);
            }
            if let Some(p) = publisher.as_deref_mut() {
                service::record(p, &line);
            }
            if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
                stop.raise();
            }
            if lines == 0 {
                notify::ready("reading a chain of sources");
            }
            lines += 1;
            next_line = schedule.due(started, lines);
        }
        // The next health check, or the next line if it is due first.
        let check = MonoInstant::now() + CHECK_EVERY;
        let wake = next_line.map_or(check, |n| n.min(check));
        if !schedule.wait_until(Some(wake), started, stop) {
            stop.raise(); // the duration passed: the PTP workers stop too
            for w in workers.iter_mut().flatten() {
                if let Some(t) = w.thread.take() {
                    let _ = t.join();
                }
            }
            return Ok(RunSummary::of(started, lines, &hooks.0));
        }
    }
}
