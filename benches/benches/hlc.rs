//! Group `hlc`: tempora's HLC beside uhlc (a mutex around its state) and hlc-gen
//! (lock-free, one `AtomicU64`, millisecond ticks), and the raw clock read, in one run.
//! Every id is `case/implementation`, the shape `benches/compare.sh` pairs rows by.
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

    g.bench_function("floor_clock_gettime_realtime/std", |b| {
        b.iter(|| black_box(SystemTime::now()))
    });
    g.bench_function("floor_system_clock_time/tempora", |b| {
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
    // hlc-gen's one wall-clock source is `UtcClock` (chrono's `Utc::now`); the drift bound
    // is uhlc's default (500 ms), so all three check a remote against the same limit.
    let hlc_gen = hlc_gen::HlcGenerator::new(500);
    g.bench_function("now/hlc_gen", |b| {
        b.iter(|| black_box(hlc_gen.next_timestamp()))
    });

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
    let hlc_gen_remote = hlc_gen::HlcGenerator::new(500)
        .next_timestamp()
        .expect("a fresh generator stamps");
    // Each merge is accepted, or the rows would time the refusal path.
    assert!(HLC.update(remote).is_ok());
    assert!(uhlc.update_with_timestamp(&uhlc_remote).is_ok());
    assert!(hlc_gen.update(&hlc_gen_remote).is_ok());
    g.bench_function("update/hlc_gen", |b| {
        b.iter(|| black_box(hlc_gen.update(black_box(&hlc_gen_remote))))
    });

    // The floors of the two-thread rows: what two cores pay just to take turns writing
    // one cache line (any single-word clock shared by threads pays at least this), and
    // the clock read they each do, in parallel (no shared write).
    let word = std::sync::atomic::AtomicU64::new(0);
    g.bench_function("floor_2_threads_shared_word/std_fetch_add", |b| {
        b.iter_custom(|iters| {
            contended(iters, &|| {
                black_box(word.fetch_add(1, std::sync::atomic::Ordering::AcqRel));
            })
        })
    });
    g.bench_function("floor_2_threads_clock_read/tempora", |b| {
        let clock = SystemClock::new();
        b.iter_custom(|iters| {
            contended(iters, &|| {
                black_box(clock.time());
            })
        })
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
    g.bench_function("now_2_threads/hlc_gen", |b| {
        b.iter_custom(|iters| {
            contended(iters, &|| {
                black_box(hlc_gen.next_timestamp());
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
