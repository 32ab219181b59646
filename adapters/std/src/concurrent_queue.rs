//! A temporal queue for many producers and consumers on Linux, faster than a lock around
//! the heap.
//!
//! Producers never take the lock: they put messages into a lock-free bounded intake
//! (crossbeam's `ArrayQueue`). Consumers take a mutex, move what is in the intake into the
//! ordered [`TemporalQueue`] and pop from it, so producers and consumers do not
//! contend on one lock, and the consumer side amortises the lock over the batch it drains.
//! Two counters bound the messages in intake and heap together to `CAPACITY`, so a
//! drain always fits and a pop sees every message pushed before it. They sit on separate
//! cache lines ([`CachePadded`]) and each side writes only its own (`pushed` by
//! producers, `popped` by consumers): a producer reads the consumers' line, which changes
//! once per batch, instead of fighting over one counter for every message.
//!
//! A consumer drains only what the counters say was pushed before its pop began: it reads
//! `pushed` once (the emptiness check it makes anyway), and under the lock moves
//! `pushed - drained` messages, or none. It never makes the failing intake pop that ends
//! an open-ended drain, which reads the producers' tail line behind a full fence on every
//! pop. With 1 producer and 1 consumer that took a per-item `pop()` from 90 to 68 ns per
//! message (medians of 5 interleaved runs of a scratch harness) and the benchmark's
//! `pop_batch(256)` from 70 to 58.5 ms per million (docs/benchmarks.md has the spreads,
//! which overlap on the shared VM).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use crossbeam_queue::ArrayQueue;
use tempora_core::error::Full;
use tempora_core::queue::{Priority, Queued, TemporalQueue};
use tempora_core::shared::CachePadded;
use tempora_core::time::{Instant, Timescale, Utc};
use tempora_core::timestamp::{HlcTime, Timestamp};

/// A `(priority, HLC)`-ordered queue shared by threads. Refuses (and hands back) a push
/// when `CAPACITY` messages are queued; never loses one.
///
/// ```
/// use tempora_core::queue::Priority;
/// use tempora_core::{NodeId, Timestamp, Utc};
/// use tempora_std::ConcurrentTemporalQueue;
///
/// let q = ConcurrentTemporalQueue::<u32, Utc, 8>::new();
/// std::thread::scope(|s| {
///     s.spawn(|| q.push(Priority(0), Timestamp::from_raw(20, NodeId(1)), 2).unwrap());
///     s.spawn(|| q.push(Priority(0), Timestamp::from_raw(10, NodeId(2)), 1).unwrap());
/// });
/// assert_eq!(q.pop().unwrap().message, 1);
/// assert_eq!(q.pop().unwrap().message, 2);
/// ```
pub struct ConcurrentTemporalQueue<M, S: Timescale = Utc, const CAPACITY: usize = 1024> {
    intake: ArrayQueue<(Priority, Timestamp<S>, M)>,
    ordered: Mutex<Box<Ordered<M, S, CAPACITY>>>,
    /// Places reserved by producers, ever (minus refused reservations).
    pushed: CachePadded<AtomicUsize>,
    /// Messages taken by consumers, ever.
    popped: CachePadded<AtomicUsize>,
}

/// What the lock guards: the heap, and how many messages consumers have moved into it
/// from the intake, ever.
struct Ordered<M, S: Timescale, const CAPACITY: usize> {
    heap: TemporalQueue<M, S, CAPACITY>,
    drained: usize,
}

impl<M, S: Timescale, const CAPACITY: usize> Default for ConcurrentTemporalQueue<M, S, CAPACITY> {
    fn default() -> Self {
        Self::new()
    }
}

impl<M, S: Timescale, const CAPACITY: usize> ConcurrentTemporalQueue<M, S, CAPACITY> {
    /// An empty queue (allocates its two buffers once, here).
    pub fn new() -> Self {
        Self {
            intake: ArrayQueue::new(CAPACITY.max(1)),
            ordered: Mutex::new(Box::new(Ordered {
                heap: TemporalQueue::new(),
                drained: 0,
            })),
            pushed: CachePadded::new(AtomicUsize::new(0)),
            popped: CachePadded::new(AtomicUsize::new(0)),
        }
    }

    /// Queues a message, or hands it back when `CAPACITY` messages are queued.
    pub fn push(
        &self,
        priority: Priority,
        timestamp: Timestamp<S>,
        message: M,
    ) -> Result<(), Full<M>> {
        let reserved = self.pushed.fetch_add(1, Ordering::AcqRel);
        if reserved.wrapping_sub(self.popped.load(Ordering::Acquire)) >= CAPACITY {
            self.pushed.fetch_sub(1, Ordering::AcqRel);
            return Err(Full(message));
        }
        // The counters reserved a place, and the intake holds CAPACITY: this cannot fail,
        // but if it ever did, the message still goes back to the caller.
        self.intake
            .push((priority, timestamp, message))
            .map_err(|(_, _, m)| {
                self.pushed.fetch_sub(1, Ordering::AcqRel);
                Full(m)
            })
    }

