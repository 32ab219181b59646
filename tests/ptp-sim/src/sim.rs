//! A deterministic network of PTP ports: what a platform adapter does, in simulated time.
//!
//! N nodes share one segment (every packet goes to every other node, as PTP multicast
//! does), each with its [`LocalClock`] and a [`Port`]. The simulation delivers packets
//! after each link's delay and jitter (event messages with a receive timestamp, general
//! ones without), hands each event message's send timestamp back through its
//! [`SendContext`](tempora_core::ptp::port::SendContext) at once, fires timers at the
//! first true time the node's clock reaches them (a re-armed or cancelled timer's old
//! expiry is skipped), and carries out the actions each call returns. Everything random
//! comes from one seeded [`SplitMix64`]: a seed replays exactly.
//!
//! ```
//! use tempora_core::ptp::port::PortState;
//! use tempora_ptp_sim::sim::{Link, Simulation};
//! use tempora_ptp_sim::{config, LocalClock, SECOND};
//!
//! let mut sim = Simulation::new(1, Link::new(2_000, 100).with_loss(5));
//! let master = sim.add_node(config::fast(1, 10, false), LocalClock::new(0, 0));
//! let slave = sim.add_node(config::fast(2, 128, true), LocalClock::new(-40_000, -12_000));
//! let mut states = Vec::new();
//! sim.run_until(3 * SECOND, |seen| {
//!     if let Some(state) = seen.state() {
//!         states.push((seen.node, state));
//!     }
//! });
//! assert!(states.contains(&(master, PortState::Master)));
//! assert_eq!(sim.port(slave).state(), PortState::Slave(sim.port(master).config().identity));
//! assert!(sim.traffic().lost > 0);
//! ```

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::time::Duration;

use tempora_core::clock::{ClockReading, ClockSource, ClockStatus, ManualClock};
use tempora_core::discipline::{Discipline, DisciplineConfig};
use tempora_core::ptp::port::{Action, Measurement, Packet, Port, PortConfig, PortState, Timer};
use tempora_core::ptp::wire::MessageType;
use tempora_core::rng::SplitMix64;
use tempora_core::time::{Instant, Tai};

use crate::clock::LocalClock;

/// What a link does to each packet from one node to another.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Link {
    /// Mean one-way delay (ns).
    pub delay_ns: i128,
    /// Each packet's delay varies uniformly by up to this much either way (ns).
    pub jitter_ns: u64,
    /// Chance of losing a packet, %.
    pub loss_percent: u64,
    /// Chance of delivering a packet twice (the copy with a delay of its own), %.
    pub duplicate_percent: u64,
    /// Chance of holding a packet back by [`hold_ns`](Self::hold_ns), so that later
    /// ones overtake it, %.
    pub reorder_percent: u64,
    /// How long a reordered packet is held back (ns).
    pub hold_ns: i128,
}

impl Link {
    /// A link with this delay and jitter that loses, duplicates and reorders nothing.
    pub const fn new(delay_ns: i128, jitter_ns: u64) -> Self {
        Self {
            delay_ns,
            jitter_ns,
            loss_percent: 0,
            duplicate_percent: 0,
            reorder_percent: 0,
            hold_ns: 0,
        }
    }

    /// The same, losing `percent` % of packets.
    pub const fn with_loss(mut self, percent: u64) -> Self {
        self.loss_percent = percent;
        self
    }

    /// The same, delivering `percent` % of packets twice.
    pub const fn with_duplicates(mut self, percent: u64) -> Self {
        self.duplicate_percent = percent;
        self
    }

    /// The same, holding `percent` % of packets back by `hold_ns`.
    pub const fn with_reordering(mut self, percent: u64, hold_ns: i128) -> Self {
        self.reorder_percent = percent;
        self.hold_ns = hold_ns;
        self
    }
}

/// What made a port produce an action: the call it answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trigger {
    /// [`Port::start`].
    Start,
    /// [`Port::on_timer`] with this timer.
    Timer(Timer),
    /// [`Port::on_receive`] of a message of this type.
    Receipt(MessageType),
}

