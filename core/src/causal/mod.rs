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
//! most `NODES` nodes. See `docs/architecture.md`.
//!
//! Sending is [`CausalQueue::send`]: it counts the send in the local clock and returns
//! the message, stamped, to broadcast. Receiving is [`CausalQueue::receive`], which hands
//! each message to a callback once it is deliverable.

mod vclock;

pub use vclock::{BufferTooSmall, CausalOrder, VClockDecodeError, VClockError, VectorClock};

use core::fmt;

use crate::error::Full;
use crate::hooks::{Metric, MetricsHook, NoHooks};
use crate::timestamp::NodeId;

/// A message with its causal metadata.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CausalMessage<M, const NODES: usize> {
    /// The node that sent it.
    pub sender: NodeId,
    /// The sender's vector clock at sending, counting this message.
    pub clock: VectorClock<NODES>,
    /// The application's data.
    pub payload: M,
}

impl<M, const NODES: usize> CausalMessage<M, NODES> {
    /// A message from `sender` stamped with `clock`, the sender's clock after counting
    /// this send. [`CausalQueue::send`] and [`VectorClock::stamp`] build one for you.
    pub const fn new(sender: NodeId, clock: VectorClock<NODES>, payload: M) -> Self {
        Self {
            sender,
            clock,
            payload,
        }
    }

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

/// Why a message was refused: the kind of a [`Refused`], without the message (`Copy`,
/// for counters and logs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum RefusalReason {
    /// Already delivered or already held.
    Duplicate,
    /// It has to wait and the hold-back buffer is full.
    Full,
    /// Its clock does not count the message itself (`VT(m)[sender]` is 0).
    Malformed,
    /// Delivering it would need more than `NODES` nodes in the local clock.
    Clock(VClockError),
}

impl RefusalReason {
    /// A short lower-case name, for metric labels (what
    /// [`Metric::CausalRefused`] carries).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Duplicate => "duplicate",
            Self::Full => "full",
            Self::Malformed => "malformed",
            Self::Clock(_) => "clock",
        }
    }
}

impl fmt::Display for RefusalReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Duplicate => f.write_str("duplicate"),
            Self::Full => f.write_str("hold-back buffer full"),
            Self::Malformed => f.write_str("clock does not count the message"),
            Self::Clock(e) => e.fmt(f),
        }
    }
}

/// A refused message, handed back whole. A full hold-back buffer hands it back in a
/// [`Full`], like every full structure of the crate.
///
/// ```
/// use tempora_core::causal::{CausalQueue, RefusalReason, Refused};
/// use tempora_core::error::Full;
/// use tempora_core::NodeId;
///
/// let mut alice = CausalQueue::<&str, 4, 1>::new(NodeId(1));
/// let _first = alice.send("first").unwrap();
/// let second = alice.send("second").unwrap();
/// let third = alice.send("third").unwrap();
/// let mut bob = CausalQueue::<&str, 4, 1>::new(NodeId(2));
/// bob.receive(third, |_| {}).unwrap(); // held: it waits for the first two
/// let refused = bob.receive(second, |_| {}).unwrap_err();
/// assert_eq!(refused.reason(), RefusalReason::Full);
/// assert!(matches!(&refused, Refused::Full(Full(m)) if m.payload == "second"));
/// assert_eq!(refused.into_inner().payload, "second");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refused<M, const NODES: usize> {
    /// Already delivered or already held.
    Duplicate(CausalMessage<M, NODES>),
    /// It has to wait and the hold-back buffer is full.
    Full(Full<CausalMessage<M, NODES>>),
    /// Its clock does not count the message itself (`VT(m)[sender]` is 0).
    Malformed(CausalMessage<M, NODES>),
    /// Delivering it would need more than `NODES` nodes in the local clock.
    Clock(VClockError, CausalMessage<M, NODES>),
}

impl<M, const NODES: usize> Refused<M, NODES> {
    /// Why, without the message.
    pub fn reason(&self) -> RefusalReason {
        match self {
            Self::Duplicate(_) => RefusalReason::Duplicate,
            Self::Full(_) => RefusalReason::Full,
            Self::Malformed(_) => RefusalReason::Malformed,
            Self::Clock(e, _) => RefusalReason::Clock(*e),
        }
    }

    /// The message, borrowed.
    pub fn message(&self) -> &CausalMessage<M, NODES> {
        match self {
            Self::Duplicate(m) | Self::Full(Full(m)) | Self::Malformed(m) | Self::Clock(_, m) => m,
        }
    }

    /// The message, untouched.
    pub fn into_inner(self) -> CausalMessage<M, NODES> {
        match self {
            Self::Duplicate(m) | Self::Full(Full(m)) | Self::Malformed(m) | Self::Clock(_, m) => m,
        }
    }

