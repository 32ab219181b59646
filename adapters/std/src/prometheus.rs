//! The core's faults and metrics as Prometheus metrics, through `prometheus-client`.
//!
//! [`PrometheusHooks`] implements [`FaultHook`] and [`MetricsHook`]: hand it (or a clone;
//! clones share one registry) to an [`Hlc`](tempora_core::hlc::Hlc), a PTP
//! [`Port`](tempora_core::ptp::port::Port), a [`Selector`](tempora_core::select::Selector)
//! or a queue, and every event they report updates a counter or gauge. What the core
//! does not report as events (a clock's bound and status, the latency of `now()`) is
//! observed with [`PrometheusHooks::observe_reading`] and the [`LatencySampler`]s.
//!
//! Names follow Prometheus conventions: a `tempora_` prefix, `_total` counters, base
//! units (`_seconds`, and `_ratio` for the drift, so 12 ppb is `1.2e-8`). Label values
//! that can be known in advance (fault kinds, PTP message types, rejection reasons,
//! states) are created at zero, so `rate()` and alerts see a series from the first
//! scrape rather than from the first event. `docs/monitoring.md` lists every metric.
//!
//! ```
//! use tempora_core::hlc::{Hlc, HlcConfig};
//! use tempora_core::timestamp::NodeId;
//! use tempora_std::{PrometheusHooks, SystemClock};
//!
//! let metrics = PrometheusHooks::new(&["system"], 64);
//! let hlc = Hlc::with_hooks(SystemClock::new(), NodeId(7), HlcConfig::DEFAULT, metrics.clone());
//! // Counted on every call; timed on one call in 64.
//! let _stamp = metrics.hlc_latency().time(|| hlc.now());
//! let text = metrics.encode_prometheus_text();
//! assert!(text.contains("tempora_hlc_generations_total 1\n"));
//! assert!(text.contains("tempora_hlc_latency_seconds_count 1\n"));
//! ```

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant as MonoInstant};

use prometheus_client::encoding::{prometheus_text, text as openmetrics_text};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::{Registry, Unit};
use tempora_core::clock::{ClockReading, ClockStatus};
use tempora_core::hooks::{Fault, FaultHook, Metric, MetricsHook};
use tempora_core::ptp::wire::MessageType;
use tempora_core::time::Timescale;