/// One simulated node: its port and its clock, and when it takes part.
pub struct Node {
    port: Port,
    clock: LocalClock,
    start_at: i128,
    started: bool,
    muted: Vec<Range<i128>>,
    sends: fn(MessageType) -> bool,
}

impl Node {
    /// The node's port.
    pub fn port(&self) -> &Port {
        &self.port
    }

    /// The node's clock.
    pub fn clock(&self) -> &LocalClock {
        &self.clock
    }

    fn muted_at(&self, t: i128) -> bool {
        self.muted.iter().any(|w| w.contains(&t))
    }
}

/// An action as a port returned it, shown to the hook before the simulation carries it
/// out.
pub struct Seen<'a> {
    /// Which node's port.
    pub node: usize,
    /// True time (ns since the start).
    pub t: i128,
    /// The call that produced it (a send report's actions: the call that sent the
    /// message).
    pub trigger: Trigger,
    /// The action.
    pub action: &'a Action,
    nodes: &'a [Node],
}

impl Seen<'_> {
    /// The port that produced the action, in the state that call left it in.
    pub fn port(&self) -> &Port {
        &self.nodes[self.node].port
    }

    /// Any node.
    pub fn node(&self, i: usize) -> &Node {
        &self.nodes[i]
    }

    /// The new state, if the action is a state change.
    pub fn state(&self) -> Option<PortState> {
        match self.action {
            Action::State(s) => Some(*s),
            _ => None,
        }
    }

    /// The measurement, if the action is one.
    pub fn measurement(&self) -> Option<&Measurement> {
        match self.action {
            Action::Measure(m) => Some(m),
            _ => None,
        }
    }

    /// The packet, if the action sends one.
    pub fn packet(&self) -> Option<&Packet> {
        match self.action {
            Action::Send { packet, .. } => Some(packet),
            _ => None,
        }
    }

    /// The truth a measurement of this node against `reference` estimates: this node's
    /// clock minus the reference's (ns) at the true time this node's clock read `local`
    /// (a measurement's [`at`](Measurement::at)).
    pub fn true_offset(&self, reference: usize, local: Instant<Tai>) -> i128 {
        let clock = &self.nodes[self.node].clock;
        clock.minus(&self.nodes[reference].clock, clock.true_time(local))
    }
}

/// What happened to the packets, summed over every link. Every copy is accounted for:
/// `sent + duplicated == lost + delivered + ignored + muted + in_flight`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Traffic {
    /// Copies sent (one per packet and receiving node).
    pub sent: u64,
    /// Lost on a link.
    pub lost: u64,
    /// Delivered twice.
    pub duplicated: u64,
    /// Held back.
    pub reordered: u64,
    /// Handed to a port that took them.
    pub delivered: u64,
    /// Handed to a port that ignored them ([`Port::on_receive`] returned an error).
    pub ignored: u64,
    /// Sent by, or arriving at, a node that was muted or not yet started.
    pub muted: u64,
    /// Still on a link.
    pub in_flight: u64,
}

/// One reading of the disciplined clock against the truth.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reading {
    /// True time (ns since the start).
    pub t: i128,
    /// The reading minus the reference node's clock (ns).
    pub error_ns: i128,
    /// The bound the reading claimed.
    pub bound: Duration,
    /// The status the reading claimed.
    pub status: ClockStatus,
}

impl Reading {
    /// Whether the truth lies inside the claimed bound.
    pub fn inside_bound(&self) -> bool {
        self.error_ns.unsigned_abs() <= self.bound.as_nanos()
    }
}

/// A node's clock as its [`Discipline`] reads it: the simulated local time, claiming
/// nothing about its error (status unknown, no bound), so that readings before the
/// first measurement promise nothing either.
#[derive(Debug)]
pub struct NodeClock(ManualClock<Tai>);

impl ClockSource for NodeClock {
    type Scale = Tai;
    fn read(&self) -> ClockReading<Tai> {
        ClockReading {
            time: self.0.time(),
            bound: Duration::MAX,
            status: ClockStatus::Unknown,
        }
    }
}

