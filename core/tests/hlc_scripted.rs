//! A scripted clock source that jumps backwards and forwards: the HLC stays strictly
//! increasing, follows physical time again once it catches up, and reports each jump
//! exactly once through the fault hook, telling a jump from a pause by the reference.
#![cfg(not(loom))]

use std::cell::RefCell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tempora_core::clock::{ClockReading, ClockSource, ClockStatus};
use tempora_core::hlc::{Hlc, HlcConfig};
use tempora_core::hooks::{Fault, FaultHook, MetricsHook};
use tempora_core::time::{Instant, Utc};
use tempora_core::timestamp::NodeId;

/// Plays back (physical, elapsed reference) pairs, one per `time()` call; the reference
/// is read right after the physical time of the same step.
struct Script {
    steps: Vec<(u64, u64)>,
    next: AtomicUsize,
}

impl Script {
    fn current(&self) -> (u64, u64) {
        let i = self.next.load(Ordering::Relaxed).min(self.steps.len()) - 1;
        self.steps[i]
    }
}

impl ClockSource for Script {
    type Scale = Utc;
    fn read(&self) -> ClockReading<Utc> {
        ClockReading {
            time: self.time(),
            bound: Duration::ZERO,
            status: ClockStatus::Synchronized,
        }
    }
    fn time(&self) -> Instant<Utc> {
        let i = self
            .next
            .fetch_add(1, Ordering::Relaxed)
            .min(self.steps.len() - 1);
        Instant::from_nanos(self.steps[i].0)
    }
    fn elapsed_reference(&self) -> Option<u64> {
        Some(self.current().1)
    }
}

#[derive(Default)]
struct Faults(RefCell<Vec<Fault>>);
impl FaultHook for Faults {
    fn fault(&self, f: Fault) {
        self.0.borrow_mut().push(f);
    }
}
impl MetricsHook for Faults {}

const S: u64 = 1_000_000_000;
const MS: u64 = 1_000_000;

#[test]
fn backward_and_forward_steps_keep_order_and_are_reported() {
    let base = 1_700_000_000 * S;
    // (physical, reference) per HLC call.
    let steps = vec![
        (base, 10 * S),
        (base + MS, 10 * S + MS),             // normal progress
        (base + 2 * MS, 10 * S + 2 * MS),     //
        (base - 3 * S, 10 * S + 3 * MS),      // steps back 3 s
        (base - 3 * S + MS, 10 * S + 4 * MS), // still behind the HLC
        (base + 10 * MS, 13 * S + 13 * MS),   // 3 s later, caught up again
        (base + 60 * S, 13 * S + 14 * MS),    // jumps forward ~60 s in 1 ms
        (base + 70 * S, 23 * S + 14 * MS),    // a 10 s pause, not a jump
    ];
    let script = Script {
        steps,
        next: AtomicUsize::new(0),
    };
    let hlc = Hlc::with_hooks(&script, NodeId(9), HlcConfig::DEFAULT, Faults::default());
    let ts: Vec<_> = (0..8).map(|_| hlc.now()).collect();
    assert!(ts.windows(2).all(|w| w[0] < w[1]));

    // During the backward step the HLC holds its physical part and counts.
    assert_eq!(ts[3].physical(), ts[2].physical());
    assert_eq!(ts[3].logical(), 1);
    assert_eq!(ts[4].logical(), 2);
    // Once physical time leads again, the HLC is physical time.
    assert_eq!(ts[5].physical().as_nanos(), (base + 10 * MS) & !0xff);
    assert_eq!(ts[5].logical(), 0);

    let faults = hlc.hooks().0.borrow();
    assert_eq!(faults.len(), 2, "{faults:?}");
    assert_eq!(
        faults[0],
        Fault::ClockSteppedBack {
            by: Duration::from_nanos(3 * S + 2 * MS)
        }
    );
    // From the last sample (base + 10 ms) physical time advanced 60 s - 10 ms while the
    // reference advanced 1 ms.
    assert_eq!(
        faults[1],
        Fault::ClockJumpedForward {
            by: Duration::from_nanos(60 * S - 10 * MS - MS)
        }
    );
}

#[test]
fn refusal_is_reported_and_leaves_the_clock_unchanged() {
    let base = 1_700_000_000 * S;
    let script = Script {
        steps: vec![(base, 0)],
        next: AtomicUsize::new(0),
    };
    let hlc = Hlc::with_hooks(&script, NodeId(1), HlcConfig::DEFAULT, Faults::default());
    let before = hlc.now();
    let remote = tempora_core::Timestamp::<Utc>::from_raw(base + 600 * MS, NodeId(2));
    let err = hlc.update(remote).unwrap_err();
    assert_eq!(
        err,
        tempora_core::UpdateError::TooFarAhead {
            ahead: Duration::from_millis(600),
            max_offset: Duration::from_millis(500)
        }
    );
    assert_eq!(hlc.last(), before);
    assert_eq!(hlc.hooks().0.borrow().len(), 1);
    // Within the limit it is merged: the receipt follows the remote.
    let near = tempora_core::Timestamp::<Utc>::from_raw(base + 400 * MS, NodeId(2));
    let t = hlc.update(near).unwrap();
    assert_eq!(t.raw(), near.raw() + 1);
}
