//! Causal ordering: vector clocks (beside the `vclock` crate), the causal-delivery queue,
//! the temporal queue (beside std's and heapless's `BinaryHeap`) and the shared queues
//! (beside crossbeam's `ArrayQueue`), in one run.
//!
//! `cargo bench -p tempora-benches --bench causal`

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use tempora_core::causal::{CausalMessage, CausalQueue, VectorClock};
use tempora_core::error::Full;
use tempora_core::queue::{Priority, SharedTemporalQueue, TemporalQueue};
use tempora_core::rng::SplitMix64 as Rng;
use tempora_core::{NodeId, Timestamp, Utc};
use tempora_std::ConcurrentTemporalQueue;

/// Two clocks over `n` nodes that are concurrent (each ahead on some nodes).
fn clocks<const N: usize>(
    n: u32,
) -> (
    VectorClock<N>,
    VectorClock<N>,
    vclock::VClock<u32>,
    vclock::VClock<u32>,
) {
    let (mut a, mut b) = (VectorClock::<N>::new(), VectorClock::<N>::new());
    let (mut pa, mut pb) = (vclock::VClock::new(0u32), vclock::VClock::new(0u32));
    for node in 0..n {
        let (ca, cb) = (u64::from(node % 7 + 1), u64::from((node + 3) % 7 + 1));
        a.set(NodeId(node), ca).unwrap();
        b.set(NodeId(node), cb).unwrap();
        for _ in 1..ca {
            pa.incr(&node);
        }
        for _ in 1..cb {
            pb.incr(&node);
        }
    }
    (a, b, pa, pb)
}

fn vclock_group(c: &mut Criterion) {
    let mut g = c.benchmark_group("vclock");
    macro_rules! sized {
        ($n:literal) => {
            let (a, b, pa, pb) = clocks::<$n>($n);
            g.bench_function(BenchmarkId::new("compare/tempora", $n), |bch| {
                bch.iter(|| black_box(black_box(&a).compare(black_box(&b))))
            });
            g.bench_function(BenchmarkId::new("compare/vclock", $n), |bch| {
                bch.iter(|| black_box(black_box(&pa).partial_cmp(black_box(&pb))))
            });
            g.bench_function(BenchmarkId::new("merge/tempora", $n), |bch| {
                bch.iter(|| {
                    let mut m = a.clone();
                    m.merge(black_box(&b)).unwrap();
                    black_box(m)
                })
            });
            g.bench_function(BenchmarkId::new("merge/vclock", $n), |bch| {
                bch.iter(|| {
                    let mut m = pa.clone();
                    m.merge(black_box(&pb));
                    black_box(m)
                })
            });
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
        g.bench_function(BenchmarkId::new("receive_deliver/tempora", name), |b| {
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
fn spsc(n: u64, push: impl Fn(u64) -> bool + Sync, pop: impl Fn(&mut u64) -> u64) -> Duration {
    let start = Instant::now();
    std::thread::scope(|s| {
        s.spawn(|| {
            for k in 0..n {
                while !push(k) {
                    std::hint::spin_loop();
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

fn shared_group(c: &mut Criterion) {
    let mut g = c.benchmark_group("shared_queue_1p1c");
    g.sample_size(10);
    const N: u64 = 1_000_000;
    g.throughput(Throughput::Elements(N));
    let ts = |k: u64| Timestamp::<Utc>::from_raw(k, NodeId(1));

    g.bench_function("tempora_concurrent/pop_batch", |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| {
                    let q = ConcurrentTemporalQueue::<u64, Utc, 1024>::new();
                    spsc(
                        N,
                        |k| q.push(Priority(0), ts(k), k).is_ok(),
                        |sum: &mut u64| q.pop_batch(256, |e| *sum += e.message) as u64,
                    )
                })
                .sum()
        })
    });
    g.bench_function("tempora_concurrent/pop", |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| {
                    let q = ConcurrentTemporalQueue::<u64, Utc, 1024>::new();
                    spsc(
                        N,
                        |k| q.push(Priority(0), ts(k), k).is_ok(),
                        |sum: &mut u64| one(sum, q.pop().map(|e| e.message)),
                    )
                })
                .sum()
        })
    });
    g.bench_function("tempora_critical_section/pop", |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| {
                    let q = Box::new(SharedTemporalQueue::<u64, Utc, 1024>::new());
                    spsc(
                        N,
                        |k| !matches!(q.push(Priority(0), ts(k), k), Err(Full(_))),
                        |sum: &mut u64| one(sum, q.pop().map(|e| e.message)),
                    )
                })
                .sum()
        })
    });
    g.bench_function("crossbeam_array_queue_fifo/pop", |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| {
                    let q = crossbeam_queue::ArrayQueue::<u64>::new(1024);
                    spsc(N, |k| q.push(k).is_ok(), |sum: &mut u64| one(sum, q.pop()))
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
