//! Two `Link`s, a master and a slave, over simulated transports that carry their
//! messages across a 20 µs wire: the loop a firmware runs, on the host. The slave's
//! clock starts 250 µs ahead and runs 30 ppm fast.
//!
//! With software timestamps (each stamp up to 40 µs late, as a receive interrupt would
//! take it) the slave must still lock, its error must stay inside the bound it reports,
//! and that bound must carry the stated latency; with hardware timestamps the same
//! exchange promises much less.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;
use std::time::Duration;

use tempora_core::ptp::link::{Event, Link};
use tempora_core::ptp::port::{Packet, PortConfig, PortState, SendContext};
use tempora_core::ptp::transport::{Received, Timestamping, Transport};
use tempora_core::ptp::wire::ClockIdentity;
use tempora_core::rng::SplitMix64;
use tempora_core::time::{Instant, Tai};

const START: i128 = 1_700_000_000 * 1_000_000_000;
const WIRE_NS: i128 = 20_000;
const LATENCY_NS: u64 = 40_000;

/// Local time of node `i` at true time `t` (ns): node 1 is 250 µs ahead, 30 ppm fast.
fn local_ns(i: usize, t: i128) -> i128 {
    match i {
        0 => START + t,
        _ => START + 250_000 + t + t * 30 / 1_000_000,
    }
}

fn local(i: usize, t: i128) -> Instant<Tai> {
    Instant::from_nanos(u64::try_from(local_ns(i, t)).unwrap())
}

/// True time at which node `i`'s clock reads `l` (rounded up, so never early).
fn true_time(i: usize, l: Instant<Tai>) -> i128 {
    let l = i128::from(l.as_nanos()) - START;
    match i {
        0 => l,
        _ => ((l - 250_000) * 1_000_000 + 1_000_029) / 1_000_030,
    }
}

/// Frames on the wire: (true arrival time, destination node, bytes).
type Wire = Rc<RefCell<Vec<(i128, usize, Vec<u8>)>>>;

/// One node's network interface. Software stamps are taken up to `LATENCY_NS` late,
/// drawn afresh for each frame (receipt) and each send.
struct SimNic {
    node: usize,
    now: i128,
    wire: Wire,
    timestamping: Timestamping,
    rng: SplitMix64,
    sent: VecDeque<(SendContext, Instant<Tai>)>,
}

impl SimNic {
    fn new(node: usize, wire: Wire, timestamping: Timestamping) -> Self {
        Self {
            node,
            now: 0,
            wire,
            timestamping,
            rng: SplitMix64::new(7 + node as u64),
            sent: VecDeque::new(),
        }
    }

    /// A stamp of true time `t` as this interface takes it.
    fn stamp(&mut self, t: i128) -> Instant<Tai> {
        let late = match self.timestamping {
            Timestamping::Hardware { .. } => 0,
            Timestamping::Software { .. } => i128::from(self.rng.below(LATENCY_NS + 1)),
        };
        local(self.node, t + late)
    }
}

impl Transport for SimNic {
    type Error = ();

    fn timestamping(&self) -> Timestamping {
        self.timestamping
    }

    fn send(&mut self, packet: &Packet, context: Option<SendContext>) -> Result<(), ()> {
        let to = 1 - self.node;
        let bytes = packet.bytes.to_vec();
        self.wire.borrow_mut().push((self.now + WIRE_NS, to, bytes));
        if let Some(context) = context {
            let at = self.stamp(self.now);
            self.sent.push_back((context, at));
        }
        Ok(())
    }

    fn sent(&mut self) -> Option<(SendContext, Instant<Tai>)> {
        self.sent.pop_front()
    }

    fn receive(&mut self, buffer: &mut [u8]) -> Option<Received> {
        let mut wire = self.wire.borrow_mut();
        let i = wire
            .iter()
            .position(|(at, to, _)| *to == self.node && *at <= self.now)?;
        let (arrived, _, bytes) = wire.remove(i);
        drop(wire);
        let len = bytes.len().min(buffer.len());
        buffer[..len].copy_from_slice(&bytes[..len]);
        let at = self.stamp(arrived);
        Some(Received { len, at })
    }
}

