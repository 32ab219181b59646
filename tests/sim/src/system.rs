//! The whole-system simulation: every core component of a node, on every node, in one
//! simulated timeline drawn from one seed.
//!
//! Each node has
//! - a PHC, a free-running [`LocalClock`] with its own offset and drift, whose PTP port
//!   runs in a [`tempora_ptp_sim`] network (loss, jitter, duplicates, reordering); two
//!   nodes are grandmaster candidates locked to GNSS (their PHC *is* the truth, up to
//!   [`GM_ACCURACY_NS`]), and the first of them fails on a schedule (and may come back),
//!   so the BMCA elects the other;
//! - two [`Discipline`]s: the PTP one, fed by the port's measurements (on the
//!   candidates: by GNSS), and the system clock's, an oscillator of its own fed from the
//!   PTP one as `phc2sys` does while that is healthy;
//! - a [`Selector`] over both, checked every [`CHECK_INTERVAL_NS`]; injected steps and
//!   freezes on either source's reading path make it fail over, demote and fail back;
//! - an [`Hlc`] over the selector's output that stamps every send and receive;
//! - a causal-delivery queue on a lossy, duplicating, reordering network
//!   ([`CausalNet`]), and two pattern [`Detector`]s fed with what it delivers.
//!
//! Every fact the invariants are about goes into a [`Trace`], checked afterwards by
//! [`trace::check`]. There is no wall clock and no thread anywhere: the same seed gives
//! the same trace, byte for byte.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::rc::Rc;
use std::time::Duration;

use tempora_core::clock::{Anomaly, ClockReading, ClockSource, ClockStatus, ManualClock};
use tempora_core::discipline::{Discipline, DisciplineConfig, OffsetSample};
use tempora_core::hlc::Hlc;
use tempora_core::hooks::{Fault as CoreFault, FaultHook, MetricsHook};
use tempora_core::pattern::{Absence, Contiguity, Detector, Event, PushError, Report, Sequence};
use tempora_core::ptp::port::PortState;
use tempora_core::rng::SplitMix64;
use tempora_core::select::{DetectorConfig, Selector, SelectorConfig, Sources};
use tempora_core::time::{Instant, Offset, Tai};
use tempora_core::timestamp::Timestamp;
use tempora_ptp_sim::sim::{Link, Simulation};
use tempora_ptp_sim::{config, LocalClock, EPOCH_NS};

use crate::net::{node_index, CausalNet, NetConfig, NetStats};
use crate::reference::StreamEvent;
use crate::trace::{self, patterns, Fact, Fnv, Invariants, Trace};

/// The most nodes a whole-system run has (the vector clocks' capacity).
pub const MAX_NODES: usize = 16;
/// Messages a node's causal queue may hold back.
const HOLD_BACK: usize = 128;
/// How often each node checks its selector: 100 ms of true time.
pub const CHECK_INTERVAL_NS: u64 = 100_000_000;
/// How far a grandmaster candidate's PHC may be from the truth (GNSS-locked), ns; every
/// PTP sample's bound is widened by it, since PTP measures against the grandmaster, not
/// against the truth.
pub const GM_ACCURACY_NS: u64 = 100;
/// No fault before this (ns): the ports elect a master and lock, the disciplines fill.
const WARM_UP_NS: u64 = 3_000_000_000;
/// The grandmaster candidates: nodes 0 and 1.
const CANDIDATES: usize = 2;

/// What one run simulates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SystemConfig {
    /// Everything random comes from it.
    pub seed: u64,
    /// Nodes, 3 to [`MAX_NODES`].
    pub nodes: usize,
    /// Simulated time during which nodes send and faults happen, ns; the network is
    /// drained afterwards so that every message arrives.
    pub duration_ns: u64,
    /// The shortest and longest pause between two messages of one node, ns.
    pub send_every_ns: (u64, u64),
    /// Chance that the PTP network holds a packet back by 50 µs, %; 2 by default (see
    /// `docs/simulation.md`, "What the runs found", for what it found).
    pub ptp_reorder_percent: u64,
}

