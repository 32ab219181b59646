//! A lossy, duplicating, reordering broadcast network of [`CausalQueue`]s, in simulated
//! time, with retransmission so that nothing is lost.
//!
//! Every message a node sends goes to every other node as its own copy. Each copy may
//! be lost, held back (so later copies overtake it) or delivered twice. A lost copy is
//! sent again after the retransmission timeout, as a sender does whose acknowledgement
//! never came; a lost *acknowledgement* makes the sender send a copy that did arrive
//! once more, which is what a duplicate models. Acknowledgements are therefore not
//! simulated packet by packet: their two effects (a retransmission after a timeout, a
//! duplicate) are, at a fraction of the events, which is what lets the 10⁶-message run
//! finish in minutes. A copy the receiver's hold-back buffer refused for space is not
//! acknowledged either and comes again after the timeout.
//!
//! Everything random comes from the one [`SplitMix64`] given: a seed replays exactly.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::rc::Rc;

use tempora_core::causal::{CausalMessage, CausalQueue, RefusalReason};
use tempora_core::rng::SplitMix64;
use tempora_core::NodeId;

/// What the network does to each copy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NetConfig {
    /// Mean one-way delay, ns.
    pub delay_ns: u64,
    /// Each copy's delay varies uniformly by up to this much either way, ns (below
    /// `delay_ns`).
    pub jitter_ns: u64,
    /// Chance of losing a copy, %.
    pub loss_percent: u64,
    /// Chance of delivering a copy twice (a lost acknowledgement), %.
    pub duplicate_percent: u64,
    /// Chance of holding a copy back by `hold_ns`, %.
    pub reorder_percent: u64,
    /// How long a reordered copy is held back, ns.
    pub hold_ns: u64,
    /// How long a sender waits for an acknowledgement before sending again, ns.
    pub rto_ns: u64,
    /// The most times one copy is sent: a bound on the retransmission loop. With a loss
    /// rate of p the chance of reaching it is p^max_attempts; a copy that does is
    /// counted as given up, and the loss checker then reports it as lost.
    pub max_attempts: u32,
}

impl NetConfig {
    /// 200 µs ± 100 µs, 5 % loss, 3 % duplicates, 10 % held back by 1 ms, a 2 ms
    /// retransmission timeout, at most 32 attempts.
    pub const DEFAULT: Self = Self {
        delay_ns: 200_000,
        jitter_ns: 100_000,
        loss_percent: 5,
        duplicate_percent: 3,
        reorder_percent: 10,
        hold_ns: 1_000_000,
        rto_ns: 2_000_000,
        max_attempts: 32,
    };
}

/// What happened to the copies, summed over every link.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct NetStats {
    /// Messages broadcast.
    pub broadcasts: u64,
    /// Copies put on a link, retransmissions included.
    pub copies: u64,
    /// Copies lost on a link.
    pub lost: u64,
    /// Copies sent again after a timeout.
    pub retransmitted: u64,
    /// Copies delivered twice by the network.
    pub duplicated: u64,
    /// Copies held back.
    pub reordered: u64,
    /// Copies the receiver recognised as duplicates.
    pub duplicates_refused: u64,
    /// Copies the receiver had to hold back for earlier messages.
    pub held: u64,
    /// Copies refused for a full hold-back buffer (sent again later).
    pub refused_full: u64,
    /// Copies refused as malformed or beyond the clock's capacity (never expected).
    pub refused_other: u64,
    /// Messages handed to the application.
    pub delivered: u64,
    /// Copies whose sender gave up after `max_attempts`.
    pub given_up: u64,
    /// The largest hold-back buffer seen at any node.
    pub max_held: usize,
}

/// A copy on its way from `from` to `to`.
enum Flight<M, const NODES: usize> {
    /// It reaches `to` now.
    Arrive {
        to: usize,
        message: Rc<CausalMessage<M, NODES>>,
        attempt: u32,
    },
    /// `from`'s timeout for it ran out: send it again.
    Retransmit {
        to: usize,
        message: Rc<CausalMessage<M, NODES>>,
        attempt: u32,
    },
}

/// A scheduled copy, ordered by (time, order of scheduling) so that equal times keep
/// the order they were scheduled in: what makes a run a function of its seed.
struct Scheduled<M, const NODES: usize> {
    at: u64,
    order: u64,
    flight: Flight<M, NODES>,
}

impl<M, const NODES: usize> PartialEq for Scheduled<M, NODES> {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.order) == (other.at, other.order)
    }
}
impl<M, const NODES: usize> Eq for Scheduled<M, NODES> {}
impl<M, const NODES: usize> PartialOrd for Scheduled<M, NODES> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<M, const NODES: usize> Ord for Scheduled<M, NODES> {
    /// Reversed: `BinaryHeap` is a max-heap and the earliest copy must come out first.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at, other.order).cmp(&(self.at, self.order))
    }
}

/// `n` nodes, each with a causal-delivery queue holding back at most `CAPACITY`
/// messages, on one lossy network; see the [module docs](self).
pub struct CausalNet<M, const NODES: usize, const CAPACITY: usize> {
    queues: Vec<CausalQueue<M, NODES, CAPACITY>>,
    config: NetConfig,
    rng: SplitMix64,
    flights: BinaryHeap<Scheduled<M, NODES>>,
    scheduled: u64,
    stats: NetStats,
}

/// The id a node has in the vector clocks: its index plus one (ids are never 0, so a
/// trace never confuses "node 0" with "no node").
pub fn node_id(index: usize) -> NodeId {
    NodeId(u32::try_from(index).map_or(u32::MAX, |i| i.saturating_add(1)))
}

/// The index of the node with id `id` (the inverse of [`node_id`]).
pub fn node_index(id: NodeId) -> usize {
    id.0.saturating_sub(1) as usize
}

