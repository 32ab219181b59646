//! Causal ordering: vector clocks (beside the `vclock` crate), the causal-delivery queue,
//! the temporal queue (beside std's and heapless's `BinaryHeap`) and the shared queues
//! (beside crossbeam's `ArrayQueue`), in one run. Every id is `case/implementation`, the
//! shape `benches/compare.sh` pairs rows by.
//!
//! `cargo bench -p tempora-benches --bench causal`

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tempora_core::causal::{CausalMessage, CausalOrder, CausalQueue, VectorClock};
use tempora_core::error::Full;
use tempora_core::queue::{Priority, SharedTemporalQueue, TemporalQueue};
use tempora_core::rng::SplitMix64 as Rng;
use tempora_core::{NodeId, Timestamp, Utc};
use tempora_std::ConcurrentTemporalQueue;

/// The same counters as a tempora clock and a `vclock` clock, every node present in both.
/// vclock's `incr` inserts a new key at 0 and adds 1 after that, so `count` calls give
/// `count - 1`: the order between two clocks is the same as tempora's.
fn both<const N: usize>(counts: &[u64]) -> (VectorClock<N>, vclock::VClock<u32>) {
    let mut ours = VectorClock::<N>::new();
    let mut theirs = vclock::VClock::<u32>::default();
    for (node, &count) in (0u32..).zip(counts) {
        ours.set(NodeId(node), count).unwrap();
        for _ in 0..count {
            theirs.incr(&node);
        }
    }
    assert_eq!((ours.len(), theirs.len()), (counts.len(), counts.len()));
    (ours, theirs)
}

/// Pairs of clocks over `n` nodes, by how far `compare` must walk:
/// - `concurrent`: each ahead on some nodes; the first proof of concurrency is at entry 5,
///   so tempora's early exit stops there whatever `n` is;
/// - `equal`: identical clocks; every entry must be looked at;
/// - `before`: the right is one ahead on every node (it dominates); every entry again.
#[allow(clippy::type_complexity)]
fn clock_pairs<const N: usize>(
    n: u32,
) -> [(
    &'static str,
    (VectorClock<N>, vclock::VClock<u32>),
    (VectorClock<N>, vclock::VClock<u32>),
); 3] {
    let base: Vec<u64> = (0..n).map(|k| u64::from(k % 7 + 1)).collect();
    let shifted: Vec<u64> = (0..n).map(|k| u64::from((k + 3) % 7 + 1)).collect();
    let ahead: Vec<u64> = base.iter().map(|c| c + 1).collect();
    [
        ("concurrent", both(&base), both(&shifted)),
        ("equal", both(&base), both(&base)),
        ("before", both(&base), both(&ahead)),
    ]
}

fn vclock_group(c: &mut Criterion) {
    let mut g = c.benchmark_group("vclock");
    macro_rules! sized {
        ($n:literal) => {
            for (case, (a, pa), (b, pb)) in clock_pairs::<$n>($n) {
                // Both crates see the same relation, or the rows compare different work.
                let ours = a.compare(&b);
                let theirs = pa.partial_cmp(&pb);
                let expected = match case {
                    "concurrent" => (CausalOrder::Concurrent, None),
                    "equal" => (CausalOrder::Equal, Some(std::cmp::Ordering::Equal)),
                    _ => (CausalOrder::Before, Some(std::cmp::Ordering::Less)),
                };
                assert_eq!((ours, theirs), expected, "{case}, N = {}", $n);
                g.bench_function(format!("compare_{case}_{}/tempora", $n), |bch| {
                    bch.iter(|| black_box(black_box(&a).compare(black_box(&b))))
                });
                g.bench_function(format!("compare_{case}_{}/vclock", $n), |bch| {
                    bch.iter(|| black_box(black_box(&pa).partial_cmp(black_box(&pb))))
                });
                if case != "concurrent" {
                    continue;
                }
                g.bench_function(format!("merge_{}/tempora", $n), |bch| {
                    bch.iter(|| {
                        let mut m = a.clone();
                        m.merge(black_box(&b)).unwrap();
                        black_box(m)
                    })
                });
                g.bench_function(format!("merge_{}/vclock", $n), |bch| {
                    bch.iter(|| {
                        let mut m = pa.clone();
                        m.merge(black_box(&pb));
                        black_box(m)
                    })
                });
            }
        };
    }
    sized!(8);
    sized!(64);
    g.finish();
}

/// A causally consistent stream: 4 senders taking turns, each message depending on all
/// earlier ones. `shuffle` reorders it within windows of 16.
fn stream(len: usize, shuffle: bool) -> Vec<CausalMessage<u64, 8>> {
    let mut clock = VectorClock::<8>::new();
    let mut out: Vec<_> = (0..len as u64)
        .map(|k| {
            let sender = NodeId((k % 4) as u32 + 1);
            clock.stamp(sender, k).unwrap()
        })
        .collect();
    if shuffle {
        let mut rng = Rng::new(7);
        for w in out.chunks_mut(16) {
            for i in (1..w.len()).rev() {
                w.swap(i, (rng.next_u64() % (i as u64 + 1)) as usize);
            }
        }
    }
    out
}

