//! Group `timeservice`: a bounded read and a host-wide HLC timestamp through the shared
//! memory segment, beside `clock_gettime` and the in-process HLC, in one run.
//!
//! `cargo bench -p tempora-benches --bench timeservice`

use std::hint::black_box;
use std::time::{Duration, SystemTime};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tempora_core::clock::{ClockSource, ClockStatus};
use tempora_core::hlc::Hlc;
use tempora_core::timestamp::NodeId;
use tempora_std::timeservice::{Publisher, PublisherOptions, Reader};
use tempora_std::SystemClock;

static HLC: Hlc<SystemClock> = Hlc::new(SystemClock::new(), NodeId(1));

fn timeservice(c: &mut Criterion) {
    // A segment of this run's own (tmpfs, as /dev/shm/tempora is), published once with
    // a long staleness limit so every read in the run takes the full, fresh path.
    let dir = if std::path::Path::new("/dev/shm").is_dir() {
        std::path::PathBuf::from("/dev/shm")
    } else {
        std::env::temp_dir()
    };
    let path = dir.join(format!("tempora-bench-{}", std::process::id()));
    let mut options = PublisherOptions::new(Duration::from_secs(600), NodeId(1), "system");
    options.stale_after = Duration::from_secs(3600);
    let mut publisher = Publisher::open(&path, &options).expect("open a segment");
    let clock = SystemClock::new();
    publisher.publish_realtime_reading(&clock.read(), 500_000);
    let reader = Reader::open(&path).expect("read the segment");
    assert_ne!(reader.read().status, ClockStatus::Unknown);
    let shared = reader.hlc().expect("the HLC segment is ours");

    let mut g = c.benchmark_group("timeservice");
    g.throughput(Throughput::Elements(1));
    g.bench_function("floor/clock_gettime_realtime", |b| {
        b.iter(|| black_box(SystemTime::now()))
    });
    g.bench_function("floor/tempora_system_clock_time", |b| {
        b.iter(|| black_box(clock.time()))
    });
    g.bench_function("read/timeservice_reader", |b| {
        b.iter(|| black_box(reader.read()))
    });
    g.bench_function("read/system_clock_read_with_kernel_bound", |b| {
        b.iter(|| black_box(clock.read()))
    });
    g.bench_function("hlc/in_process", |b| b.iter(|| black_box(HLC.now())));
    g.bench_function("hlc/host_wide", |b| b.iter(|| black_box(shared.now())));
    g.finish();

    drop(reader);
    drop(publisher);
    let _ = std::fs::remove_file(&path);
    let _ = std::fs::remove_file(tempora_std::timeservice::hlc_path(&path));
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    targets = timeservice
}
criterion_main!(benches);