fn config(id: u8, priority1: u8, slave_only: bool) -> PortConfig {
    PortConfig::ordinary(ClockIdentity([id; 8]), priority1, slave_only)
        .with_intervals(-3, -3, -3, 2)
}

struct Run {
    locked_after_s: Option<f64>,
    /// (true error of the sample's offset, its bound), ns, once locked.
    samples: Vec<(i128, Duration)>,
}

/// Runs a master and a slave for `seconds` of simulated time, event by event.
fn run(timestamping: Timestamping, seconds: i128) -> Run {
    let wire: Wire = Rc::default();
    let mut nics = [
        SimNic::new(0, wire.clone(), timestamping),
        SimNic::new(1, wire.clone(), timestamping),
    ];
    let mut links = [
        Link::<2, 32>::new(config(1, 10, false)),
        Link::<2, 32>::new(config(2, 128, true)),
    ];
    let mut out = Run {
        locked_after_s: None,
        samples: Vec::new(),
    };
    for (i, link) in links.iter_mut().enumerate() {
        link.start(&mut nics[i], local(i, 0), |_| {});
    }
    let mut t = 0i128;
    let end = seconds * 1_000_000_000;
    let mut steps = 0;
    while t < end {
        steps += 1;
        assert!(steps < 10_000_000, "the simulation does not advance");
        for i in 0..2 {
            nics[i].now = t;
            let now = local(i, t);
            let busy = links[i].poll(&mut nics[i], now, |e| {
                if let Event::Measured {
                    measurement,
                    sample,
                } = e
                {
                    assert_eq!(i, 1, "only the slave measures");
                    if measurement.locked && out.locked_after_s.is_none() {
                        out.locked_after_s = Some(t as f64 / 1e9);
                    }
                    if out.locked_after_s.is_some() {
                        let truth =
                            i128::from(sample.at.as_nanos()) - local_ns(0, true_time(1, sample.at));
                        let error = i128::from(sample.offset.as_nanos()) - truth;
                        out.samples.push((error, sample.bound));
                    }
                }
            });
            assert!(!busy, "two ports never make 32 pieces of work at once");
        }
        // The next thing to happen: a frame's arrival or a timer, in true time.
        let arrival = wire.borrow().iter().map(|(at, _, _)| *at).min();
        let timers = (0..2).filter_map(|i| links[i].next_deadline().map(|d| true_time(i, d)));
        let next = timers
            .chain(arrival)
            .min()
            .expect("timers are always armed");
        t = next.max(t + 1);
    }
    let states = [links[0].port().state(), links[1].port().state()];
    assert_eq!(states[0], PortState::Master);
    assert!(matches!(states[1], PortState::Slave(_)), "{states:?}");
    out
}

fn inside(samples: &[(i128, Duration)]) -> usize {
    samples
        .iter()
        .filter(|(e, b)| e.unsigned_abs() <= b.as_nanos())
        .count()
}

#[test]
fn software_timestamps_lock_inside_a_bound_that_carries_their_latency() {
    let latency = Duration::from_nanos(LATENCY_NS);
    let run = run(Timestamping::Software { latency }, 60);
    let locked = run.locked_after_s.expect("the slave never locked");
    assert!(locked < 20.0, "locked only after {locked} s");
    assert!(run.samples.len() > 300, "{} samples", run.samples.len());
    assert_eq!(inside(&run.samples), run.samples.len());
    assert!(run.samples.iter().all(|(_, b)| *b > latency));
    // The stamps' jitter is up to 40 µs; the estimate averages it down.
    let worst = run.samples.iter().map(|(e, _)| e.abs()).max().unwrap();
    assert!(worst < 20_000, "error up to {worst} ns");
}

#[test]
fn hardware_timestamps_promise_far_less() {
    let resolution = Duration::from_nanos(8);
    let hw = run(Timestamping::Hardware { resolution }, 30);
    assert!(hw.locked_after_s.is_some());
    assert_eq!(inside(&hw.samples), hw.samples.len());
    let last = hw.samples.last().unwrap().1;
    // The bound is the wire's delay plus a little: no latency to carry.
    assert!(last < Duration::from_micros(25), "bound {last:?}");
    let latency = Duration::from_nanos(LATENCY_NS);
    let sw = run(Timestamping::Software { latency }, 30);
    assert!(sw.samples.last().unwrap().1 > last + latency);
}
