//! The core's behaviour suite, written once and run on every board (and on the host by
//! `cargo test`), so "works on Cortex-M" means the same checks passed there.
//!
//! Each check prints `ok NAME` or `FAILED NAME: why`; [`run`] returns the tally, which
//! the board prints as `N passed, M failed` before exiting through semihosting.
#![no_std]
#![deny(missing_docs)]
#![forbid(unsafe_code)]

use core::fmt::Write;
use core::time::Duration;

use tempora_core::causal::{CausalMessage, CausalOrder, CausalQueue, Receipt, VectorClock};
use tempora_core::clock::{ClockSource, ManualClock};
use tempora_core::graph::{PathSearch, TemporalGraph};
use tempora_core::hlc::{Hlc, UpdateError};
use tempora_core::interval::{Interval, IntervalTree};
use tempora_core::pattern::{Contiguity, Detector, Event, Report, Sequence};
use tempora_core::queue::{Priority, SharedTemporalQueue, TemporalQueue};
use tempora_core::rng::SplitMix64;
use tempora_core::{Instant, NodeId, Timestamp, Utc};
use tempora_embedded::{CounterClock, Shared, TickCounter};

/// Checks passed and failed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// Passed.
    pub passed: u32,
    /// Failed.
    pub failed: u32,
}

type Check = fn() -> Result<(), &'static str>;

fn ensure(cond: bool, why: &'static str) -> Result<(), &'static str> {
    if cond {
        Ok(())
    } else {
        Err(why)
    }
}

/// Runs every check, printing one line each, with `counter` as the board's timer.
pub fn run(out: &mut dyn Write, counter: &dyn TickCounter) -> Tally {
    let checks: [(&str, Check); 12] = [
        ("hlc_monotonic_through_backward_step", hlc_monotonic),
        ("hlc_max_offset_guard", hlc_max_offset),
        ("hlc_in_a_static", hlc_static),
        ("vector_clock_laws", vector_clocks),
        ("causal_delivery_order", causal_delivery),
        ("temporal_queue_order_and_refusal", temporal_queue),
        ("shared_queue_in_a_static", shared_queue),
        ("interval_tree_against_brute_force", interval_tree),
        ("temporal_graph_earliest_arrival", temporal_graph),
        ("pattern_sequence_out_of_order", pattern),
        ("ptp_codec_round_trip", ptp_codec),
        ("ptp_slave_disciplines_counter_clock", ptp_engine),
    ];
    let mut tally = Tally::default();
    for (name, check) in checks {
        record(out, &mut tally, name, check());
    }
    record(
        out,
        &mut tally,
        "counter_clock_on_board_timer",
        board_timer(counter),
    );
    tally
}

fn record(out: &mut dyn Write, tally: &mut Tally, name: &str, r: Result<(), &'static str>) {
    let _ = match r {
        Ok(()) => {
            tally.passed += 1;
            writeln!(out, "ok {name}")
        }
        Err(why) => {
            tally.failed += 1;
            writeln!(out, "FAILED {name}: {why}")
        }
    };
}

fn hlc_monotonic() -> Result<(), &'static str> {
    let clock = ManualClock::<Utc>::new(1_000_000_000);
    let hlc = Hlc::new(&clock, NodeId(1));
    let mut last = hlc.now();
    for i in 0..2_000u64 {
        if i == 500 {
            clock.set(400_000_000); // steps back 0.6 s
        }
        clock.advance(50);
        let t = hlc.now();
        ensure(t > last, "timestamps not strictly increasing")?;
        last = t;
    }
    Ok(())
}

