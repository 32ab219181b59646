//! The invariant checkers: each takes the facts of a run one at a time (from a
//! [`Trace`](crate::trace::Trace) or straight from a running simulation) and counts
//! what it verified and what it found broken. None of them uses the structures it
//! checks: causal order is checked against dependencies the checker computes itself
//! from who had delivered what when it sent, not against the messages' vector clocks;
//! HLC order against the timestamps seen, not the clock's state.
//!
//! Each violation keeps a short description (the first [`KEPT`] of them), so a failing
//! seed says what broke, not only how often.

use std::collections::HashMap;

/// How many violation descriptions each checker keeps.
pub const KEPT: usize = 8;

/// What one checker verified and what it found broken.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// Facts checked and found to hold.
    pub checked: u64,
    /// Facts found broken.
    pub violations: u64,
    /// The first [`KEPT`] violations, described.
    pub examples: Vec<String>,
}

impl Tally {
    fn ok(&mut self) {
        self.checked += 1;
    }

    fn violation(&mut self, what: impl FnOnce() -> String) {
        self.violations += 1;
        if self.examples.len() < KEPT {
            self.examples.push(what());
        }
    }

    /// Counts `holds` as a check, describing it with `what` if it does not hold.
    pub fn expect(&mut self, holds: bool, what: impl FnOnce() -> String) {
        if holds {
            self.ok();
        } else {
            self.violation(what);
        }
    }
}

/// HLC order: every timestamp a node issues (at a send or a receive) is greater than
/// the one before it on that node, and a receive's timestamp is greater than the send's.
#[derive(Debug, Default)]
pub struct HlcChecker {
    last: HashMap<u32, u64>,
    /// Monotonicity per node.
    pub monotone: Tally,
    /// Receive after send.
    pub causality: Tally,
}

impl HlcChecker {
    /// Node `node` issued the timestamp `raw` (packed HLC time).
    pub fn issued(&mut self, node: u32, raw: u64) {
        if let Some(before) = self.last.insert(node, raw) {
            self.monotone.expect(raw > before, || {
                format!("node {node}: HLC {raw} issued after {before}")
            });
        }
    }

    /// A message stamped `sent` at its sender was received with the stamp `received`.
    pub fn received(&mut self, node: u32, sent: u64, received: u64) {
        self.causality.expect(received > sent, || {
            format!("node {node}: receive stamped {received}, not after its send {sent}")
        });
    }
}

/// What the causal checker knows of a message until every receiver has delivered it.
#[derive(Debug)]
struct Pending {
    /// For each node, how many of its messages the sender had delivered (its own: sent)
    /// when it sent this one: what must be delivered before it anywhere.
    deps: Box<[u64]>,
    content: u64,
    /// Receivers that have not delivered it yet.
    remaining: u32,
}

/// Causal order, nothing lost, nothing delivered twice, content intact, for a group of
/// `n` nodes that broadcast to each other.
///
/// A node's "delivered" count of its own messages is the number it sent, so a message
/// that depends on the receiver's own earlier message is satisfied there. Memory is one
/// dependency vector per message not yet delivered everywhere.
#[derive(Debug)]
pub struct DeliveryChecker {
    n: usize,
    /// `delivered[i][k]`: messages from `k` node `i` has delivered (its own: sent).
    delivered: Vec<Vec<u64>>,
    pending: HashMap<(u32, u64), Pending>,
    /// Every causal predecessor delivered first, and from each sender in order.
    pub causal: Tally,
    /// Delivered at most once, with the content sent.
    pub once: Tally,
    /// Every message delivered at every other node by the end.
    pub complete: Tally,
    sent: u64,
}

impl DeliveryChecker {
    /// A checker for nodes `0..n`.
    pub fn new(n: usize) -> Self {
        Self {
            n,
            delivered: vec![vec![0; n]; n],
            pending: HashMap::new(),
            causal: Tally::default(),
            once: Tally::default(),
            complete: Tally::default(),
            sent: 0,
        }
    }

