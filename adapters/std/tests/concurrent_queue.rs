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

/// The first `CAPACITY` pushes are taken and the next is refused with its message handed
/// back, however the queue got there; a pop makes room for exactly one more.
#[test]
fn refuses_at_exactly_capacity() {
    const CAP: usize = 8;
    let q = ConcurrentTemporalQueue::<usize, Utc, CAP>::new();
    let ts = |k: usize| Timestamp::from_raw(k as u64, NodeId(1));
    for k in 0..CAP {
        q.push(Priority(0), ts(k), k).unwrap();
    }
    assert_eq!(q.len(), CAP);
    match q.push(Priority(9), ts(0), 99) {
        Err(Full(m)) => assert_eq!(m, 99),
        Ok(()) => panic!("accepted a push beyond capacity"),
    }
    // Some messages in the heap, the rest still in the intake: the bound is on both.
    assert_eq!(q.pop().unwrap().message, 0);
    q.push(Priority(0), ts(100), 100).unwrap();
    assert!(q.push(Priority(0), ts(101), 101).is_err());
    let mut out = Vec::new();
    assert_eq!(q.pop_batch(usize::MAX, |e| out.push(e.message)), CAP);
    assert_eq!(out, [1, 2, 3, 4, 5, 6, 7, 100]);
    assert!(q.is_empty());
    assert_eq!(q.pop_batch(1, |_| ()), 0);
}

/// Pops see every message pushed before them, whatever mix of pops moved messages from
/// the intake to the heap (the drain is bounded by what the counters say was pushed):
/// rounds of concurrent producers (joined before the pops), then a few pops of every
/// kind, each checked against a model of the queue.
#[test]
fn every_pop_sees_every_push_before_it() {
    use std::collections::BTreeSet;
    use tempora_core::timestamp::HlcTime;
    type Key = (std::cmp::Reverse<Priority>, Timestamp<Utc>, u64);
    let q = ConcurrentTemporalQueue::<u64, Utc, 256>::new();
    let mut model = BTreeSet::<Key>::new();
    let mut rng = tempora_core::rng::SplitMix64::new(15);
    let mut next = 0u64;
    for round in 0..300 {
        // Room for this round's pushes (at most 33): the test is about order, not refusal.
        while model.len() > 256 - 33 {
            let e = q.pop().unwrap();
            let k = (std::cmp::Reverse(e.priority), e.timestamp, e.message);
            assert_eq!(Some(k), model.pop_first(), "round {round}");
        }
        let pushes: Vec<Vec<(u8, u64, u64)>> = (0..3u32)
            .map(|_| {
                (0..rng.next_u64() % 12)
                    .map(|_| {
                        next += 1;
                        ((rng.next_u64() % 4) as u8, rng.next_u64() % 1000, next)
                    })
                    .collect()
            })
            .collect();
        std::thread::scope(|s| {
            for (p, batch) in pushes.iter().enumerate() {
                let q = &q;
                s.spawn(move || {
                    for &(prio, t, m) in batch {
                        let ts = Timestamp::from_raw(t, NodeId(p as u32));
                        q.push(Priority(prio), ts, m).unwrap();
                    }
                });
            }
        });
        for (p, batch) in pushes.iter().enumerate() {
            for &(prio, t, m) in batch {
                let ts = Timestamp::from_raw(t, NodeId(p as u32));
                model.insert((std::cmp::Reverse(Priority(prio)), ts, m));
            }
        }
        assert_eq!(q.len(), model.len());
        for _ in 0..rng.next_u64() % 24 {
            let first = model.first().copied();
            let expect = |e: Option<tempora_core::queue::Queued<u64>>,
                          model: &mut BTreeSet<Key>| {
                let got = e.map(|e| (std::cmp::Reverse(e.priority), e.timestamp, e.message));
                assert_eq!(got, first, "round {round}");
                if let Some(k) = got {
                    model.remove(&k);
                }
            };
            match rng.next_u64() % 4 {
                0 => expect(q.pop(), &mut model),
                1 => {
                    let mut got = Vec::new();
                    let n = q.pop_batch(3, |e| got.push(e));
                    assert_eq!(n, got.len());
                    for e in got {
                        let k = (std::cmp::Reverse(e.priority), e.timestamp, e.message);
                        assert_eq!(Some(&k), model.first(), "round {round}");
                        model.remove(&k);
                    }
                    assert!(n == 3 || model.is_empty(), "round {round}");
                }
                2 => {
                    // A watermark below the first message releases nothing; at it, the first.
                    if let Some((_, ts, _)) = first {
                        let below = ts.time().raw().checked_sub(1).map(HlcTime::from_raw);
                        if let Some(w) = below {
                            assert!(q.pop_through(w).is_none(), "round {round}");
                        }
                        expect(q.pop_through(ts.time()), &mut model);
                    } else {
                        assert!(q.pop_through(HlcTime::from_raw(u64::MAX)).is_none());
                    }
                }
                _ => {
                    let now = tempora_core::Instant::from_nanos(u64::MAX);
                    expect(q.pop_ready(now, Duration::ZERO), &mut model);
                }
            }
        }
        assert_eq!(q.len(), model.len(), "round {round}");
    }
    let mut rest = Vec::new();
    q.pop_batch(usize::MAX, |e| {
        rest.push((std::cmp::Reverse(e.priority), e.timestamp, e.message))
    });
    assert_eq!(rest, model.into_iter().collect::<Vec<_>>());
}

/// A batch consumer that panics part-way loses the messages it was handed, not the
/// queue's capacity: the places they held are free again.
#[test]
fn a_panicking_batch_consumer_leaves_the_capacity_whole() {
    let q = ConcurrentTemporalQueue::<u32, Utc, 8>::new();
    for i in 0..8u32 {
        q.push(
            Priority(0),
            Timestamp::from_raw(u64::from(i) + 1, NodeId(1)),
            i,
        )
        .unwrap();
    }
    let seen = AtomicUsize::new(0);
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        q.pop_batch(8, |e| {
            if seen.fetch_add(1, Ordering::SeqCst) == 2 {
                panic!("consumer fails on message {}", e.message);
            }
        })
    }));
    assert!(r.is_err());
    // Three were handed out (the third to the panic); five remain, in order.
    assert_eq!(q.len(), 5);
    for i in 0..3u32 {
        q.push(
            Priority(0),
            Timestamp::from_raw(100 + u64::from(i), NodeId(1)),
            100 + i,
        )
        .unwrap();
    }
    assert!(matches!(
        q.push(Priority(0), Timestamp::from_raw(200, NodeId(1)), 200),
        Err(Full(200))
    ));
    let rest: Vec<u32> = std::iter::from_fn(|| q.pop().map(|e| e.message)).collect();
    assert_eq!(rest, [3, 4, 5, 6, 7, 100, 101, 102]);
}
