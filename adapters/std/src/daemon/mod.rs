//! The `tempora` daemon's work, apart from its command line: read a source and print a
//! [`StatusLine`] every interval (the system clock, or a PTP slave's virtual clock),
//! or serve the system clock as a PTP master; and the PHC commands ([`phc`]).
//!
//! Every function stops when `stop` is raised (the binary raises it on Ctrl-C and
//! SIGTERM) or its duration has passed, and sleeps until then or its next piece of
//! work, never polling; a duration too long to be a deadline (`300000000000y`)
//! means none, never an overflow. Output goes to the writer given; a closed one ends
//! the run, as nobody is listening any more. Given [`DaemonMetrics`], a run also
//! exports what it sees (see [`metrics`]).

pub mod auto;
pub mod chain;
pub mod config;
pub mod http;
pub mod metrics;
pub mod notify;
pub mod phc;
pub mod service;
pub mod status;
pub mod warnings;

use std::fmt;
use std::io::{self, Write};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant as MonoInstant};

use tempora_core::clock::ClockSource;
use tempora_core::hlc::{Hlc, HlcConfig};
use tempora_core::hooks::{FaultHook, MetricsHook};
use tempora_core::ptp::port::{
    ConfigError, DelayMechanism, Measurement, PortConfig, PortEvent, PortState,
};
use tempora_core::ptp::wire::ClockIdentity;
use tempora_core::time::{Offset, TaiOffset};
use tempora_core::timestamp::{NodeId, Timestamp};

use crate::clock::TaiAsUtc;
use crate::clock::{KernelEstimate, SystemClock};
use crate::hooks::CountingHooks;
use crate::prometheus::PrometheusHooks;
use crate::ptp::{NodeEvent, PtpNode, TimestampMode, Timestamps, TransportKind, VirtualClock};
use crate::stop::StopSignal;
use crate::timeservice::Publisher;

pub use auto::SourceChoice;
pub use metrics::{DaemonMetrics, EndpointError, MetricsEndpoint, ReadyPolicy};
pub use service::{now_from_service, open_publisher, status_report, TimeServiceOptions};
pub use status::{ParseStatusError, PtpState, PtpStatus, Source, StatusLine};
pub use warnings::WarningJournal;

/// What a run's HLC reports to: the counts for its summary, and the exporter when
/// metrics are on.
type RunHooks = (CountingHooks, Option<PrometheusHooks>);

fn run_hooks(metrics: Option<&DaemonMetrics>) -> RunHooks {
    (CountingHooks::new(), metrics.map(|m| m.hooks().clone()))
}

/// This node's HLC settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClockOptions {
    /// The node id in HLC timestamps.
    pub node: NodeId,
    /// Remote timestamps further than this ahead of local time are refused.
    pub max_offset: Duration,
}

impl ClockOptions {
    /// `node`, or the machine's [`default_node`], with the given max offset.
    pub fn new(node: Option<u32>, max_offset: Duration) -> Self {
        Self {
            node: node.map(NodeId).unwrap_or_else(default_node),
            max_offset,
        }
    }

    fn hlc_config(&self) -> HlcConfig {
        HlcConfig {
            max_offset: self.max_offset,
            ..HlcConfig::DEFAULT
        }
    }
}

/// FNV-1a of `/etc/machine-id` (or of the process id without one): stable per machine,
/// spread over the id space.
pub fn default_node() -> NodeId {
    let seed = std::fs::read_to_string("/etc/machine-id")
        .unwrap_or_else(|_| std::process::id().to_string());
    let hash = seed.trim().bytes().fold(0x811c_9dc5_u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    });
    NodeId(hash)
}

/// How long to run and how often to print.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Schedule {
    /// Stop after this long; `None`: until stopped.
    pub duration: Option<Duration>,
    /// Time between status lines (more than zero).
    pub interval: Duration,
}

