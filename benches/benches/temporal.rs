//! Interval queries (beside coitrees and rust-lapper, same data, same queries), the
//! temporal graph and pattern detection, in one run. Every id is `case/implementation`,
//! the shape `benches/compare.sh` pairs rows by.
//!
//! `cargo bench -p tempora-benches --bench temporal`
//!
//! coitrees' README asks for `-C target-cpu=native` to turn on its SIMD (AVX2) search, so
//! the interval rows are meant to be run in both builds; the native one in its own target
//! directory, so that the two builds do not overwrite each other:
//!
//! `RUSTFLAGS="-C target-cpu=native" CARGO_TARGET_DIR=target/native cargo bench -p
//! tempora-benches --bench temporal -- intervals`
//!
//! (`benches/compare.sh --native temporal` runs both builds, interleaved.)

use std::borrow::Borrow;
use std::hint::black_box;
use std::time::Duration;

use coitrees::IntervalTree as _;
use criterion::{criterion_group, Criterion, Throughput};
use tempora_core::graph::{NodeIx, PathSearch, TemporalGraph};
use tempora_core::interval::{Interval, IntervalTree};
use tempora_core::pattern::{Contiguity, Detector, Event, Matcher, Report, Sequence};
use tempora_core::rng::SplitMix64 as Rng;
use tempora_core::{NodeId, Timestamp, Utc};

const N: usize = 100_000;
const SPAN: u64 = 10_000_000;
const QUERIES: usize = 10_000;

/// 100 000 intervals: starts uniform over 10^7, lengths uniform in [1, 1000): about 5
/// intervals cover any point.
fn data() -> Vec<(u64, u64)> {
    let mut rng = Rng::new(42);
    (0..N)
        .map(|_| {
            let s = rng.next_u64() % SPAN;
            (s, s + 1 + rng.next_u64() % 999)
        })
        .collect()
}

/// The same, except that 1% of the intervals are long: lengths log-uniform over
/// [10^6, 10^8), so many span the whole range the queries fall in. A structure that
/// bounds its scan by the longest interval (rust-lapper) turns linear here.
fn data_long_mix() -> Vec<(u64, u64)> {
    let mut rng = Rng::new(43);
    (0..N)
        .map(|_| {
            let s = rng.next_u64() % SPAN;
            let len = if rng.next_u64() % 100 == 0 {
                // 10^(6 + 2u) for u uniform in [0, 1).
                let u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
                10f64.powf(6.0 + 2.0 * u) as u64
            } else {
                1 + rng.next_u64() % 999
            };
            (s, s + len)
        })
        .collect()
}

/// Queries `[a, b)`: points (length 1) or short ranges (length 100).
fn queries(len: u64) -> Vec<(u64, u64)> {
    let mut rng = Rng::new(7);
    (0..QUERIES)
        .map(|_| {
            let a = rng.next_u64() % SPAN;
            (a, a + len)
        })
        .collect()
}

type Tempora = IntervalTree<u32, N>;

fn build_tempora(data: &[(u64, u64)]) -> Box<Tempora> {
    let mut t = Box::new(Tempora::new());
    t.extend(
        data.iter()
            .enumerate()
            .map(|(i, &(s, e))| (Interval::new(s, e).unwrap(), i as u32)),
    )
    .unwrap();
    t
}

fn build_coitrees(data: &[(u64, u64)]) -> coitrees::COITree<u32, u32> {
    // coitrees stores end-inclusive i32 intervals: [s, e) is [s, e - 1].
    let nodes: Vec<coitrees::Interval<u32>> = data
        .iter()
        .enumerate()
        .map(|(i, &(s, e))| coitrees::Interval::new(s as i32, (e - 1) as i32, i as u32))
        .collect();
    coitrees::COITree::new(&nodes)
}

fn build_lapper(data: &[(u64, u64)]) -> rust_lapper::Lapper<u64, u32> {
    let ivs = data
        .iter()
        .enumerate()
        .map(|(i, &(s, e))| rust_lapper::Interval {
            start: s,
            stop: e,
            val: i as u32,
        })
        .collect();
    rust_lapper::Lapper::new(ivs)
}

