//! Causal delivery: vector clocks and a fixed-capacity hold-back queue.
//!
//! A [`CausalQueue`] delivers broadcast messages in an order that respects
//! happened-before (Birman, Schiper, Stephenson 1991). Each message carries its sender
//! and the sender's vector clock at sending; the queue holds a message back until
//! - `VT(m)[j] = VT_i[j] + 1` for the sender `j` (it is the next message from `j`), and
//! - `VT(m)[k] ≤ VT_i[k]` for every other node `k` (everything it depends on is here).
//!
//! What it needs from the transport: every message eventually arrives (retransmit lost
//! ones; [`CausalQueue::missing`] says which to ask for), and a fixed membership of at
//! most `N` nodes. See `docs/architecture.md`.

mod vclock;

pub use vclock::{BufferTooSmall, CausalOrder, VClockDecodeError, VClockError, VectorClock};

use core::fmt;

use crate::timestamp::NodeId;

/// A message with its causal metadata.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CausalMessage<M, const N: usize> {
    /// The node that sent it.
    pub sender: NodeId,
    /// The sender's vector clock at sending, counting this message.
    pub clock: VectorClock<N>,
    /// The application's data.
    pub payload: M,
}

impl<M, const N: usize> CausalMessage<M, N> {
    /// This message's sequence number among its sender's messages.
    pub fn seq(&self) -> u64 {
        self.clock.get(self.sender)
    }
}

/// What happened to a received message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Receipt {
    /// It was deliverable: it and `count - 1` held messages it unblocked were delivered.
    Delivered {
        /// Messages delivered by this call.
        count: usize,
    },
    /// It waits for earlier messages.
    Held,
}

/// Why a message was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum RefusalReason {
    /// Already delivered or already held.
    Duplicate,
    /// It has to wait and the hold-back buffer is full.
    Full,
    /// Its clock does not count the message itself (`VT(m)[sender]` is 0).
    Malformed,
    /// Delivering it would need more than `N` nodes in the local clock.
    Clock(VClockError),
}

/// A refused message, handed back whole.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refused<M, const N: usize> {
    /// Why.
    pub reason: RefusalReason,
    /// The message, untouched.
    pub message: CausalMessage<M, N>,
}

impl<M, const N: usize> fmt::Display for Refused<M, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "message {} from node {} refused: {:?}",
            self.message.seq(),
            self.message.sender,
            self.reason
        )
    }
}

impl<M: fmt::Debug, const N: usize> core::error::Error for Refused<M, N> {}

/// A run of messages from one node that has not arrived: sequence numbers
/// `first..=last`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Gap {
    /// The node that sent them.
    pub node: NodeId,
    /// First missing sequence number.
    pub first: u64,
    /// Last missing sequence number.
    pub last: u64,
}

/// Counters of a [`CausalQueue`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct CausalStats {
    /// Messages waiting now.
    pub held: usize,
    /// Messages delivered so far.
    pub delivered: u64,
    /// Duplicates recognised (never delivered twice).
    pub duplicates: u64,
    /// Messages refused for a full buffer, a malformed clock or capacity.
    pub refused: u64,
}

/// A causal-delivery queue holding back at most `CAP` messages, for up to `N` nodes.
///
/// ```
/// use tempora_core::causal::{CausalMessage, CausalQueue, Receipt, VectorClock};
/// use tempora_core::NodeId;
///
/// let mut alice = CausalQueue::<&str, 4, 8>::new(NodeId(1));
/// let mut bob = CausalQueue::<&str, 4, 8>::new(NodeId(2));
/// let question = CausalMessage { sender: NodeId(1), clock: alice.stamp_send().unwrap(), payload: "?" };
/// // Bob answers after seeing the question.
/// bob.receive(question.clone(), |_| {}).unwrap();
/// let answer = CausalMessage { sender: NodeId(2), clock: bob.stamp_send().unwrap(), payload: "!" };
///
/// let mut carol = CausalQueue::<&str, 4, 8>::new(NodeId(3));
/// let mut seen = Vec::new();
/// assert_eq!(carol.receive(answer, |m| seen.push(m.payload)).unwrap(), Receipt::Held);
/// assert_eq!(carol.receive(question, |m| seen.push(m.payload)).unwrap(), Receipt::Delivered { count: 2 });
/// assert_eq!(seen, ["?", "!"]);
/// ```
pub struct CausalQueue<M, const N: usize, const CAP: usize> {
    local: NodeId,
    delivered: VectorClock<N>,
    held: heapless::Vec<CausalMessage<M, N>, CAP>,
    stats: CausalStats,
}

impl<M, const N: usize, const CAP: usize> CausalQueue<M, N, CAP> {
    /// An empty queue for the node `local`.
    pub const fn new(local: NodeId) -> Self {
        Self {
            local,
            delivered: VectorClock::new(),
            held: heapless::Vec::new(),
            stats: CausalStats {
                held: 0,
                delivered: 0,
                duplicates: 0,
                refused: 0,
            },
        }
    }

    /// The local node.
    pub fn local(&self) -> NodeId {
        self.local
    }

    /// What has been delivered (and sent locally): `VT_i`.
    pub fn clock(&self) -> &VectorClock<N> {
        &self.delivered
    }

