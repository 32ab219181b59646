//! `load-queue`'s core: producers and consumers on one
//! [`ConcurrentTemporalQueue`] for a set time, every message tagged (producer, sequence,
//! check word) and timed from enqueue to dequeue, every delivery checked.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Barrier;
use std::time::{Duration, Instant};

use tempora_core::error::Full;
use tempora_core::hlc::Hlc;
use tempora_core::queue::Priority;
use tempora_core::timestamp::NodeId;
use tempora_std::{ConcurrentTemporalQueue, SystemClock};

use crate::stats::Histogram;
use crate::verify::{Ledger, Tag, Verdict};

/// A message: who sent it, and when (monotonic ns since the run's start).
#[derive(Clone, Copy, Debug)]
pub struct Message {
    /// Producer, sequence and check word.
    pub tag: Tag,
    /// Enqueue time, ns since the run's start.
    pub sent_ns: u64,
}

/// How a run goes.
#[derive(Clone, Copy, Debug)]
pub struct QueueLoad {
    /// Producer threads.
    pub producers: usize,
    /// Consumer threads.
    pub consumers: usize,
    /// How long producers produce.
    pub duration: Duration,
    /// Messages a consumer takes under one lock (`pop_batch`).
    pub batch: usize,
    /// How often the depth is sampled.
    pub depth_every: Duration,
    /// How long consumers may take to drain the queue after producers stop before
    /// what is left counts as lost.
    pub drain_limit: Duration,
}

/// What a run measured.
#[derive(Debug)]
pub struct QueueRun {
    /// The queue's capacity.
    pub capacity: usize,
    /// Messages delivered, checked against what producers sent.
    pub verdict: Verdict,
    /// Pushes refused because the queue was full (each retried).
    pub refusals: u64,
    /// Enqueue to dequeue, ns, every message.
    pub latency: Histogram,
    /// Messages dequeued in each whole second of the production window.
    pub per_second: Vec<u64>,
    /// (seconds since the start, depth) every `depth_every`.
    pub depth: Vec<(f64, usize)>,
    /// The production window, as it was.
    pub produced_for: Duration,
    /// From the producers' stop to the last message dequeued.
    pub drained_in: Duration,
}

impl QueueRun {
    /// Messages delivered per second of the production window (those drained after
    /// it left out).
    pub fn throughput(&self) -> f64 {
        self.per_second.iter().sum::<u64>() as f64 / self.per_second.len().max(1) as f64
    }
}

struct Produced {
    sent: u64,
    checksum: u64,
    refusals: u64,
}

struct Consumed {
    ledger: Ledger,
    latency: Histogram,
    per_second: Vec<u64>,
    last_ns: u64,
}

/// Runs `load` on a queue of `CAPACITY`.
pub fn run<const CAPACITY: usize>(load: &QueueLoad) -> QueueRun {
    let q = ConcurrentTemporalQueue::<Message, tempora_core::time::Utc, CAPACITY>::new();
    let hlc = Hlc::new(SystemClock::new(), NodeId(1));
    let stop = AtomicBool::new(false);
    let producing = AtomicUsize::new(load.producers);
    let barrier = Barrier::new(load.producers + load.consumers + 1);
    let start = Instant::now();
    let ns = || start.elapsed().as_nanos() as u64;
    let whole_seconds = load.duration.as_secs() as usize;

    std::thread::scope(|s| {
        let producers: Vec<_> = (0..load.producers)
            .map(|p| {
                let (q, hlc, stop, producing, barrier) = (&q, &hlc, &stop, &producing, &barrier);
                s.spawn(move || {
                    barrier.wait();
                    let mut out = Produced {
                        sent: 0,
                        checksum: 0,
                        refusals: 0,
                    };
                    'produce: while !stop.load(Ordering::Relaxed) {
                        let tag = Tag::new(p as u32, out.sent);
                        let mut m = Message { tag, sent_ns: ns() };
                        let stamp = hlc.now();
                        loop {
                            match q.push(Priority(0), stamp, m) {
                                Ok(()) => break,
                                Err(Full(back)) => {
                                    out.refusals += 1;
                                    if stop.load(Ordering::Relaxed) {
                                        break 'produce; // not sent, not counted
                                    }
                                    m = back;
                                    std::thread::yield_now();
                                }
                            }
                        }
                        out.sent += 1;
                        out.checksum = out.checksum.wrapping_add(tag.check);
                    }
                    producing.fetch_sub(1, Ordering::AcqRel);
                    out
                })
            })
            .collect();
        let consumers: Vec<_> = (0..load.consumers)
            .map(|_| {
                let (q, producing, barrier) = (&q, &producing, &barrier);
                s.spawn(move || {
                    barrier.wait();
                    let mut c = Consumed {
                        ledger: Ledger::new(load.producers),
                        latency: Histogram::new(),
                        per_second: vec![0; whole_seconds],
                        last_ns: 0,
                    };
                    let mut got = Vec::with_capacity(load.batch);
                    let hard_stop = load.duration + load.drain_limit;
                    loop {
                        got.clear();
                        let n = q.pop_batch(load.batch, |e| got.push(e.message));
                        if n == 0 {
                            let done = producing.load(Ordering::Acquire) == 0 && q.is_empty();
                            if done || start.elapsed() > hard_stop {
                                break;
                            }
                            std::thread::yield_now();
                            continue;
                        }
                        // One clock read per batch, after the lock is released.
                        let now = ns();
                        for m in &got {
                            c.latency.record(now.saturating_sub(m.sent_ns));
                            c.ledger.observe(m.tag);
                        }
                        if let Some(b) = c.per_second.get_mut((now / 1_000_000_000) as usize) {
                            *b += n as u64;
                        }
                        c.last_ns = now;
                    }
                    c
                })
            })
            .collect();

        barrier.wait();
        let mut depth = Vec::new();
        let end = start + load.duration;
        while let Some(left) = end.checked_duration_since(Instant::now()) {
            depth.push((start.elapsed().as_secs_f64(), q.len()));
            std::thread::sleep(left.min(load.depth_every));
        }
        stop.store(true, Ordering::Relaxed);
        let stopped_ns = ns();
        let produced: Vec<Produced> = producers
            .into_iter()
            .map(|h| h.join().expect("a producer panicked"))
            .collect();
        let produced_for = Duration::from_nanos(stopped_ns);
        let consumed: Vec<Consumed> = consumers
            .into_iter()
            .map(|h| h.join().expect("a consumer panicked"))
            .collect();

        let mut ledger = Ledger::new(load.producers);
        let mut latency = Histogram::new();
        let mut per_second = vec![0u64; whole_seconds];
        let mut last_ns = 0;
        for c in &consumed {
            ledger.merge(&c.ledger);
            latency.merge(&c.latency);
            for (a, b) in per_second.iter_mut().zip(&c.per_second) {
                *a += b;
            }
            last_ns = last_ns.max(c.last_ns);
        }
        let sent: Vec<u64> = produced.iter().map(|p| p.sent).collect();
        let sums: Vec<u64> = produced.iter().map(|p| p.checksum).collect();
        QueueRun {
            capacity: CAPACITY,
            verdict: ledger.verdict(&sent, &sums),
            refusals: produced.iter().map(|p| p.refusals).sum(),
            latency,
            per_second,
            depth,
            produced_for,
            drained_in: Duration::from_nanos(last_ns.saturating_sub(stopped_ns)),
        }
    })
}