/// A counter family with one label.
type Counters = Family<[(&'static str, String); 1], Counter>;
/// A gauge family with one label.
type Gauges = Family<[(&'static str, String); 1], Gauge<f64, AtomicU64>>;
/// A float gauge.
type FloatGauge = Gauge<f64, AtomicU64>;

/// Every [`ClockStatus`], for the status state set.
const STATUSES: [ClockStatus; 4] = [
    ClockStatus::Synchronized,
    ClockStatus::Holdover,
    ClockStatus::FreeRunning,
    ClockStatus::Unknown,
];

/// The PTP port states, as the status line names them (`initializing`: not started).
pub const PORT_STATES: [&str; 5] = ["initializing", "listening", "master", "slave", "passive"];

/// Why a PTP port ignores a packet: `Ignored::as_str`'s names.
const REJECT_REASONS: [&str; 7] = [
    "malformed",
    "other-domain",
    "unacceptable-master",
    "own",
    "no-timestamp",
    "not-for-us",
    "time-out-of-range",
];

/// Why a selector switches: `SwitchReason::as_str`'s names.
const SWITCH_REASONS: [&str; 4] = ["status", "bound", "anomaly", "failback"];

/// What a selector's detector sees: `Anomaly::as_str`'s names.
const ANOMALIES: [&str; 4] = ["stepped-forward", "stepped-back", "frozen", "rate"];

/// Why a causal queue refuses a message: `RefusalReason::as_str`'s names.
const CAUSAL_REFUSALS: [&str; 4] = ["duplicate", "full", "malformed", "clock"];

/// Every [`Fault`] kind, as its `kind` label names it.
const FAULT_KINDS: [&str; 6] = [
    "clock_stepped_back",
    "clock_jumped_forward",
    "remote_too_far_ahead",
    "hlc_exhausted",
    "source_anomaly",
    "source_switched",
];

fn fault_kind(fault: &Fault) -> &'static str {
    match fault {
        Fault::ClockSteppedBack { .. } => "clock_stepped_back",
        Fault::ClockJumpedForward { .. } => "clock_jumped_forward",
        Fault::RemoteTooFarAhead { .. } => "remote_too_far_ahead",
        Fault::HlcExhausted => "hlc_exhausted",
        Fault::SourceAnomaly { .. } => "source_anomaly",
        Fault::SourceSwitched { .. } => "source_switched",
        _ => "other",
    }
}

/// Times one call in `every`: the latency of a hot operation (`Hlc::now`, a queue
/// push) at the cost of one relaxed atomic increment on the calls it does not time.
#[derive(Debug)]
pub struct LatencySampler {
    every: u32,
    calls: AtomicU32,
    histogram: Histogram,
}

impl LatencySampler {
    fn new(every: u32, histogram: Histogram) -> Self {
        Self {
            every: every.max(1),
            calls: AtomicU32::new(0),
            histogram,
        }
    }

    /// Runs `op`, timing it if it is the first of its group of `every` calls.
    #[inline]
    pub fn time<R>(&self, op: impl FnOnce() -> R) -> R {
        if self.calls.fetch_add(1, Ordering::Relaxed) % self.every != 0 {
            return op();
        }
        let start = MonoInstant::now();
        let r = op();
        self.histogram.observe(start.elapsed().as_secs_f64());
        r
    }

    /// Times one call in this many.
    pub fn every(&self) -> u32 {
        self.every
    }
}

/// The metrics, behind one `Arc` so hooks are cheap to clone into threads.
#[derive(Debug)]
struct Inner {
    registry: Registry,
    /// Names of the sources a selector's indices stand for.
    sources: Vec<String>,

    hlc_generations: Counter,
    hlc_merges: Counter,
    hlc_logical_carries: Counter,
    hlc_ahead: FloatGauge,
    hlc_latency: LatencySampler,

    queue_enqueued: Counter,
    queue_dequeued: Counter,
    queue_refused: Counter,
    queue_depth: Gauge,
    queue_latency: LatencySampler,

    causal_delivered: Counter,
    causal_held: Gauge,
    causal_refused: Counters,

    pattern_events: Counter,
    pattern_matches: Counter,
    pattern_late: Counter,
    pattern_refused: Counter,
    pattern_overflows: Counter,

    synchronizations: Counter,
    synchronization_failures: Counter,
    error_bound: FloatGauge,
    offset: FloatGauge,
    drift: FloatGauge,
    carry: FloatGauge,
    status: StateSet,
    source_active: StateSet,
    switches: Family<[(&'static str, String); 2], Counter>,
    anomalies: Family<[(&'static str, String); 2], Counter>,
    faults: Counters,

    ptp_messages: Family<[(&'static str, String); 2], Counter>,
    ptp_rejected: Counters,
    ptp_port_state: StateSet,
    ptp_parent_changes: Counter,
    ptp_path_delay: FloatGauge,
}

/// Prometheus metrics fed by the core's hooks; see the [module docs](self).
#[derive(Clone, Debug)]
pub struct PrometheusHooks {
    inner: Arc<Inner>,
}

/// How often [`PrometheusHooks`] times `now()` and queue operations by default: one call
/// in 64, so a hot path pays two clock reads per 64 calls.
pub const DEFAULT_SAMPLE_EVERY: u32 = 64;

fn label(key: &'static str, value: &str) -> [(&'static str, String); 1] {
    [(key, value.to_string())]
}

impl PrometheusHooks {
    /// Metrics for a daemon reading `sources` (a selector's chain, most preferred first;
    /// one name for a single source), timing one `now()` and queue operation in
    /// `sample_every`.
    pub fn new(sources: &[&str], sample_every: u32) -> Self {
        let mut r = Registry::with_prefix("tempora");
        let latency_buckets = || Histogram::new(exponential_buckets(25e-9, 2.0, 14));

        let build = Info::new(vec![("version", env!("CARGO_PKG_VERSION"))]);
        r.register("build", "The tempora version serving these metrics", build);

        let hlc_generations = Counter::default();
        r.register(
            "hlc_generations",
            "HLC timestamps issued by now()",
            hlc_generations.clone(),
        );
        let hlc_merges = Counter::default();
        r.register(
            "hlc_merges",
            "Remote HLC timestamps merged by update()",
            hlc_merges.clone(),
        );
        let hlc_logical_carries = Counter::default();
        r.register(
            "hlc_logical_carries",
            "Times the HLC logical counter carried into the physical part",
            hlc_logical_carries.clone(),
        );
        let hlc_ahead = FloatGauge::default();
        r.register_with_unit(
            "hlc_ahead",
            "How far the HLC ran ahead of the physical clock after the last merge",
            Unit::Seconds,
            hlc_ahead.clone(),
        );
        let hlc_latency = latency_buckets();
        r.register_with_unit(
            "hlc_latency",
            "Latency of HLC now() calls, one call in every sample period timed",
            Unit::Seconds,
            hlc_latency.clone(),
        );

        let queue_enqueued = Counter::default();
        r.register(
            "queue_enqueued",
            "Messages a temporal queue took",
            queue_enqueued.clone(),
        );
        let queue_dequeued = Counter::default();
        r.register(
            "queue_dequeued",
            "Messages a temporal queue released",
            queue_dequeued.clone(),
        );
        let queue_refused = Counter::default();
        r.register(
            "queue_refused",
            "Messages a full temporal queue refused",
            queue_refused.clone(),
        );
        let queue_depth = Gauge::default();
        r.register(
            "queue_depth",
            "Messages in the temporal queue after its last operation",
            queue_depth.clone(),
        );
        let queue_latency = latency_buckets();
        r.register_with_unit(
            "queue_latency",
            "Latency of temporal queue operations, one in every sample period timed",
            Unit::Seconds,
            queue_latency.clone(),
        );

        let causal_delivered = Counter::default();
        r.register(
            "causal_delivered",
            "Messages a causal queue delivered",
            causal_delivered.clone(),
        );
        let causal_held = Gauge::default();
        r.register(
            "causal_held_messages",
            "Messages a causal queue holds back for their causal predecessors",
            causal_held.clone(),
        );
        let causal_refused = Counters::default();
        r.register(
            "causal_refused",
            "Messages a causal queue refused, by reason",
            causal_refused.clone(),
        );

        let pattern_events = Counter::default();
        r.register(
            "pattern_events",
            "Events a pattern detector took",
            pattern_events.clone(),
        );
        let pattern_matches = Counter::default();
        r.register(
            "pattern_matches",
            "Pattern matches",
            pattern_matches.clone(),
        );
        let pattern_late = Counter::default();
        r.register(
            "pattern_late_events",
            "Events a pattern detector refused behind its watermark",
            pattern_late.clone(),
        );
        let pattern_refused = Counter::default();
        r.register(
            "pattern_refused_events",
            "Events a pattern detector refused with its reorder buffer full",
            pattern_refused.clone(),
        );
        let pattern_overflows = Counter::default();
        r.register(
            "pattern_overflows",
            "Times a pattern matcher reached a capacity",
            pattern_overflows.clone(),
        );

        let synchronizations = Counter::default();
        r.register(
            "clock_synchronizations",
            "Synchronisations the clock used (PTP exchanges its filter accepted)",
            synchronizations.clone(),
        );
        let synchronization_failures = Counter::default();
        r.register(
            "clock_synchronization_failures",
            "Synchronisations the clock refused (PTP exchanges its filter rejected as outliers)",
            synchronization_failures.clone(),
        );
        let error_bound = FloatGauge::default();
        r.register_with_unit(
            "clock_error_bound",
            "The served time's error bound: the true time is within this of it (+Inf: unbounded)",
            Unit::Seconds,
            error_bound.clone(),
        );
        let offset = FloatGauge::default();
        r.register_with_unit(
            "clock_offset",
            "The local clock minus its reference (NaN: no reference)",
            Unit::Seconds,
            offset.clone(),
        );
        let drift = FloatGauge::default();
        r.register(
            "clock_drift_ratio",
            "The clock's rate error as a ratio, 1e-9 per ppb (NaN: not estimated)",
            drift.clone(),
        );
        let carry = FloatGauge::default();
        r.register_with_unit(
            "source_carry",
            "The selector's output minus its active source, decaying after a switch",
            Unit::Seconds,
            carry.clone(),
        );
        let statuses = STATUSES.map(ClockStatus::as_str);
        let status = StateSet::register(
            &mut r,
            "clock_status",
            "1 for the served time's status (synchronized, holdover, free-running, unknown), 0 for the others",
            "status",
            &statuses,
        );
        let source_active = StateSet::register(
            &mut r,
            "source_active",
            "1 for the source the time is read from, 0 for the others",
            "source",
            sources,
        );
        let switches = Family::default();
        r.register(
            "source_switches",
            "Switches between sources, by source taken and reason",
            switches.clone(),
        );
        let anomalies = Family::default();
        r.register(
            "source_anomalies",
            "Anomalies seen on a source against its elapsed reference, by source and kind",
            anomalies.clone(),
        );
        let faults = Counters::default();
        r.register("faults", "Faults by kind", faults.clone());

        let ptp_messages = Family::default();
        r.register(
            "ptp_messages",
            "PTP messages received (and used) or sent, by direction and message type",
            ptp_messages.clone(),
        );
        let ptp_rejected = Counters::default();
        r.register(
            "ptp_packets_rejected",
            "Packets the PTP port did not use, by reason",
            ptp_rejected.clone(),
        );
        let ptp_port_state = StateSet::register(
            &mut r,
            "ptp_port_state",
            "1 for the PTP port's state, 0 for the others",
            "state",
            &PORT_STATES,
        );
        let ptp_parent_changes = Counter::default();
        r.register(
            "ptp_parent_changes",
            "Times the PTP port's master changed",
            ptp_parent_changes.clone(),
        );
        let ptp_path_delay = FloatGauge::default();
        r.register_with_unit(
            "ptp_path_delay",
            "The filtered mean path delay to the PTP master",
            Unit::Seconds,
            ptp_path_delay.clone(),
        );

        // Known label values start at zero: a rate or an alert sees them at once.
        for reason in CAUSAL_REFUSALS {
            let _ = causal_refused.get_or_create(&label("reason", reason));
        }
        for kind in FAULT_KINDS {
            let _ = faults.get_or_create(&label("kind", kind));
        }
        for reason in REJECT_REASONS {
            let _ = ptp_rejected.get_or_create(&label("reason", reason));
        }
        for name in (0..16).filter_map(|n| MessageType::from_nibble(n).ok().map(|t| t.name())) {
            for direction in ["received", "sent"] {
                let _ = ptp_messages
                    .get_or_create(&[("direction", direction.into()), ("type", name.into())]);
            }
        }
        for source in sources {
            for reason in SWITCH_REASONS {
                let _ = switches
                    .get_or_create(&[("to", source.to_string()), ("reason", reason.into())]);
            }
            for anomaly in ANOMALIES {
                let _ = anomalies
                    .get_or_create(&[("source", source.to_string()), ("anomaly", anomaly.into())]);
            }
        }
        let sources: Vec<String> = sources.iter().map(|s| s.to_string()).collect();
        offset.set(f64::NAN);
        drift.set(f64::NAN);
        error_bound.set(f64::INFINITY);

        let inner = Inner {
            registry: r,
            sources,
            hlc_generations,
            hlc_merges,
            hlc_logical_carries,
            hlc_ahead,
            hlc_latency: LatencySampler::new(sample_every, hlc_latency),
            queue_enqueued,
            queue_dequeued,
            queue_refused,
            queue_depth,
            queue_latency: LatencySampler::new(sample_every, queue_latency),
            causal_delivered,
            causal_held,
            causal_refused,
            pattern_events,
            pattern_matches,
            pattern_late,
            pattern_refused,
            pattern_overflows,
            synchronizations,
            synchronization_failures,
            error_bound,
            offset,
            drift,
            carry,
            status,
            source_active,
            switches,
            anomalies,
            faults,
            ptp_messages,
            ptp_rejected,
            ptp_port_state,
            ptp_parent_changes,
            ptp_path_delay,
        };
        let hooks = Self {
            inner: Arc::new(inner),
        };
        if let Some(first) = hooks.inner.sources.first().cloned() {
            hooks.set_active_source(&first);
        }
        hooks
    }

    /// Times `Hlc::now` (or any timestamp source): `hooks.hlc_latency().time(|| hlc.now())`.
    pub fn hlc_latency(&self) -> &LatencySampler {
        &self.inner.hlc_latency
    }

    /// Times temporal queue operations: `hooks.queue_latency().time(|| q.push(..))`.
    pub fn queue_latency(&self) -> &LatencySampler {
        &self.inner.queue_latency
    }

    /// The name of source `i` of the chain (`source-i` past its end).
    pub fn source_name(&self, i: u8) -> String {
        self.inner
            .sources
            .get(usize::from(i))
            .cloned()
            .unwrap_or_else(|| format!("source-{i}"))
    }

    /// Marks `name` as the source read (1), every other known one as not (0).
    pub fn set_active_source(&self, name: &str) {
        self.inner.source_active.set(name);
    }

    /// Records what a reading of the served time says: its bound and its status.
    pub fn observe_reading<S: Timescale>(&self, reading: &ClockReading<S>) {
        self.observe_bound((reading.bound != Duration::MAX).then_some(reading.bound));
        self.observe_status(reading.status);
    }

    /// Records the served time's bound (`None`: unbounded, exported as `+Inf`).
    pub fn observe_bound(&self, bound: Option<Duration>) {
        let seconds = bound.map_or(f64::INFINITY, |b| b.as_secs_f64());
        self.inner.error_bound.set(seconds);
    }

    /// Records the served time's status.
    pub fn observe_status(&self, status: ClockStatus) {
        self.inner.status.set(status.as_str());
    }

    /// Records the local clock minus its reference, in seconds (`None`: no reference).
    pub fn observe_offset(&self, seconds: Option<f64>) {
        self.inner.offset.set(seconds.unwrap_or(f64::NAN));
    }

    /// Records the clock's rate error in ppb (`None`: not estimated).
    pub fn observe_drift_ppb(&self, ppb: Option<f64>) {
        self.inner.drift.set(ppb.map_or(f64::NAN, |p| p * 1e-9));
    }

    /// Records the PTP port's state, one of [`PORT_STATES`].
    pub fn observe_port_state(&self, state: &str) {
        self.inner.ptp_port_state.set(state);
    }

    /// The metrics in the OpenMetrics text format (what Prometheus asks for).
    pub fn encode_openmetrics(&self) -> String {
        let mut out = String::new();
        self.encode_openmetrics_into(&mut out);
        out
    }

    /// [`encode_openmetrics`](Self::encode_openmetrics), appended to `out`: a server
    /// that clears and reuses one buffer allocates nothing per scrape once it is large
    /// enough.
    pub fn encode_openmetrics_into(&self, out: &mut String) {
        // Writing to a String cannot fail.
        let _ = openmetrics_text::encode(out, &self.inner.registry);
    }

    /// The metrics in the Prometheus text format 0.0.4 (what `promtool check metrics`
    /// and clients that ask for no format read).
    pub fn encode_prometheus_text(&self) -> String {
        let mut out = String::new();
        self.encode_prometheus_text_into(&mut out);
        out
    }

    /// [`encode_prometheus_text`](Self::encode_prometheus_text), appended to `out`.
    pub fn encode_prometheus_text_into(&self, out: &mut String) {
        let _ = prometheus_text::encode(out, &self.inner.registry);
    }
}

/// A state set: one gauge per value, 1 for the current value and 0 for the others.
#[derive(Debug)]
struct StateSet {
    key: &'static str,
    gauges: Gauges,
    /// Every value seen, so all but the current one can be set to 0.
    values: Mutex<Vec<String>>,
}

impl StateSet {
    /// A state set labelled `key`, its `values` at 0, registered as `name`.
    fn register(
        r: &mut Registry,
        name: &str,
        help: &str,
        key: &'static str,
        values: &[&str],
    ) -> Self {
        let gauges = Gauges::default();
        r.register(name, help, gauges.clone());
        for v in values {
            let _ = gauges.get_or_create(&label(key, v));
        }
        Self {
            key,
            gauges,
            values: Mutex::new(values.iter().map(|v| v.to_string()).collect()),
        }
    }

    fn set(&self, current: &str) {
        let mut values = self.values.lock().unwrap_or_else(|p| p.into_inner());
        if !values.iter().any(|v| v == current) {
            values.push(current.to_string());
        }
        for v in values.iter() {
            let on = if v == current { 1.0 } else { 0.0 };
            self.gauges.get_or_create(&label(self.key, v)).set(on);
        }
    }
}

impl FaultHook for PrometheusHooks {
    fn fault(&self, fault: Fault) {
        let m = &self.inner;
        m.faults
            .get_or_create(&label("kind", fault_kind(&fault)))
            .inc();
        match fault {
            Fault::SourceSwitched { to, reason, .. } => {
                m.switches
                    .get_or_create(&[
                        ("to", self.source_name(to)),
                        ("reason", reason.as_str().to_string()),
                    ])
                    .inc();
            }
            Fault::SourceAnomaly { source, anomaly } => {
                m.anomalies
                    .get_or_create(&[
                        ("source", self.source_name(source)),
                        ("anomaly", anomaly.as_str().to_string()),
                    ])
                    .inc();
            }
            _ => {}
        }
    }
}

impl MetricsHook for PrometheusHooks {
    fn record(&self, metric: Metric) {
        let m = &self.inner;
        let depth = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
        match metric {
            Metric::HlcTimestamp => {
                m.hlc_generations.inc();
            }
            Metric::HlcMerge { ahead_ns } => {
                m.hlc_merges.inc();
                m.hlc_ahead.set(ahead_ns as f64 * 1e-9);
            }
            Metric::HlcLogicalCarry => {
                m.hlc_logical_carries.inc();
            }
            Metric::QueueEnqueued { depth: d } => {
                m.queue_enqueued.inc();
                m.queue_depth.set(depth(d));
            }
            Metric::QueueDelivered { depth: d } => {
                m.queue_dequeued.inc();
                m.queue_depth.set(depth(d));
            }
            Metric::QueueRefused => {
                m.queue_refused.inc();
            }
            Metric::CausalDelivered { held } => {
                m.causal_delivered.inc();
                m.causal_held.set(depth(held));
            }
            Metric::CausalHeld { held } => {
                m.causal_held.set(depth(held));
            }
            Metric::CausalRefused { reason } => {
                m.causal_refused
                    .get_or_create(&label("reason", reason))
                    .inc();
            }
            Metric::PatternEvent => {
                m.pattern_events.inc();
            }
            Metric::PatternMatch => {
                m.pattern_matches.inc();
            }
            Metric::PatternLate => {
                m.pattern_late.inc();
            }
            Metric::PatternRefused => {
                m.pattern_refused.inc();
            }
            Metric::PatternOverflow => {
                m.pattern_overflows.inc();
            }
            Metric::PtpReceived { message } => {
                m.ptp_messages
                    .get_or_create(&[("direction", "received".into()), ("type", message.into())])
                    .inc();
            }
            Metric::PtpSent { message } => {
                m.ptp_messages
                    .get_or_create(&[("direction", "sent".into()), ("type", message.into())])
                    .inc();
            }
            Metric::PtpIgnored { reason } => {
                m.ptp_rejected.get_or_create(&label("reason", reason)).inc();
            }
            Metric::PtpState { state } => self.observe_port_state(state),
            Metric::PtpParentChanged => {
                m.ptp_parent_changes.inc();
            }
            Metric::PtpMeasurement {
                offset_ns,
                delay_ns,
                accepted,
            } => {
                if accepted {
                    m.synchronizations.inc();
                    m.offset.set(offset_ns as f64 * 1e-9);
                    m.ptp_path_delay.set(delay_ns as f64 * 1e-9);
                } else {
                    m.synchronization_failures.inc();
                }
            }
            // Counted from the fault, which says why.
            Metric::SourceSwitch { .. } => {}
            Metric::Selection {
                active,
                bound,
                offset_ns,
                drift_ppb,
            } => {
                self.set_active_source(&self.source_name(active));
                m.error_bound.set(bound.as_secs_f64());
                m.carry.set(offset_ns as f64 * 1e-9);
                m.drift.set(drift_ppb as f64 * 1e-9);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use tempora_core::clock::{Anomaly, ManualClock};
    use tempora_core::hlc::{Hlc, HlcConfig};
    use tempora_core::hooks::SwitchReason;
    use tempora_core::ptp::port::{Port, PortConfig, Timer};
    use tempora_core::ptp::wire::ClockIdentity;
    use tempora_core::queue::{Priority, TemporalQueue};
    use tempora_core::time::{Instant, Tai, Utc};
    use tempora_core::timestamp::NodeId;

    use super::*;

    /// Every sample of the text format, `name{labels}` to value.
    fn samples(text: &str) -> HashMap<String, f64> {
        text.lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .map(|l| {
                let (k, v) = l.rsplit_once(' ').unwrap();
                (k.to_string(), v.parse().unwrap())
            })
            .collect()
    }

    fn value(hooks: &PrometheusHooks, series: &str) -> f64 {
        *samples(&hooks.encode_prometheus_text())
            .get(series)
            .unwrap_or_else(|| panic!("no {series}"))
    }

    #[test]
    fn an_hlc_counts_its_timestamps_and_the_sampler_times_one_in_every() {
        let hooks = PrometheusHooks::new(&["system"], 4);
        let hlc = Hlc::with_hooks(
            ManualClock::<Utc>::new(1_000),
            NodeId(1),
            HlcConfig::DEFAULT,
            hooks.clone(),
        );
        for _ in 0..10 {
            hooks.hlc_latency().time(|| hlc.now());
        }
        assert_eq!(value(&hooks, "tempora_hlc_generations_total"), 10.0);
        // Calls 0, 4 and 8 were timed.
        assert_eq!(value(&hooks, "tempora_hlc_latency_seconds_count"), 3.0);
        assert!(value(&hooks, "tempora_hlc_latency_seconds_sum") > 0.0);
    }

    #[test]
    fn a_queue_reports_its_depth_and_refusals() {
        let hooks = PrometheusHooks::new(&["system"], 1);
        let mut q: TemporalQueue<u32, Utc, 2, _> = TemporalQueue::with_hooks(hooks.clone());
        let hlc = Hlc::new(ManualClock::<Utc>::new(1_000), NodeId(1));
        for i in 0..3 {
            let _ = hooks
                .queue_latency()
                .time(|| q.push(Priority::default(), hlc.now(), i));
        }
        assert_eq!(value(&hooks, "tempora_queue_enqueued_total"), 2.0);
        assert_eq!(value(&hooks, "tempora_queue_refused_total"), 1.0);
        assert_eq!(value(&hooks, "tempora_queue_depth"), 2.0);
        q.pop();
        assert_eq!(value(&hooks, "tempora_queue_dequeued_total"), 1.0);
        assert_eq!(value(&hooks, "tempora_queue_depth"), 1.0);
        assert_eq!(value(&hooks, "tempora_queue_latency_seconds_count"), 3.0);
    }

    #[test]
    fn a_ptp_port_reports_its_state_messages_and_rejections() {
        let hooks = PrometheusHooks::new(&["ptp:eth0"], 1);
        let id = ClockIdentity([1; 8]);
        let config = PortConfig::ordinary(id, 128, false);
        let mut port: Port<4, 64, 4, _> = Port::with_hooks(config, hooks.clone());
        let t0 = Instant::<Tai>::from_secs_nanos(1_700_000_000, 0).unwrap();
        port.start(t0);
        // Nobody announced: after the receipt timeout the port becomes master.
        port.on_timer(
            Timer::AnnounceReceipt,
            t0.saturating_add(Duration::from_secs(60)),
        );
        let state = |s: &str| value(&hooks, &format!("tempora_ptp_port_state{{state=\"{s}\"}}"));
        assert_eq!(
            (state("master"), state("listening"), state("slave")),
            (1.0, 0.0, 0.0)
        );
        let later = t0.saturating_add(Duration::from_secs(61));
        port.on_timer(Timer::Announce, later);
        assert!(
            value(
                &hooks,
                "tempora_ptp_messages_total{direction=\"sent\",type=\"Announce\"}"
            ) >= 1.0
        );
        let _ = port.on_receive(&[0xff; 3], None, later);
        assert_eq!(
            value(
                &hooks,
                "tempora_ptp_packets_rejected_total{reason=\"malformed\"}"
            ),
            1.0
        );
        assert_eq!(
            value(&hooks, "tempora_ptp_packets_rejected_total{reason=\"own\"}"),
            0.0
        );
    }

    #[test]
    fn measurements_count_as_synchronisations_or_failures() {
        let hooks = PrometheusHooks::new(&["ptp:eth0"], 1);
        let m = |offset_ns, accepted| Metric::PtpMeasurement {
            offset_ns,
            delay_ns: 4_000,
            accepted,
        };
        hooks.record(m(-250, true));
        hooks.record(m(90_000, false));
        hooks.record(m(-150, true));
        assert_eq!(value(&hooks, "tempora_clock_synchronizations_total"), 2.0);
        assert_eq!(
            value(&hooks, "tempora_clock_synchronization_failures_total"),
            1.0
        );
        assert!((value(&hooks, "tempora_clock_offset_seconds") + 150e-9).abs() < 1e-15);
        assert!((value(&hooks, "tempora_ptp_path_delay_seconds") - 4e-6).abs() < 1e-15);
    }

    #[test]
    fn a_switch_names_its_sources_and_reason_and_moves_the_active_source() {
        let hooks = PrometheusHooks::new(&["phc:/dev/ptp0", "system"], 1);
        let active = |s: &str| value(&hooks, &format!("tempora_source_active{{source=\"{s}\"}}"));
        assert_eq!((active("phc:/dev/ptp0"), active("system")), (1.0, 0.0));
        hooks.fault(Fault::SourceAnomaly {
            source: 0,
            anomaly: Anomaly::Frozen {
                for_: Duration::from_secs(1),
            },
        });
        hooks.fault(Fault::SourceSwitched {
            from: 0,
            to: 1,
            reason: SwitchReason::Anomaly(Anomaly::Frozen {
                for_: Duration::from_secs(1),
            }),
        });
        hooks.record(Metric::Selection {
            active: 1,
            bound: Duration::from_micros(1500),
            offset_ns: 2_000,
            drift_ppb: -12,
        });
        assert_eq!((active("phc:/dev/ptp0"), active("system")), (0.0, 1.0));
        assert_eq!(
            value(
                &hooks,
                "tempora_source_switches_total{to=\"system\",reason=\"anomaly\"}"
            ),
            1.0
        );
        assert_eq!(
            value(
                &hooks,
                "tempora_source_anomalies_total{source=\"phc:/dev/ptp0\",anomaly=\"frozen\"}"
            ),
            1.0
        );
        assert_eq!(
            value(&hooks, "tempora_faults_total{kind=\"source_switched\"}"),
            1.0
        );
        assert_eq!(
            value(&hooks, "tempora_faults_total{kind=\"hlc_exhausted\"}"),
            0.0
        );
        assert!((value(&hooks, "tempora_clock_error_bound_seconds") - 1.5e-3).abs() < 1e-12);
        assert!((value(&hooks, "tempora_clock_drift_ratio") + 12e-9).abs() < 1e-18);
    }

    #[test]
    fn a_reading_sets_the_bound_and_one_status() {
        let hooks = PrometheusHooks::new(&["system"], 1);
        assert_eq!(
            value(&hooks, "tempora_clock_error_bound_seconds"),
            f64::INFINITY
        );
        let reading = ClockReading::<Utc> {
            time: Instant::from_nanos(5),
            bound: Duration::from_micros(20),
            status: ClockStatus::Holdover,
        };
        hooks.observe_reading(&reading);
        let status = |s: &str| value(&hooks, &format!("tempora_clock_status{{status=\"{s}\"}}"));
        assert_eq!(
            [
                status("synchronized"),
                status("holdover"),
                status("free-running")
            ],
            [0.0, 1.0, 0.0]
        );
        assert!((value(&hooks, "tempora_clock_error_bound_seconds") - 20e-6).abs() < 1e-15);
    }

    #[test]
    fn both_formats_carry_the_same_series() {
        let hooks = PrometheusHooks::new(&["system"], 1);
        hooks.record(Metric::HlcTimestamp);
        let om = hooks.encode_openmetrics();
        assert!(om.ends_with("# EOF\n"));
        assert!(om.contains("# TYPE tempora_hlc_generations counter"));
        let text = hooks.encode_prometheus_text();
        assert!(text.contains("# TYPE tempora_hlc_generations_total counter"));
        assert!(!text.contains("# EOF"));
        let om_samples = samples(&om.replace("# EOF\n", ""));
        let text_samples = samples(&text);
        // Bucket bounds are spelt differently (`1e-07`, `1.0e-7`): compare the rest.
        let plain = |m: &HashMap<String, f64>| -> Vec<(String, f64)> {
            let mut v: Vec<_> = m
                .iter()
                .filter(|(k, _)| !k.contains("le=\""))
                .map(|(k, v)| (k.clone(), *v))
                .collect();
            v.sort_by(|a, b| a.0.cmp(&b.0));
            v
        };
        let (om, text) = (plain(&om_samples), plain(&text_samples));
        assert_eq!(
            om.iter().map(|s| &s.0).collect::<Vec<_>>(),
            text.iter().map(|s| &s.0).collect::<Vec<_>>()
        );
        for ((series, a), (_, b)) in om.iter().zip(&text) {
            assert!(a == b || (a.is_nan() && b.is_nan()), "{series}: {a} vs {b}");
        }
        let buckets = |m: &HashMap<String, f64>| m.keys().filter(|k| k.contains("le=")).count();
        assert_eq!(buckets(&om_samples), buckets(&text_samples));
    }
}
