//! The record of a whole-system run: every fact the invariants are about, in the order
//! it happened, and the function that checks them all.
//!
//! Checking a recorded trace rather than the running simulation is what lets the tests
//! feed the checkers a deliberately broken run: take a good trace, reorder a delivery,
//! drop one, shift a bound, and the matching checker must complain.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};

use crate::check::{BoundChecker, DeliveryChecker, HlcChecker, Tally};
use crate::reference::{self, MatchKey, StreamEvent};

/// The patterns each node's detectors look for, with the kinds of events they use.
pub mod patterns {
    /// The event kinds messages carry (`kind % KINDS`).
    pub const KINDS: u8 = 3;
    /// The first event of both patterns.
    pub const START: u8 = 0;
    /// The event that completes the sequence and answers the absence.
    pub const END: u8 = 1;
    /// `START` then `END` within this, ns of HLC time.
    pub const WITHIN_NS: u64 = 40_000_000;
    /// The detectors' allowed lateness, ns of HLC time.
    pub const LATENESS_NS: u64 = 60_000_000;
    /// Partitions messages are spread over.
    pub const PARTITIONS: u64 = 4;
    /// The sequence pattern's id in [`Fact::Match`](super::Fact::Match).
    pub const SEQUENCE: u8 = 0;
    /// The absence pattern's id.
    pub const ABSENCE: u8 = 1;
}

/// One fact of a run. Times `t` are true simulated nanoseconds since the start; `hlc`
/// values are packed HLC times; nodes are indices `0..n`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Fact {
    /// `node` broadcast its message `seq`, stamped `hlc`, whose content digests to
    /// `content`.
    Send {
        /// True time.
        t: u64,
        /// Sender.
        node: u32,
        /// The sender's message number (1, 2, …).
        seq: u64,
        /// The send's HLC stamp.
        hlc: u64,
        /// Digest of everything the message carries.
        content: u64,
    },
    /// `node` delivered message `seq` of `from` and stamped the receipt `hlc`.
    Deliver {
        /// True time.
        t: u64,
        /// Receiver.
        node: u32,
        /// Sender.
        from: u32,
        /// The sender's message number.
        seq: u64,
        /// The receive's HLC stamp.
        hlc: u64,
        /// Digest of what was delivered.
        content: u64,
    },
    /// `node`'s selector served `[earliest, latest]` (ns on the TAI scale) at a true
    /// time whose TAI reading is `truth`.
    Reading {
        /// True time.
        t: u64,
        /// Reader.
        node: u32,
        /// The true TAI time, ns.
        truth: u64,
        /// Earliest the reading allows.
        earliest: u64,
        /// Latest the reading allows.
        latest: u64,
        /// Taken while a fault of the active source was within its detection window
        /// (not judged; see `docs/simulation.md`).
        excused: bool,
        /// The source the selector read.
        source: u8,
    },
    /// `node`'s detector for `pattern` accepted `event`.
    Accepted {
        /// The detecting node.
        node: u32,
        /// [`patterns::SEQUENCE`] or [`patterns::ABSENCE`].
        pattern: u8,
        /// The event.
        event: StreamEvent,
    },
    /// `node`'s detector for `pattern` refused `event` as late (behind its watermark).
    Late {
        /// The detecting node.
        node: u32,
        /// Which pattern's detector.
        pattern: u8,
        /// The event.
        event: StreamEvent,
    },
    /// `node`'s detector for `pattern` reported a match.
    Match {
        /// The detecting node.
        node: u32,
        /// [`patterns::SEQUENCE`] or [`patterns::ABSENCE`].
        pattern: u8,
        /// Partition and events.
        key: MatchKey,
    },
    /// `node`'s detector for `pattern` ran out of room (its matches may be incomplete).
    Overflow {
        /// The detecting node.
        node: u32,
        /// Which pattern.
        pattern: u8,
    },
    /// `node`'s selector moved from source `from` to `to`.
    Switch {
        /// True time.
        t: u64,
        /// The node.
        node: u32,
        /// Source left.
        from: u8,
        /// Source taken.
        to: u8,
    },
    /// `node`'s PTP port chose a new parent (clock id), or became master (0).
    Parent {
        /// True time.
        t: u64,
        /// The node.
        node: u32,
        /// The parent's clock id byte, 0 for master.
        parent: u8,
    },
    /// A fault was injected into (or cleared from) `source` of `node`.
    Fault {
        /// True time.
        t: u64,
        /// The node.
        node: u32,
        /// The source.
        source: u8,
        /// What: `step+`, `step-`, `freeze`, `thaw`, `resync`, `gm-down`, `gm-up`.
        what: &'static str,
    },
}

/// A run's facts in order.
pub type Trace = Vec<Fact>;

/// FNV-1a, 64 bits: a digest that is the same on every build and platform (std's
/// `DefaultHasher` promises neither), so a digest printed by one build can be compared
/// with another's.
#[derive(Clone, Copy, Debug)]
pub struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// The digest of a trace: equal traces have equal digests on every build.
pub fn digest(trace: &[Fact]) -> u64 {
    let mut h = Fnv::default();
    trace.hash(&mut h);
    h.finish()
}

