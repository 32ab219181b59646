//! The temporal message queue: fixed capacity, ordered by priority then HLC timestamp,
//! with watermark release.
//!
//! [`TemporalQueue`] is a binary min-heap of small `Copy` slots (a packed 128-bit key of
//! inverted priority, HLC time and node, an insertion sequence number, and the index of
//! the message in a fixed array), so messages with equal priority and timestamp come out
//! in the order they went in, and sifting moves 32-byte slots, never messages. A full
//! queue refuses a push and hands the message back in a [`Full`].
//! [`SharedTemporalQueue`] wraps it in a `critical-section` mutex for use from tasks,
//! interrupts and threads.

use core::fmt;
use core::time::Duration;

use crate::error::Full;
use crate::hooks::{Metric, MetricsHook, NoHooks};
use crate::shared::Shared;
use crate::time::{Instant, Timescale, Utc};
use crate::timestamp::{HlcTime, NodeId, Timestamp};

/// Message priority: higher values leave the queue first.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Priority(pub u8);

/// Prints the number, e.g. `9`.
///
/// ```
/// use tempora_core::queue::Priority;
/// assert_eq!(Priority(9).to_string(), "9");
/// assert_eq!(format!("p{:>3}", Priority(7)), "p  7");
/// ```
impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A message with its ordering key, as it leaves the queue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Queued<M, S: Timescale = Utc> {
    /// Its priority.
    pub priority: Priority,
    /// Its HLC timestamp.
    pub timestamp: Timestamp<S>,
    /// The message.
    pub message: M,
}

/// A heap slot: the ordering key and where the message lives. `Copy` and small, so the
/// heap moves slots through a "hole" (one write per level) instead of swapping messages.
#[derive(Clone, Copy)]
struct Slot {
    key: u128,
    seq: u64,
    index: u32,
}

impl Slot {
    #[inline(always)]
    fn before(&self, other: &Self) -> bool {
        (self.key, self.seq) < (other.key, other.seq)
    }
}

#[inline(always)]
fn pack<S: Timescale>(priority: Priority, t: Timestamp<S>) -> u128 {
    (u128::from(u8::MAX - priority.0) << 96) | (u128::from(t.raw()) << 32) | u128::from(t.node().0)
}

#[inline(always)]
fn unpack<S: Timescale>(key: u128) -> (Priority, Timestamp<S>) {
    let priority = Priority(u8::MAX - (key >> 96) as u8);
    let t = Timestamp::from_raw((key >> 32) as u64, NodeId(key as u32));
    (priority, t)
}

/// A fixed-capacity priority queue of messages ordered by `(priority, HLC timestamp)`,
/// stable for equal keys. No allocation.
///
/// `H` counts pushes, refusals and releases with the depth after each
/// ([`Metric::QueueEnqueued`], [`Metric::QueueRefused`], [`Metric::QueueDelivered`]);
/// the default [`NoHooks`] costs nothing. Build one with [`TemporalQueue::with_hooks`].
///
/// ```
/// use tempora_core::queue::{Priority, TemporalQueue};
/// use tempora_core::{Instant, NodeId, Timestamp, Utc};
/// use core::time::Duration;
///
/// let ts = |ns| Timestamp::<Utc>::from_raw(ns, NodeId(1));
/// let mut q = TemporalQueue::<&str, Utc, 4>::new();
/// q.push(Priority(0), ts(3_000), "late").unwrap();
/// q.push(Priority(0), ts(1_000), "early").unwrap();
/// q.push(Priority(9), ts(5_000), "urgent").unwrap();
/// assert_eq!(q.pop().unwrap().message, "urgent");
/// // At 3.5 µs with 1 µs of skew, only messages up to 2.5 µs are safe to release.
/// let now = Instant::from_nanos(3_500);
/// assert_eq!(q.pop_ready(now, Duration::from_nanos(1_000)).unwrap().message, "early");
/// assert!(q.pop_ready(now, Duration::from_nanos(1_000)).is_none());
/// ```
pub struct TemporalQueue<M, S: Timescale = Utc, const CAPACITY: usize = 64, H = NoHooks> {
    heap: heapless::Vec<Slot, CAPACITY>,
    /// Messages by slot index; the heap orders indices.
    messages: [Option<M>; CAPACITY],
    /// Indices freed by pops, reused first.
    free: heapless::Vec<u32, CAPACITY>,
    /// Indices below this have been used at least once.
    fresh: u32,
    seq: u64,
    scale: core::marker::PhantomData<S>,
    hooks: H,
}