fn hlc_max_offset() -> Result<(), &'static str> {
    let clock = ManualClock::<Utc>::new(10_000_000_000);
    let hlc = Hlc::new(&clock, NodeId(1));
    let before = hlc.now();
    let far = Timestamp::from_raw(10_600_000_000, NodeId(2));
    ensure(
        matches!(hlc.update(far), Err(UpdateError::TooFarAhead { .. })),
        "remote 600 ms ahead accepted",
    )?;
    ensure(hlc.last() == before, "refusal changed the clock")?;
    let near = Timestamp::from_raw(10_400_000_000, NodeId(2));
    let got = hlc
        .update(near)
        .map_err(|_| "remote 400 ms ahead refused")?;
    ensure(got > near, "receipt not after the remote")
}

static STATIC_CLOCK: ManualClock<Utc> = ManualClock::new(5_000_000_000);
static STATIC_HLC: Hlc<&ManualClock<Utc>> = Hlc::new(&STATIC_CLOCK, NodeId(3));

fn hlc_static() -> Result<(), &'static str> {
    let a = STATIC_HLC.now();
    let b = STATIC_HLC.now();
    ensure(b > a && b.node() == NodeId(3), "static HLC")
}

fn vector_clocks() -> Result<(), &'static str> {
    let mut a = VectorClock::<8>::new();
    let mut b = VectorClock::<8>::new();
    a.increment(NodeId(1)).map_err(|_| "increment")?;
    b.increment(NodeId(2)).map_err(|_| "increment")?;
    ensure(a.compare(&b) == CausalOrder::Concurrent, "concurrent")?;
    let mut m = a.clone();
    m.merge(&b).map_err(|_| "merge")?;
    ensure(a.compare(&m) == CausalOrder::Before, "before merge")?;
    ensure(m.compare(&b) == CausalOrder::After, "after")?;
    let mut buf = [0u8; 2 + 12 * 8];
    let n = m.encode(&mut buf).map_err(|_| "encode")?;
    ensure(
        VectorClock::<8>::decode(&buf[..n]) == Ok(m),
        "wire round trip",
    )?;
    ensure(
        VectorClock::<8>::decode(&buf[..n - 1]).is_err(),
        "truncated accepted",
    )
}

fn causal_delivery() -> Result<(), &'static str> {
    let mut alice = CausalQueue::<u8, 8, 32>::new(NodeId(1));
    let mut bob = CausalQueue::<u8, 8, 32>::new(NodeId(2));
    let q = alice.send(1).map_err(|_| "send")?;
    bob.receive(q.clone(), |_| {}).map_err(|_| "bob receive")?;
    let a = bob.send(2).map_err(|_| "send")?;
    let mut carol = CausalQueue::<u8, 8, 32>::new(NodeId(3));
    let mut order = [0u8; 2];
    let mut n = 0;
    let mut keep = |m: CausalMessage<u8, 8>| {
        if n < 2 {
            order[n] = m.payload;
        }
        n += 1;
    };
    ensure(
        carol.receive(a, &mut keep) == Ok(Receipt::Held),
        "answer not held",
    )?;
    ensure(
        carol.receive(q.clone(), &mut keep) == Ok(Receipt::Delivered { count: 2 }),
        "question did not release the answer",
    )?;
    ensure(order == [1, 2], "delivered out of causal order")?;
    ensure(
        carol.receive(q, |_| {}).is_err() && carol.stats().duplicates == 1,
        "duplicate delivered",
    )
}

fn temporal_queue() -> Result<(), &'static str> {
    let mut q = TemporalQueue::<u32, Utc, 4>::new();
    let ts = |n| Timestamp::<Utc>::from_raw(n, NodeId(1));
    for (i, (p, t)) in [(0, 300), (0, 100), (5, 900), (0, 200)]
        .into_iter()
        .enumerate()
    {
        q.push(Priority(p), ts(t), i as u32)
            .map_err(|_| "push refused early")?;
    }
    ensure(
        q.push(Priority(0), ts(1), 9).is_err() && q.len() == 4,
        "full queue took a message",
    )?;
    ensure(q.pop().map(|e| e.message) == Some(2), "priority first")?;
    let now = Instant::from_nanos(250);
    ensure(
        q.pop_ready(now, Duration::from_nanos(100))
            .map(|e| e.message)
            == Some(1),
        "ready release",
    )?;
    ensure(
        q.pop_ready(now, Duration::from_nanos(100)).is_none(),
        "released above the watermark",
    )
}

