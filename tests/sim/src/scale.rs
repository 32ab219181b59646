//! Causal delivery at scale: many nodes broadcasting many messages through the lossy,
//! duplicating, reordering [`CausalNet`], every delivery checked by the
//! [`DeliveryChecker`] as it happens (no trace is kept: a million broadcasts to 63
//! receivers are 63 million deliveries).

use std::hash::Hasher;
use std::time::Instant as WallClock;

use tempora_core::rng::SplitMix64;

use crate::check::{DeliveryChecker, Tally};
use crate::net::{node_index, CausalNet, NetConfig, NetStats};
use crate::trace::Fnv;

/// The most nodes a scale run has (the vector clocks' capacity).
pub const MAX_NODES: usize = 64;
/// Messages a node's causal queue may hold back.
const HOLD_BACK: usize = 256;

/// What one scale run simulates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScaleConfig {
    /// Everything random comes from it.
    pub seed: u64,
    /// Nodes, 2 to [`MAX_NODES`].
    pub nodes: usize,
    /// Messages broadcast in all.
    pub messages: u64,
    /// Mean pause between two messages of one node, ns (the group sends `nodes` times
    /// as often).
    pub send_every_ns: u64,
    /// The network.
    pub net: NetConfig,
}

impl ScaleConfig {
    /// 64 nodes, each sending every 10 ms on average, on [`NetConfig::DEFAULT`].
    pub const fn new(seed: u64, messages: u64) -> Self {
        Self {
            seed,
            nodes: MAX_NODES,
            messages,
            send_every_ns: 10_000_000,
            net: NetConfig::DEFAULT,
        }
    }
}

/// The figures of one scale run.
#[derive(Clone, Debug, PartialEq)]
pub struct ScaleReport {
    /// The run's configuration.
    pub config: ScaleConfig,
    /// Messages broadcast.
    pub sent: u64,
    /// Deliveries, over all receivers (`sent × (nodes − 1)` when nothing is lost).
    pub delivered: u64,
    /// What the network did.
    pub net: NetStats,
    /// Causal order (every predecessor delivered first).
    pub causal: Tally,
    /// Nothing delivered twice or altered.
    pub once: Tally,
    /// Nothing lost.
    pub complete: Tally,
    /// Simulated time the run took, ns.
    pub simulated_ns: u64,
    /// Wall time the run took, s (measured around the simulation, never inside it).
    pub wall_s: f64,
    /// Digest of every delivery (who, from, which, when): equal for every replay.
    pub digest: u64,
}

impl ScaleReport {
    /// Violations over every invariant.
    pub fn violations(&self) -> u64 {
        self.causal.violations + self.once.violations + self.complete.violations
    }

    /// Messages broadcast per second of wall time.
    pub fn messages_per_s(&self) -> f64 {
        self.sent as f64 / self.wall_s.max(f64::MIN_POSITIVE)
    }

    /// Deliveries per second of wall time.
    pub fn deliveries_per_s(&self) -> f64 {
        self.delivered as f64 / self.wall_s.max(f64::MIN_POSITIVE)
    }
}

/// Runs one scale seed.
pub fn run(config: ScaleConfig) -> ScaleReport {
    let started = WallClock::now();
    let n = config.nodes.clamp(2, MAX_NODES);
    let config = ScaleConfig { nodes: n, ..config };
    let mut rng = SplitMix64::new(config.seed);
    let mut net: CausalNet<u64, MAX_NODES, HOLD_BACK> =
        CausalNet::new(n, config.net, rng.next_u64());
    let mut checker = DeliveryChecker::new(n);
    let mut digest = Fnv::default();
    let mut delivered = 0u64;
    // The group's sends: one every `send_every_ns / n` on average, from a node drawn
    // at random.
    let gap = (config.send_every_ns / n as u64).max(1);
    let mut next_send = rng.below(2 * gap);
    let mut sent = 0u64;
    let mut now = 0u64;
    // Bounded: sends stop at `messages`, and every copy is retransmitted at most
    // `max_attempts` times.
    let limit = config
        .messages
        .saturating_mul(n as u64)
        .saturating_mul(u64::from(config.net.max_attempts) + 4);
    for _ in 0..limit {
        let sending = sent < config.messages;
        match net.next_at() {
            Some(at) if !sending || at < next_send => {
                net.step(at, |t, to, m| {
                    delivered += 1;
                    digest.write_u64(t);
                    digest.write_u64((to as u64) << 32 | u64::from(m.sender.0));
                    digest.write_u64(m.seq());
                    checker.deliver(to, node_index(m.sender), m.seq(), m.payload);
                });
                now = at;
            }
            None if !sending => break,
            _ => {
                now = next_send;
                let from = rng.below(n as u64) as usize;
                let body = rng.next_u64();
                if let Some(m) = net.broadcast(now, from, body) {
                    checker.send(from, m.seq(), body);
                    sent += 1;
                }
                next_send = now + rng.below(2 * gap) + 1;
            }
        }
    }
    checker.finish();
    ScaleReport {
        config,
        sent,
        delivered,
        net: net.stats(),
        causal: checker.causal,
        once: checker.once,
        complete: checker.complete,
        simulated_ns: now,
        wall_s: started.elapsed().as_secs_f64(),
        digest: digest.finish(),
    }
}