    /// Messages sent so far.
    pub fn sent(&self) -> u64 {
        self.sent
    }

    /// Node `node` sent its message number `seq` (1, 2, …) whose content digests to
    /// `content`.
    pub fn send(&mut self, node: usize, seq: u64, content: u64) {
        let Some(mine) = self.delivered.get_mut(node) else {
            self.causal
                .violation(|| format!("a send by node {node}, outside the group"));
            return;
        };
        self.sent += 1;
        let expected = mine[node] + 1;
        self.causal.expect(seq == expected, || {
            format!("node {node} sent message {seq}, expected {expected}")
        });
        mine[node] = mine[node].max(seq);
        let remaining = u32::try_from(self.n.saturating_sub(1)).unwrap_or(u32::MAX);
        let deps = mine.clone().into_boxed_slice();
        self.pending.insert(
            (node as u32, seq),
            Pending {
                deps,
                content,
                remaining,
            },
        );
    }

    /// Node `node` delivered message `seq` from `from` with content `content`.
    pub fn deliver(&mut self, node: usize, from: usize, seq: u64, content: u64) {
        if node >= self.n || from >= self.n || node == from {
            self.once
                .violation(|| format!("node {node} delivered a message of node {from}"));
            return;
        }
        let have = self.delivered[node][from];
        if seq <= have {
            self.once
                .violation(|| format!("node {node} delivered message {seq} of node {from} again"));
            return;
        }
        let Some(p) = self.pending.get_mut(&(from as u32, seq)) else {
            self.once.violation(|| {
                format!("node {node} delivered message {seq} of node {from}, never sent")
            });
            return;
        };
        self.once.expect(p.content == content, || {
            format!("node {node}: message {seq} of node {from} arrived altered")
        });
        let mine = &self.delivered[node];
        let missing = (0..self.n).find(|&k| {
            let need = if k == from { seq - 1 } else { p.deps[k] };
            mine[k] < need
        });
        self.causal.expect(missing.is_none(), || {
            let k = missing.unwrap_or(0);
            let need = if k == from { seq - 1 } else { p.deps[k] };
            format!(
                "node {node} delivered message {seq} of node {from} before message {need} of node {k} (had {})",
                mine[k]
            )
        });
        self.delivered[node][from] = seq;
        p.remaining = p.remaining.saturating_sub(1);
        if p.remaining == 0 {
            self.pending.remove(&(from as u32, seq));
            self.complete.ok();
        }
    }

    /// The end of the run: every message still pending was lost somewhere.
    pub fn finish(&mut self) {
        let mut lost: Vec<_> = self
            .pending
            .iter()
            .map(|(&(from, seq), p)| (from, seq, p.remaining))
            .collect();
        lost.sort_unstable();
        for (from, seq, remaining) in lost {
            self.complete.violation(|| {
                format!("message {seq} of node {from} never reached {remaining} node(s)")
            });
        }
        self.pending.clear();
    }
}

/// Honest bounds: the true time lies inside every reading's `[earliest, latest]`.
#[derive(Debug, Default)]
pub struct BoundChecker {
    /// Readings whose interval holds the truth.
    pub honest: Tally,
    /// Readings taken while a fault of the active source was in its detection window
    /// (see `docs/simulation.md`): not judged, counted.
    pub excused: u64,
}

impl BoundChecker {
    /// A reading of node `node` at true time `truth` claimed `[earliest, latest]`.
    pub fn reading(&mut self, node: u32, truth: u64, earliest: u64, latest: u64) {
        self.honest.expect(earliest <= truth && truth <= latest, || {
            let middle = earliest / 2 + latest / 2;
            let off = i128::from(truth) - i128::from(middle);
            format!(
                "node {node}: truth {truth} outside [{earliest}, {latest}] ({off:+} ns from its middle)"
            )
        });
    }
}