/// A node's measurements feeding a clock discipline, read at a fixed period.
struct Feed {
    node: usize,
    reference: usize,
    discipline: Discipline<NodeClock>,
    period_ns: i128,
    next_at: i128,
    readings: Vec<Reading>,
}

#[derive(Debug)]
enum Event {
    Start(usize),
    Timer(usize, Timer, u64),
    Deliver {
        to: usize,
        message_type: MessageType,
        bytes: Vec<u8>,
    },
}

/// The network, its nodes and the simulated time. See the [module](self) docs.
pub struct Simulation {
    nodes: Vec<Node>,
    link: Link,
    links: HashMap<(usize, usize), Link>,
    rng: SplitMix64,
    now: i128,
    begun: bool,
    /// Pending events by (true time, order of scheduling).
    queue: BTreeMap<(i128, u64), Event>,
    scheduled: u64,
    /// Each (node, timer)'s arming count: an expiry of an older arming is stale.
    generations: HashMap<(usize, Timer), u64>,
    /// Actions still to carry out: (node, true time, trigger, actions), last first.
    pending: Vec<(usize, i128, Trigger, Vec<Action>)>,
    feed: Option<Feed>,
    traffic: Traffic,
}

impl Simulation {
    /// An empty network whose randomness comes from `seed`, every link like `link`.
    pub fn new(seed: u64, link: Link) -> Self {
        Self {
            nodes: Vec::new(),
            link,
            links: HashMap::new(),
            rng: SplitMix64::new(seed),
            now: 0,
            begun: false,
            queue: BTreeMap::new(),
            scheduled: 0,
            generations: HashMap::new(),
            pending: Vec::new(),
            feed: None,
            traffic: Traffic::default(),
        }
    }

    /// Adds a node with a port of `config` on `clock`, started at true time 0; returns
    /// its index (0, 1, ... in the order added).
    pub fn add_node(&mut self, config: PortConfig, clock: LocalClock) -> usize {
        assert!(!self.begun, "nodes join before the first run");
        self.nodes.push(Node {
            port: Port::new(config),
            clock,
            start_at: 0,
            started: false,
            muted: Vec::new(),
            sends: |_| true,
        });
        self.nodes.len() - 1
    }

    /// Starts `node`'s port at true time `t` instead of 0; until then it hears nothing.
    pub fn start_at(&mut self, node: usize, t: i128) {
        assert!(!self.begun, "set before the first run");
        self.nodes[node].start_at = t;
    }

    /// Cuts `node` off the network during `window` (true time): what it sends is lost,
    /// nothing reaches it; its clock and timers run on.
    pub fn mute(&mut self, node: usize, window: Range<i128>) {
        self.nodes[node].muted.push(window);
    }

    /// Puts on the wire only the messages of `node` that `keep` accepts (a rogue that
    /// announces itself and sends no Sync, say); the others are never sent, and get no
    /// send report.
    pub fn send_only(&mut self, node: usize, keep: fn(MessageType) -> bool) {
        self.nodes[node].sends = keep;
    }

    /// Makes the link from node `from` to node `to` (one way) like `link`.
    pub fn set_link(&mut self, from: usize, to: usize, link: Link) {
        self.links.insert((from, to), link);
    }

    /// Feeds `node`'s measurements into a [`Discipline`] over that node's clock, and
    /// reads it every `period_ns` from true time 0 against `reference`'s clock (the
    /// truth): see [`readings`](Self::readings).
    pub fn feed_discipline(
        &mut self,
        node: usize,
        reference: usize,
        config: DisciplineConfig,
        period_ns: i128,
    ) {
        assert!(period_ns > 0, "a period of at least 1 ns");
        self.feed = Some(Feed {
            node,
            reference,
            discipline: Discipline::new(NodeClock(ManualClock::new(0)), config),
            period_ns,
            next_at: 0,
            readings: Vec::new(),
        });
    }