impl Schedule {
    /// When line number `lines` (0-based) is due: `None` when that is beyond any
    /// representable time, i.e. never.
    fn due(&self, started: MonoInstant, lines: u64) -> Option<MonoInstant> {
        let n = u32::try_from(lines).unwrap_or(u32::MAX);
        started.checked_add(self.interval.checked_mul(n)?)
    }

    fn over(&self, started: MonoInstant) -> bool {
        self.duration.is_some_and(|d| started.elapsed() >= d)
    }

    /// Sleeps until line number `lines` is due: `true` then, `false` when the run is
    /// over first (stopped, or its duration passed).
    fn wait_for_line(&self, started: MonoInstant, lines: u64, stop: &StopSignal) -> bool {
        self.wait_until(self.due(started, lines), started, stop)
    }

    /// Sleeps until `wake` (`None`: no such time), or the end of the run if earlier:
    /// whether the run goes on.
    fn wait_until(
        &self,
        wake: Option<MonoInstant>,
        started: MonoInstant,
        stop: &StopSignal,
    ) -> bool {
        let end = self.duration.and_then(|d| started.checked_add(d));
        let raised = match (wake, end) {
            (Some(w), Some(e)) => stop.wait_until(w.min(e)),
            (Some(t), None) | (None, Some(t)) => stop.wait_until(t),
            (None, None) => stop.wait_for(Duration::MAX),
        };
        !raised && !self.over(started)
    }
}

/// PTP settings shared by a slave and a master.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PtpOptions {
    /// The carrier.
    pub transport: TransportKind,
    /// End to end or peer to peer.
    pub delay_mechanism: DelayMechanism,
    /// Which timestamps to use.
    pub timestamping: TimestampMode,
    /// PTP domain number.
    pub domain: u8,
    /// log2 of the Announce interval (s).
    pub announce_log2: i8,
    /// log2 of the Sync interval (s).
    pub sync_log2: i8,
    /// log2 of the (P)Delay_Req interval (s).
    pub delay_log2: i8,
    /// Announce intervals without an Announce before the master is given up.
    pub announce_timeout: u8,
    /// TAI - UTC (s); `None`: the kernel's, or 37 when the kernel was never told.
    pub utc_offset: Option<TaiOffset>,
    /// The clocks a slave may follow (at most 4); empty: any (standard BMCA).
    pub acceptable_masters: Vec<ClockIdentity>,
}

impl PtpOptions {
    /// TAI - UTC: as given, else the kernel's, else 37 s.
    pub fn tai_minus_utc(&self) -> TaiOffset {
        tai_minus_utc(self.utc_offset)
    }

    /// The port's configuration for clock `node` with `priority1`.
    pub fn port_config(&self, node: u32, priority1: u8, slave_only: bool) -> PortConfig {
        let mut c = PortConfig::ordinary(identity(node), priority1, slave_only).with_intervals(
            self.announce_log2,
            self.sync_log2,
            self.delay_log2,
            self.announce_timeout,
        );
        c.domain = self.domain;
        c.delay_mechanism = self.delay_mechanism;
        c.utc_offset = self.tai_minus_utc();
        c
    }

    /// Whether a port can run with these intervals and timeout
    /// ([`PortConfig::validate`]).
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.port_config(0, 128, true).validate()
    }
}

/// TAI - UTC: `given`, else the kernel's, else 37 s (its value since 2017).
pub fn tai_minus_utc(given: Option<TaiOffset>) -> TaiOffset {
    let kernel = KernelEstimate::read().map_or(TaiOffset(0), |k| k.tai_offset);
    given.unwrap_or(if kernel.0 != 0 { kernel } else { TaiOffset(37) })
}

fn identity(node: u32) -> ClockIdentity {
    let b = node.to_be_bytes();
    ClockIdentity([0x02, 0x7e, b[0], 0xff, 0xfe, b[1], b[2], b[3]])
}