static SHARED: SharedTemporalQueue<u32, Utc, 8> = SharedTemporalQueue::new();

fn shared_queue() -> Result<(), &'static str> {
    for t in [30u64, 10, 20] {
        SHARED
            .push(Priority(0), Timestamp::from_raw(t, NodeId(1)), t as u32)
            .map_err(|_| "push")?;
    }
    let order = [SHARED.pop(), SHARED.pop(), SHARED.pop()].map(|e| e.map(|e| e.message));
    ensure(
        order == [Some(10), Some(20), Some(30)],
        "shared queue order",
    )
}

fn interval_tree() -> Result<(), &'static str> {
    static TREE: Shared<IntervalTree<u16, 256>> = Shared::new(IntervalTree::new());
    let mut rng = SplitMix64::new(0x2545_f491);
    let mut rnd = move || rng.next_u64() as u32;
    let mut items = [(0u64, 0u64); 200];
    for item in items.iter_mut() {
        let s = u64::from(rnd() % 10_000);
        *item = (s, s + 1 + u64::from(rnd() % 300));
    }
    TREE.with(|t| {
        t.clear();
        for (i, &(s, e)) in items.iter().enumerate() {
            let iv = Interval::new(s, e).map_err(|_| "interval")?;
            t.insert(iv, i as u16).map_err(|_| "insert")?;
        }
        for _ in 0..100 {
            let q = u64::from(rnd() % 10_400);
            let want = items.iter().filter(|&&(s, e)| s <= q && q < e).count();
            ensure(t.count_stabbing(q) == want, "stabbing count")?;
            let r = Interval::new(q, q + 50).map_err(|_| "interval")?;
            let want = items.iter().filter(|&&(s, e)| s < q + 50 && q < e).count();
            ensure(t.count_overlapping(r) == want, "overlap count")?;
        }
        Ok(())
    })
}

fn temporal_graph() -> Result<(), &'static str> {
    let mut g = TemporalGraph::<8, 16>::new();
    let a = g.add_node().map_err(|_| "node")?;
    let b = g.add_node().map_err(|_| "node")?;
    let c = g.add_node().map_err(|_| "node")?;
    let iv = |s, e| Interval::new(s, e).map_err(|_| "interval");
    g.add_edge(a, b, iv(10, 20)?, 5).map_err(|_| "edge")?;
    g.add_edge(b, c, iv(0, 12)?, 1).map_err(|_| "edge")?;
    g.add_edge(b, c, iv(30, 40)?, 1).map_err(|_| "edge")?;
    g.add_edge(a, c, iv(0, 100)?, 50).map_err(|_| "edge")?;
    g.reindex();
    let mut search = PathSearch::<8>::new();
    let j = g
        .earliest_arrival(&mut search, a, c, 0)
        .map_err(|_| "query")?
        .ok_or("unreachable")?;
    ensure(j.arrival == 31 && j.hops == 2, "earliest arrival")
}

fn pattern() -> Result<(), &'static str> {
    let ev = |t: u64, kind: u8| Event {
        timestamp: Timestamp::<Utc>::from_raw(t, NodeId(1)),
        kind,
        partition: 1,
    };
    let seq = Sequence::<u8, Utc, 3, 4, 4>::new(
        [1, 2, 3],
        Duration::from_micros(10),
        Contiguity::Relaxed,
    );
    let mut d = Detector::<_, _, _, 16>::new(seq, Duration::from_nanos(500));
    let mut found = 0;
    let mut on = |r: Report<'_>| {
        if let Report::Match(m) = r {
            if m.timestamps.len() == 3 {
                found += 1;
            }
        }
    };
    for (t, k) in [(1_000, 2), (900, 1), (1_200, 9), (1_100, 3), (5_000, 0)] {
        d.push(ev(t, k), &mut on).map_err(|_| "push")?;
    }
    let late = d.push(ev(100, 1), &mut on).is_err();
    ensure(found == 1 && late, "sequence over reordered events")
}