fn causal_group(c: &mut Criterion) {
    let mut g = c.benchmark_group("causal_queue");
    const LEN: usize = 4096;
    g.throughput(Throughput::Elements(LEN as u64));
    for (name, shuffle) in [("in_order", false), ("shuffled_16", true)] {
        let msgs = stream(LEN, shuffle);
        g.bench_function(format!("receive_deliver_{name}/tempora"), |b| {
            b.iter_batched(
                || msgs.clone(),
                |msgs| {
                    let mut q = CausalQueue::<u64, 8, 64>::new(NodeId(9));
                    let mut sum = 0u64;
                    for m in msgs {
                        q.receive(m, |d| sum += d.payload).unwrap();
                    }
                    black_box(sum)
                },
                criterion::BatchSize::LargeInput,
            )
        });
    }
    g.finish();
}

const DEPTH: usize = 1024;

fn temporal_group(c: &mut Criterion) {
    let mut g = c.benchmark_group("temporal_queue");
    g.throughput(Throughput::Elements(1));
    // Mixed priorities (0-3) and timestamps in no order: every push lands somewhere
    // inside the heap, not at one end.
    let mut rng = Rng::new(1);
    let keys: Vec<(u8, u64)> = (0..DEPTH * 4)
        .map(|_| ((rng.next_u64() % 4) as u8, rng.next_u64() >> 20))
        .collect();

    g.bench_function("push_pop_depth_1024/tempora", |b| {
        let mut q = Box::new(TemporalQueue::<u64, Utc, { DEPTH + 1 }>::new());
        for (i, &(p, t)) in keys[..DEPTH].iter().enumerate() {
            q.push(Priority(p), Timestamp::from_raw(t, NodeId(1)), i as u64)
                .unwrap();
        }
        let mut i = 0usize;
        b.iter(|| {
            let (p, t) = keys[i % keys.len()];
            i += 1;
            q.push(Priority(p), Timestamp::from_raw(t, NodeId(1)), i as u64)
                .unwrap();
            black_box(q.pop())
        })
    });
    // The peers get the same total order: (priority desc, time, node, insertion).
    type Key = (Reverse<u8>, u64, u32, u64, u64);
    g.bench_function("push_pop_depth_1024/std_binary_heap", |b| {
        let mut q: BinaryHeap<Reverse<Key>> = BinaryHeap::with_capacity(DEPTH + 1);
        for (i, &(p, t)) in keys[..DEPTH].iter().enumerate() {
            q.push(Reverse((Reverse(p), t, 1, i as u64, i as u64)));
        }
        let mut i = 0usize;
        b.iter(|| {
            let (p, t) = keys[i % keys.len()];
            i += 1;
            q.push(Reverse((Reverse(p), t, 1, i as u64, i as u64)));
            black_box(q.pop())
        })
    });
    // The floor: std's heap on bare u64 keys, no priority, node or stability.
    g.bench_function("push_pop_depth_1024/std_binary_heap_u64_key", |b| {
        let mut q: BinaryHeap<Reverse<u64>> = BinaryHeap::with_capacity(DEPTH + 1);
        for &(_, t) in &keys[..DEPTH] {
            q.push(Reverse(t));
        }
        let mut i = 0usize;
        b.iter(|| {
            let (_, t) = keys[i % keys.len()];
            i += 1;
            q.push(Reverse(t));
            black_box(q.pop())
        })
    });
    g.bench_function("push_pop_depth_1024/heapless_binary_heap", |b| {
        let mut q = Box::new(heapless::BinaryHeap::<
            Key,
            heapless::binary_heap::Min,
            { DEPTH + 1 },
        >::new());
        for (i, &(p, t)) in keys[..DEPTH].iter().enumerate() {
            q.push((Reverse(p), t, 1, i as u64, i as u64)).unwrap();
        }
        let mut i = 0usize;
        b.iter(|| {
            let (p, t) = keys[i % keys.len()];
            i += 1;
            q.push((Reverse(p), t, 1, i as u64, i as u64)).unwrap();
            black_box(q.pop())
        })
    });
    g.finish();
}

