//! Deterministic simulation: a master and a slave port exchange real PTP bytes over a
//! simulated network with seeded jitter, the slave's clock 30 ppm fast and 250 µs off.
//! The slave must select the master, lock, and estimate its true offset within its
//! own bound. A failing seed is printed for replay.
#![cfg(not(loom))]

use tempora_core::rng::SplitMix64 as Rng;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use tempora_core::ptp::port::{
    Action, DelayMechanism, Measurement, Port, PortConfig, PortState, Timer,
};
use tempora_core::ptp::wire::{ClockIdentity, MessageType};
use tempora_core::time::{Instant, Tai};

/// A node's local clock: local = epoch + offset + T + drift_ppb * T / 1e9.
#[derive(Clone, Copy)]
struct LocalClock {
    offset: i128,
    drift_ppb: i128,
}

const EPOCH: i128 = 1_700_000_000 * 1_000_000_000;

impl LocalClock {
    fn local_ns(&self, t: i128) -> i128 {
        EPOCH + self.offset + t + self.drift_ppb * t / 1_000_000_000
    }
    fn local(&self, t: i128) -> Instant<Tai> {
        Instant::from_nanos(u64::try_from(self.local_ns(t)).expect("after the epoch"))
    }
    fn true_time(&self, local: Instant<Tai>) -> i128 {
        (i128::from(local.as_nanos()) - EPOCH - self.offset) * 1_000_000_000
            / (1_000_000_000 + self.drift_ppb)
    }
}

#[derive(Debug)]
enum Ev {
    Timer(usize, Timer, u64),
    Deliver(usize, Vec<u8>, bool),
}

fn config(id: u8, priority1: u8, slave_only: bool, mechanism: DelayMechanism) -> PortConfig {
    PortConfig::ordinary(ClockIdentity([id; 8]), priority1, slave_only)
        .with_intervals(-3, -3, -3, 2)
        .with_delay_mechanism(mechanism)
}

struct Outcome {
    selected_at: Option<i128>,
    locked_at: Option<i128>,
    /// Measurements after the first lock, and how many of them were locked.
    after_lock: (u32, u32),
    errors: Vec<(f64, f64)>, // (estimate - truth, sigma) after settling
    /// The slave's Delay_Reqs (or Pdelay_Reqs) sent in reaction to a received message,
    /// and otherwise.
    delay_reqs: (u32, u32),
    /// Messages each port sent, by type (P2P: both ports answer peer-delay requests).
    sent: [HashMap<MessageType, u32>; 2],
}

fn simulate(seed: u64, delay: i128, jitter: i128, seconds: i128) -> Outcome {
    simulate_with(seed, delay, jitter, seconds, DelayMechanism::E2E)
}