fn sync_bytes() -> ([u8; 64], usize) {
    use tempora_core::ptp::wire::*;
    let msg = PtpMessage {
        header: Header {
            sdo_id: 0,
            message_type: MessageType::Sync,
            minor_version: 1,
            domain: 0,
            flags: Flags(Flags::TWO_STEP),
            correction: 0x8000,
            source_port: PortIdentity {
                clock: ClockIdentity([1, 2, 3, 4, 5, 6, 7, 8]),
                port: 1,
            },
            sequence_id: 7,
            log_interval: -3,
        },
        body: Body::Sync {
            origin: WireTimestamp {
                seconds: 1_700_000_000,
                nanos: 5,
            },
        },
    };
    let mut buf = [0u8; 64];
    let n = msg.emit(&mut buf).unwrap_or(0);
    (buf, n)
}

fn ptp_codec() -> Result<(), &'static str> {
    use tempora_core::ptp::wire::*;
    let (buf, n) = sync_bytes();
    ensure(n == 44, "Sync is 44 bytes")?;
    let m = PtpMessage::parse(&buf[..n]).map_err(|_| "parse")?;
    ensure(
        m.header.sequence_id == 7 && m.header.flags.has(Flags::TWO_STEP),
        "header",
    )?;
    ensure(
        m.body
            == Body::Sync {
                origin: WireTimestamp {
                    seconds: 1_700_000_000,
                    nanos: 5,
                },
            },
        "body",
    )?;
    for cut in 0..n {
        ensure(
            PtpMessage::parse(&buf[..cut]).is_err(),
            "truncated message accepted",
        )?;
    }
    Ok(())
}