/// Why a run failed.
#[derive(Debug)]
pub enum Error {
    /// The PTP settings cannot run.
    Config(ConfigError),
    /// The port could not be opened.
    Open {
        /// The interface.
        iface: String,
        /// Why.
        source: io::Error,
    },
    /// The port failed while running.
    Ptp {
        /// The interface.
        iface: String,
        /// Why.
        source: io::Error,
    },
    /// The PTP thread panicked.
    Panicked,
    /// A chain of sources needs 1 to [`chain::MAX_SOURCES`] of them; this many were given.
    Sources(usize),
    /// A PTP hardware clock could not be opened, read or steered.
    Phc {
        /// The PHC as the user named it.
        phc: String,
        /// Why.
        source: io::Error,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Config(e) => write!(f, "invalid PTP settings: {e}"),
            Self::Open { iface, source } => write!(f, "cannot open PTP on {iface}: {source}"),
            Self::Ptp { iface, source } => write!(f, "PTP on {iface} failed: {source}"),
            Self::Panicked => f.write_str("the PTP thread panicked"),
            Self::Sources(n) => write!(
                f,
                "{n} sources given; a chain takes 1 to {}",
                chain::MAX_SOURCES
            ),
            Self::Phc { phc, source } => write!(f, "PHC {phc}: {source}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Config(e) => Some(e),
            Self::Open { source, .. } | Self::Ptp { source, .. } | Self::Phc { source, .. } => {
                Some(source)
            }
            Self::Panicked | Self::Sources(_) => None,
        }
    }
}

/// What a run did, for its last words on stderr.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunSummary {
    /// How long it ran.
    pub elapsed: Duration,
    /// Status lines printed.
    pub lines: u64,
    /// HLC timestamps issued.
    pub timestamps: u64,
    /// Faults the HLC reported.
    pub faults: u64,
}

/// `stopped after 1.2s: 6 status lines, 6 timestamps, 0 faults`.
impl fmt::Display for RunSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "stopped after {:.1}s: {} status lines, {} timestamps, {} faults",
            self.elapsed.as_secs_f64(),
            self.lines,
            self.timestamps,
            self.faults
        )
    }
}

impl RunSummary {
    fn of(started: MonoInstant, lines: u64, hooks: &CountingHooks) -> Self {
        Self {
            elapsed: started.elapsed(),
            lines,
            timestamps: hooks.timestamps.load(std::sync::atomic::Ordering::Relaxed),
            faults: hooks.faults(),
        }
    }
}

/// A timestamp from `hlc`, its latency sampled when metrics are on.
fn timestamp<C, H>(hlc: &Hlc<C, H>, metrics: Option<&DaemonMetrics>) -> Timestamp<C::Scale>
where
    C: ClockSource,
    H: FaultHook + MetricsHook,
{
    match metrics {
        Some(m) => m.hooks().hlc_latency().time(|| hlc.now()),
        None => hlc.now(),
    }
}

/// One reading of the system clock as a status line, with a timestamp from `hlc`.
fn system_line<H>(
    hlc: &Hlc<SystemClock, H>,
    source: Source,
    metrics: Option<&DaemonMetrics>,
) -> StatusLine
where
    H: FaultHook + MetricsHook,
{
    let reading = hlc.clock().read();
    StatusLine::new(source, &reading, timestamp(hlc, metrics))
}

/// The system clock's status line now (what `tempora now` prints).
pub fn now(clock: &ClockOptions) -> StatusLine {
    let hooks = CountingHooks::new();
    let hlc = Hlc::with_hooks(SystemClock::new(), clock.node, clock.hlc_config(), &hooks);
    system_line(&hlc, Source::System, None)
}