/// One producer and one consumer move `n` messages; returns the wall time.
/// Generic, so each queue's calls are inlined as they would be in an application.
///
/// A refused producer yields its CPU before retrying, the same for every queue. A
/// producer spinning on a full queue measured the scheduler rather than the queue on a
/// shared 2-vCPU VM (10x spread between runs, both sides spinning half their samples
/// while the other was descheduled), and a real producer refused by a bounded queue backs
/// off. The consumer spins on an empty queue: it is the side whose latency counts, and
/// yielding there cost every queue (tempora batched 52 to 168 ns per message, crossbeam
/// per item 12 to 24 ns, in back-to-back runs of a scratch harness).
fn spsc(
    n: u64,
    push: impl Fn(u64) -> bool + Sync,
    mut pop: impl FnMut(&mut u64) -> u64,
) -> Duration {
    let start = Instant::now();
    std::thread::scope(|s| {
        s.spawn(|| {
            for k in 0..n {
                while !push(k) {
                    std::thread::yield_now();
                }
            }
        });
        let mut sum = 0u64;
        let mut got = 0u64;
        while got < n {
            let k = pop(&mut sum);
            if k == 0 {
                std::hint::spin_loop();
            }
            got += k;
        }
        black_box(sum);
    });
    start.elapsed()
}

/// A single-message pop for [`spsc`]: adds the message to `sum`, returns how many came.
fn one(sum: &mut u64, popped: Option<u64>) -> u64 {
    popped.map_or(0, |m| {
        *sum += m;
        1
    })
}

/// The `k`-th message's priority (0-3) and timestamp: priorities mixed, timestamps out
/// of order within windows of 64 (as from several HLCs whose messages cross). A hash of
/// `k`, not a table, so the producer does the same little work for every queue.
fn key(k: u64) -> (u8, u64) {
    let h = k.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    ((h >> 62) as u8, (k & !63) | (h >> 40 & 63))
}

/// Batch size for the batched consumers.
const BATCH: usize = 256;

fn shared_group(c: &mut Criterion) {
    let mut g = c.benchmark_group("shared_queue_1p1c");
    g.sample_size(10);
    const N: u64 = 1_000_000;
    g.throughput(Throughput::Elements(N));
    let push_concurrent = |q: &ConcurrentTemporalQueue<u64, Utc, 1024>, k: u64| {
        let (p, t) = key(k);
        q.push(Priority(p), Timestamp::from_raw(t, NodeId(1)), k)
            .is_ok()
    };
    // crossbeam carries the same (priority, timestamp, message) triple, in FIFO order.
    type Triple = (u8, u64, u64);
    let push_crossbeam = |q: &crossbeam_queue::ArrayQueue<Triple>, k: u64| {
        let (p, t) = key(k);
        q.push((p, t, k)).is_ok()
    };

    // Per item against per item: one `pop` call per message on every queue.
    g.bench_function("per_item/tempora_concurrent", |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| {
                    let q = ConcurrentTemporalQueue::<u64, Utc, 1024>::new();
                    spsc(
                        N,
                        |k| push_concurrent(&q, k),
                        |sum: &mut u64| one(sum, q.pop().map(|e| e.message)),
                    )
                })
                .sum()
        })
    });
    g.bench_function("per_item/tempora_critical_section", |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| {
                    let q = Box::new(SharedTemporalQueue::<u64, Utc, 1024>::new());
                    spsc(
                        N,
                        |k| {
                            let (p, t) = key(k);
                            let ts = Timestamp::from_raw(t, NodeId(1));
                            !matches!(q.push(Priority(p), ts, k), Err(Full(_)))
                        },
                        |sum: &mut u64| one(sum, q.pop().map(|e| e.message)),
                    )
                })
                .sum()
        })
    });
    g.bench_function("per_item/crossbeam_array_queue_fifo", |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| {
                    let q = crossbeam_queue::ArrayQueue::<Triple>::new(1024);
                    spsc(
                        N,
                        |k| push_crossbeam(&q, k),
                        |sum: &mut u64| one(sum, q.pop().map(|(_, _, m)| m)),
                    )
                })
                .sum()
        })
    });

    // Batched against batched: up to 256 messages per consumer call on both sides.
    g.bench_function("batched_256/tempora_concurrent", |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| {
                    let q = ConcurrentTemporalQueue::<u64, Utc, 1024>::new();
                    spsc(
                        N,
                        |k| push_concurrent(&q, k),
                        |sum: &mut u64| q.pop_batch(BATCH, |e| *sum += e.message) as u64,
                    )
                })
                .sum()
        })
    });
    g.bench_function("batched_256/crossbeam_array_queue_fifo", |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| {
                    let q = crossbeam_queue::ArrayQueue::<Triple>::new(1024);
                    let mut buf = vec![(0u8, 0u64, 0u64); BATCH];
                    spsc(
                        N,
                        |k| push_crossbeam(&q, k),
                        |sum: &mut u64| {
                            // Drain into a buffer, then handle the batch, as a batched
                            // consumer of a FIFO would.
                            let mut n = 0;
                            while n < BATCH {
                                match q.pop() {
                                    Some(x) => buf[n] = x,
                                    None => break,
                                }
                                n += 1;
                            }
                            *sum += buf[..n].iter().map(|&(_, _, m)| m).sum::<u64>();
                            n as u64
                        },
                    )
                })
                .sum()
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20);
    targets = vclock_group, causal_group, temporal_group, shared_group
}
criterion_main!(benches);