impl<M, S: Timescale, const CAPACITY: usize> Default for TemporalQueue<M, S, CAPACITY> {
    fn default() -> Self {
        Self::new()
    }
}

impl<M, S: Timescale, const CAPACITY: usize> TemporalQueue<M, S, CAPACITY> {
    /// An empty queue.
    pub const fn new() -> Self {
        Self::with_hooks(NoHooks)
    }
}

impl<M, S: Timescale, const CAPACITY: usize, H: MetricsHook> TemporalQueue<M, S, CAPACITY, H> {
    /// An empty queue whose pushes, refusals and releases are counted through `hooks`.
    pub const fn with_hooks(hooks: H) -> Self {
        const { assert!(CAPACITY <= u32::MAX as usize, "capacity must fit in u32") };
        Self {
            heap: heapless::Vec::new(),
            messages: [const { None }; CAPACITY],
            free: heapless::Vec::new(),
            fresh: 0,
            seq: 0,
            scale: core::marker::PhantomData,
            hooks,
        }
    }

    /// The hooks.
    pub fn hooks(&self) -> &H {
        &self.hooks
    }

    /// Messages queued.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// Whether no message is queued.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    /// Whether a push would be refused.
    pub fn is_full(&self) -> bool {
        self.heap.is_full()
    }

    /// The capacity, `CAPACITY`.
    pub const fn capacity(&self) -> usize {
        CAPACITY
    }

    /// Queues `message`, or hands it back if the queue is full.
    pub fn push(
        &mut self,
        priority: Priority,
        timestamp: Timestamp<S>,
        message: M,
    ) -> Result<(), Full<M>> {
        if self.heap.is_full() {
            self.hooks.record(Metric::QueueRefused);
            return Err(Full(message));
        }
        let index = match self.free.pop() {
            Some(i) => i,
            None => {
                self.fresh += 1;
                self.fresh - 1
            }
        };
        let slot = Slot {
            key: pack(priority, timestamp),
            seq: self.seq,
            index,
        };
        // 2^64 pushes never happen; wrapping keeps this panic-free regardless.
        self.seq = self.seq.wrapping_add(1);
        match (self.messages.get_mut(index as usize), self.heap.push(slot)) {
            (Some(place), Ok(())) => *place = Some(message),
            // Unreachable: fewer than CAPACITY slots are queued, so an index below
            // CAPACITY is free and the heap has room. Refuse rather than lose the message.
            _ => return Err(Full(message)),
        }
        self.sift_up(slot);
        self.hooks.record(Metric::QueueEnqueued {
            depth: self.heap.len(),
        });
        Ok(())
    }

    /// The first message in `(priority, timestamp)` order, without removing it.
    pub fn peek(&self) -> Option<Queued<&M, S>> {
        let slot = self.heap.first()?;
        let message = self.messages.get(slot.index as usize)?.as_ref()?;
        let (priority, timestamp) = unpack(slot.key);
        Some(Queued {
            priority,
            timestamp,
            message,
        })
    }

    /// Removes and returns the first message in `(priority, timestamp)` order.
    pub fn pop(&mut self) -> Option<Queued<M, S>> {
        let slot = self.pop_slot()?;
        let message = self.messages.get_mut(slot.index as usize)?.take()?;
        // Cannot fail: at most CAPACITY indices are ever freed.
        let _ = self.free.push(slot.index);
        self.hooks.record(Metric::QueueDelivered {
            depth: self.heap.len(),
        });
        let (priority, timestamp) = unpack(slot.key);
        Some(Queued {
            priority,
            timestamp,
            message,
        })
    }

    /// The watermark `now - max_skew`: no message stamped at or below it can still
    /// arrive from a peer whose clock is within `max_skew` of ours.
    pub fn watermark(now: Instant<S>, max_skew: Duration) -> Instant<S> {
        now.saturating_sub(max_skew)
    }

    /// Pops the first message if its timestamp is at or below the watermark
    /// `now - max_skew`. Release order is always the queue's order: a first message not
    /// yet ready holds back the rest, including lower priorities.
    pub fn pop_ready(&mut self, now: Instant<S>, max_skew: Duration) -> Option<Queued<M, S>> {
        let watermark = Self::watermark(now, max_skew).as_nanos();
        let first = self.heap.first()?;
        if unpack::<S>(first.key).1.raw() <= watermark {
            self.pop()
        } else {
            None
        }
    }

