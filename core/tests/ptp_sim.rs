//! Deterministic simulation: a master and a slave port exchange real PTP bytes over a
//! simulated network with seeded jitter, the slave's clock 30 ppm fast and 250 µs off.
//! The slave must select the master, lock, and estimate its true offset within its
//! own bound. A failing seed is printed for replay.
#![cfg(not(loom))]

use std::collections::HashMap;

use tempora_core::ptp::port::{Action, DelayMechanism, PortState};
use tempora_core::ptp::wire::MessageType;
use tempora_ptp_sim::sim::{Link, Simulation, Trigger};
use tempora_ptp_sim::{config, stats, LocalClock, SECOND};

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

fn simulate(seed: u64, delay: i128, jitter: u64, seconds: i128) -> Outcome {
    simulate_with(seed, delay, jitter, seconds, DelayMechanism::E2E)
}

fn simulate_with(
    seed: u64,
    delay: i128,
    jitter: u64,
    seconds: i128,
    mechanism: DelayMechanism,
) -> Outcome {
    let mut sim = Simulation::new(seed, Link::new(delay, jitter));
    let master = sim.add_node(
        config::fast(1, 10, false).with_delay_mechanism(mechanism),
        LocalClock::new(0, 0),
    );
    let slave = sim.add_node(
        config::fast(2, 128, true).with_delay_mechanism(mechanism),
        LocalClock::new(250_000, 30_000),
    );
    let master_id = sim.port(master).config().identity;
    let request = match mechanism {
        DelayMechanism::E2E => MessageType::DelayReq,
        #[cfg(feature = "p2p")]
        DelayMechanism::P2P => MessageType::PdelayReq,
    };
    let mut out = Outcome {
        selected_at: None,
        locked_at: None,
        after_lock: (0, 0),
        errors: Vec::new(),
        delay_reqs: (0, 0),
        sent: [HashMap::new(), HashMap::new()],
    };
    sim.run_until(seconds * SECOND, |seen| match seen.action {
        Action::Send { packet: p, .. } => {
            *out.sent[seen.node].entry(p.message_type).or_insert(0) += 1;
            // Requests the slave sends once it follows the master (a P2P port also
            // measures its link before).
            let following = matches!(seen.port().state(), PortState::Slave(_));
            if seen.node == slave && following && p.message_type == request {
                if matches!(seen.trigger, Trigger::Receipt(_)) {
                    out.delay_reqs.0 += 1;
                } else {
                    out.delay_reqs.1 += 1;
                }
            }
        }
        Action::State(PortState::Slave(m)) if seen.node == slave => {
            assert_eq!(*m, master_id, "seed {seed}: slave chose {m:?}");
            out.selected_at.get_or_insert(seen.t);
        }
        Action::Measure(m) if seen.node == slave => {
            let truth = seen.true_offset(master, m.at) as f64;
            let locked = seen.port().locked();
            if locked {
                out.locked_at.get_or_insert(seen.t);
            }
            if out.locked_at.is_some() {
                out.after_lock.0 += 1;
                out.after_lock.1 += u32::from(locked);
            }
            if seen.t > 20 * SECOND {
                out.errors.push((m.offset.as_f64() - truth, m.sigma_ns));
            }
        }
        _ => {}
    });
    assert_eq!(sim.port(master).state(), PortState::Master, "seed {seed}");
    assert_eq!(
        sim.port(slave).state(),
        PortState::Slave(master_id),
        "seed {seed}"
    );
    out
}

/// (sample count, error RMS, samples inside 3 sigma) of the settled measurements.
fn settled(o: &Outcome) -> (f64, f64, f64) {
    let n = o.errors.len() as f64;
    // NaN without samples, which the callers' count checks report.
    let rms = stats::rms(o.errors.iter().map(|(e, _)| *e)).unwrap_or(f64::NAN);
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