/// Master and slave engines on recorded-style timestamps: the slave's clock runs 20 ppm
/// fast and 250 µs ahead; packets take 2 µs ± 100 ns. Everything on the stack (two
/// ports with 16-exchange delay floors: the micro:bit has 16 KiB of RAM).
fn ptp_engine() -> Result<(), &'static str> {
    use tempora_core::ptp::port::{Action, Port, PortState};
    use tempora_core::time::{Instant, Tai};
    use tempora_ptp_sim::{config, LocalClock};

    // True time and the master's clock from the Unix epoch; the slave's clock ahead.
    let clocks = [
        LocalClock::new(0, 0).with_epoch(0),
        LocalClock::new(250_000, 20_000).with_epoch(0),
    ];
    let local = |node: usize, t: i128| clocks[node].local_ns(t);
    // The same as the ports take it (the simulation starts at the epoch).
    let tai = |ns: i128| Instant::<Tai>::from_nanos(u64::try_from(ns).unwrap_or(0));
    let mut ports = [
        Port::<2, 16>::new(config::fast(1, 10, false)),
        Port::<2, 16>::new(config::fast(2, 128, true)),
    ];
    // The slave runs on a board counter (1 GHz nominal, so one tick is one local ns)
    // and disciplines a counter clock through the core's discipline, as firmware does.
    struct SimCounter(core::cell::Cell<u64>);
    impl TickCounter for SimCounter {
        fn ticks(&self) -> u64 {
            self.0.get()
        }
        fn frequency_hz(&self) -> u32 {
            1_000_000_000
        }
    }
    let slave_clock = CounterClock::<_, Tai>::new(
        SimCounter(core::cell::Cell::new(0)),
        100,
        Duration::from_millis(500),
    );
    let set_counter = |t: i128| {
        let ticks = u64::try_from(local(1, t)).unwrap_or(0);
        slave_clock.counter().0.set(ticks);
    };
    let mut timers = [[None::<i128>; 4]; 2];
    type Wire = heapless::Vec<u8, 96>;
    let mut in_flight: heapless::Vec<(i128, usize, Wire, bool), 16> = heapless::Vec::new();
    let mut rng = SplitMix64::new(0x1234_5678);
    let mut estimate = None;
    let index = |t: tempora_core::ptp::port::Timer| t as usize;
    let mut pending: heapless::Vec<(usize, i128, tempora_core::ptp::port::Actions), 4> =
        heapless::Vec::new();
    for (node, port) in ports.iter_mut().enumerate() {
        let _ = pending.push((node, 0, port.start(tai(local(node, 0)))));
    }
    let mut t: i128 = 0;
    let mut steps = 0u32;
    while t < 3_000_000_000 {
        steps += 1;
        ensure(steps < 100_000, "simulation stuck")?;
        while let Some((node, at, actions)) = pending.pop() {
            for a in actions {
                match a {
                    Action::Send { packet: p, context } => {
                        let arrive = at + 2_000 + i128::from(rng.jitter(100));
                        in_flight
                            .push((arrive, 1 - node, p.bytes, p.message_type.is_event()))
                            .map_err(|_| "network full")?;
                        if let Some(context) = context {
                            let more = ports[node].on_sent(context, tai(local(node, at)));
                            pending
                                .push((node, at, more))
                                .map_err(|_| "too many actions")?;
                        }
                    }
                    Action::SetTimer { timer, at: when } => {
                        timers[node][index(timer)] = Some(i128::from(when.as_nanos()));
                    }
                    Action::CancelTimer(timer) => timers[node][index(timer)] = None,
                    Action::Measure(m) if node == 1 => {
                        // The estimate is for the Sync's arrival (slave-local m.at).
                        let sync_at = clocks[1].true_time(m.at);
                        let truth = clocks[1].minus(&clocks[0], sync_at) as f64;
                        estimate = Some((m.offset.as_f64() - truth, m.sigma_ns));
                        set_counter(at);
                        slave_clock
                            .discipline()
                            .update(m.sample())
                            .map_err(|_| "discipline refused a measurement")?;
                    }
                    _ => {}
                }
            }
        }
        // The earliest packet or timer next.
        let next_packet = in_flight.iter().map(|p| p.0).min();
        let mut next = next_packet.unwrap_or(i128::MAX);
        for (node, node_timers) in timers.iter().enumerate() {
            for at in node_timers.iter().flatten() {
                // Timer deadlines are local: the first true time the clock reaches them.
                next = next.min(clocks[node].true_ns(*at).max(t));
            }
        }
        if next == i128::MAX {
            return Err("nothing scheduled");
        }
        t = next;
        if next_packet == Some(t) {
            if let Some(i) = in_flight.iter().position(|p| p.0 == t) {
                let (at, node, bytes, event) = in_flight.swap_remove(i);
                let now = tai(local(node, at));
                if let Ok(a) = ports[node].on_receive(&bytes, event.then_some(now), now) {
                    pending
                        .push((node, at, a))
                        .map_err(|_| "too many actions")?;
                }
            }
            continue;
        }
        for (node, (port, node_timers)) in ports.iter_mut().zip(timers.iter_mut()).enumerate() {
            for timer in [
                tempora_core::ptp::port::Timer::Announce,
                tempora_core::ptp::port::Timer::Sync,
                tempora_core::ptp::port::Timer::DelayReq,
                tempora_core::ptp::port::Timer::AnnounceReceipt,
            ] {
                let now = local(node, t);
                if node_timers[index(timer)].is_some_and(|at| at <= now) {
                    node_timers[index(timer)] = None;
                    let a = port.on_timer(timer, tai(now));
                    pending.push((node, t, a)).map_err(|_| "too many actions")?;
                }
            }
        }
    }
    ensure(ports[0].state() == PortState::Master, "master state")?;
    ensure(
        matches!(ports[1].state(), PortState::Slave(_)),
        "slave state",
    )?;
    ensure(ports[1].locked(), "slave not locked after 3 s")?;
    let (err, sigma) = estimate.ok_or("no measurement")?;
    let err = if err < 0.0 { -err } else { err };
    ensure(
        err < 3.0 * sigma + 100.0 && err < 500.0,
        "slave estimate off",
    )?;
    // The disciplined counter clock tells the master's time (true time: the master's
    // clock is the truth here), inside its bound, synchronized.
    set_counter(t);
    let r = slave_clock.read();
    let error = i128::from(r.time.as_nanos()) - local(0, t);
    ensure(
        r.status == tempora_core::clock::ClockStatus::Synchronized,
        "counter clock not synchronized",
    )?;
    ensure(
        error.unsigned_abs() <= r.bound.as_nanos(),
        "counter clock outside its bound",
    )?;
    ensure(
        error.unsigned_abs() < 1_000,
        "counter clock off by 1 us or more",
    )?;
    // A second without measurements: holdover, and a bound that grew.
    set_counter(t + 1_000_000_000);
    let later = slave_clock.read();
    ensure(
        later.status == tempora_core::clock::ClockStatus::Holdover && later.bound > r.bound,
        "counter clock did not go to holdover",
    )
}

