//! Interval queries (beside coitrees and rust-lapper, same data, same queries), in one run.
//!
//! `cargo bench -p tempora-benches --bench temporal`

use std::hint::black_box;
use std::time::Duration;

use coitrees::IntervalTree as _;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tempora_core::interval::{Interval, IntervalTree};

const N: usize = 100_000;
const SPAN: u64 = 10_000_000;
const QUERIES: usize = 10_000;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// 100 000 intervals: starts uniform over 10^7, lengths uniform in [1, 1000): about 5
/// intervals cover any point.
fn data() -> Vec<(u64, u64)> {
    let mut rng = Rng(42);
    (0..N)
        .map(|_| {
            let s = rng.next() % SPAN;
            (s, s + 1 + rng.next() % 999)
        })
        .collect()
}

/// Queries `[a, b)`: points (length 1) or short ranges (length 100).
fn queries(len: u64) -> Vec<(u64, u64)> {
    let mut rng = Rng(7);
    (0..QUERIES)
        .map(|_| {
            let a = rng.next() % SPAN;
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
    let data = data();
    let tempora = build_tempora(&data);
    let coitree = build_coitrees(&data);
    let lapper = build_lapper(&data);

    // Same answers from all three, or the comparison means nothing.
    for &(a, b) in queries(100).iter().take(500) {
        let ours = tempora.count_overlapping(Interval::new(a, b).unwrap());
        assert_eq!(ours, coitree.query_count(a as i32, (b - 1) as i32));
        assert_eq!(ours, lapper.find(a, b).count());
    }

    let mut g = c.benchmark_group("intervals");
    for (name, len) in [("point", 1u64), ("range_100", 100)] {
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
                    sum = sum.wrapping_add(n.metadata)
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
    g.bench_function("build_100k/tempora", |b| {
        b.iter(|| black_box(build_tempora(&data)))
    });
    g.bench_function("build_100k/coitrees", |b| {
        b.iter(|| black_box(build_coitrees(&data)))
    });
    g.bench_function("build_100k/rust_lapper", |b| {
        b.iter(|| black_box(build_lapper(&data)))
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30);
    targets = intervals
}
criterion_main!(benches);