/// Prints the system clock's status line every interval until stopped (and exports
/// it, with the HLC's counts, to `metrics`), publishing its reading to the host's time
/// service if given one.
pub fn run_system(
    clock: &ClockOptions,
    schedule: &Schedule,
    mut publisher: Option<&mut Publisher>,
    stop: &StopSignal,
    out: &mut impl Write,
    metrics: Option<&DaemonMetrics>,
) -> RunSummary {
    let hooks = run_hooks(metrics);
    let hlc = Hlc::with_hooks(SystemClock::new(), clock.node, clock.hlc_config(), &hooks);
    let started = MonoInstant::now();
    let mut lines = 0u64;
    loop {
        if let Some(p) = publisher.as_deref_mut() {
            service::publish_system(p, hlc.clock());
        }
        let line = system_line(&hlc, Source::System, metrics);
        if let Some(m) = metrics {
            m.observe(&line);
        }
        if let Some(p) = publisher.as_deref_mut() {
            service::record(p, &line);
        }
        if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
            break; // stdout closed: nobody is listening any more
        }
        if lines == 0 {
            notify::ready("serving the system clock");
        }
        lines += 1;
        if !schedule.wait_for_line(started, lines, stop) {
            break;
        }
    }
    RunSummary::of(started, lines, &hooks.0)
}

/// What the status thread knows of the node, from its events.
struct Shared {
    state: Option<PortState>,
    measurements: u64,
    timestamps: Timestamps,
    /// The last exchange, for the line's diagnostics (frequency, delay, sigma, noise).
    last: Option<Measurement>,
}

/// Logs what a node reports besides states, timestamps and measurements: parent
/// changes (with the old and new parent), a master's other intervals, and a transport
/// lost and restored.
fn log_node_event(iface: &str, e: &NodeEvent) {
    match e {
        NodeEvent::Port(PortEvent::ParentChanged { .. }) => {
            tracing::info!(iface, event = %e, "PTP parent changed");
        }
        NodeEvent::Port(PortEvent::IntervalMismatch { .. }) => {
            tracing::warn!(
                iface,
                event = %e,
                "the master announces other intervals than ours; configure both alike"
            );
        }
        NodeEvent::TransportLost { .. } => {
            tracing::warn!(iface, event = %e, "PTP transport failed; reopening");
        }
        NodeEvent::TransportRestored { .. } => {
            tracing::info!(iface, event = %e, "PTP transport restored");
        }
        _ => tracing::debug!(iface, event = %e, "PTP node event"),
    }
}

/// What the status thread keeps of a slave node's events, and logs.
fn on_node_event(iface: &str, shared: &Mutex<Shared>, e: &NodeEvent) {
    let mut s = shared.lock().unwrap_or_else(|p| p.into_inner());
    match e {
        NodeEvent::State(st) => {
            s.state = Some(*st);
            tracing::info!(iface, state = %PtpState::of(Some(*st)).0, "PTP port state");
        }
        NodeEvent::Measured(m) => {
            s.measurements += 1;
            s.last = Some(*m);
            // Integer nanoseconds: what the filter replay reads back.
            tracing::debug!(
                at = m.at.as_nanos(),
                forward = m.forward.as_nanos(),
                reverse = m.reverse.as_nanos(),
                raw_offset = m.raw_offset.as_nanos(),
                offset = m.offset.as_nanos(),
                accepted = m.accepted,
                "PTP exchange"
            );
        }
        NodeEvent::Timestamps {
            timestamps,
            fell_back,
        } => {
            s.timestamps = *timestamps;
            report_timestamps(iface, *timestamps, *fell_back);
        }
        other => log_node_event(iface, other),
    }
}

fn report_timestamps(iface: &str, ts: Timestamps, fell_back: bool) {
    if fell_back {
        tracing::warn!(
            iface,
            timestamps = %ts,
            "the NIC offered hardware timestamps but stamped no received event message; using software timestamps"
        );
    } else {
        tracing::info!(iface, timestamps = %ts, "PTP timestamps");
    }
}

fn open_node<H: MetricsHook + Clone>(
    iface: &str,
    ptp: &PtpOptions,
    config: PortConfig,
    shift: Offset,
    hooks: H,
) -> Result<PtpNode<H>, Error> {
    config.validate().map_err(Error::Config)?;
    let open = |source| Error::Open {
        iface: iface.to_string(),
        source,
    };
    let mut node =
        PtpNode::open_with_hooks(ptp.transport, iface, config, shift, ptp.timestamping, hooks)
            .map_err(open)?;
    node.accept_only(&ptp.acceptable_masters).map_err(open)?;
    Ok(node)
}