/// Every invariant's tally for one run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Invariants {
    /// HLC strictly increasing per node.
    pub hlc_monotone: Tally,
    /// A receive's HLC after its send's.
    pub hlc_causality: Tally,
    /// No delivery before a causal predecessor.
    pub causal_order: Tally,
    /// Nothing delivered twice or altered.
    pub delivered_once: Tally,
    /// Nothing lost.
    pub nothing_lost: Tally,
    /// The truth inside every judged reading's interval.
    pub bounds_honest: Tally,
    /// Readings taken inside a fault's detection window.
    pub bounds_excused: u64,
    /// Detector matches equal to the brute-force reference's, per node and pattern.
    pub patterns_agree: Tally,
}

impl Invariants {
    /// Violations over every invariant.
    pub fn violations(&self) -> u64 {
        self.each().iter().map(|(_, t)| t.violations).sum()
    }

    /// Every invariant with its name, for reports.
    pub fn each(&self) -> [(&'static str, &Tally); 7] {
        [
            ("hlc-monotone", &self.hlc_monotone),
            ("hlc-causality", &self.hlc_causality),
            ("causal-order", &self.causal_order),
            ("delivered-once", &self.delivered_once),
            ("nothing-lost", &self.nothing_lost),
            ("bounds-honest", &self.bounds_honest),
            ("patterns-agree", &self.patterns_agree),
        ]
    }
}

/// Checks every invariant over the trace of a run of `nodes` nodes.
pub fn check(trace: &[Fact], nodes: usize) -> Invariants {
    let mut hlc = HlcChecker::default();
    let mut delivery = DeliveryChecker::new(nodes);
    let mut bounds = BoundChecker::default();
    let mut send_stamps: HashMap<(u32, u64), u64> = HashMap::new();
    let mut accepted: HashMap<(u32, u8), Vec<StreamEvent>> = HashMap::new();
    let mut matches: HashMap<(u32, u8), Vec<MatchKey>> = HashMap::new();
    let mut patterns = Tally::default();
    for fact in trace {
        match fact {
            &Fact::Send {
                node,
                seq,
                hlc: stamp,
                content,
                ..
            } => {
                hlc.issued(node, stamp);
                send_stamps.insert((node, seq), stamp);
                delivery.send(node as usize, seq, content);
            }
            &Fact::Deliver {
                node,
                from,
                seq,
                hlc: stamp,
                content,
                ..
            } => {
                hlc.issued(node, stamp);
                match send_stamps.get(&(from, seq)) {
                    Some(&sent) => hlc.received(node, sent, stamp),
                    None => hlc.causality.expect(false, || {
                        format!("node {node} received message {seq} of node {from}, never sent")
                    }),
                }
                delivery.deliver(node as usize, from as usize, seq, content);
            }
            &Fact::Reading {
                node,
                truth,
                earliest,
                latest,
                excused,
                ..
            } => {
                if excused {
                    bounds.excused += 1;
                } else {
                    bounds.reading(node, truth, earliest, latest);
                }
            }
            Fact::Accepted {
                node,
                pattern,
                event,
            } => accepted.entry((*node, *pattern)).or_default().push(*event),
            Fact::Match { node, pattern, key } => {
                matches
                    .entry((*node, *pattern))
                    .or_default()
                    .push(key.clone());
            }
            Fact::Overflow { node, pattern } => patterns.expect(false, || {
                format!("node {node}: detector {pattern} overflowed, its matches are partial")
            }),
            Fact::Late { .. } | Fact::Switch { .. } | Fact::Parent { .. } | Fact::Fault { .. } => {}
        }
    }
    delivery.finish();
    use patterns::{ABSENCE, END, SEQUENCE, START, WITHIN_NS};
    for node in 0..nodes as u32 {
        let stream = |pattern| {
            accepted
                .get(&(node, pattern))
                .map_or(&[][..], Vec::as_slice)
        };
        for (pattern, expected) in [
            (
                SEQUENCE,
                reference::sequence(stream(SEQUENCE), START, END, WITHIN_NS),
            ),
            (
                ABSENCE,
                reference::absence(stream(ABSENCE), START, END, WITHIN_NS),
            ),
        ] {
            let mut got = matches.remove(&(node, pattern)).unwrap_or_default();
            got.sort_unstable();
            patterns.expect(got == expected, || {
                let extra = got.iter().filter(|m| !expected.contains(m)).count();
                let missed = expected.iter().filter(|m| !got.contains(m)).count();
                format!(
                    "node {node}, pattern {pattern}: {} matches, reference {}: {extra} extra, {missed} missed",
                    got.len(),
                    expected.len()
                )
            });
        }
    }
    for ((node, pattern), got) in matches {
        patterns.expect(false, || {
            format!(
                "{} matches of pattern {pattern} by node {node}, outside the group",
                got.len()
            )
        });
    }
    Invariants {
        hlc_monotone: hlc.monotone,
        hlc_causality: hlc.causality,
        causal_order: delivery.causal,
        delivered_once: delivery.once,
        nothing_lost: delivery.complete,
        bounds_honest: bounds.honest,
        bounds_excused: bounds.excused,
        patterns_agree: patterns,
    }
}