fn simulate_with(
    seed: u64,
    delay: i128,
    jitter: i128,
    seconds: i128,
    mechanism: DelayMechanism,
) -> Outcome {
    let mut rng = Rng::new(seed);
    let clocks = [
        LocalClock {
            offset: 0,
            drift_ppb: 0,
        },
        LocalClock {
            offset: 250_000,
            drift_ppb: 30_000,
        },
    ];
    let mut ports = [
        Port::<4>::new(config(1, 10, false, mechanism)),
        Port::<4>::new(config(2, 128, true, mechanism)),
    ];
    let master_id = ports[0].config().identity;
    let mut queue: BinaryHeap<Reverse<(i128, u64, usize)>> = BinaryHeap::new();
    let mut events: HashMap<u64, Ev> = HashMap::new();
    let mut generation: HashMap<(usize, Timer), u64> = HashMap::new();
    let mut next_id = 0u64;
    let mut push = |queue: &mut BinaryHeap<_>, events: &mut HashMap<u64, Ev>, t: i128, ev: Ev| {
        next_id += 1;
        events.insert(next_id, ev);
        queue.push(Reverse((t, next_id, 0)));
    };
    let mut out = Outcome {
        selected_at: None,
        locked_at: None,
        after_lock: (0, 0),
        errors: Vec::new(),
        delay_reqs: (0, 0),
        sent: [HashMap::new(), HashMap::new()],
    };
    // (node, time, actions, whether they answer a received message)
    let mut pending: Vec<(usize, i128, Vec<Action>, bool)> = Vec::new();
    for (i, p) in ports.iter_mut().enumerate() {
        pending.push((
            i,
            0,
            p.start(clocks[i].local(0)).into_iter().collect(),
            false,
        ));
    }
    let end = seconds * 1_000_000_000;
    loop {
        // Carry out actions (which may produce more, via on_sent).
        while let Some((i, t, actions, received)) = pending.pop() {
            for a in actions {
                match a {
                    Action::Send { packet: p, context } => {
                        *out.sent[i].entry(p.message_type).or_insert(0) += 1;
                        let request = match mechanism {
                            DelayMechanism::E2E => MessageType::DelayReq,
                            #[cfg(feature = "p2p")]
                            DelayMechanism::P2P => MessageType::PdelayReq,
                        };
                        // Requests the slave sends once it follows the master (a P2P port
                        // also measures its link before).
                        let following = matches!(ports[1].state(), PortState::Slave(_));
                        if i == 1 && following && p.message_type == request {
                            if received {
                                out.delay_reqs.0 += 1;
                            } else {
                                out.delay_reqs.1 += 1;
                            }
                        }
                        let arrive = t + delay + i128::from(rng.jitter(jitter as u64));
                        push(
                            &mut queue,
                            &mut events,
                            arrive,
                            Ev::Deliver(1 - i, p.bytes.to_vec(), p.message_type.is_event()),
                        );
                        if let Some(context) = context {
                            let more = ports[i].on_sent(context, clocks[i].local(t));
                            pending.push((i, t, more.into_iter().collect(), received));
                        }
                    }
                    Action::SetTimer { timer, at } => {
                        let g = generation.entry((i, timer)).or_insert(0);
                        *g += 1;
                        let when = clocks[i].true_time(at).max(t);
                        push(&mut queue, &mut events, when, Ev::Timer(i, timer, *g));
                    }
                    Action::CancelTimer(timer) => {
                        *generation.entry((i, timer)).or_insert(0) += 1;
                    }
                    Action::State(PortState::Slave(m)) if i == 1 => {
                        assert_eq!(m, master_id, "seed {seed}: slave chose {m:?}");
                        out.selected_at.get_or_insert(t);
                    }
                    Action::State(_) | Action::Event(_) => {}
                    Action::Measure(Measurement {
                        at,
                        offset,
                        sigma_ns: sigma,
                        ..
                    }) if i == 1 => {
                        let truth_t = clocks[1].true_time(at);
                        let truth =
                            (clocks[1].local_ns(truth_t) - clocks[0].local_ns(truth_t)) as f64;
                        let offset = offset.as_f64();
                        if ports[1].locked() {
                            out.locked_at.get_or_insert(t);
                        }
                        if out.locked_at.is_some() {
                            out.after_lock.0 += 1;
                            out.after_lock.1 += u32::from(ports[1].locked());
                        }
                        if t > 20_000_000_000 {
                            out.errors.push((offset - truth, sigma));
                        }
                    }
                    Action::Measure(_) => {}
                }
            }
        }
        let Some(Reverse((t, id, _))) = queue.pop() else {
            break;
        };
        if t > end {
            break;
        }
        match events.remove(&id).expect("event") {
            Ev::Timer(i, timer, g) => {
                if generation.get(&(i, timer)) == Some(&g) {
                    let a = ports[i].on_timer(timer, clocks[i].local(t));
                    pending.push((i, t, a.into_iter().collect(), false));
                }
            }
            Ev::Deliver(i, bytes, event) => {
                let local = clocks[i].local(t);
                if let Ok(a) = ports[i].on_receive(&bytes, event.then_some(local), local) {
                    pending.push((i, t, a.into_iter().collect(), true));
                }
            }
        }
    }
    assert_eq!(ports[0].state(), PortState::Master, "seed {seed}");
    assert_eq!(ports[1].state(), PortState::Slave(master_id), "seed {seed}");
    out
}

/// (sample count, error RMS, samples inside 3 sigma) of the settled measurements.
fn settled(o: &Outcome) -> (f64, f64, f64) {
    let n = o.errors.len() as f64;
    let rms = (o.errors.iter().map(|(e, _)| e * e).sum::<f64>() / n).sqrt();
    let inside = o.errors.iter().filter(|(e, s)| e.abs() <= 3.0 * s).count() as f64;
    (n, rms, inside)
}