/// The status line of a PTP slave: the virtual clock's reading in UTC, its HLC, and
/// what the port and its estimate are.
fn slave_line(
    iface: &str,
    hlc: &Hlc<TaiAsUtc<&VirtualClock>, &RunHooks>,
    shared: &Shared,
    metrics: Option<&DaemonMetrics>,
) -> StatusLine {
    let reading = hlc.clock().read();
    let stamp = timestamp(hlc, metrics);
    let mut line = StatusLine::new(Source::Ptp(iface.to_string()), &reading, stamp);
    add_ptp_status(&mut line, hlc.clock().inner(), shared);
    line
}

/// Adds a PTP slave's offset and port status to `line`.
fn add_ptp_status(line: &mut StatusLine, clock: &VirtualClock, shared: &Shared) {
    // The local clock (system clock or PHC) minus the master, on one timescale.
    line.offset = clock.system_offset();
    let (state, master) = PtpState::of(shared.state);
    let m = shared.last.as_ref();
    let finite = |v: f64| Some(v).filter(|v| v.is_finite() && *v < 1e18);
    let seconds = |ns: f64| finite(ns).map(|ns| Duration::from_nanos(ns.max(0.0) as u64));
    line.ptp = Some(PtpStatus {
        state,
        master,
        timestamps: shared.timestamps,
        frequency_ppb: m.and_then(|m| finite(m.frequency_ppb)),
        delay: m.map(|m| m.delay),
        sigma: m.and_then(|m| seconds(m.sigma_ns)),
        noise: m
            .and_then(|m| seconds(m.noise_sigma_ns))
            .filter(|n| !n.is_zero()),
        measurements: shared.measurements,
    });
}

/// Runs a PTP slave on `iface`, disciplining a virtual clock (never the host clock), and
/// prints its status line every interval until stopped; `metrics` receives the port's
/// and the HLC's reports and every status line, and the time service (if given) the
/// virtual clock's reading.
///
/// The HLC runs over the virtual clock read as UTC: its timestamps follow the time the
/// line prints, the master's as estimated once locked (and the local clock before; an
/// HLC never goes back, so the step at the lock shows only as a forward jump or a run
/// on its counter).
#[allow(clippy::too_many_arguments)] // one per concern of a run; a struct would only rename them
pub fn run_ptp(
    iface: &str,
    clock: &ClockOptions,
    ptp: &PtpOptions,
    schedule: &Schedule,
    mut publisher: Option<&mut Publisher>,
    stop: &Arc<StopSignal>,
    out: &mut impl Write,
    metrics: Option<&DaemonMetrics>,
) -> Result<RunSummary, Error> {
    let config = ptp.port_config(clock.node.0, 255, true);
    let tai_minus_utc = config.utc_offset;
    let shift = Offset::from(tai_minus_utc);
    let port_hooks = metrics.map(|m| m.hooks().clone());
    let mut node = open_node(iface, ptp, config, shift, port_hooks)?;
    let virtual_clock: Arc<VirtualClock> = node.clock();
    let shared = Arc::new(Mutex::new(Shared {
        state: None,
        measurements: 0,
        timestamps: node.timestamps(),
        last: None,
    }));
    let started = MonoInstant::now();
    let run_for = schedule.duration;
    // The worker's end (a stop, the duration, an error) disconnects `ended`, which
    // wakes the status loop at once; otherwise it sleeps until its next line.
    let (ended_tx, ended) = mpsc::channel::<()>();
    let worker = {
        let (stop, shared) = (Arc::clone(stop), Arc::clone(&shared));
        let iface_name = iface.to_string();
        std::thread::spawn(move || {
            let _ended = ended_tx;
            node.run(&stop, run_for, |e, _| {
                on_node_event(&iface_name, &shared, e)
            })
        })
    };
    let hooks = run_hooks(metrics);
    let hlc = Hlc::with_hooks(
        TaiAsUtc::new(&*virtual_clock, tai_minus_utc),
        clock.node,
        clock.hlc_config(),
        &hooks,
    );
    let mut lines = 0u64;
    while !worker.is_finished() {
        let line = {
            let s = shared.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(p) = publisher.as_deref_mut() {
                service::publish_ptp(p, hlc.clock(), s.timestamps);
            }
            slave_line(iface, &hlc, &s, metrics)
        };
        if let Some(p) = publisher.as_deref_mut() {
            service::record(p, &line);
        }
        if let Some(m) = metrics {
            m.observe(&line);
        }
        if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
            stop.raise();
        }
        if lines == 0 {
            notify::ready("a PTP slave");
        }
        lines += 1;
        let wait = schedule.due(started, lines).map_or(Duration::MAX, |n| {
            n.saturating_duration_since(MonoInstant::now())
        });
        match ended.recv_timeout(wait) {
            Err(RecvTimeoutError::Timeout) => {}
            Ok(()) | Err(RecvTimeoutError::Disconnected) => break,
        }
    }
    match worker.join() {
        Ok(Ok(())) => Ok(RunSummary::of(started, lines, &hooks.0)),
        Ok(Err(source)) => Err(Error::Ptp {
            iface: iface.to_string(),
            source,
        }),
        Err(_) => Err(Error::Panicked),
    }
}