fn board_timer(counter: &dyn TickCounter) -> Result<(), &'static str> {
    struct Board<'a>(&'a dyn TickCounter);
    impl TickCounter for Board<'_> {
        fn ticks(&self) -> u64 {
            self.0.ticks()
        }
        fn frequency_hz(&self) -> u32 {
            self.0.frequency_hz()
        }
    }
    let clock = CounterClock::<_, Utc>::new(Board(counter), 100, Duration::from_secs(1));
    clock
        .anchor(
            Instant::from_nanos(1_700_000_000_000_000_000),
            Duration::from_micros(1),
        )
        .map_err(|_| "anchor refused")?;
    let mut last = clock.read();
    // Long enough to cross several 24-bit SysTick wraps under QEMU.
    for _ in 0..20_000 {
        let r = clock.read();
        ensure(r.time >= last.time, "counter clock went backwards")?;
        ensure(r.bound >= last.bound, "bound shrank without a new anchor")?;
        last = r;
    }
    ensure(
        last.time > Instant::from_nanos(1_700_000_000_000_000_000),
        "board timer does not advance",
    )
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::string::String;

    /// The host's stand-in for a board timer.
    struct HostTicks(std::time::Instant);
    impl TickCounter for HostTicks {
        fn ticks(&self) -> u64 {
            self.0.elapsed().as_nanos() as u64
        }
        fn frequency_hz(&self) -> u32 {
            1_000_000_000
        }
    }

    #[test]
    fn the_suite_passes_on_the_host() {
        let mut out = String::new();
        let tally = run(&mut out, &HostTicks(std::time::Instant::now()));
        assert_eq!(tally.failed, 0, "{out}");
        assert_eq!(tally.passed, 13, "{out}");
    }
}

/// Ticks of `counter` per operation, each averaged over `ROUNDS` runs.
#[derive(Clone, Copy, Debug, Default)]
pub struct Costs {
    /// `Hlc::now` on a board-timer clock.
    pub hlc_now: u64,
    /// `Hlc::update` with a remote just behind.
    pub hlc_update: u64,
    /// `CausalQueue::receive` of an in-order message (8 nodes, capacity 32).
    pub causal_receive: u64,
    /// `VectorClock::compare` of two 8-node clocks.
    pub vclock_compare: u64,
    /// `PtpMessage::parse` of a Sync.
    pub ptp_sync_parse: u64,
}

/// Runs per measurement.
pub const ROUNDS: u64 = 1_000;