fn intervals(c: &mut Criterion) {
    // Which build this is: coitrees searches with AVX2 only when the compiler may use it.
    println!(
        "intervals: built with avx2 = {} (RUSTFLAGS=\"-C target-cpu=native\" turns it on \
         where the CPU has it)",
        cfg!(target_feature = "avx2")
    );
    let mut g = c.benchmark_group("intervals");
    for (set, data) in [("", data()), ("long_mix_", data_long_mix())] {
        let tempora = build_tempora(&data);
        let coitree = build_coitrees(&data);
        let lapper = build_lapper(&data);

        // Same answers from all three, or the comparison means nothing.
        for len in [1, 100] {
            for &(a, b) in queries(len).iter().take(500) {
                let ours = tempora.count_overlapping(Interval::new(a, b).unwrap());
                assert_eq!(ours, coitree.query_count(a as i32, (b - 1) as i32));
                assert_eq!(ours, lapper.find(a, b).count());
            }
        }

        for (name, len) in [("point", 1u64), ("range_100", 100)] {
            let name = format!("{set}{name}");
            let qs = queries(len);
            let hits: usize = qs
                .iter()
                .map(|&(a, b)| tempora.count_overlapping(Interval::new(a, b).unwrap()))
                .sum();
            println!(
                "intervals/{name}: {:.2} hits per query",
                hits as f64 / qs.len() as f64
            );
            g.throughput(Throughput::Elements(1));
            g.bench_function(format!("{name}/tempora"), |bch| {
                let mut i = 0;
                bch.iter(|| {
                    let (a, b) = qs[i % QUERIES];
                    i += 1;
                    let mut sum = 0u32;
                    tempora.overlapping(Interval::new(a, b).unwrap(), |_, &v| {
                        sum = sum.wrapping_add(v)
                    });
                    black_box(sum)
                })
            });
            g.bench_function(format!("{name}/coitrees"), |bch| {
                let mut i = 0;
                bch.iter(|| {
                    let (a, b) = qs[i % QUERIES];
                    i += 1;
                    let mut sum = 0u32;
                    coitree.query(a as i32, (b - 1) as i32, |n| {
                        // The metadata is a `u32` in the plain tree and a `&u32` in the
                        // AVX2 one (`target-cpu=native`); `Borrow` reads both.
                        let v: &u32 = Borrow::borrow(&n.metadata);
                        sum = sum.wrapping_add(*v)
                    });
                    black_box(sum)
                })
            });
            g.bench_function(format!("{name}/rust_lapper"), |bch| {
                let mut i = 0;
                bch.iter(|| {
                    let (a, b) = qs[i % QUERIES];
                    i += 1;
                    let mut sum = 0u32;
                    for iv in lapper.find(a, b) {
                        sum = sum.wrapping_add(iv.val);
                    }
                    black_box(sum)
                })
            });
        }
        g.throughput(Throughput::Elements(N as u64));
        g.bench_function(format!("{set}build_100k/tempora"), |b| {
            b.iter(|| black_box(build_tempora(&data)))
        });
        g.bench_function(format!("{set}build_100k/coitrees"), |b| {
            b.iter(|| black_box(build_coitrees(&data)))
        });
        g.bench_function(format!("{set}build_100k/rust_lapper"), |b| {
            b.iter(|| black_box(build_lapper(&data)))
        });
    }
    g.finish();
}

const GN: usize = 10_000;
const GE: usize = 100_000;

/// 10 000 nodes, 100 000 edges: random endpoints, validity windows of 10-1000 units
/// within [0, 10 000), durations 1-50.
fn graph_edges() -> Vec<(u32, u32, u64, u64, u64)> {
    let mut rng = Rng::new(99);
    (0..GE)
        .map(|_| {
            let (f, t) = (
                (rng.next_u64() % GN as u64) as u32,
                (rng.next_u64() % GN as u64) as u32,
            );
            let s = rng.next_u64() % 10_000;
            (
                f,
                t,
                s,
                s + 10 + rng.next_u64() % 990,
                1 + rng.next_u64() % 50,
            )
        })
        .collect()
}

/// The obvious heap-allocating implementation: `Vec<Vec<_>>` adjacency and std's
/// `BinaryHeap` with lazy deletion. No crate does time-respecting paths, so this is the
/// reference beside ours.
struct NaiveTemporal {
    adj: Vec<Vec<(u32, u64, u64, u64)>>,
}

impl NaiveTemporal {
    fn new(edges: &[(u32, u32, u64, u64, u64)]) -> Self {
        let mut adj = vec![Vec::new(); GN];
        for &(f, t, s, e, d) in edges {
            adj[f as usize].push((t, s, e, d));
        }
        Self { adj }
    }

    fn earliest(&self, s: u32, d: u32, t0: u64) -> Option<u64> {
        use std::cmp::Reverse;
        let mut best = vec![u64::MAX; GN];
        let mut heap = std::collections::BinaryHeap::new();
        best[s as usize] = t0;
        heap.push(Reverse((t0, s)));
        while let Some(Reverse((t, u))) = heap.pop() {
            if t > best[u as usize] {
                continue;
            }
            if u == d {
                return Some(t);
            }
            for &(v, st, en, du) in &self.adj[u as usize] {
                let dep = t.max(st);
                if dep < en && dep + du < best[v as usize] {
                    best[v as usize] = dep + du;
                    heap.push(Reverse((dep + du, v)));
                }
            }
        }
        None
    }
}

