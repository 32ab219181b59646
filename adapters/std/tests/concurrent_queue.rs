//! Many producers and consumers on the concurrent temporal queue: every message comes out
//! exactly once, refusals hand messages back, and a single consumer sees priority order.

use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tempora_core::error::Full;
use tempora_core::queue::Priority;
use tempora_core::{NodeId, Timestamp, Utc};
use tempora_std::ConcurrentTemporalQueue;

#[test]
fn every_message_is_delivered_exactly_once() {
    const PRODUCERS: u64 = 3;
    const EACH: u64 = 100_000;
    let q = ConcurrentTemporalQueue::<u64, Utc, 64>::new();
    let seen: Vec<AtomicU8> = (0..PRODUCERS * EACH).map(|_| AtomicU8::new(0)).collect();
    let taken = AtomicUsize::new(0);
    let refused = AtomicUsize::new(0);
    let deadline = Instant::now() + Duration::from_secs(120);
    std::thread::scope(|s| {
        for p in 0..PRODUCERS {
            let (q, refused) = (&q, &refused);
            s.spawn(move || {
                for k in 0..EACH {
                    let mut msg = p * EACH + k;
                    while let Err(Full(m)) = q.push(
                        Priority((k % 4) as u8),
                        Timestamp::from_raw(k, NodeId(p as u32)),
                        msg,
                    ) {
                        msg = m;
                        refused.fetch_add(1, Ordering::Relaxed);
                        assert!(Instant::now() < deadline, "consumers stalled");
                        std::thread::yield_now();
                    }
                }
            });
        }
        for c in 0..2 {
            let (q, seen, taken) = (&q, &seen, &taken);
            s.spawn(move || {
                while taken.load(Ordering::Relaxed) < seen.len() {
                    assert!(Instant::now() < deadline, "messages missing");
                    let n = if c == 0 {
                        q.pop_batch(32, |e| {
                            seen[e.message as usize].fetch_add(1, Ordering::Relaxed);
                        })
                    } else {
                        q.pop()
                            .map(|e| seen[e.message as usize].fetch_add(1, Ordering::Relaxed))
                            .map_or(0, |_| 1)
                    };
                    if n == 0 {
                        std::thread::yield_now();
                    }
                    taken.fetch_add(n, Ordering::Relaxed);
                }
            });
        }
    });
    assert!(
        seen.iter().all(|c| c.load(Ordering::Relaxed) == 1),
        "lost or duplicated"
    );
    assert!(q.is_empty());
    assert!(
        refused.load(Ordering::Relaxed) > 0,
        "capacity 64 was never reached: test too gentle"
    );
}

#[test]
fn a_single_consumer_sees_queue_order() {
    let q = ConcurrentTemporalQueue::<u32, Utc, 16>::new();
    std::thread::scope(|s| {
        for p in 0..4u32 {
            let q = &q;
            s.spawn(move || {
                for k in 0..4u64 {
                    q.push(
                        Priority((p % 2) as u8),
                        Timestamp::from_raw(10 * k + u64::from(p), NodeId(p)),
                        p,
                    )
                    .unwrap();
                }
            });
        }
    });
    assert!(
        q.push(Priority(0), Timestamp::from_raw(0, NodeId(9)), 9)
            .is_err(),
        "full at 16"
    );
    let mut out = Vec::new();
    q.pop_batch(usize::MAX, |e| {
        out.push((std::cmp::Reverse(e.priority), e.timestamp))
    });
    assert_eq!(out.len(), 16);
    assert!(out.windows(2).all(|w| w[0] <= w[1]), "{out:?}");
}