/// What a master serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServeOptions {
    /// Added to the served time (for tests: a slave must find it).
    pub offset: Offset,
    /// priority1 in Announces (lower wins the BMCA).
    pub priority1: u8,
    /// Stop after this long; `None`: until stopped.
    pub duration: Option<Duration>,
}

/// Serves the system clock (shifted by `serve.offset`) as a PTP master on `iface` until
/// stopped, printing the system clock's status line, with the port's state, at every
/// state change.
pub fn serve(
    iface: &str,
    clock: &ClockOptions,
    ptp: &PtpOptions,
    serve: &ServeOptions,
    stop: &StopSignal,
    out: &mut impl Write,
) -> Result<RunSummary, Error> {
    let config = ptp.port_config(clock.node.0 ^ 0x5a5a, serve.priority1, false);
    let shift = Offset::from(config.utc_offset).saturating_add(serve.offset);
    let mut node = open_node(iface, ptp, config, shift, tempora_core::hooks::NoHooks)?;
    let hooks = CountingHooks::new();
    let hlc = Hlc::with_hooks(SystemClock::new(), clock.node, clock.hlc_config(), &hooks);
    let mut shared = Shared {
        state: None,
        measurements: 0,
        timestamps: node.timestamps(),
        last: None,
    };
    let started = MonoInstant::now();
    let mut lines = 0u64;
    let r = node.run(stop, serve.duration, |e, _| match e {
        NodeEvent::State(s) => {
            shared.state = Some(*s);
            let mut line = system_line(&hlc, Source::Ptp(iface.to_string()), None);
            let (state, master) = PtpState::of(shared.state);
            line.ptp = Some(PtpStatus {
                state,
                master,
                timestamps: shared.timestamps,
                frequency_ppb: None,
                delay: None,
                sigma: None,
                noise: None,
                measurements: shared.measurements,
            });
            if writeln!(out, "{line}").and_then(|()| out.flush()).is_ok() {
                lines += 1;
            }
        }
        NodeEvent::Timestamps {
            timestamps,
            fell_back,
        } => {
            shared.timestamps = *timestamps;
            report_timestamps(iface, *timestamps, *fell_back);
        }
        NodeEvent::Measured(_) => shared.measurements += 1,
        other => log_node_event(iface, other),
    });
    r.map_err(|source| Error::Ptp {
        iface: iface.to_string(),
        source,
    })?;
    Ok(RunSummary::of(started, lines, &hooks))
}