/// Measures the hot operations in ticks of `counter` (on the boards: SysTick ticks of
/// emulated time).
pub fn measure(counter: &dyn TickCounter) -> Costs {
    struct Board<'a>(&'a dyn TickCounter);
    impl ClockSource for Board<'_> {
        type Scale = Utc;
        fn read(&self) -> tempora_core::ClockReading<Utc> {
            tempora_core::ClockReading {
                time: self.time(),
                bound: Duration::ZERO,
                status: tempora_core::ClockStatus::Unknown,
            }
        }
        fn time(&self) -> Instant<Utc> {
            Instant::from_nanos(self.0.ticks())
        }
    }
    let per_op = |start: u64| (counter.ticks() - start) / ROUNDS;
    let hlc = Hlc::new(Board(counter), NodeId(1));
    let start = counter.ticks();
    for _ in 0..ROUNDS {
        core::hint::black_box(hlc.now());
    }
    let hlc_now = per_op(start);
    let remote = Timestamp::from_raw(1, NodeId(2));
    let start = counter.ticks();
    for _ in 0..ROUNDS {
        let _ = core::hint::black_box(hlc.update(remote));
    }
    let hlc_update = per_op(start);
    let mut sender = CausalQueue::<u32, 8, 32>::new(NodeId(1));
    let mut receiver = CausalQueue::<u32, 8, 32>::new(NodeId(2));
    let mut total = 0u64;
    for i in 0..ROUNDS {
        let Ok(m) = sender.send(i as u32) else {
            break;
        };
        let start = counter.ticks();
        let _ = core::hint::black_box(receiver.receive(m, |_| {}));
        total += counter.ticks() - start;
    }
    let causal_receive = total / ROUNDS;
    let (mut a, mut b) = (VectorClock::<8>::new(), VectorClock::<8>::new());
    for n in 0..8 {
        let _ = a.set(NodeId(n), u64::from(n % 3 + 1));
        let _ = b.set(NodeId(n), u64::from((n + 1) % 3 + 1));
    }
    let start = counter.ticks();
    for _ in 0..ROUNDS {
        core::hint::black_box(core::hint::black_box(&a).compare(core::hint::black_box(&b)));
    }
    let vclock_compare = per_op(start);
    let (buf, n) = sync_bytes();
    let start = counter.ticks();
    for _ in 0..ROUNDS {
        let _ = core::hint::black_box(tempora_core::ptp::wire::PtpMessage::parse(
            core::hint::black_box(&buf[..n]),
        ));
    }
    let ptp_sync_parse = per_op(start);
    Costs {
        hlc_now,
        hlc_update,
        causal_receive,
        vclock_compare,
        ptp_sync_parse,
    }
}

/// The firmware side shared by the QEMU boards.
#[cfg(feature = "firmware")]
pub mod firmware {
    use core::fmt::Write;

    use tempora_embedded::systick::SysTick;
    use tempora_embedded::{Extended, TickCounter};

    struct Semihosting;

    impl Write for Semihosting {
        fn write_str(&mut self, s: &str) -> core::fmt::Result {
            semihosting::print!("{s}");
            Ok(())
        }
    }

    /// Starts SysTick, runs the suite and the measurements, prints `N passed, M failed`
    /// and leaves QEMU with exit code 0 only if nothing failed.
    pub fn main(board: &str, ticks: &'static Extended<SysTick>) -> ! {
        let Some(cp) = cortex_m::Peripherals::take() else {
            semihosting::println!("core peripherals already taken");
            semihosting::process::exit(2)
        };
        SysTick::start(cp.SYST);
        let mut out = Semihosting;
        let _ = writeln!(out, "tempora behaviour suite on {board}");
        let tally = super::run(&mut out, ticks);
        let c = super::measure(ticks);
        let _ = writeln!(
            out,
            "systick ticks per op at {} Hz: hlc_now={} hlc_update={} causal_receive={} vclock_compare={} ptp_sync_parse={}",
            ticks.frequency_hz(),
            c.hlc_now,
            c.hlc_update,
            c.causal_receive,
            c.vclock_compare,
            c.ptp_sync_parse
        );
        let _ = writeln!(out, "{} passed, {} failed", tally.passed, tally.failed);
        semihosting::process::exit(if tally.failed == 0 { 0 } else { 1 })
    }
}