    /// Pops the first message if its HLC time is at or below `watermark`: release by a
    /// watermark in HLC time (e.g. the pattern detector's) rather than by a wall-clock
    /// instant. Like [`TemporalQueue::pop_ready`], a first message not yet due holds
    /// back the rest.
    ///
    /// ```
    /// use tempora_core::queue::{Priority, TemporalQueue};
    /// use tempora_core::timestamp::HlcTime;
    /// use tempora_core::{NodeId, Timestamp, Utc};
    ///
    /// let mut q = TemporalQueue::<char, Utc, 4>::new();
    /// q.push(Priority(0), Timestamp::from_raw(512, NodeId(1)), 'a').unwrap();
    /// assert!(q.pop_through(HlcTime::from_raw(511)).is_none());
    /// assert_eq!(q.pop_through(HlcTime::from_raw(512)).unwrap().message, 'a');
    /// ```
    pub fn pop_through(&mut self, watermark: HlcTime<S>) -> Option<Queued<M, S>> {
        let first = self.heap.first()?;
        if unpack::<S>(first.key).1.time() <= watermark {
            self.pop()
        } else {
            None
        }
    }

    /// Moves the just-pushed last slot up to its place.
    fn sift_up(&mut self, slot: Slot) {
        let heap = &mut self.heap[..];
        let mut i = heap.len() - 1;
        while i > 0 {
            let parent = (i - 1) / 2;
            if !slot.before(&heap[parent]) {
                break;
            }
            heap[i] = heap[parent];
            i = parent;
        }
        heap[i] = slot;
    }

    /// Removes the root. Floyd's variant: walk the hole down to a leaf along the smaller
    /// children (one comparison per level), drop the last slot into it and sift that up,
    /// which is usually short.
    fn pop_slot(&mut self) -> Option<Slot> {
        let last = self.heap.pop()?;
        let heap = &mut self.heap[..];
        let Some(&top) = heap.first() else {
            return Some(last);
        };
        let n = heap.len();
        let mut i = 0;
        loop {
            let left = 2 * i + 1;
            if left >= n {
                break;
            }
            let right = left + 1;
            let child = if right < n && heap[right].before(&heap[left]) {
                right
            } else {
                left
            };
            heap[i] = heap[child];
            i = child;
        }
        while i > 0 {
            let parent = (i - 1) / 2;
            if !last.before(&heap[parent]) {
                break;
            }
            heap[i] = heap[parent];
            i = parent;
        }
        heap[i] = last;
        Some(top)
    }
}

impl<M, S: Timescale, const CAPACITY: usize, H> fmt::Debug for TemporalQueue<M, S, CAPACITY, H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TemporalQueue")
            .field("len", &self.heap.len())
            .field("capacity", &CAPACITY)
            .finish()
    }
}

/// A [`TemporalQueue`] shared by threads, tasks and interrupt handlers through a
/// `critical-section` mutex: each operation is one short critical section. On a single
/// core MCU that means interrupts are masked for a heap operation (O(log CAPACITY)).
pub struct SharedTemporalQueue<M, S: Timescale = Utc, const CAPACITY: usize = 64> {
    inner: Shared<TemporalQueue<M, S, CAPACITY>>,
}

impl<M, S: Timescale, const CAPACITY: usize> Default for SharedTemporalQueue<M, S, CAPACITY> {
    fn default() -> Self {
        Self::new()
    }
}

impl<M, S: Timescale, const CAPACITY: usize> SharedTemporalQueue<M, S, CAPACITY> {
    /// An empty queue, usable in a `static`.
    pub const fn new() -> Self {
        Self {
            inner: Shared::new(TemporalQueue::new()),
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut TemporalQueue<M, S, CAPACITY>) -> R) -> R {
        self.inner.with(f)
    }

    /// See [`TemporalQueue::push`].
    pub fn push(
        &self,
        priority: Priority,
        timestamp: Timestamp<S>,
        message: M,
    ) -> Result<(), Full<M>> {
        self.with(|q| q.push(priority, timestamp, message))
    }

    /// See [`TemporalQueue::pop`].
    pub fn pop(&self) -> Option<Queued<M, S>> {
        self.with(|q| q.pop())
    }

    /// See [`TemporalQueue::pop_ready`].
    pub fn pop_ready(&self, now: Instant<S>, max_skew: Duration) -> Option<Queued<M, S>> {
        self.with(|q| q.pop_ready(now, max_skew))
    }

    /// See [`TemporalQueue::pop_through`].
    pub fn pop_through(&self, watermark: HlcTime<S>) -> Option<Queued<M, S>> {
        self.with(|q| q.pop_through(watermark))
    }

    /// Messages queued.
    pub fn len(&self) -> usize {
        self.with(|q| q.len())
    }

    /// Whether no message is queued.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