    /// Runs `f` on the heap under the lock, after moving into it every message pushed
    /// before `pushed` was read (a value of `self.pushed` read after the caller's pop
    /// began).
    ///
    /// Why `pushed - drained` messages are enough: a push that returned before the pop
    /// began reserved its place (counted in `pushed`) before its intake push, and so did
    /// every push ahead of it in the intake's FIFO, so its message sits within the first
    /// `pushed` the intake ever held; `drained` of those are already in the heap (all
    /// drains happen under this lock). Reservations still in flight or about to be refused
    /// make the count larger, never smaller; then the drain stops when the intake is empty.
    /// A count at or below zero (another consumer drained past our snapshot) means nothing
    /// to drain.
    fn with_ordered<R>(
        &self,
        pushed: usize,
        f: impl FnOnce(&mut TemporalQueue<M, S, CAPACITY>) -> R,
    ) -> R {
        // A consumer that panicked while holding the lock left a consistent heap (heap
        // operations do not panic), so a poisoned lock is safe to keep using.
        let mut guard = self.ordered.lock().unwrap_or_else(|p| p.into_inner());
        let o = &mut **guard;
        let mut pending = pushed.wrapping_sub(o.drained) as isize;
        while pending > 0 {
            let Some((p, t, m)) = self.intake.pop() else {
                break;
            };
            if let Err(Full(m)) = o.heap.push(p, t, m) {
                // Impossible while the counters bound intake + heap to CAPACITY; put it
                // back rather than drop it.
                let _ = self.intake.push((p, t, m));
                break;
            }
            o.drained = o.drained.wrapping_add(1);
            pending -= 1;
        }
        f(&mut o.heap)
    }

    /// `pushed` as read now, or `None` when nothing is queued: the emptiness check every
    /// pop starts with, and the snapshot its drain is bounded by.
    fn pushed_if_any(&self) -> Option<usize> {
        // Read `popped` first, as `len` does: a stale `popped` only makes the queue look
        // fuller.
        let popped = self.popped.load(Ordering::Acquire);
        let pushed = self.pushed.load(Ordering::Acquire);
        (pushed != popped).then_some(pushed)
    }

    fn taken(&self, e: Option<Queued<M, S>>) -> Option<Queued<M, S>> {
        if e.is_some() {
            self.popped.fetch_add(1, Ordering::AcqRel);
        }
        e
    }

    /// Removes the first message in `(priority, timestamp)` order among all pushed.
    pub fn pop(&self) -> Option<Queued<M, S>> {
        // No lock, no drain: an idle consumer costs two loads.
        let pushed = self.pushed_if_any()?;
        let e = self.with_ordered(pushed, |q| q.pop());
        self.taken(e)
    }

    /// Removes the first message if it is at or below the watermark `now - max_skew`.
    pub fn pop_ready(&self, now: Instant<S>, max_skew: Duration) -> Option<Queued<M, S>> {
        let pushed = self.pushed_if_any()?;
        let e = self.with_ordered(pushed, |q| q.pop_ready(now, max_skew));
        self.taken(e)
    }

    /// Removes the first message if its HLC time is at or below `watermark`; see
    /// [`TemporalQueue::pop_through`].
    pub fn pop_through(&self, watermark: HlcTime<S>) -> Option<Queued<M, S>> {
        let pushed = self.pushed_if_any()?;
        let e = self.with_ordered(pushed, |q| q.pop_through(watermark));
        self.taken(e)
    }

    /// Moves up to `max` messages, in order, to `out`, under one lock: the fast path for a
    /// consumer that handles messages in batches. Returns how many.
    pub fn pop_batch(&self, max: usize, mut out: impl FnMut(Queued<M, S>)) -> usize {
        let Some(pushed) = self.pushed_if_any() else {
            return 0;
        };
        // Counted as they leave, by a guard: if `out` panics, the messages already
        // handed out still free their places (the queue would otherwise lose that much
        // capacity for good).
        struct Taken<'a> {
            popped: &'a AtomicUsize,
            n: usize,
        }
        impl Drop for Taken<'_> {
            fn drop(&mut self) {
                if self.n > 0 {
                    self.popped.fetch_add(self.n, Ordering::AcqRel);
                }
            }
        }
        let mut taken = Taken {
            popped: &self.popped,
            n: 0,
        };
        self.with_ordered(pushed, |q| {
            while taken.n < max {
                match q.pop() {
                    Some(e) => {
                        taken.n += 1;
                        out(e);
                    }
                    None => break,
                }
            }
        });
        taken.n
    }

    /// Messages queued or being pushed (a snapshot).
    pub fn len(&self) -> usize {
        // Read `popped` first: it only grows, so the difference never underflows by more
        // than the pushes that raced in between, and those only make it larger.
        let popped = self.popped.load(Ordering::Acquire);
        let pushed = self.pushed.load(Ordering::Acquire);
        pushed.wrapping_sub(popped).min(CAPACITY)
    }

    /// Whether no message is queued (a snapshot).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
