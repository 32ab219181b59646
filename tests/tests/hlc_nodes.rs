//! Nodes on real system clocks with skew exchange messages over channels: every receipt
//! follows its send, causality holds across three hops, and a node whose clock is beyond
//! the max offset is refused (and counted) without disturbing the receiver.

use std::sync::atomic::Ordering;
use std::sync::mpsc;

use tempora_core::hlc::{Hlc, HlcConfig};
use tempora_core::timestamp::{NodeId, Timestamp};
use tempora_core::{UpdateError, Utc};
use tempora_std::{CountingHooks, SystemClock};
use tempora_tests::SkewedClock;

const MS: i64 = 1_000_000;

fn node(
    id: u32,
    skew_ms: i64,
    hooks: &CountingHooks,
) -> Hlc<SkewedClock<SystemClock>, &CountingHooks> {
    let clock = SkewedClock {
        inner: SystemClock::new(),
        skew_ns: skew_ms * MS,
    };
    Hlc::with_hooks(clock, NodeId(id), HlcConfig::DEFAULT, hooks)
}

#[test]
fn causality_holds_across_skewed_nodes() {
    let (ha, hb, hc) = (
        CountingHooks::new(),
        CountingHooks::new(),
        CountingHooks::new(),
    );
    // a runs 300 ms ahead, b is right, c runs 200 ms behind: all within 500 ms of each other.
    let (a, b, c) = (node(1, 300, &ha), node(2, 0, &hb), node(3, -200, &hc));
    let (to_b, from_a) = mpsc::channel::<Timestamp<Utc>>();
    let (to_c, from_b) = mpsc::channel::<(Timestamp<Utc>, Timestamp<Utc>)>();
    std::thread::scope(|s| {
        let a = &a;
        s.spawn(move || {
            for _ in 0..1_000 {
                to_b.send(a.now()).unwrap();
            }
        });
        let b = &b;
        s.spawn(move || {
            for sent in from_a.iter() {
                let got = b.update(sent).expect("a is within the max offset of b");
                assert!(got > sent);
                to_c.send((sent, b.now())).unwrap();
            }
            drop(to_c);
        });
        let c = &c;
        s.spawn(move || {
            let mut last = None;
            for (origin, relayed) in from_b.iter() {
                let got = c.update(relayed).expect("b is within the max offset of c");
                // Transitivity: c's receipt follows a's original send 2 hops back, even
                // though c's clock is 500 ms behind a's.
                assert!(got > relayed && got > origin);
                assert!(last.is_none_or(|l| got > l));
                last = Some(got);
            }
        });
    });
    assert_eq!(hb.merges.load(Ordering::Relaxed), 1_000);
    assert_eq!(hc.merges.load(Ordering::Relaxed), 1_000);
    assert_eq!(ha.faults() + hb.faults() + hc.faults(), 0);
}

#[test]
fn a_node_beyond_the_max_offset_is_refused_and_counted() {
    let (hf, hr) = (CountingHooks::new(), CountingHooks::new());
    let fast = node(1, 2_000, &hf);
    let receiver = node(2, 0, &hr);
    let before = receiver.now();
    for _ in 0..10 {
        match receiver.update(fast.now()) {
            Err(UpdateError::TooFarAhead { ahead, .. }) => {
                assert!(ahead.as_millis() >= 1_900, "{ahead:?}");
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
    }
    assert_eq!(hr.remote_refusals.load(Ordering::Relaxed), 10);
    // Nothing leaked into the receiver: its next timestamp is near its own clock.
    let after = receiver.now();
    assert!(after > before);
    assert!(after.physical().as_nanos() - before.physical().as_nanos() < 100 * MS as u64);
}