    fn new(reason: RefusalReason, message: CausalMessage<M, NODES>) -> Self {
        match reason {
            RefusalReason::Duplicate => Self::Duplicate(message),
            RefusalReason::Full => Self::Full(Full(message)),
            RefusalReason::Malformed => Self::Malformed(message),
            RefusalReason::Clock(e) => Self::Clock(e, message),
        }
    }
}

impl<M, const NODES: usize> fmt::Display for Refused<M, NODES> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = self.message();
        write!(
            f,
            "message {} from node {} refused: {}",
            m.seq(),
            m.sender,
            self.reason()
        )
    }
}

impl<M: fmt::Debug, const NODES: usize> core::error::Error for Refused<M, NODES> {}

/// A send the local clock could not count (no slot for the local node, or its counter
/// at `u64::MAX`); the payload is handed back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SendError<M> {
    /// Why.
    pub error: VClockError,
    /// The payload, untouched.
    pub payload: M,
}

impl<M> SendError<M> {
    /// The payload.
    pub fn into_inner(self) -> M {
        self.payload
    }
}

impl<M> fmt::Display for SendError<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "send not counted: {}", self.error)
    }
}

impl<M: fmt::Debug> core::error::Error for SendError<M> {}

impl<const NODES: usize> VectorClock<NODES> {
    /// Counts a send by `sender` in this clock (the sender's own) and stamps `payload`
    /// with the result: the one step of a causal send, for code that keeps its clock
    /// outside a [`CausalQueue`]. On error the clock is unchanged and the payload handed
    /// back.
    ///
    /// ```
    /// use tempora_core::causal::VectorClock;
    /// use tempora_core::NodeId;
    ///
    /// let mut mine = VectorClock::<4>::new();
    /// let m = mine.stamp(NodeId(1), "hello").unwrap();
    /// assert_eq!((m.sender, m.seq(), m.payload), (NodeId(1), 1, "hello"));
    /// assert_eq!(mine.stamp(NodeId(1), "again").unwrap().seq(), 2);
    /// ```
    pub fn stamp<M>(
        &mut self,
        sender: NodeId,
        payload: M,
    ) -> Result<CausalMessage<M, NODES>, SendError<M>> {
        match self.increment(sender) {
            Ok(_) => Ok(CausalMessage::new(sender, self.clone(), payload)),
            Err(error) => Err(SendError { error, payload }),
        }
    }
}

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

/// A causal-delivery queue for a group of up to `NODES` nodes, holding back at most
/// `CAPACITY` messages.
///
/// `H` counts deliveries, hold-backs and refusals ([`Metric::CausalDelivered`],
/// [`Metric::CausalHeld`], [`Metric::CausalRefused`]); the default [`NoHooks`] costs
/// nothing. Build one with [`CausalQueue::with_hooks`].
///
/// ```
/// use tempora_core::causal::{CausalQueue, Receipt};
/// use tempora_core::NodeId;
///
/// let mut alice = CausalQueue::<&str, 4, 8>::new(NodeId(1));
/// let mut bob = CausalQueue::<&str, 4, 8>::new(NodeId(2));
/// let question = alice.send("?").unwrap();
/// // Bob answers after seeing the question.
/// bob.receive(question.clone(), |_| {}).unwrap();
/// let answer = bob.send("!").unwrap();
///
/// let mut carol = CausalQueue::<&str, 4, 8>::new(NodeId(3));
/// let mut seen = Vec::new();
/// assert_eq!(carol.receive(answer, |m| seen.push(m.payload)).unwrap(), Receipt::Held);
/// assert_eq!(carol.receive(question, |m| seen.push(m.payload)).unwrap(), Receipt::Delivered { count: 2 });
/// assert_eq!(seen, ["?", "!"]);
/// ```
pub struct CausalQueue<M, const NODES: usize, const CAPACITY: usize, H = NoHooks> {
    local: NodeId,
    delivered: VectorClock<NODES>,
    held: heapless::Vec<CausalMessage<M, NODES>, CAPACITY>,
    stats: CausalStats,
    hooks: H,
}

impl<M, const NODES: usize, const CAPACITY: usize> CausalQueue<M, NODES, CAPACITY> {
    /// An empty queue for the node `local`.
    pub const fn new(local: NodeId) -> Self {
        Self::with_hooks(local, NoHooks)
    }
}

