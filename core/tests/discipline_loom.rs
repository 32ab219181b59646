//! Loom model of the discipline's two-slot publication: a reader racing two updates
//! sees no estimate, the first or the second, whole and in order, never a mix.
//!
//! Run: `RUSTFLAGS="--cfg loom" cargo test -p tempora-core --test discipline_loom --release`
#![cfg(loom)]

use core::time::Duration;

use loom::sync::Arc;
use loom::thread;
use tempora_core::clock::ManualClock;
use tempora_core::discipline::{Discipline, DisciplineConfig, OffsetSample};
use tempora_core::time::{Instant, Offset, Tai};

fn sample(k: u64) -> OffsetSample<Tai> {
    OffsetSample {
        at: Instant::from_nanos(k * 1_000),
        offset: Offset::from_nanos(k as i64 * 7),
        frequency_ppt: k as i64 * 3_000,
        bound: Duration::from_nanos(k * 11),
        locked: true,
    }
}

#[test]
fn readers_see_whole_estimates_in_order() {
    let mut model = loom::model::Builder::new();
    model.preemption_bound = Some(3);
    model.check(|| {
        let d = Arc::new(Discipline::new(
            ManualClock::<Tai>::new(0),
            DisciplineConfig::DEFAULT,
        ));
        let writer = {
            let d = d.clone();
            thread::spawn(move || {
                d.update(sample(1)).unwrap();
                d.update(sample(2)).unwrap();
            })
        };
        let reader = {
            let d = d.clone();
            thread::spawn(move || {
                let mut seen = 0;
                for _ in 0..2 {
                    let k = match d.estimate() {
                        None => 0,
                        Some(e) => {
                            let k = e.sample.at.as_nanos() / 1_000;
                            assert!(k == 1 || k == 2);
                            assert_eq!(e.sample, sample(k), "torn estimate");
                            k
                        }
                    };
                    assert!(k >= seen, "went back from {seen} to {k}");
                    seen = k;
                }
            })
        };
        reader.join().unwrap();
        writer.join().unwrap();
        assert_eq!(d.estimate().unwrap().sample, sample(2));
    });
}