impl<M: Clone, const NODES: usize, const CAPACITY: usize> CausalNet<M, NODES, CAPACITY> {
    /// A network of `nodes` nodes (at most `NODES`) whose randomness comes from `seed`.
    pub fn new(nodes: usize, config: NetConfig, seed: u64) -> Self {
        let nodes = nodes.min(NODES);
        Self {
            queues: (0..nodes).map(|i| CausalQueue::new(node_id(i))).collect(),
            config,
            rng: SplitMix64::new(seed),
            flights: BinaryHeap::new(),
            scheduled: 0,
            stats: NetStats::default(),
        }
    }

    /// The number of nodes.
    pub fn nodes(&self) -> usize {
        self.queues.len()
    }

    /// Node `i`'s queue.
    pub fn queue(&self, i: usize) -> &CausalQueue<M, NODES, CAPACITY> {
        &self.queues[i]
    }

    /// The counters so far.
    pub fn stats(&self) -> NetStats {
        self.stats
    }

    /// Copies still on their way or waiting for a retransmission.
    pub fn in_flight(&self) -> usize {
        self.flights.len()
    }

    /// When the next copy arrives or is retransmitted, if any is on its way.
    pub fn next_at(&self) -> Option<u64> {
        self.flights.peek().map(|s| s.at)
    }

    /// Node `from` sends `payload` at time `now` to every other node. Returns the
    /// message as stamped (its vector clock counts this send), or `None` if the local
    /// clock could not count it (only with more nodes than `NODES`).
    pub fn broadcast(
        &mut self,
        now: u64,
        from: usize,
        payload: M,
    ) -> Option<Rc<CausalMessage<M, NODES>>> {
        let message = Rc::new(self.queues.get_mut(from)?.send(payload).ok()?);
        self.stats.broadcasts += 1;
        for to in (0..self.queues.len()).filter(|&to| to != from) {
            self.transmit(now, to, Rc::clone(&message), 1);
        }
        Some(message)
    }

    fn schedule(&mut self, at: u64, flight: Flight<M, NODES>) {
        self.scheduled += 1;
        self.flights.push(Scheduled {
            at,
            order: self.scheduled,
            flight,
        });
    }

    /// Puts one copy on the link to `to`: lost (and retransmitted after the timeout),
    /// held back, delivered, or delivered twice.
    fn transmit(
        &mut self,
        now: u64,
        to: usize,
        message: Rc<CausalMessage<M, NODES>>,
        attempt: u32,
    ) {
        let c = self.config;
        self.stats.copies += 1;
        if self.rng.chance(c.loss_percent) {
            self.stats.lost += 1;
            self.schedule(
                now + c.rto_ns,
                Flight::Retransmit {
                    to,
                    message,
                    attempt,
                },
            );
            return;
        }
        let mut arrive = self.arrival(now);
        if self.rng.chance(c.reorder_percent) {
            self.stats.reordered += 1;
            arrive += c.hold_ns;
        }
        if self.rng.chance(c.duplicate_percent) {
            self.stats.duplicated += 1;
            let again = self.arrival(now) + c.rto_ns;
            self.schedule(
                again,
                Flight::Arrive {
                    to,
                    message: Rc::clone(&message),
                    attempt,
                },
            );
        }
        self.schedule(
            arrive,
            Flight::Arrive {
                to,
                message,
                attempt,
            },
        );
    }

    fn arrival(&mut self, now: u64) -> u64 {
        let c = self.config;
        let jitter = self.rng.jitter(c.jitter_ns.min(c.delay_ns));
        now + c.delay_ns.saturating_add_signed(jitter)
    }

    /// Takes the next scheduled copy, if it is due at or before `until`, and carries it
    /// out; `on_deliver(now, node, message)` gets every message that became deliverable,
    /// in the order the node's queue delivered them. Returns the copy's time, or `None`
    /// if nothing was due.
    pub fn step(
        &mut self,
        until: u64,
        mut on_deliver: impl FnMut(u64, usize, CausalMessage<M, NODES>),
    ) -> Option<u64> {
        if self.flights.peek()?.at > until {
            return None;
        }
        let Scheduled { at, flight, .. } = self.flights.pop()?;
        match flight {
            Flight::Retransmit {
                to,
                message,
                attempt,
            } => {
                if attempt >= self.config.max_attempts {
                    self.stats.given_up += 1;
                } else {
                    self.stats.retransmitted += 1;
                    self.transmit(at, to, message, attempt + 1);
                }
            }
            Flight::Arrive {
                to,
                message,
                attempt,
            } => {
                let copy = CausalMessage::clone(&message);
                let mut delivered = 0;
                let outcome = self.queues[to].receive(copy, |m| {
                    delivered += 1;
                    on_deliver(at, to, m)
                });
                self.stats.delivered += delivered;
                match outcome {
                    Ok(tempora_core::causal::Receipt::Held) => self.stats.held += 1,
                    Ok(_) => {}
                    Err(refused) => match refused.reason() {
                        RefusalReason::Duplicate => self.stats.duplicates_refused += 1,
                        RefusalReason::Full => {
                            // Not acknowledged: the sender's timeout brings it again.
                            self.stats.refused_full += 1;
                            self.schedule(
                                at + self.config.rto_ns,
                                Flight::Retransmit {
                                    to,
                                    message,
                                    attempt,
                                },
                            );
                        }
                        RefusalReason::Malformed | RefusalReason::Clock(_) => {
                            self.stats.refused_other += 1
                        }
                    },
                }
                let held = self.queues[to].stats().held;
                self.stats.max_held = self.stats.max_held.max(held);
            }
        }
        Some(at)
    }
}