impl<M, const NODES: usize, const CAPACITY: usize, H: MetricsHook>
    CausalQueue<M, NODES, CAPACITY, H>
{
    /// An empty queue for the node `local` whose deliveries, hold-backs and refusals
    /// are counted through `hooks`.
    pub const fn with_hooks(local: NodeId, hooks: H) -> Self {
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
            hooks,
        }
    }

    /// The hooks.
    pub fn hooks(&self) -> &H {
        &self.hooks
    }

    /// The local node.
    pub fn local(&self) -> NodeId {
        self.local
    }

    /// What has been delivered (and sent locally): `VT_i`.
    pub fn clock(&self) -> &VectorClock<NODES> {
        &self.delivered
    }

    /// Counts a local send and returns the message to broadcast: `payload` from the local
    /// node, stamped with the local clock after the send. The local clock has no slot
    /// for the local node only if `NODES` others filled it; then nothing is counted and
    /// the payload is handed back.
    ///
    /// ```
    /// use tempora_core::causal::CausalQueue;
    /// use tempora_core::NodeId;
    ///
    /// let mut node = CausalQueue::<u32, 4, 8>::new(NodeId(3));
    /// let msg = node.send(42).unwrap();
    /// assert_eq!((msg.sender, msg.seq(), msg.payload), (NodeId(3), 1, 42));
    /// assert_eq!(node.clock(), &msg.clock);
    /// ```
    pub fn send(&mut self, payload: M) -> Result<CausalMessage<M, NODES>, SendError<M>> {
        self.delivered.stamp(self.local, payload)
    }

    /// Counts a local send and returns the clock to attach to the message; see
    /// [`CausalQueue::send`], which builds the message too.
    pub fn stamp_send(&mut self) -> Result<VectorClock<NODES>, VClockError> {
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
    pub fn held(&self) -> impl Iterator<Item = &CausalMessage<M, NODES>> {
        self.held.iter()
    }

    fn deliverable(&self, m: &CausalMessage<M, NODES>) -> bool {
        m.clock.iter().all(|(node, count)| {
            let have = self.delivered.get(node);
            if node == m.sender {
                have.checked_add(1) == Some(count)
            } else {
                count <= have
            }
        })
    }

    fn refuse(
        &mut self,
        reason: RefusalReason,
        message: CausalMessage<M, NODES>,
    ) -> Refused<M, NODES> {
        match reason {
            RefusalReason::Duplicate => self.stats.duplicates += 1,
            _ => self.stats.refused += 1,
        }
        self.hooks.record(Metric::CausalRefused {
            reason: reason.as_str(),
        });
        Refused::new(reason, message)
    }

    /// Takes a received message. Hands `on_deliver` every message that becomes
    /// deliverable, in causal order: this one and any held ones it unblocks. A message
    /// that must wait is held; if the buffer is full it is refused and handed back.
    /// A deliverable message is never refused for space, so the queue cannot wedge.
    pub fn receive(
        &mut self,
        message: CausalMessage<M, NODES>,
        mut on_deliver: impl FnMut(CausalMessage<M, NODES>),
    ) -> Result<Receipt, Refused<M, NODES>> {
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
                Ok(()) => {
                    let held = self.held.len();
                    self.hooks.record(Metric::CausalHeld { held });
                    Ok(Receipt::Held)
                }
                Err(message) => Err(self.refuse(RefusalReason::Full, message)),
            };
        }
        if let Err(e) = self.delivered.set(sender, seq) {
            return Err(self.refuse(RefusalReason::Clock(e), message));
        }
        self.stats.delivered += 1;
        let held = self.held.len();
        self.hooks.record(Metric::CausalDelivered { held });
        on_deliver(message);
        let mut count = 1;
        while let Some(i) = self.held.iter().position(|m| self.deliverable(m)) {
            let m = self.held.swap_remove(i);
            if self.delivered.set(m.sender, m.seq()).is_err() {
                // No slot for this sender in the local clock: it stays held (and is
                // reported by `missing` as waiting for nothing). Only happens with more
                // than NODES nodes in the group.
                let _ = self.held.push(m);
                break;
            }
            self.stats.delivered += 1;
            count += 1;
            let held = self.held.len();
            self.hooks.record(Metric::CausalDelivered { held });
            on_deliver(m);
        }
        Ok(Receipt::Delivered { count })
    }

    /// The messages `message` waits for, as runs per node, measured from what was
    /// delivered (some may already be held).
    pub fn waiting_for(&self, message: &CausalMessage<M, NODES>, mut gap: impl FnMut(Gap)) {
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
    /// node in increasing order. Costs O(CAPACITY² · NODES); meant for repair timers, not per
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
        let mut present: heapless::Vec<u64, CAPACITY> = self
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

impl<M, const NODES: usize, const CAPACITY: usize, H> fmt::Debug
    for CausalQueue<M, NODES, CAPACITY, H>
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CausalQueue")
            .field("local", &self.local)
            .field("delivered", &self.delivered)
            .field(
                "stats",
                &CausalStats {
                    held: self.held.len(),
                    ..self.stats
                },
            )
            .finish()
    }
}
