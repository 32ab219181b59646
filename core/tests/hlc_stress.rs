//! Many threads hammer one HLC: every timestamp is unique, and each thread's are strictly
//! increasing, on the real system-time path and while another thread steps the clock back.
#![cfg(not(loom))]

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use tempora_core::clock::{ClockReading, ClockSource, ClockStatus, ManualClock};
use tempora_core::hlc::Hlc;
use tempora_core::time::{Instant, Utc};
use tempora_core::timestamp::{NodeId, Timestamp};

const THREADS: usize = 4;
const CALLS: usize = 100_000;

/// The host's real-time clock, without the std adapter (core tests depend on core only).
struct Realtime;
impl ClockSource for Realtime {
    type Scale = Utc;
    fn read(&self) -> ClockReading<Utc> {
        let n = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64;
        ClockReading {
            time: Instant::from_nanos(n),
            bound: std::time::Duration::MAX,
            status: ClockStatus::Unknown,
        }
    }
}

fn check(per_thread: Vec<Vec<Timestamp<Utc>>>) {
    for ts in &per_thread {
        assert!(
            ts.windows(2).all(|w| w[0] < w[1]),
            "a thread saw a non-increasing pair"
        );
    }
    let mut all: Vec<_> = per_thread.into_iter().flatten().collect();
    let n = all.len();
    all.sort_unstable();
    all.dedup();
    assert_eq!(all.len(), n, "duplicate timestamps across threads");
}

#[test]
fn concurrent_now_and_update_are_unique_and_increasing() {
    let hlc = Hlc::new(Realtime, NodeId(1));
    let peer = Hlc::new(Realtime, NodeId(2));
    let per_thread: Vec<Vec<Timestamp<Utc>>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..THREADS)
            .map(|i| {
                let (hlc, peer) = (&hlc, &peer);
                s.spawn(move || {
                    let mut out = Vec::with_capacity(CALLS);
                    for k in 0..CALLS {
                        let t = if i % 2 == 1 && k % 3 == 0 {
                            let remote = peer.now();
                            let t = hlc.update(remote).expect("peer within max offset");
                            assert!(t > remote);
                            t
                        } else {
                            hlc.now()
                        };
                        out.push(t);
                    }
                    out
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    check(per_thread);
}

#[test]
fn concurrent_now_while_the_clock_steps_back_and_forth() {
    let clock = ManualClock::<Utc>::new(1_000_000_000_000);
    let hlc = Hlc::new(&clock, NodeId(3));
    let done = AtomicBool::new(false);
    let per_thread = std::thread::scope(|s| {
        s.spawn(|| {
            // Bounded: at most 10 000 steps, and it stops as soon as the workers finish.
            for k in 0..10_000u64 {
                if done.load(Ordering::Relaxed) {
                    break;
                }
                let t = 1_000_000_000_000 + (k % 7) * 50_000 - (k % 3) * 120_000;
                clock.set(t);
                std::thread::yield_now();
            }
        });
        let handles: Vec<_> = (0..THREADS)
            .map(|_| s.spawn(|| (0..CALLS).map(|_| hlc.now()).collect::<Vec<_>>()))
            .collect();
        let out: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        done.store(true, Ordering::Relaxed);
        out
    });
    check(per_thread);
}

#[test]
fn clocks_over_one_shared_word_issue_as_one_clock() {
    // Four clocks (as four processes would map one word), each over its own physical
    // clock: one real, three scripted ones half a second behind, ahead and frozen.
    static WORD: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let now = Realtime.time().as_nanos();
    let behind = ManualClock::<Utc>::new(now - 500_000_000);
    let ahead = ManualClock::<Utc>::new(now + 500_000_000);
    let frozen = ManualClock::<Utc>::new(now);
    let config = tempora_core::hlc::HlcConfig::DEFAULT;
    let nohooks = tempora_core::hooks::NoHooks;
    let real = Hlc::with_state(&WORD, Realtime, NodeId(9), config, nohooks);
    let scripted =
        [&behind, &ahead, &frozen].map(|c| Hlc::with_state(&WORD, c, NodeId(9), config, nohooks));
    let per_thread = std::thread::scope(|s| {
        let mut handles = vec![s.spawn(|| (0..CALLS).map(|_| real.now()).collect::<Vec<_>>())];
        for (i, hlc) in scripted.iter().enumerate() {
            let clock = [&behind, &ahead, &frozen][i];
            handles.push(s.spawn(move || {
                (0..CALLS as u64)
                    .map(|k| {
                        if i < 2 {
                            clock.advance(k % 3);
                        }
                        hlc.now()
                    })
                    .collect::<Vec<_>>()
            }));
        }
        handles
            .into_iter()
            .map(|h| h.join().unwrap())
            .collect::<Vec<_>>()
    });
    let last = per_thread.iter().flatten().max().copied().unwrap();
    assert_eq!(real.last(), last, "every clock reads the one word");
    check(per_thread);
}
