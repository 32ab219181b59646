//! Loom model of concurrent `now`/`update` while the physical clock steps back.
//!
//! Run: `RUSTFLAGS="--cfg loom" cargo test -p tempora-core --test hlc_loom --release`
#![cfg(loom)]

use loom::sync::Arc;
use loom::thread;
use tempora_core::clock::ManualClock;
use tempora_core::hlc::Hlc;
use tempora_core::time::Utc;
use tempora_core::timestamp::{NodeId, Timestamp};

const T0: u64 = 1 << 30;

#[test]
fn now_and_update_are_unique_monotonic_and_causal() {
    let mut model = loom::model::Builder::new();
    model.preemption_bound = Some(3);
    model.check(|| {
        let hlc = Arc::new(Hlc::new(ManualClock::<Utc>::new(T0), NodeId(1)));
        let remote = Timestamp::<Utc>::from_raw(T0 + 1_000, NodeId(2));

        let a = {
            let hlc = hlc.clone();
            thread::spawn(move || [hlc.now(), hlc.now()])
        };
        let b = {
            let hlc = hlc.clone();
            thread::spawn(move || {
                let r = hlc.update(remote).expect("remote within max offset");
                [r, hlc.now()]
            })
        };
        // The main thread steps the physical clock back by more than a sample period,
        // racing the jump detection, then takes a timestamp of its own.
        hlc.clock().set(T0 - (1 << 17));
        let c = hlc.now();

        let a = a.join().unwrap();
        let b = b.join().unwrap();
        assert!(a[0] < a[1], "thread a not increasing: {a:?}");
        assert!(b[0] < b[1], "thread b not increasing: {b:?}");
        assert!(b[0] > remote, "receipt not after the remote");
        let mut all = vec![a[0], a[1], b[0], b[1], c];
        all.sort();
        all.dedup();
        assert_eq!(all.len(), 5, "duplicate timestamps");
        assert!(hlc.last() >= *all.last().unwrap());
    });
}
