//! Temporal queue properties against a stable-sorted reference, and a multi-threaded
//! stress test of the critical-section shared queue.
#![cfg(not(loom))]

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use proptest::prelude::*;
use tempora_core::error::Full;
use tempora_core::queue::{Priority, SharedTemporalQueue, TemporalQueue};
use tempora_core::timestamp::HlcTime;
use tempora_core::{Instant, NodeId, Timestamp, Utc};

const CAP: usize = 32;

#[derive(Debug, Clone)]
enum Op {
    Push(u8, u64, u32),
    Pop,
    PopReady(u64, u64),
    PopThrough(u64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        5 => (0u8..3, 0u64..64, 0u32..3).prop_map(|(p, t, n)| Op::Push(p, t, n)),
        2 => Just(Op::Pop),
        2 => (0u64..80, 0u64..20).prop_map(|(now, skew)| Op::PopReady(now, skew)),
        2 => (0u64..80).prop_map(Op::PopThrough),
    ]
}

/// (priority desc, timestamp asc, insertion asc): what the queue must produce.
fn reference_first(model: &[(u8, Timestamp<Utc>, u64)]) -> Option<usize> {
    (0..model.len()).min_by_key(|&i| {
        let (p, t, seq) = model[i];
        (std::cmp::Reverse(p), t, seq)
    })
}

proptest! {
    #[test]
    fn queue_matches_the_reference(ops in proptest::collection::vec(op(), 1..300)) {
        let mut q = TemporalQueue::<u64, Utc, CAP>::default();
        // The shared queue, driven alongside, must agree with the plain one.
        let shared = SharedTemporalQueue::<u64, Utc, CAP>::default();
        let mut model: Vec<(u8, Timestamp<Utc>, u64)> = Vec::new();
        let (mut pushed, mut popped, mut refused) = (0u64, 0u64, 0u64);
        for op in ops {
            match op {
                Op::Push(p, t, n) => {
                    let ts = Timestamp::from_raw(t, NodeId(n));
                    prop_assert_eq!(shared.push(Priority(p), ts, pushed).is_ok(), model.len() < CAP);
                    match q.push(Priority(p), ts, pushed) {
                        Ok(()) => model.push((p, ts, pushed)),
                        Err(Full(m)) => {
                            // Refused only when full, and the message comes back intact.
                            prop_assert_eq!(model.len(), CAP);
                            prop_assert_eq!(m, pushed);
                            refused += 1;
                        }
                    }
                    pushed += 1;
                }
                Op::Pop => {
                    let want = reference_first(&model).map(|i| model.remove(i));
                    // Peeking shows what pop takes, and takes nothing.
                    let peeked = q.peek().map(|e| (e.priority.0, e.timestamp, *e.message));
                    prop_assert_eq!(peeked, want);
                    let got = q.pop().map(|e| (e.priority.0, e.timestamp, e.message));
                    prop_assert_eq!(shared.pop().map(|e| (e.priority.0, e.timestamp, e.message)), got);
                    if got.is_some() { popped += 1; }
                    prop_assert_eq!(got, want);
                }
                Op::PopReady(now, skew) => {
                    let watermark = now.saturating_sub(skew);
                    let head = reference_first(&model);
                    let got = q.pop_ready(Instant::from_nanos(now), Duration::from_nanos(skew));
                    let other = shared.pop_ready(Instant::from_nanos(now), Duration::from_nanos(skew));
                    prop_assert_eq!(other.map(|e| e.message), got.as_ref().map(|e| e.message));
                    match (head, got) {
                        (Some(i), Some(e)) => {
                            prop_assert!(e.timestamp.raw() <= watermark, "released above the watermark");
                            prop_assert_eq!((e.priority.0, e.timestamp, e.message), model.remove(i));
                            popped += 1;
                        }
                        (Some(i), None) => prop_assert!(model[i].1.raw() > watermark),
                        (None, None) => {}
                        (None, Some(_)) => prop_assert!(false, "released from an empty queue"),
                    }
                }
                Op::PopThrough(w) => {
                    let watermark = HlcTime::from_raw(w);
                    let head = reference_first(&model);
                    let got = q.pop_through(watermark);
                    prop_assert_eq!(shared.pop_through(watermark).map(|e| e.message), got.as_ref().map(|e| e.message));
                    match (head, got) {
                        (Some(i), Some(e)) => {
                            prop_assert!(e.timestamp.time() <= watermark, "released above the watermark");
                            prop_assert_eq!((e.priority.0, e.timestamp, e.message), model.remove(i));
                            popped += 1;
                        }
                        (Some(i), None) => prop_assert!(model[i].1.time() > watermark),
                        (None, None) => {}
                        (None, Some(_)) => prop_assert!(false, "released from an empty queue"),
                    }
                }
            }
            prop_assert_eq!(q.len(), model.len());
            prop_assert_eq!(shared.len(), model.len());
            prop_assert_eq!(q.is_empty(), model.is_empty());
            prop_assert_eq!(shared.is_empty(), model.is_empty());
            prop_assert_eq!(q.is_full(), model.len() == q.capacity());
            prop_assert_eq!(q.capacity(), CAP);
            if model.is_empty() {
                prop_assert!(q.peek().is_none());
            }
        }
        prop_assert_eq!(format!("{q:?}"), format!("TemporalQueue {{ len: {}, capacity: {CAP} }}", model.len()));
        // Every message is accounted for: popped, refused, or still queued.
        prop_assert_eq!(pushed, popped + refused + q.len() as u64);
    }
}