#[test]
fn slave_selects_locks_and_tracks_the_master() {
    let seeds: Vec<u64> = match std::env::var("TEMPORA_SIM_SEED") {
        Ok(s) => vec![s.parse().expect("u64 seed")],
        Err(_) => (0..30).collect(),
    };
    for seed in seeds {
        let o = simulate(seed, 2_000, 200, 40);
        let replay =
            format!("replay: TEMPORA_SIM_SEED={seed} cargo test -p tempora-core --test ptp_sim");
        let selected = o
            .selected_at
            .unwrap_or_else(|| panic!("seed {seed}: never selected the master; {replay}"));
        let locked = o
            .locked_at
            .unwrap_or_else(|| panic!("seed {seed}: never locked; {replay}"));
        assert!(
            selected < 1_000_000_000,
            "seed {seed}: selection took {selected} ns; {replay}"
        );
        assert!(
            locked < 10_000_000_000,
            "seed {seed}: lock took {locked} ns; {replay}"
        );
        let (n, rms, inside) = settled(&o);
        println!("seed {seed}: selected {:.2} s, locked {:.2} s, steady RMS {rms:.1} ns, {:.1}% inside 3 sigma", selected as f64 / 1e9, locked as f64 / 1e9, 100.0 * inside / n);
        assert!(n > 100.0, "seed {seed}: only {n} measurements");
        // Every Delay_Req follows a Sync's arrival (keeps the send path as warm as the
        // master's); at 8 Syncs per second over 40 s that is roughly 300 of them.
        let (after_receipt, otherwise) = o.delay_reqs;
        assert_eq!(otherwise, 0, "seed {seed}: Delay_Req sent on a timer alone");
        assert!(
            after_receipt > 250,
            "seed {seed}: {after_receipt} Delay_Reqs"
        );
        assert!(
            rms < 100.0,
            "seed {seed}: steady-state RMS {rms} ns; {replay}"
        );
        assert!(
            inside >= 0.99 * n,
            "seed {seed}: {inside} of {n} inside the bound; {replay}"
        );
    }
}

/// A WAN-like path: 1 ms each way with ±200 µs of jitter per packet. The slave must lock
/// and stay locked, and its error must stay inside its bound.
#[test]
fn slave_holds_lock_through_heavy_jitter() {
    for seed in 0..5u64 {
        let o = simulate(seed, 1_000_000, 200_000, 60);
        let replay = format!("replay: seed {seed} of slave_holds_lock_through_heavy_jitter");
        let locked = o
            .locked_at
            .unwrap_or_else(|| panic!("seed {seed}: never locked; {replay}"));
        let (n_after, n_locked) = o.after_lock;
        let (n, rms, inside) = settled(&o);
        println!("jitter seed {seed}: locked {:.2} s, locked {n_locked}/{n_after} after, RMS {rms:.0} ns, {:.1}% inside 3 sigma", locked as f64 / 1e9, 100.0 * inside / n);
        assert!(
            locked < 10_000_000_000,
            "seed {seed}: lock took {locked} ns; {replay}"
        );
        assert!(
            n_locked as f64 >= 0.95 * n_after as f64,
            "seed {seed}: lost lock; {replay}"
        );
        assert!(rms < 30_000.0, "seed {seed}: RMS {rms} ns; {replay}");
        assert!(
            inside >= 0.99 * n,
            "seed {seed}: {inside}/{n} inside; {replay}"
        );
    }
}

/// Peer to peer: both ports measure the link with Pdelay messages and answer each
/// other's; the slave pairs each of its link measurements with the latest Sync. Same
/// network and clocks as above; the same convergence and accuracy are required.
#[cfg(feature = "p2p")]
#[test]
fn slave_locks_and_tracks_with_peer_delay() {
    for seed in 0..10u64 {
        let o = simulate_with(seed, 2_000, 200, 40, DelayMechanism::P2P);
        let replay = format!("replay: seed {seed} of slave_locks_and_tracks_with_peer_delay");
        let locked = o
            .locked_at
            .unwrap_or_else(|| panic!("seed {seed}: never locked; {replay}"));
        let (n, rms, inside) = settled(&o);
        println!(
            "P2P seed {seed}: locked {:.2} s, steady RMS {rms:.1} ns, {:.1}% inside 3 sigma",
            locked as f64 / 1e9,
            100.0 * inside / n
        );
        assert!(
            locked < 10_000_000_000,
            "seed {seed}: lock took {locked} ns"
        );
        assert!(n > 100.0, "seed {seed}: only {n} measurements");
        assert!(
            rms < 100.0,
            "seed {seed}: steady-state RMS {rms} ns; {replay}"
        );
        assert!(inside >= 0.99 * n, "seed {seed}: {inside} of {n} inside");
        // No E2E message on the wire; the master measured its side of the link too and
        // answered every one of the slave's requests with a response and a follow-up.
        for sent in &o.sent {
            assert!(!sent.contains_key(&MessageType::DelayReq), "seed {seed}");
            assert!(!sent.contains_key(&MessageType::DelayResp), "seed {seed}");
        }
        let count = |i: usize, t| o.sent[i].get(&t).copied().unwrap_or(0);
        assert!(count(0, MessageType::PdelayReq) > 250, "seed {seed}");
        let answered = count(0, MessageType::PdelayResp);
        assert!(
            answered + 2 >= count(1, MessageType::PdelayReq),
            "seed {seed}"
        );
        assert_eq!(
            answered,
            count(0, MessageType::PdelayRespFollowUp),
            "seed {seed}"
        );
        assert_eq!(
            o.delay_reqs.1, 0,
            "seed {seed}: Pdelay_Req on a timer alone"
        );
    }
}