fn temporal_graph(c: &mut Criterion) {
    let edges = graph_edges();
    let mut g = Box::new(TemporalGraph::<GN, GE>::new());
    for _ in 0..GN {
        g.add_node().unwrap();
    }
    for &(f, t, s, e, d) in &edges {
        g.add_edge(NodeIx(f), NodeIx(t), Interval::new(s, e).unwrap(), d)
            .unwrap();
    }
    g.reindex();
    let naive = NaiveTemporal::new(&edges);
    let mut rng = Rng::new(3);
    let queries: Vec<(u32, u32, u64)> = (0..1000)
        .map(|_| {
            (
                (rng.next_u64() % GN as u64) as u32,
                (rng.next_u64() % GN as u64) as u32,
                rng.next_u64() % 2000,
            )
        })
        .collect();
    let mut search = Box::new(PathSearch::<GN>::new());
    let mut reached = 0;
    for &(s, d, t0) in &queries {
        let ours = g
            .earliest_arrival(&mut search, NodeIx(s), NodeIx(d), t0)
            .unwrap()
            .map(|j| j.arrival);
        assert_eq!(ours, naive.earliest(s, d, t0));
        reached += usize::from(ours.is_some());
    }
    println!(
        "temporal_graph: {reached} of {} queries reachable",
        queries.len()
    );

    let mut grp = c.benchmark_group("temporal_graph");
    grp.throughput(Throughput::Elements(1));
    grp.bench_function("earliest_arrival_10k_100k/tempora", |b| {
        let mut i = 0;
        b.iter(|| {
            let (s, d, t0) = queries[i % queries.len()];
            i += 1;
            black_box(
                g.earliest_arrival(&mut search, NodeIx(s), NodeIx(d), t0)
                    .unwrap(),
            )
        })
    });
    grp.bench_function("earliest_arrival_10k_100k/naive_std_heap", |b| {
        let mut i = 0;
        b.iter(|| {
            let (s, d, t0) = queries[i % queries.len()];
            i += 1;
            black_box(naive.earliest(s, d, t0))
        })
    });
    grp.finish();
}

/// 1 000 partitions, kinds 0-3 uniform, one event every 100 ns overall (so each
/// partition sees one every 100 µs); pattern 0 -> 1 -> 2 within 1 ms, relaxed.
fn pattern(c: &mut Criterion) {
    const EVENTS: usize = 1 << 20;
    const SPAN: u64 = EVENTS as u64 * 100;
    let mut rng = Rng::new(5);
    let events: Vec<(u64, u8, u64)> = (0..EVENTS as u64)
        .map(|i| (i * 100, (rng.next_u64() % 4) as u8, rng.next_u64() % 1000))
        .collect();
    type Seq = Sequence<u8, Utc, 3, 2048, 16>;
    let new_seq = || {
        Box::new(Seq::new(
            [0, 1, 2],
            Duration::from_millis(1),
            Contiguity::Relaxed,
        ))
    };
    let event = |i: usize| {
        let (t, kind, partition) = events[i % EVENTS];
        // Later laps continue in time so the stream never goes backwards.
        let t = t + (i / EVENTS) as u64 * SPAN;
        Event {
            timestamp: Timestamp::<Utc>::from_raw(t, NodeId(1)),
            kind,
            partition,
        }
    };

    let mut g = c.benchmark_group("pattern");
    g.throughput(Throughput::Elements(1));
    let mut matches = 0u64;
    g.bench_function("sequence3_1000_partitions_matcher/tempora", |b| {
        let mut m = new_seq();
        let mut i = 0;
        b.iter(|| {
            let e = event(i);
            i += 1;
            m.event(&e, &mut |r: Report<'_>| {
                if let Report::Match(_) = r {
                    matches += 1
                }
            });
        })
    });
    g.bench_function("sequence3_1000_partitions_detector_in_order/tempora", |b| {
        let mut d = Box::new(Detector::<u8, Utc, _, 1024>::new(
            *new_seq(),
            Duration::ZERO,
        ));
        let mut i = 0;
        b.iter(|| {
            let e = event(i);
            i += 1;
            let _ = black_box(d.push(e, &mut |_: Report<'_>| {}));
        })
    });
    g.bench_function(
        "sequence3_1000_partitions_detector_lateness_10us/tempora",
        |b| {
            // Arrival order shuffled within 10 µs (100 events); the buffer holds them.
            let mut d = Box::new(Detector::<u8, Utc, _, 1024>::new(
                *new_seq(),
                Duration::from_micros(10),
            ));
            let mut i = 0;
            b.iter(|| {
                let k = i ^ 0x3f; // a fixed permutation within blocks of 64 events
                i += 1;
                let _ = black_box(d.push(event(k), &mut |_: Report<'_>| {}));
            })
        },
    );
    g.finish();
    println!("pattern: {matches} matches while benchmarking the matcher");
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30);
    targets = intervals, temporal_graph, pattern
}
// The fixed-capacity structures here are megabytes; moving them into their boxes passes
// through the stack, so run criterion on a thread with room for that.
fn main() {
    std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(|| {
            benches();
            Criterion::default().configure_from_args().final_summary();
        })
        .expect("spawn the benchmark thread")
        .join()
        .expect("benchmarks");
}