    /// Counts a local send and returns the clock to attach to the message.
    pub fn stamp_send(&mut self) -> Result<VectorClock<N>, VClockError> {
        self.delivered.increment(self.local)?;
        Ok(self.delivered.clone())
    }

    /// The counters.
    pub fn stats(&self) -> CausalStats {
        CausalStats {
            held: self.held.len(),
            ..self.stats
        }
    }

    /// The messages waiting, in no particular order.
    pub fn held(&self) -> impl Iterator<Item = &CausalMessage<M, N>> {
        self.held.iter()
    }

    fn deliverable(&self, m: &CausalMessage<M, N>) -> bool {
        m.clock.iter().all(|(node, count)| {
            let have = self.delivered.get(node);
            if node == m.sender {
                have.checked_add(1) == Some(count)
            } else {
                count <= have
            }
        })
    }

    fn refuse(&mut self, reason: RefusalReason, message: CausalMessage<M, N>) -> Refused<M, N> {
        match reason {
            RefusalReason::Duplicate => self.stats.duplicates += 1,
            _ => self.stats.refused += 1,
        }
        Refused { reason, message }
    }

    /// Takes a received message. Hands `on_deliver` every message that becomes
    /// deliverable, in causal order: this one and any held ones it unblocks. A message
    /// that must wait is held; if the buffer is full it is refused and handed back.
    /// A deliverable message is never refused for space, so the queue cannot wedge.
    pub fn receive(
        &mut self,
        message: CausalMessage<M, N>,
        mut on_deliver: impl FnMut(CausalMessage<M, N>),
    ) -> Result<Receipt, Refused<M, N>> {
        let (sender, seq) = (message.sender, message.seq());
        if seq == 0 {
            return Err(self.refuse(RefusalReason::Malformed, message));
        }
        if seq <= self.delivered.get(sender)
            || self
                .held
                .iter()
                .any(|h| h.sender == sender && h.seq() == seq)
        {
            return Err(self.refuse(RefusalReason::Duplicate, message));
        }
        if !self.deliverable(&message) {
            return match self.held.push(message) {
                Ok(()) => Ok(Receipt::Held),
                Err(message) => Err(self.refuse(RefusalReason::Full, message)),
            };
        }
        if let Err(e) = self.delivered.set(sender, seq) {
            return Err(self.refuse(RefusalReason::Clock(e), message));
        }
        self.stats.delivered += 1;
        on_deliver(message);
        let mut count = 1;
        while let Some(i) = self.held.iter().position(|m| self.deliverable(m)) {
            let m = self.held.swap_remove(i);
            if self.delivered.set(m.sender, m.seq()).is_err() {
                // No slot for this sender in the local clock: it stays held (and is
                // reported by `missing` as waiting for nothing). Only happens with more
                // than N nodes in the group.
                let _ = self.held.push(m);
                break;
            }
            self.stats.delivered += 1;
            count += 1;
            on_deliver(m);
        }
        Ok(Receipt::Delivered { count })
    }

    /// The messages `message` waits for, as runs per node, measured from what was
    /// delivered (some may already be held).
    pub fn waiting_for(&self, message: &CausalMessage<M, N>, mut gap: impl FnMut(Gap)) {
        for (node, count) in message.clock.iter() {
            let need = if node == message.sender {
                count.saturating_sub(1)
            } else {
                count
            };
            let have = self.delivered.get(node);
            if need > have {
                gap(Gap {
                    node,
                    first: have.saturating_add(1),
                    last: need,
                });
            }
        }
    }

    /// Every message that held ones depend on and that has neither been delivered nor
    /// is held: what a transport should ask peers to retransmit. Runs are reported per
    /// node in increasing order. Costs O(CAP² · N); meant for repair timers, not per
    /// message.
    pub fn missing(&self, mut gap: impl FnMut(Gap)) {
        for (i, m) in self.held.iter().enumerate() {
            for (node, _) in m.clock.iter() {
                // Handle each node once: at its first appearance among held clocks.
                let seen_before = self.held[..i].iter().any(|e| e.clock.get(node) != 0);
                if seen_before {
                    continue;
                }
                self.missing_from(node, &mut gap);
            }
        }
    }

    fn missing_from(&self, node: NodeId, gap: &mut impl FnMut(Gap)) {
        let need = self
            .held
            .iter()
            .map(|m| m.clock.get(node))
            .max()
            .unwrap_or(0);
        let mut present: heapless::Vec<u64, CAP> = self
            .held
            .iter()
            .filter(|m| m.sender == node)
            .map(|m| m.seq())
            .collect();
        present.sort_unstable();
        let mut next = self.delivered.get(node).saturating_add(1);
        // The sentinel `need + 1` closes the last run.
        for &p in present
            .iter()
            .chain(core::iter::once(&need.saturating_add(1)))
        {
            if next > need {
                break;
            }
            if p > next {
                gap(Gap {
                    node,
                    first: next,
                    last: p.min(need.saturating_add(1)) - 1,
                });
            }
            next = next.max(p.saturating_add(1));
        }
    }
}

impl<M, const N: usize, const CAP: usize> fmt::Debug for CausalQueue<M, N, CAP> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CausalQueue")
            .field("local", &self.local)
            .field("delivered", &self.delivered)
            .field("stats", &self.stats())
            .finish()
    }
}