#[test]
fn shared_queue_accounts_for_every_message_under_contention() {
    const PRODUCERS: u32 = 2;
    const PER_PRODUCER: u64 = 50_000;
    let q = SharedTemporalQueue::<u64, Utc, 256>::new();
    let seen: Vec<AtomicUsize> = (0..PRODUCERS as u64 * PER_PRODUCER)
        .map(|_| AtomicUsize::new(0))
        .collect();
    let done = AtomicBool::new(false);
    let refusals = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for p in 0..PRODUCERS {
            let (q, refusals) = (&q, &refusals);
            s.spawn(move || {
                for k in 0..PER_PRODUCER {
                    let id = u64::from(p) * PER_PRODUCER + k;
                    let mut msg = id;
                    let ts = Timestamp::from_raw(k, NodeId(p));
                    // Bounded retry: a full queue hands the message back; try again.
                    let mut tries = 0u32;
                    while let Err(Full(m)) = q.push(Priority((k % 3) as u8), ts, msg) {
                        msg = m;
                        refusals.fetch_add(1, Ordering::Relaxed);
                        tries += 1;
                        assert!(tries < 10_000_000, "consumers stalled");
                        std::thread::yield_now();
                    }
                }
            });
        }
        let consumers: Vec<_> = (0..2)
            .map(|_| {
                let (q, seen, done) = (&q, &seen, &done);
                s.spawn(move || {
                    let mut n = 0u64;
                    loop {
                        match q.pop() {
                            Some(e) => {
                                seen[e.message as usize].fetch_add(1, Ordering::Relaxed);
                                n += 1;
                            }
                            None if done.load(Ordering::Acquire) && q.is_empty() => break n,
                            None => std::thread::yield_now(),
                        }
                    }
                })
            })
            .collect();
        // Producers are joined by the scope; signal consumers once all messages are in.
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while seen
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .sum::<usize>()
            < seen.len()
        {
            if std::time::Instant::now() > deadline {
                done.store(true, Ordering::Release);
                panic!("messages missing after 60 s");
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        done.store(true, Ordering::Release);
        let total: u64 = consumers.into_iter().map(|c| c.join().unwrap()).sum();
        assert_eq!(total, PRODUCERS as u64 * PER_PRODUCER);
    });
    assert!(
        seen.iter().all(|c| c.load(Ordering::Relaxed) == 1),
        "a message was lost or duplicated"
    );
}
