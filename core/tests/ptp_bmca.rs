//! The BMCA: dataset comparison is a strict total order, the standard's precedence holds,
//! the state decision follows §9.3.3, and foreign masters qualify only after two Announces.
#![cfg(not(loom))]

use std::cmp::Ordering;

use proptest::prelude::*;
use std::time::Duration;
use tempora_core::ptp::bmca::*;
use tempora_core::ptp::wire::{ClockIdentity, PortIdentity};
use tempora_core::time::{Instant, Tai};

fn port(n: u8, p: u16) -> PortIdentity {
    PortIdentity {
        clock: ClockIdentity([n; 8]),
        port: p,
    }
}

fn dataset() -> impl Strategy<Value = Dataset> {
    (
        any::<u8>(),
        0u8..4,
        any::<u8>(),
        any::<u8>(),
        any::<u16>(),
        any::<u8>(),
        0u16..4,
        0u8..4,
        1u16..3,
    )
        .prop_map(|(p1, gm, class, acc, var, p2, steps, sender, sp)| Dataset {
            priority1: p1,
            grandmaster: ClockIdentity([gm; 8]),
            quality: ClockQuality {
                class,
                accuracy: acc,
                variance: var,
            },
            priority2: p2,
            steps_removed: steps,
            sender: port(sender + 10, sp),
            receiver: port(99, 1),
        })
}

proptest! {
    #[test]
    fn compare_is_antisymmetric(a in dataset(), b in dataset()) {
        prop_assert_eq!(compare(&a, &b), compare(&b, &a).reverse());
    }

    #[test]
    fn compare_is_transitive_across_grandmasters(a in dataset(), b in dataset(), c in dataset()) {
        let distinct = a.grandmaster != b.grandmaster && b.grandmaster != c.grandmaster && a.grandmaster != c.grandmaster;
        if distinct && compare(&a, &b) == Ordering::Less && compare(&b, &c) == Ordering::Less {
            prop_assert_eq!(compare(&a, &c), Ordering::Less);
        }
    }
}

fn gm(p1: u8, class: u8, acc: u8, var: u16, p2: u8, id: u8) -> Dataset {
    Dataset {
        priority1: p1,
        grandmaster: ClockIdentity([id; 8]),
        quality: ClockQuality {
            class,
            accuracy: acc,
            variance: var,
        },
        priority2: p2,
        steps_removed: 0,
        sender: port(id, 1),
        receiver: port(99, 1),
    }
}

#[test]
fn precedence_follows_the_standard() {
    let base = gm(128, 248, 0xfe, 0xffff, 128, 5);
    // Each field, in order, decides when the earlier ones tie; later fields cannot win back.
    for better in [
        gm(127, 255, 0xff, 0xffff, 255, 9), // priority1
        gm(128, 6, 0xff, 0xffff, 255, 9),   // class
        gm(128, 248, 0x20, 0xffff, 255, 9), // accuracy
        gm(128, 248, 0xfe, 0x4e5d, 255, 9), // variance
        gm(128, 248, 0xfe, 0xffff, 127, 9), // priority2
        gm(128, 248, 0xfe, 0xffff, 128, 4), // identity
    ] {
        assert_eq!(compare(&better, &base), Ordering::Less, "{better:?}");
    }
    // The same grandmaster: fewer steps wins; equal steps: the lower sender port wins.
    let mut near = base;
    let mut far = base;
    far.steps_removed = 2;
    far.sender = port(1, 1);
    assert_eq!(compare(&near, &far), Ordering::Less);
    near.steps_removed = 2;
    near.sender = port(2, 1);
    assert_eq!(compare(&far, &near), Ordering::Less);
}

#[test]
fn state_decision() {
    let me = port(50, 1);
    let local = |class, slave_only| DefaultDataset {
        identity: ClockIdentity([50; 8]),
        priority1: 128,
        quality: ClockQuality {
            class,
            accuracy: 0xfe,
            variance: 0xffff,
        },
        priority2: 128,
        slave_only,
    };
    let better = gm(10, 248, 0xfe, 0xffff, 128, 7);
    let worse = gm(200, 248, 0xfe, 0xffff, 128, 7);
    assert_eq!(decide(&local(248, false), me, None), Recommendation::Master);
    assert_eq!(
        decide(&local(248, true), me, None),
        Recommendation::Listening
    );
    assert_eq!(
        decide(&local(248, false), me, Some(&better)),
        Recommendation::Slave(better.sender)
    );
    assert_eq!(
        decide(&local(248, false), me, Some(&worse)),
        Recommendation::Master
    );
    assert_eq!(
        decide(&local(248, true), me, Some(&worse)),
        Recommendation::Slave(worse.sender)
    );
    // A primary-class clock never follows: passive instead.
    assert_eq!(
        decide(&local(6, false), me, Some(&better)),
        Recommendation::Passive
    );
}

#[test]
fn foreign_masters_qualify_after_two_announces_in_the_window() {
    let s = |n: u64| Instant::<Tai>::from_secs_nanos(n, 0).unwrap();
    let window = Duration::from_secs(4); // four announce intervals of 1 s
    let mut t = ForeignMasters::<2>::new();
    let a = gm(128, 248, 0xfe, 0xffff, 128, 7);
    t.record(a, s(10)).unwrap();
    assert!(
        t.best(s(10), window).is_none(),
        "one Announce is not enough"
    );
    t.record(a, s(11)).unwrap();
    assert_eq!(t.best(s(11), window), Some(&a));
    // Both announces must be recent.
    assert!(t.best(s(15), window).is_none());
    t.expire(s(16), window);
    assert!(t.is_empty());
    // A full table makes room for a better master, and refuses a worse one.
    let (b, c, worst, best) = (
        gm(100, 248, 0xfe, 0xffff, 128, 2),
        gm(120, 248, 0xfe, 0xffff, 128, 3),
        gm(250, 248, 0xfe, 0xffff, 128, 4),
        gm(1, 248, 0xfe, 0xffff, 128, 5),
    );
    t.record(b, s(0)).unwrap();
    t.record(c, s(0)).unwrap();
    assert_eq!(t.record(worst, s(0)), Err(TableFull(worst)));
    t.record(best, s(0)).unwrap();
    t.record(best, s(1)).unwrap();
    assert_eq!(t.best(s(1), window), Some(&best));
    assert_eq!(t.len(), 2);
}
