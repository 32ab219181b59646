//! Group `hlc`: tempora's HLC beside uhlc and the raw clock read, in one run.
//!
//! `cargo bench -p tempora-benches --bench hlc`

use std::hint::black_box;
use std::sync::Barrier;
use std::time::{Duration, SystemTime};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tempora_core::clock::ClockSource;
use tempora_core::hlc::{Hlc, HlcConfig};
use tempora_core::timestamp::NodeId;
use tempora_std::prometheus::DEFAULT_SAMPLE_EVERY;
use tempora_std::{PrometheusHooks, SystemClock};

static HLC: Hlc<SystemClock> = Hlc::new(SystemClock::new(), NodeId(1));

/// Runs `op` `iters` times on each of two threads at once; returns the wall time of the
/// slower thread divided by two, i.e. the aggregate time per operation.
fn contended(iters: u64, op: &(dyn Fn() + Sync)) -> Duration {
    let barrier = Barrier::new(3);
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                barrier.wait();
                for _ in 0..iters {
                    op();
                }
                barrier.wait();
            });
        }
        barrier.wait();
        let start = std::time::Instant::now();
        barrier.wait();
        start.elapsed() / 2
    })
}

fn hlc(c: &mut Criterion) {
    let mut g = c.benchmark_group("hlc");
    g.throughput(Throughput::Elements(1));

    g.bench_function("floor/clock_gettime_realtime", |b| {
        b.iter(|| black_box(SystemTime::now()))
    });
    g.bench_function("floor/tempora_system_clock_time", |b| {
        let clock = SystemClock::new();
        b.iter(|| black_box(clock.time()))
    });

    g.bench_function("now/tempora", |b| b.iter(|| black_box(HLC.now())));
    // The daemon's exporter: a counter on every call, one call in 64 timed.
    let metrics = PrometheusHooks::new(&["system"], DEFAULT_SAMPLE_EVERY);
    let exported = Hlc::with_hooks(
        SystemClock::new(),
        NodeId(1),
        HlcConfig::DEFAULT,
        metrics.clone(),
    );
    g.bench_function("now/tempora_prometheus_counted", |b| {
        b.iter(|| black_box(exported.now()))
    });
    g.bench_function("now/tempora_prometheus_sampled", |b| {
        b.iter(|| black_box(metrics.hlc_latency().time(|| exported.now())))
    });
    let uhlc = uhlc::HLC::default();
    g.bench_function("now/uhlc", |b| b.iter(|| black_box(uhlc.new_timestamp())));

    // Merging a message from a peer: the remote timestamp was taken just before, so it is
    // behind local time by the time it is merged (the common case).
    let peer = Hlc::new(SystemClock::new(), NodeId(2));
    let remote = peer.now();
    g.bench_function("update/tempora", |b| {
        b.iter(|| black_box(HLC.update(black_box(remote))))
    });
    let uhlc_peer = uhlc::HLC::default();
    let uhlc_remote = uhlc_peer.new_timestamp();
    g.bench_function("update/uhlc", |b| {
        b.iter(|| black_box(uhlc.update_with_timestamp(black_box(&uhlc_remote))))
    });

    g.bench_function("now_2_threads/tempora", |b| {
        b.iter_custom(|iters| {
            contended(iters, &|| {
                black_box(HLC.now());
            })
        })
    });
    g.bench_function("now_2_threads/uhlc", |b| {
        b.iter_custom(|iters| {
            contended(iters, &|| {
                black_box(uhlc.new_timestamp());
            })
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    targets = hlc
}
criterion_main!(benches);