impl SystemConfig {
    /// 16 nodes for 60 s, a message from each every 20 to 80 ms.
    pub const fn new(seed: u64) -> Self {
        Self {
            seed,
            nodes: MAX_NODES,
            duration_ns: 60_000_000_000,
            send_every_ns: (20_000_000, 80_000_000),
            ptp_reorder_percent: 2,
        }
    }
}

/// The figures of one run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SystemReport {
    /// The run's configuration.
    pub config: SystemConfig,
    /// Every invariant's tally.
    pub invariants: Invariants,
    /// The trace's digest: equal for every replay of the seed.
    pub digest: u64,
    /// Facts recorded.
    pub facts: usize,
    /// Messages broadcast.
    pub sent: u64,
    /// Messages delivered (over all receivers).
    pub delivered: u64,
    /// What the causal network did.
    pub net: NetStats,
    /// Selector switches (failovers and failbacks).
    pub switches: u64,
    /// PTP parent changes (BMCA outcomes), over all ports.
    pub parent_changes: u64,
    /// Faults injected (steps, freezes, grandmaster outages).
    pub faults: u64,
    /// Pattern matches reported.
    pub matches: u64,
    /// Events the pattern detectors refused as late.
    pub late: u64,
}

/// A source's reading path as the fault injector leaves it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Injected {
    Clean,
    /// Readings are off by this much until the owner re-synchronises the source.
    Step(i64),
    /// Readings repeat this one until the freeze ends.
    Frozen(ClockReading<Tai>),
}

/// A free-running clock read at the simulation's current true time: a PHC or an
/// oscillator, claiming nothing about its error.
struct Raw {
    now: Rc<Cell<u64>>,
    clock: LocalClock,
}

impl Raw {
    fn local_ns(&self) -> u64 {
        u64::try_from(self.clock.local_ns(i128::from(self.now.get()))).unwrap_or(0)
    }
}

impl ClockSource for Raw {
    type Scale = Tai;
    fn read(&self) -> ClockReading<Tai> {
        ClockReading::unknown(Instant::from_nanos(self.local_ns()))
    }
}

/// One of a node's disciplined sources with its reading path, where faults are
/// injected, and the node's elapsed reference (its oscillator counted from boot).
pub struct Source {
    discipline: Discipline<Raw>,
    injected: Cell<Injected>,
    /// A fault was injected since the last check: no detector can have seen it yet.
    unseen: Cell<bool>,
    boot: Raw,
}

impl ClockSource for Source {
    type Scale = Tai;
    fn read(&self) -> ClockReading<Tai> {
        let r = self.discipline.read();
        match self.injected.get() {
            Injected::Clean => r,
            Injected::Step(by) => ClockReading {
                time: r.time.saturating_add_offset(Offset::from_nanos(by)),
                ..r
            },
            Injected::Frozen(at) => at,
        }
    }
    fn elapsed_reference(&self) -> Option<u64> {
        Some(self.boot.local_ns())
    }
}

/// The selector's fault hook: keeps the anomalies of the current check, so the owner
/// can re-synchronise a stepped source (as it would re-read a PHC offset).
#[derive(Default)]
pub struct Anomalies(RefCell<Vec<(u8, Anomaly)>>);

impl FaultHook for Anomalies {
    fn fault(&self, fault: CoreFault) {
        if let CoreFault::SourceAnomaly { source, anomaly } = fault {
            self.0.borrow_mut().push((source, anomaly));
        }
    }
}
impl MetricsHook for Anomalies {}

/// The message every node broadcasts: an HLC-stamped event for the pattern detectors.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AppMessage {
    /// The send's HLC stamp.
    pub stamp: Timestamp<Tai>,
    /// Event kind, below [`patterns::KINDS`].
    pub kind: u8,
    /// Event partition, below [`patterns::PARTITIONS`].
    pub partition: u64,
    /// Anything: what the content digest must carry through.
    pub body: u64,
}

/// The digest of a message as its sender sent it or a receiver got it.
pub fn content(from: usize, seq: u64, m: &AppMessage) -> u64 {
    let mut h = Fnv::default();
    (from, seq, m).hash(&mut h);
    h.finish()
}

type SeqDetector = Detector<u8, Tai, Sequence<u8, Tai, 2, 8, 64>, 1024>;
type AbsDetector = Detector<u8, Tai, Absence<u8, Tai, 512>, 1024>;

