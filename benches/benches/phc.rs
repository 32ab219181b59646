//! Group `phc`: a bounded read of a PTP hardware clock source beside a plain
//! `clock_gettime(CLOCK_REALTIME)`, in one run (the target: at most twice the plain
//! read), and a raw PHC read (a system call) where the machine has a PHC.
//!
//! The fast read is [`FastClock`], the exact path `PhcSource::read` takes, fed one
//! cross-timestamp-like sample, so it runs on a machine without `/dev/ptp*` too.
//!
//! `cargo bench -p tempora-benches --bench phc`

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tempora_core::clock::{ClockSource, ClockStatus};
use tempora_core::discipline::OffsetSample;
use tempora_core::time::Offset;
use tempora_std::clock::phc::source::MonoRawClock;
use tempora_std::clock::phc::{FastClock, PhcClock, PhcSourceConfig};

fn realtime() -> libc::timespec {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, exclusively borrowed timespec the call only writes.
    unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut ts) };
    ts
}

fn phc(c: &mut Criterion) {
    let mut g = c.benchmark_group("phc");
    g.throughput(Throughput::Elements(1));

    g.bench_function("floor/clock_gettime_realtime", |b| {
        b.iter(|| black_box(realtime()))
    });

    // A stand-in PHC 37 s ahead of the raw clock, 12 ppm off, as a cross-timestamp would
    // leave the estimate: the fast path does not know the difference.
    let fast = FastClock::new(&PhcSourceConfig::DEFAULT);
    fast.discipline()
        .update(OffsetSample {
            at: MonoRawClock.time(),
            offset: Offset::from_nanos(-1_764_000_037_000_000_000),
            frequency_ppt: 12_000_000,
            bound: Duration::from_nanos(150),
            locked: true,
        })
        .expect("a sample within the discipline's limits");
    assert_eq!(fast.read().status, ClockStatus::Synchronized);
    g.bench_function("fast_bounded_read/tempora_phc_source", |b| {
        b.iter(|| black_box(fast.read()))
    });

    match PhcClock::open(0) {
        Ok(dev) => {
            g.bench_function("raw_phc_read/clock_gettime_dev_ptp0", |b| {
                b.iter(|| black_box(dev.now_ns()))
            });
        }
        Err(e) => {
            println!("phc/raw_phc_read: skipped, this machine has no PHC (/dev/ptp0: {e})");
        }
    }
    g.finish();
}

criterion_group!(benches, phc);
criterion_main!(benches);
