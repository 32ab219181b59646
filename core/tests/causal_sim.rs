//! Seeded simulation of causal broadcast: N nodes broadcast over a network that delays,
//! reorders, duplicates and loses packets (lost ones are retransmitted), and a checker
//! verifies over many seeds that
//! - every delivery respects happened-before,
//! - nothing is delivered twice,
//! - nothing is lost once its dependencies have arrived (everything is delivered in the end).
//!
//! A failure names its seed; replay one with `TEMPORA_SIM_SEED=<seed> cargo test -p
//! tempora-core --test causal_sim`.
#![cfg(not(loom))]

use tempora_core::rng::SplitMix64 as Rng;

use std::collections::{BTreeMap, HashSet};

use tempora_core::causal::{CausalMessage, CausalQueue, RefusalReason, Refused};
use tempora_core::error::Full;
use tempora_core::NodeId;

const NODES: u32 = 5;
const CAP: usize = 16;
type Msg = CausalMessage<(u32, u64), 8>;

#[derive(Default)]
struct Outcome {
    delivered: usize,
    duplicates_refused: u64,
    full_refusals: u64,
}

fn simulate(seed: u64) -> Result<Outcome, String> {
    let mut rng = Rng::new(seed);
    let mut queues: Vec<CausalQueue<(u32, u64), 8, CAP>> =
        (1..=NODES).map(|n| CausalQueue::new(NodeId(n))).collect();
    // In flight: arrival tick -> packets (destination index, message).
    let mut network: BTreeMap<u64, Vec<(usize, Msg)>> = BTreeMap::new();
    let mut delivered: Vec<HashSet<(u32, u64)>> = vec![HashSet::new(); NODES as usize];
    let mut sent = 0usize;
    let mut out = Outcome::default();
    let send_until = 300;
    let mut tick = 0u64;
    while tick < send_until || !network.is_empty() {
        if tick > 200_000 {
            return Err(format!("seed {seed}: network did not drain"));
        }
        // Broadcasts: a random node speaks, after whatever it has delivered so far.
        if tick < send_until && rng.chance(40) {
            let i = rng.below(u64::from(NODES)) as usize;
            let sender = queues[i].local();
            let seq = queues[i].clock().get(sender) + 1;
            let msg: Msg = queues[i].send((sender.0, seq)).unwrap();
            assert_eq!(msg.seq(), seq);
            delivered[i].insert(msg.payload); // a sender delivers its own message at once
            sent += 1;
            for d in 0..NODES as usize {
                if d == i {
                    continue;
                }
                let copies = if rng.chance(10) { 2 } else { 1 }; // duplication
                for _ in 0..copies {
                    // Loss with retransmission: each loss costs a retransmit timeout.
                    let mut delay = 1 + rng.below(40);
                    let mut losses = 0;
                    while losses < 3 && rng.chance(15) {
                        delay += 60;
                        losses += 1;
                    }
                    network
                        .entry(tick + delay)
                        .or_default()
                        .push((d, msg.clone()));
                }
            }
        }
        if let Some(packets) = network.remove(&tick) {
            for (d, msg) in packets {
                let local = queues[d].local();
                let seen = &mut delivered[d];
                let mut violation = None;
                let result = queues[d].receive(msg, |m| {
                    // Happened-before: every message m depends on is already delivered here.
                    for (node, count) in m.clock.iter() {
                        let upto = if node == m.sender { count - 1 } else { count };
                        for s in 1..=upto {
                            if !seen.contains(&(node.0, s)) && violation.is_none() {
                                violation = Some(format!(
                                    "seed {seed}: node {local} delivered {:?} before its dependency ({}, {s})",
                                    m.payload, node.0
                                ));
                            }
                        }
                    }
                    if !seen.insert(m.payload) && violation.is_none() {
                        violation = Some(format!("seed {seed}: node {local} delivered {:?} twice", m.payload));
                    }
                });
                if let Some(v) = violation {
                    return Err(v);
                }
                match result {
                    Ok(_) => {}
                    Err(Refused::Duplicate(_)) => out.duplicates_refused += 1,
                    Err(Refused::Full(Full(m))) => {
                        // The transport keeps it and retries later: nothing is lost.
                        out.full_refusals += 1;
                        network.entry(tick + 50).or_default().push((d, m));
                    }
                    Err(r) => {
                        return Err(format!("seed {seed}: unexpected refusal {}", r.reason()))
                    }
                }
            }
        }
        tick += 1;
    }
    for (i, q) in queues.iter().enumerate() {
        if delivered[i].len() != sent {
            let mut gaps = Vec::new();
            q.missing(|g| gaps.push(g));
            return Err(format!(
                "seed {seed}: node {} delivered {} of {sent} messages; {} held; missing {gaps:?}",
                i + 1,
                delivered[i].len(),
                q.stats().held
            ));
        }
        assert_eq!(q.stats().held, 0);
        out.delivered += delivered[i].len();
    }
    Ok(out)
}

#[test]
fn causal_delivery_survives_delay_reordering_duplication_and_loss() {
    let seeds: Vec<u64> = match std::env::var("TEMPORA_SIM_SEED") {
        Ok(s) => vec![s.parse().expect("TEMPORA_SIM_SEED is a u64")],
        Err(_) => (0..200).collect(),
    };
    let (mut delivered, mut dups, mut full) = (0, 0, 0);
    for seed in seeds {
        match simulate(seed) {
            Ok(o) => {
                delivered += o.delivered;
                dups += o.duplicates_refused;
                full += o.full_refusals;
            }
            Err(e) => panic!(
                "{e}\nreplay: TEMPORA_SIM_SEED={seed} cargo test -p tempora-core --test causal_sim"
            ),
        }
    }
    // The network really did duplicate, and the buffer really did fill up sometimes.
    assert!(delivered > 10_000, "{delivered}");
    assert!(dups > 1_000, "{dups}");
    assert!(
        full > 0,
        "the hold-back buffer never filled: the test is too gentle"
    );
}

#[test]
fn missing_names_exactly_the_absent_messages() {
    let mut a = CausalQueue::<u8, 4, 8>::new(NodeId(1));
    let mut b = CausalQueue::<u8, 4, 8>::new(NodeId(2));
    let msgs: Vec<_> = (0..5).map(|k| a.send(k).unwrap()).collect();
    // b gets 1, 3 and 5 (seq numbers), misses 2 and 4.
    for k in [0, 2, 4] {
        b.receive(msgs[k].clone(), |_| {}).unwrap();
    }
    let mut gaps = Vec::new();
    b.missing(|g| gaps.push((g.node.0, g.first, g.last)));
    assert_eq!(gaps, [(1, 2, 2), (1, 4, 4)]);
    let mut waits = Vec::new();
    b.waiting_for(&msgs[4], |g| waits.push((g.node.0, g.first, g.last)));
    assert_eq!(waits, [(1, 2, 4)]);
    assert_eq!(b.stats().held, 2);
    let mut got = Vec::new();
    b.receive(msgs[1].clone(), |m| got.push(m.payload)).unwrap();
    b.receive(msgs[3].clone(), |m| got.push(m.payload)).unwrap();
    assert_eq!(got, [1, 2, 3, 4]);
    let s = b.stats();
    assert_eq!((s.held, s.delivered, s.duplicates, s.refused), (0, 5, 0, 0));
    assert_eq!(
        b.receive(msgs[0].clone(), |_| {}).unwrap_err().reason(),
        RefusalReason::Duplicate
    );
}