/// A fault planned for one source of one node.
#[derive(Clone, Copy, Debug)]
struct Planned {
    at: u64,
    source: u8,
    kind: PlannedKind,
}

#[derive(Clone, Copy, Debug)]
enum PlannedKind {
    Step(i64),
    Freeze { until: u64 },
}

struct Node {
    selector: Selector<Source, 2, Anomalies>,
    hlc: Hlc<ManualClock<Tai>>,
    sequence: SeqDetector,
    absence: AbsDetector,
    /// Faults not yet injected, latest first.
    plan: Vec<Planned>,
    /// Freezes in force: (source, true time they end).
    thaws: Vec<(u8, u64)>,
    /// The sources healthy at the last check.
    healthy: Sources,
    gnss: bool,
}

impl Node {
    fn source(&self, i: u8) -> &Source {
        &self.selector.sources()[usize::from(i)]
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Due {
    Check(usize),
    Send(usize),
    Outage { node: usize, up: bool },
}

/// Everything a run is, while it runs.
struct World {
    now: Rc<Cell<u64>>,
    nodes: Vec<Node>,
    trace: Trace,
    rng: SplitMix64,
    switches: u64,
    faults: u64,
    matches: u64,
    late: u64,
}

/// The selector's limits: a 1 ms step threshold (100 ppm over a 100 ms check is 10 µs),
/// a freeze seen in 50 ms (under one check interval, so a freeze is seen at the first
/// check after it), failback after 2 s clean.
const SELECTOR: SelectorConfig = SelectorConfig {
    max_bound: Duration::from_millis(1),
    failback_after: Duration::from_secs(2),
    slew_ppm: 500,
    detector: DetectorConfig {
        step: Duration::from_millis(1),
        freeze_after: Duration::from_millis(50),
        rate_window: Duration::from_secs(4),
        max_rate_ppm: 1_000,
    },
};

/// The PTP discipline: fresh for 1 s (eight Syncs), 10 ppm for the port's frequency
/// estimate's error.
const PTP_DISCIPLINE: DisciplineConfig = DisciplineConfig {
    fresh_for: Duration::from_secs(1),
    drift_ppb: 10_000,
    tolerance_ppb: 500_000,
};

/// The system clock's discipline: its oscillator's frequency is not estimated, so the
/// bound grows at more than the oscillators' largest drift (±50 ppm).
const SYSTEM_DISCIPLINE: DisciplineConfig = DisciplineConfig {
    fresh_for: Duration::from_millis(250),
    drift_ppb: 60_000,
    tolerance_ppb: 500_000,
};

/// The true TAI time at true time `t`.
fn truth(t: u64) -> u64 {
    u64::try_from(EPOCH_NS + i128::from(t)).unwrap_or(u64::MAX)
}

/// Runs one seed and checks its trace; returns the figures and the trace.
pub fn run(config: SystemConfig) -> (SystemReport, Trace) {
    let n = config.nodes.clamp(CANDIDATES + 1, MAX_NODES);
    let config = SystemConfig { nodes: n, ..config };
    let mut rng = SplitMix64::new(config.seed);
    let now = Rc::new(Cell::new(0u64));
    let link = Link::new(20_000, 500)
        .with_loss(3)
        .with_duplicates(1)
        .with_reordering(config.ptp_reorder_percent, 50_000);
    let mut ptp = Simulation::new(rng.next_u64(), link);
    let mut net: CausalNet<AppMessage, MAX_NODES, HOLD_BACK> =
        CausalNet::new(n, NetConfig::DEFAULT, rng.next_u64());
    let mut world = World {
        now: Rc::clone(&now),
        nodes: Vec::with_capacity(n),
        trace: Vec::new(),
        rng: SplitMix64::new(rng.next_u64()),
        switches: 0,
        faults: 0,
        matches: 0,
        late: 0,
    };
    let mut due: BTreeMap<(u64, u64), Due> = BTreeMap::new();
    let mut order = 0u64;
    let mut schedule = |due: &mut BTreeMap<(u64, u64), Due>, at: u64, what: Due| {
        order += 1;
        due.insert((at, order), what);
    };
    for i in 0..n {
        let gnss = i < CANDIDATES;
        let phc = if gnss {
            LocalClock::new(rng.jitter(GM_ACCURACY_NS / 2).into(), 0)
        } else {
            LocalClock::new(rng.jitter(1_000_000).into(), rng.jitter(50_000).into())
        };
        let oscillator = LocalClock::new(rng.jitter(5_000_000).into(), rng.jitter(50_000).into());
        let id = u8::try_from(i + 1).unwrap_or(u8::MAX);
        let port = match i {
            0 => config::fast(id, 10, false),
            1 => config::fast(id, 20, false),
            _ => config::fast(id, 128, true),
        };
        ptp.add_node(port, phc);
        let boot = || Raw {
            now: Rc::clone(&now),
            clock: oscillator.with_epoch(0),
        };
        let source = |clock: LocalClock, discipline: DisciplineConfig| Source {
            discipline: Discipline::new(
                Raw {
                    now: Rc::clone(&now),
                    clock,
                },
                discipline,
            ),
            injected: Cell::new(Injected::Clean),
            unseen: Cell::new(false),
            boot: boot(),
        };
        let selector = Selector::with_hooks(
            [
                source(phc, PTP_DISCIPLINE),
                source(oscillator, SYSTEM_DISCIPLINE),
            ],
            SELECTOR,
            Anomalies::default(),
        );
        let within = Duration::from_nanos(patterns::WITHIN_NS);
        let lateness = Duration::from_nanos(patterns::LATENESS_NS);
        world.nodes.push(Node {
            selector,
            hlc: Hlc::new(ManualClock::new(0), crate::net::node_id(i)),
            sequence: Detector::new(
                Sequence::new(
                    [patterns::START, patterns::END],
                    within,
                    Contiguity::Relaxed,
                ),
                lateness,
            ),
            absence: Detector::new(
                Absence::new(patterns::START, patterns::END, within),
                lateness,
            ),
            plan: plan_faults(&mut rng, config.duration_ns),
            thaws: Vec::new(),
            healthy: Sources::default(),
            gnss,
        });
        // Stagger the checks so that nodes do not all check at once.
        schedule(&mut due, rng.below(CHECK_INTERVAL_NS), Due::Check(i));
        schedule(&mut due, rng.below(config.send_every_ns.1), Due::Send(i));
    }
    // The preferred grandmaster fails once after the warm-up and comes back (or not);
    // sometimes the backup fails too, for a while, leaving no master at all.
    let span = config.duration_ns.saturating_sub(WARM_UP_NS).max(1);
    let down = WARM_UP_NS + rng.below(span / 2 + 1);
    let up = (!rng.chance(30)).then(|| down + 1_000_000_000 + rng.below(span / 4 + 1));
    ptp.mute(0, i128::from(down)..up.map_or(i128::MAX, i128::from));
    schedule(&mut due, down, Due::Outage { node: 0, up: false });
    if let Some(up) = up.filter(|&u| u <= config.duration_ns) {
        schedule(&mut due, up, Due::Outage { node: 0, up: true });
    }
    if rng.chance(25) {
        let down = down + rng.below(2_000_000_000);
        let up = down + 500_000_000 + rng.below(3_000_000_000);
        ptp.mute(1, i128::from(down)..i128::from(up));
        schedule(&mut due, down, Due::Outage { node: 1, up: false });
        schedule(&mut due, up, Due::Outage { node: 1, up: true });
    }

    // The run: own events and the network's, in time order, PTP brought up to each.
    // Bounded: events stop at the duration and the network drains in at most
    // `max_attempts` retransmissions per copy.
    let limit = 200_000_000u64;
    for _ in 0..limit {
        let own = due.first_key_value().map(|(&(t, _), _)| t);
        let copy = net.next_at();
        let t = match (own, copy) {
            (None, None) => break,
            (Some(a), Some(b)) => a.min(b),
            (Some(a), None) => a,
            (None, Some(b)) => b,
        };
        if t <= config.duration_ns {
            world.run_ptp(&mut ptp, t);
        }
        now.set(t);
        if own == Some(t) {
            let Some((_, what)) = due.pop_first() else {
                break;
            };
            match what {
                Due::Check(i) => {
                    world.check(i, t);
                    if t + CHECK_INTERVAL_NS <= config.duration_ns {
                        schedule(&mut due, t + CHECK_INTERVAL_NS, Due::Check(i));
                    }
                }
                Due::Send(i) => {
                    world.send(&mut net, i, t);
                    let (low, high) = config.send_every_ns;
                    let next = t + low + world.rng.below(high.saturating_sub(low) + 1);
                    if next <= config.duration_ns {
                        schedule(&mut due, next, Due::Send(i));
                    }
                }
                Due::Outage { node, up } => {
                    world.faults += u64::from(!up);
                    world.trace.push(Fact::Fault {
                        t,
                        node: node as u32,
                        source: 0,
                        what: if up { "gm-up" } else { "gm-down" },
                    });
                }
            }
        } else {
            net.step(t, |at, i, m| world.deliver(at, i, m));
        }
    }
    world.flush();
    let invariants = trace::check(&world.trace, n);
    let sent = world
        .trace
        .iter()
        .filter(|f| matches!(f, Fact::Send { .. }))
        .count() as u64;
    let parent_changes = world
        .trace
        .iter()
        .filter(|f| matches!(f, Fact::Parent { .. }))
        .count() as u64;
    let stats = net.stats();
    let report = SystemReport {
        config,
        digest: trace::digest(&world.trace),
        facts: world.trace.len(),
        invariants,
        sent,
        delivered: stats.delivered,
        net: stats,
        switches: world.switches,
        parent_changes,
        faults: world.faults,
        matches: world.matches,
        late: world.late,
    };
    (report, world.trace)
}

/// Faults for one node, latest first: about one every 8 s after the warm-up, never two
/// at once on a node (see `docs/simulation.md` for why one at a time).
fn plan_faults(rng: &mut SplitMix64, duration: u64) -> Vec<Planned> {
    let mut plan = Vec::new();
    let mut at = WARM_UP_NS + rng.below(8_000_000_000);
    while at < duration && plan.len() < 1_000 {
        let source = u8::from(rng.chance(30));
        let magnitude = 2_000_000 + rng.below(48_000_000);
        let (kind, busy_until) = match rng.below(3) {
            0 => (PlannedKind::Step(magnitude as i64), at),
            1 => (PlannedKind::Step(-(magnitude as i64)), at),
            _ => {
                let until = at + 300_000_000 + rng.below(2_700_000_000);
                (PlannedKind::Freeze { until }, until)
            }
        };
        plan.push(Planned { at, source, kind });
        at = busy_until + 1_000_000_000 + rng.below(14_000_000_000);
    }
    plan.reverse();
    plan
}

impl World {
    /// Brings the PTP network up to true time `t`, feeding every non-candidate node's
    /// measurements into its PTP discipline.
    fn run_ptp(&mut self, ptp: &mut Simulation, t: u64) {
        let (nodes, trace, now) = (&self.nodes, &mut self.trace, &self.now);
        let before = now.get();
        ptp.run_until(i128::from(t), |seen| {
            let at = u64::try_from(seen.t).unwrap_or(0);
            if let Some(state) = seen.state() {
                let parent = match state {
                    PortState::Master => Some(0),
                    PortState::Slave(p) => Some(p.clock.0[0]),
                    _ => None,
                };
                if let Some(parent) = parent {
                    trace.push(Fact::Parent {
                        t: at,
                        node: seen.node as u32,
                        parent,
                    });
                }
            }
            let (Some(m), Some(node)) = (seen.measurement(), nodes.get(seen.node)) else {
                return;
            };
            if node.gnss {
                return;
            }
            now.set(at);
            let mut sample = m.sample();
            sample.bound = sample
                .bound
                .saturating_add(Duration::from_nanos(GM_ACCURACY_NS));
            // Refused only for a frequency beyond 1000 ppm, which no port here reports;
            // the discipline then keeps its estimate, which stays honest as it coasts.
            let _ = node.source(0).discipline.update(sample);
        });
        now.set(before.max(t));
    }

    /// Node `i`'s periodic check: GNSS on the candidates, the selector, re-synchronising
    /// stepped sources, feeding the system clock, a reading, then the faults due.
    fn check(&mut self, i: usize, t: u64) {
        let node = &mut self.nodes[i];
        if node.gnss {
            let phc = &node.source(0).discipline.local();
            let local = phc.local_ns();
            let _ = node.source(0).discipline.update(OffsetSample {
                at: Instant::from_nanos(local),
                offset: Offset::from_nanos(local as i64 - truth(t) as i64),
                frequency_ppt: 0,
                bound: Duration::from_nanos(GM_ACCURACY_NS),
                locked: true,
            });
        }
        for s in node.selector.sources() {
            s.unseen.set(false);
        }
        let report = node.selector.check();
        let anomalies: Vec<_> = node.selector.hooks().0.borrow_mut().drain(..).collect();
        node.healthy = report.healthy;
        for &(source, anomaly) in &anomalies {
            let stepped = matches!(
                anomaly,
                Anomaly::SteppedForward { .. } | Anomaly::SteppedBack { .. }
            );
            let s = node.source(source);
            if stepped && matches!(s.injected.get(), Injected::Step(_)) {
                s.injected.set(Injected::Clean);
                self.trace.push(Fact::Fault {
                    t,
                    node: i as u32,
                    source,
                    what: "resync",
                });
            }
        }
        if let Some(switch) = report.switch {
            self.switches += 1;
            self.trace.push(Fact::Switch {
                t,
                node: i as u32,
                from: switch.from,
                to: switch.to,
            });
        }
        // phc2sys: the system clock follows the PTP clock while that is healthy and
        // showed nothing odd at this check.
        let ptp_clean = report.healthy.contains(0) && anomalies.iter().all(|a| a.0 != 0);
        let ptp = node.source(0).read();
        if ptp_clean && ptp.status == ClockStatus::Synchronized {
            let system = node.source(1);
            let local = system.discipline.local().local_ns();
            let _ = system.discipline.update(OffsetSample {
                at: Instant::from_nanos(local),
                offset: Offset::from_nanos(local as i64 - ptp.time.as_nanos() as i64),
                frequency_ppt: 0,
                bound: ptp.bound,
                locked: true,
            });
        }
        self.reading(i, t);
        self.inject(i, t);
    }

    /// Injects node `i`'s faults due at `t` (right after a check) and ends freezes.
    fn inject(&mut self, i: usize, t: u64) {
        let node = &mut self.nodes[i];
        let mut facts = Vec::new();
        node.thaws.retain(|&(source, until)| {
            if until > t {
                return true;
            }
            let s = &node.selector.sources()[usize::from(source)];
            s.injected.set(Injected::Clean);
            facts.push((source, "thaw"));
            false
        });
        while node.plan.last().is_some_and(|p| p.at <= t) {
            // The selector's promise is about a broken source among working ones: a
            // fault waits until the node's other source was healthy at this check
            // (synchronized, and clean for the failback period since its last
            // anomaly), else a freeze could leave nothing to fail over to and no bound
            // could be honest. See `docs/simulation.md`.
            let other = node.plan.last().map_or(0, |p| 1 - usize::from(p.source));
            if !node.healthy.contains(other) {
                break;
            }
            let Some(p) = node.plan.pop() else { break };
            let s = &node.selector.sources()[usize::from(p.source)];
            let what = match p.kind {
                PlannedKind::Step(by) => {
                    s.injected.set(Injected::Step(by));
                    if by > 0 {
                        "step+"
                    } else {
                        "step-"
                    }
                }
                PlannedKind::Freeze { until } => {
                    s.injected.set(Injected::Frozen(s.read()));
                    node.thaws.push((p.source, until));
                    "freeze"
                }
            };
            s.unseen.set(true);
            self.faults += 1;
            facts.push((p.source, what));
        }
        for (source, what) in facts {
            self.trace.push(Fact::Fault {
                t,
                node: i as u32,
                source,
                what,
            });
        }
    }

    /// Reads node `i`'s selector at true time `t`, records the reading, and returns its
    /// time for the HLC.
    fn reading(&mut self, i: usize, t: u64) -> u64 {
        let node = &self.nodes[i];
        let r = node.selector.read();
        let interval = r.interval();
        let source = node.selector.active();
        self.trace.push(Fact::Reading {
            t,
            node: i as u32,
            truth: truth(t),
            earliest: interval.earliest.as_nanos(),
            latest: interval.latest.as_nanos(),
            excused: node.selector.sources()[source].unseen.get(),
            source: source as u8,
        });
        r.time.as_nanos()
    }

    fn send(&mut self, net: &mut CausalNet<AppMessage, MAX_NODES, HOLD_BACK>, i: usize, t: u64) {
        let physical = self.reading(i, t);
        let node = &self.nodes[i];
        node.hlc.clock().set(physical);
        let message = AppMessage {
            stamp: node.hlc.now(),
            kind: self.rng.below(u64::from(patterns::KINDS)) as u8,
            partition: self.rng.below(patterns::PARTITIONS),
            body: self.rng.next_u64(),
        };
        if let Some(sent) = net.broadcast(t, i, message) {
            self.trace.push(Fact::Send {
                t,
                node: i as u32,
                seq: sent.seq(),
                hlc: message.stamp.raw(),
                content: content(i, sent.seq(), &message),
            });
        }
    }

    fn deliver(
        &mut self,
        t: u64,
        i: usize,
        m: tempora_core::causal::CausalMessage<AppMessage, MAX_NODES>,
    ) {
        let physical = self.reading(i, t);
        let from = node_index(m.sender);
        let node = &mut self.nodes[i];
        node.hlc.clock().set(physical);
        // A refused stamp (more than the max offset ahead) still is a receipt: stamp it
        // now, and the causality checker will say that it is not after the send.
        let received = node
            .hlc
            .update(m.payload.stamp)
            .unwrap_or_else(|_| node.hlc.now());
        self.trace.push(Fact::Deliver {
            t,
            node: i as u32,
            from: from as u32,
            seq: m.seq(),
            hlc: received.raw(),
            content: content(from, m.seq(), &m.payload),
        });
        let event = Event {
            timestamp: m.payload.stamp,
            kind: m.payload.kind,
            partition: m.payload.partition,
        };
        let stream = StreamEvent {
            raw: event.timestamp.raw(),
            node: event.timestamp.node().0,
            kind: event.kind,
            partition: event.partition,
        };
        let (trace, matches) = (&mut self.trace, &mut self.matches);
        let who = i as u32;
        let pushed = node.sequence.push(event, |r| {
            record(trace, matches, who, patterns::SEQUENCE, r)
        });
        self.late += accepted(trace, who, patterns::SEQUENCE, stream, pushed);
        let pushed = node
            .absence
            .push(event, |r| record(trace, matches, who, patterns::ABSENCE, r));
        self.late += accepted(trace, who, patterns::ABSENCE, stream, pushed);
    }

    /// The end of the streams: every detector releases what it holds.
    fn flush(&mut self) {
        let (trace, matches) = (&mut self.trace, &mut self.matches);
        for (i, node) in self.nodes.iter_mut().enumerate() {
            let who = i as u32;
            node.sequence
                .flush(|r| record(trace, matches, who, patterns::SEQUENCE, r));
            node.absence
                .flush(|r| record(trace, matches, who, patterns::ABSENCE, r));
        }
    }
}

/// Records what a detector's push did with an event; returns 1 if it was late.
fn accepted(
    trace: &mut Trace,
    node: u32,
    pattern: u8,
    event: StreamEvent,
    pushed: Result<(), PushError<u8, Tai>>,
) -> u64 {
    match pushed {
        Ok(()) => {
            trace.push(Fact::Accepted {
                node,
                pattern,
                event,
            });
            0
        }
        Err(PushError::Late(_)) => {
            trace.push(Fact::Late {
                node,
                pattern,
                event,
            });
            1
        }
        Err(PushError::Full(_)) => {
            trace.push(Fact::Overflow { node, pattern });
            0
        }
    }
}

fn record(trace: &mut Trace, matches: &mut u64, node: u32, pattern: u8, r: Report<'_, Tai>) {
    match r {
        Report::Match(m) => {
            *matches += 1;
            trace.push(Fact::Match {
                node,
                pattern,
                key: (
                    m.partition,
                    m.timestamps.iter().map(|s| (s.raw(), s.node().0)).collect(),
                ),
            });
        }
        Report::Overflow { .. } => trace.push(Fact::Overflow { node, pattern }),
    }
}