    /// Runs every event up to and including true time `end` (ns since the start),
    /// showing `hook` each action of every port before carrying it out. Call again to
    /// run on.
    pub fn run_until(&mut self, end: i128, mut hook: impl FnMut(&Seen<'_>)) {
        if !self.begun {
            self.begin();
        }
        loop {
            self.carry_out(&mut hook);
            let next = self.queue.first_key_value().map(|(&(t, _), _)| t);
            self.read_discipline(next.map_or(end, |t| t.min(end)));
            match self.queue.first_entry() {
                Some(e) if e.key().0 <= end => {
                    let ((t, _), event) = e.remove_entry();
                    self.now = t;
                    self.handle(t, event);
                }
                _ => break,
            }
        }
        self.now = self.now.max(end);
    }

    /// True time now (ns since the start).
    pub fn now(&self) -> i128 {
        self.now
    }

    /// Node `i`.
    pub fn node(&self, i: usize) -> &Node {
        &self.nodes[i]
    }

    /// Node `i`'s port.
    pub fn port(&self, i: usize) -> &Port {
        &self.nodes[i].port
    }

    /// What happened to the packets so far.
    pub fn traffic(&self) -> Traffic {
        let in_flight = self.queue.values();
        let in_flight = in_flight.filter(|e| matches!(e, Event::Deliver { .. }));
        Traffic {
            in_flight: in_flight.count() as u64,
            ..self.traffic
        }
    }

    /// The disciplined clock's readings so far (none without
    /// [`feed_discipline`](Self::feed_discipline)).
    pub fn readings(&self) -> &[Reading] {
        self.feed.as_ref().map_or(&[], |f| &f.readings)
    }

    /// The discipline, if one is fed.
    pub fn discipline(&self) -> Option<&Discipline<NodeClock>> {
        self.feed.as_ref().map(|f| &f.discipline)
    }

    fn begin(&mut self) {
        self.begun = true;
        for i in 0..self.nodes.len() {
            let start_at = self.nodes[i].start_at;
            if start_at <= self.now {
                self.start(i, self.now);
            } else {
                self.schedule(start_at, Event::Start(i));
            }
        }
    }

    fn start(&mut self, i: usize, t: i128) {
        let node = &mut self.nodes[i];
        node.started = true;
        let actions = node.port.start(node.clock.local(t));
        self.pending
            .push((i, t, Trigger::Start, actions.into_iter().collect()));
    }

    fn schedule(&mut self, t: i128, event: Event) {
        self.scheduled += 1;
        self.queue.insert((t, self.scheduled), event);
    }

    fn handle(&mut self, t: i128, event: Event) {
        match event {
            Event::Start(i) => self.start(i, t),
            Event::Timer(i, timer, generation) => {
                if self.generations.get(&(i, timer)) == Some(&generation) {
                    let node = &mut self.nodes[i];
                    let actions = node.port.on_timer(timer, node.clock.local(t));
                    self.pending
                        .push((i, t, Trigger::Timer(timer), actions.into_iter().collect()));
                }
            }
            Event::Deliver {
                to,
                message_type,
                bytes,
            } => {
                let node = &mut self.nodes[to];
                if !node.started || node.muted_at(t) {
                    self.traffic.muted += 1;
                    return;
                }
                let local = node.clock.local(t);
                let stamp = message_type.is_event().then_some(local);
                match node.port.on_receive(&bytes, stamp, local) {
                    Ok(actions) => {
                        self.traffic.delivered += 1;
                        let trigger = Trigger::Receipt(message_type);
                        self.pending
                            .push((to, t, trigger, actions.into_iter().collect()));
                    }
                    Err(_) => self.traffic.ignored += 1,
                }
            }
        }
    }

    /// Carries out the pending actions, and those they lead to (send reports).
    fn carry_out(&mut self, hook: &mut impl FnMut(&Seen<'_>)) {
        while let Some((i, t, trigger, actions)) = self.pending.pop() {
            for action in actions {
                hook(&Seen {
                    node: i,
                    t,
                    trigger,
                    action: &action,
                    nodes: &self.nodes,
                });
                match action {
                    Action::Send { packet, context } => {
                        if !(self.nodes[i].sends)(packet.message_type) {
                            continue;
                        }
                        self.transmit(i, t, &packet);
                        if let Some(context) = context {
                            let node = &mut self.nodes[i];
                            let more = node.port.on_sent(context, node.clock.local(t));
                            self.pending
                                .push((i, t, trigger, more.into_iter().collect()));
                        }
                    }
                    Action::SetTimer { timer, at } => {
                        let generation = self.generations.entry((i, timer)).or_insert(0);
                        *generation += 1;
                        let generation = *generation;
                        let when = self.nodes[i].clock.true_time(at).max(t);
                        self.schedule(when, Event::Timer(i, timer, generation));
                    }
                    Action::CancelTimer(timer) => {
                        *self.generations.entry((i, timer)).or_insert(0) += 1;
                    }
                    Action::Measure(m) => self.feed_measurement(i, t, &m),
                    Action::State(_) | Action::Event(_) => {}
                }
            }
        }
    }

    /// Puts a copy of `packet` from node `from` on the link to every other node.
    fn transmit(&mut self, from: usize, t: i128, packet: &Packet) {
        let muted = self.nodes[from].muted_at(t);
        for to in (0..self.nodes.len()).filter(|&to| to != from) {
            self.traffic.sent += 1;
            if muted {
                self.traffic.muted += 1;
                continue;
            }
            let link = self.links.get(&(from, to)).copied().unwrap_or(self.link);
            let mut arrive = t + link.delay_ns + i128::from(self.rng.jitter(link.jitter_ns));
            if link.loss_percent > 0 && self.rng.chance(link.loss_percent) {
                self.traffic.lost += 1;
                continue;
            }
            if link.reorder_percent > 0 && self.rng.chance(link.reorder_percent) {
                self.traffic.reordered += 1;
                arrive += link.hold_ns;
            }
            let deliver = || Event::Deliver {
                to,
                message_type: packet.message_type,
                bytes: packet.bytes.to_vec(),
            };
            self.schedule(arrive, deliver());
            if link.duplicate_percent > 0 && self.rng.chance(link.duplicate_percent) {
                self.traffic.duplicated += 1;
                let again = t + link.delay_ns + i128::from(self.rng.jitter(link.jitter_ns));
                self.schedule(again, deliver());
            }
        }
    }

    fn feed_measurement(&mut self, i: usize, t: i128, m: &Measurement) {
        let Some(feed) = self.feed.as_mut().filter(|f| f.node == i) else {
            return;
        };
        let local = self.nodes[i].clock.local_ns(t);
        feed.discipline
            .local()
            .0
            .set(u64::try_from(local).expect("a local time after 1970"));
        feed.discipline
            .update(m.sample())
            .expect("one writer, and a port's frequency is within the discipline's range");
    }

    /// Takes the discipline's readings due up to and including true time `until`.
    fn read_discipline(&mut self, until: i128) {
        let Some(feed) = self.feed.as_mut() else {
            return;
        };
        let (clock, reference) = (
            self.nodes[feed.node].clock,
            self.nodes[feed.reference].clock,
        );
        while feed.next_at <= until {
            let t = feed.next_at;
            let local = u64::try_from(clock.local_ns(t)).expect("a local time after 1970");
            feed.discipline.local().0.set(local);
            let r = feed.discipline.read();
            feed.readings.push(Reading {
                t,
                error_ns: i128::from(r.time.as_nanos()) - reference.local_ns(t),
                bound: r.bound,
                status: r.status,
            });
            feed.next_at += feed.period_ns;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::SECOND;
    use crate::config;

    /// A master, a slave 250 µs ahead and 30 ppm fast, on `link`.
    fn pair(seed: u64, link: Link) -> Simulation {
        let mut sim = Simulation::new(seed, link);
        sim.add_node(config::fast(1, 10, false), LocalClock::new(0, 0));
        sim.add_node(config::fast(2, 128, true), LocalClock::new(250_000, 30_000));
        sim
    }

    /// Every action as (node, true time, trigger, debug text).
    fn trace(sim: &mut Simulation, end: i128) -> Vec<(usize, i128, Trigger, String)> {
        let mut seen = Vec::new();
        sim.run_until(end, |s| {
            seen.push((s.node, s.t, s.trigger, format!("{:?}", s.action)))
        });
        seen
    }

    #[test]
    fn a_seed_replays_exactly_and_another_differs() {
        let link = Link::new(2_000, 500);
        let a = trace(&mut pair(3, link), 2 * SECOND);
        assert!(a.len() > 100);
        assert_eq!(a, trace(&mut pair(3, link), 2 * SECOND));
        assert_ne!(a, trace(&mut pair(4, link), 2 * SECOND));
    }

    #[test]
    fn running_in_steps_is_running_at_once() {
        let link = Link::new(2_000, 500);
        let whole = trace(&mut pair(5, link), 3 * SECOND);
        let mut sim = pair(5, link);
        let mut steps = trace(&mut sim, SECOND);
        steps.extend(trace(&mut sim, 3 * SECOND));
        assert_eq!(whole, steps);
        assert_eq!(sim.now(), 3 * SECOND);
    }

    #[test]
    fn the_slave_measures_its_true_offset_within_its_bound() {
        let mut sim = pair(1, Link::new(2_000, 200));
        let mut errors = Vec::new();
        sim.run_until(10 * SECOND, |seen| {
            if let (1, Some(m)) = (seen.node, seen.measurement()) {
                if m.locked {
                    let truth = seen.true_offset(0, m.at);
                    errors.push((m.offset.as_nanos() as i128 - truth, m.sigma_ns));
                }
            }
        });
        assert!(errors.len() > 40, "{} locked measurements", errors.len());
        for (e, sigma) in errors {
            assert!(
                (e as f64).abs() <= 3.0 * sigma + 1.0,
                "{e} ns, sigma {sigma}"
            );
        }
        let t = sim.traffic();
        assert_eq!((t.lost, t.duplicated, t.reordered, t.muted), (0, 0, 0, 0));
        // Every copy arrived (some before the ports chose their states, which they
        // ignored), but for those still in flight at the end.
        assert_eq!(t.sent, t.delivered + t.ignored + t.in_flight, "{t:?}");
        assert!(t.in_flight <= 4 && t.ignored <= 4, "{t:?}");
    }

    #[test]
    fn events_carry_receive_timestamps_and_send_reports_come_back() {
        // A two-step master's Follow_Ups exist only if its Syncs' send reports came
        // back; the slave measures only if its event messages were stamped.
        let mut sim = pair(2, Link::new(2_000, 0));
        let (mut follow_ups, mut measured) = (0, 0);
        sim.run_until(3 * SECOND, |seen| {
            if seen.packet().map(|p| p.message_type) == Some(MessageType::FollowUp) {
                follow_ups += 1;
                assert_eq!(seen.trigger, Trigger::Timer(Timer::Sync));
            }
            measured += usize::from(seen.measurement().is_some());
        });
        assert!(follow_ups > 15 && measured > 15, "{follow_ups} {measured}");
    }

    #[test]
    fn loss_duplication_and_reordering_happen_at_their_rates() {
        let link = Link::new(2_000, 100)
            .with_loss(10)
            .with_duplicates(20)
            .with_reordering(30, 50_000);
        let mut sim = pair(9, link);
        sim.run_until(20 * SECOND, |_| {});
        let t = sim.traffic();
        let rate = |n: u64, of: u64| n as f64 / of as f64;
        assert!((0.07..0.13).contains(&rate(t.lost, t.sent)), "{t:?}");
        let kept = t.sent - t.lost;
        assert!((0.16..0.24).contains(&rate(t.duplicated, kept)), "{t:?}");
        assert!((0.26..0.34).contains(&rate(t.reordered, kept)), "{t:?}");
        let gone = t.lost + t.delivered + t.ignored + t.muted + t.in_flight;
        assert_eq!(t.sent + t.duplicated, gone, "{t:?}");
        // Duplicated event messages are refused as such or measured again; either way
        // the slave still follows the master.
        assert!(matches!(sim.port(1).state(), PortState::Slave(_)));
    }

    #[test]
    fn a_lossy_one_way_link_leaves_the_other_way_alone() {
        let mut sim = pair(6, Link::new(2_000, 0));
        sim.set_link(1, 0, Link::new(2_000, 0).with_loss(100));
        let mut requests = 0;
        sim.run_until(3 * SECOND, |seen| {
            requests += usize::from(seen.node == 1 && seen.packet().is_some());
        });
        // The slave follows (Announces and Syncs arrive) but never completes an
        // exchange: its Delay_Reqs are all lost.
        assert!(matches!(sim.port(1).state(), PortState::Slave(_)));
        assert!(requests > 10);
        assert_eq!(sim.traffic().lost, requests as u64);
        assert!(sim.port(1).estimate().is_none());
    }

    #[test]
    fn a_late_muted_announcer_takes_over_only_while_heard() {
        let mut sim = pair(7, Link::new(2_000, 100));
        let rogue = sim.add_node(
            config::fast(3, 0, false),
            LocalClock::new(-3_000_000, -5_000),
        );
        sim.start_at(rogue, 2 * SECOND);
        sim.mute(rogue, 4 * SECOND..i128::MAX);
        sim.send_only(rogue, |t| t == MessageType::Announce);
        let mut parents = Vec::new();
        let mut rogue_started = None;
        sim.run_until(8 * SECOND, |seen| match (seen.node, seen.state()) {
            (1, Some(PortState::Slave(p))) => parents.push((seen.t, p.clock.0[0])),
            (2, Some(_)) => {
                rogue_started.get_or_insert(seen.t);
            }
            _ => {}
        });
        assert_eq!(rogue_started, Some(2 * SECOND));
        let to_rogue = parents
            .iter()
            .find(|p| p.1 == 3)
            .expect("followed the rogue");
        assert!(
            (2 * SECOND..4 * SECOND).contains(&to_rogue.0),
            "{parents:?}"
        );
        assert_eq!(parents.first().map(|p| p.1), Some(1));
        assert_eq!(parents.last().map(|p| p.1), Some(1), "{parents:?}");
        let t = sim.traffic();
        assert!(t.muted > 0, "{t:?}");
        let gone = t.lost + t.delivered + t.ignored + t.muted + t.in_flight;
        assert_eq!(t.sent + t.duplicated, gone, "{t:?}");
    }

    #[test]
    fn a_re_armed_timer_fires_once_at_its_last_expiry() {
        // Timers fire exactly on schedule on the master's clock: every Sync at a
        // multiple of 125 ms of true time, none twice.
        let mut sim = pair(8, Link::new(2_000, 0));
        let mut syncs = Vec::new();
        sim.run_until(2 * SECOND, |seen| {
            if seen.node == 0 && seen.packet().map(|p| p.message_type) == Some(MessageType::Sync) {
                syncs.push(seen.t);
            }
        });
        assert!(syncs.len() >= 10, "{syncs:?}");
        assert!(
            syncs.windows(2).all(|w| w[1] - w[0] == SECOND / 8),
            "{syncs:?}"
        );
    }

    #[test]
    fn a_fed_discipline_tracks_the_reference_inside_its_bound() {
        let mut sim = pair(11, Link::new(2_000, 200));
        let config = DisciplineConfig {
            fresh_for: Duration::from_millis(500),
            drift_ppb: 1_000,
            tolerance_ppb: 500_000,
        };
        sim.feed_discipline(1, 0, config, SECOND / 10);
        sim.run_until(10 * SECOND, |_| {});
        let readings = sim.readings();
        assert_eq!(readings.len(), 101);
        assert_eq!(readings[100].t, 10 * SECOND);
        assert!(readings.iter().all(Reading::inside_bound), "{readings:?}");
        // Before the first measurement the reading is the bare local clock, unknown.
        assert_eq!(readings[0].status, ClockStatus::Unknown);
        let late = &readings[50..];
        assert!(late.iter().all(|r| r.status == ClockStatus::Synchronized));
        assert!(late.iter().all(|r| r.error_ns.abs() < 200), "{late:?}");
        assert!(sim.discipline().and_then(|d| d.estimate()).is_some());
    }

    #[test]
    fn without_a_feed_there_are_no_readings() {
        let mut sim = pair(12, Link::new(2_000, 0));
        sim.run_until(SECOND, |_| {});
        assert!(sim.readings().is_empty() && sim.discipline().is_none());
    }
}
