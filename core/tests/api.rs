//! The conventions every container and clock follows: `Full` hands the item back, sends
//! are one call, the HLC is configured from defaults, HLC time is its own type, and the
//! types a user prints print one way.
#![cfg(not(loom))]

use std::time::Duration;

use proptest::prelude::*;
use tempora_core::causal::{CausalQueue, RefusalReason, Refused, VectorClock};
use tempora_core::clock::{ClockReading, ClockStatus, ManualClock};
use tempora_core::error::Full;
use tempora_core::hlc::{Hlc, HlcConfig, UpdateError};
use tempora_core::hooks::NoHooks;
use tempora_core::interval::{Interval, IntervalTree};
use tempora_core::pattern::{Absence, Detector, Event, PushError, Report};
use tempora_core::queue::Priority;
use tempora_core::shared::CachePadded;
use tempora_core::time::{Instant, TimeInterval, Utc};
use tempora_core::timestamp::{HlcTime, NodeId, Timestamp};

fn ts(raw: u64, node: u32) -> Timestamp<Utc> {
    Timestamp::from_raw(raw, NodeId(node))
}

#[test]
fn every_full_structure_hands_the_item_back_in_a_full() {
    let mut tree = IntervalTree::<&str, 1>::new();
    let a = Interval::new(0, 10).unwrap();
    let b = Interval::new(5, 15).unwrap();
    tree.insert(a, "a").unwrap();
    let err = tree.insert(b, "b").unwrap_err();
    assert_eq!(err, Full((b, "b")));
    assert_eq!(err.get(), &(b, "b"));
    assert_eq!(tree.extend([(b, "c")]).unwrap_err().into_inner(), (b, "c"));

    let mut d = Detector::<u8, Utc, _, 1>::new(
        Absence::<u8, Utc, 4>::new(0, 1, Duration::from_secs(1)),
        Duration::from_secs(10),
    );
    let ev = |t| Event {
        timestamp: ts(t, 1),
        kind: 0u8,
        partition: 0,
    };
    d.push(ev(1), |_| {}).unwrap();
    let err = d.push(ev(2), |_| {}).unwrap_err();
    assert_eq!(err, PushError::Full(Full(ev(2))));
    assert_eq!(err.to_string(), "reorder buffer full");
    assert_eq!(err.into_inner(), ev(2));

    let mut alice = CausalQueue::<u8, 4, 1>::new(NodeId(1));
    let msgs: Vec<_> = (0..3).map(|k| alice.send(k).unwrap()).collect();
    let mut bob = CausalQueue::<u8, 4, 1>::new(NodeId(2));
    bob.receive(msgs[2].clone(), |_| {}).unwrap();
    let err = bob.receive(msgs[1].clone(), |_| {}).unwrap_err();
    assert_eq!(err, Refused::Full(Full(msgs[1].clone())));
    assert_eq!(err.reason(), RefusalReason::Full);
    assert_eq!(
        err.to_string(),
        "message 2 from node 1 refused: hold-back buffer full"
    );
    assert_eq!(err.into_inner(), msgs[1]);

    // One Display and one Error for all of them, whatever the item.
    let e: &dyn std::error::Error = &Full(());
    assert_eq!(e.to_string(), "full: capacity reached, item handed back");
    assert_eq!(format!("{:?}", Full(NotDebug)), "Full(..)");
}

struct NotDebug;

#[test]
fn a_send_without_room_for_the_sender_hands_the_payload_back() {
    let mut q = CausalQueue::<&str, 1, 4>::new(NodeId(1));
    // Node 2's message fills the only slot of the local clock.
    let mut theirs = VectorClock::<1>::new();
    let m = theirs.stamp(NodeId(2), "theirs").unwrap();
    q.receive(m, |_| {}).unwrap();
    let before = q.clock().clone();
    let err = q.send("mine").unwrap_err();
    assert_eq!(err.payload, "mine");
    assert!(err
        .to_string()
        .starts_with("send not counted: no slot for node 1"));
    assert_eq!(q.clock(), &before, "nothing counted");
    assert_eq!(err.into_inner(), "mine");
}

#[test]
fn hlc_builder_and_config_start_from_the_defaults() {
    let clock = ManualClock::<Utc>::new(1_000_000_000_000);
    let d = Duration::from_millis(3);
    let built = Hlc::builder(&clock, NodeId(1))
        .max_offset(d)
        .hooks(NoHooks)
        .build();
    let configured = Hlc::with_config(
        &clock,
        NodeId(1),
        HlcConfig {
            max_offset: d,
            ..Default::default()
        },
    );
    let expected = HlcConfig {
        max_offset: d,
        ..HlcConfig::DEFAULT
    };
    assert_eq!(built.config(), expected);
    assert_eq!(configured.config(), expected);
    let all = Hlc::builder(&clock, NodeId(1))
        .step_back(Duration::from_millis(1))
        .forward_jump(Duration::from_secs(2))
        .build();
    assert_eq!(all.config().step_back, Duration::from_millis(1));
    assert_eq!(all.config().forward_jump, Duration::from_secs(2));
    assert_eq!(all.config().max_offset, HlcConfig::DEFAULT.max_offset);
    assert_eq!(
        Hlc::builder(&clock, NodeId(1))
            .config(expected)
            .build()
            .config(),
        expected
    );
    assert_eq!(Hlc::new(&clock, NodeId(1)).config(), HlcConfig::default());
}

proptest! {
    /// The builder's max offset is the one `update` enforces.
    #[test]
    fn built_max_offset_is_enforced(max_ms in 0u64..1_000, ahead_us in 0u64..2_000_000) {
        let clock = ManualClock::<Utc>::new(1_000_000_000_000);
        let hlc = Hlc::builder(&clock, NodeId(1)).max_offset(Duration::from_millis(max_ms)).build();
        let remote = Timestamp::new(Instant::from_nanos(1_000_000_000_000 + ahead_us * 1_000), 0, NodeId(2));
        let r = hlc.update(remote);
        if ahead_us * 1_000 > max_ms * 1_000_000 {
            let refused = matches!(r, Err(UpdateError::TooFarAhead { .. }));
            prop_assert!(refused);
        } else {
            prop_assert!(r.unwrap() > remote);
        }
    }

    /// HLC time orders as the timestamps it comes from (the node only breaks ties), and
    /// a timestamp is its time on its node.
    #[test]
    fn hlc_time_orders_like_timestamps(a in any::<u64>(), b in any::<u64>(), na in 0u32..4, nb in 0u32..4) {
        let (ta, tb) = (ts(a, na), ts(b, nb));
        prop_assert_eq!(ta.time().cmp(&tb.time()), a.cmp(&b));
        if ta.time() != tb.time() {
            prop_assert_eq!(ta.cmp(&tb), ta.time().cmp(&tb.time()));
        }
        prop_assert_eq!(ta.time().on(ta.node()), ta);
        prop_assert_eq!(HlcTime::from(ta), ta.time());
        prop_assert_eq!(ta.time().physical(), ta.physical());
        prop_assert_eq!(ta.time().logical(), ta.logical());
        prop_assert_eq!(ta.to_string(), format!("{}@{}", ta.time(), ta.node()));
        prop_assert_eq!(HlcTime::<Utc>::new(ta.physical(), ta.logical()), ta.time());
    }

    /// Sending is counting: the n-th send of a node carries sequence number n and the
    /// sender's clock, and another node delivers a node's sends in order however they
    /// arrive.
    #[test]
    fn sends_are_numbered_and_delivered_in_order(n in 1usize..20, seed in any::<u64>()) {
        let mut alice = CausalQueue::<usize, 4, 32>::new(NodeId(1));
        let mut mirror = VectorClock::<4>::new();
        let mut msgs = Vec::new();
        for k in 0..n {
            let m = alice.send(k).unwrap();
            prop_assert_eq!(m.seq(), k as u64 + 1);
            prop_assert_eq!(&m.clock, alice.clock());
            prop_assert_eq!(&mirror.stamp(NodeId(1), k).unwrap(), &m);
            msgs.push(m);
        }
        let mut rng = tempora_core::rng::SplitMix64::new(seed);
        for i in (1..msgs.len()).rev() {
            msgs.swap(i, (rng.next_u64() % (i as u64 + 1)) as usize);
        }
        let mut bob = CausalQueue::<usize, 4, 32>::new(NodeId(2));
        let mut got = Vec::new();
        for m in msgs {
            bob.receive(m, |d| got.push(d.payload)).unwrap();
        }
        prop_assert_eq!(got, (0..n).collect::<Vec<_>>());
    }
}

#[test]
fn printed_forms() {
    let t = Instant::<Utc>::from_secs_nanos(86_400, 5).unwrap();
    assert_eq!(
        TimeInterval::around(t, Duration::from_nanos(10)).to_string(),
        "[1970-01-01T23:59:59.999999995, 1970-01-02T00:00:00.000000015] UTC"
    );
    // Clamped at the epoch.
    assert_eq!(
        TimeInterval::around(Instant::<Utc>::EPOCH, Duration::from_secs(1)).to_string(),
        "[1970-01-01T00:00:00.000000000, 1970-01-01T00:00:01.000000000] UTC"
    );
    let r = ClockReading {
        time: Instant::<tempora_core::Tai>::from_nanos(0),
        bound: Duration::ZERO,
        status: ClockStatus::Synchronized,
    };
    assert_eq!(
        r.to_string(),
        "1970-01-01T00:00:00.000000000 TAI ± 0ns (synchronized)"
    );
    assert_eq!(Priority(255).to_string(), "255");
    assert_eq!(HlcTime::<Utc>::MAX.to_string(), "18446744073.709551360+255");
    assert_eq!(
        format!("{:?}", HlcTime::<Utc>::from_raw(259)),
        "HlcTime(0.000000256+3 UTC)"
    );
}

#[test]
fn cache_padded_is_one_type_for_every_hot_value() {
    let mut p = CachePadded::new(5u8);
    *p += 1;
    assert_eq!(*p, 6);
    assert_eq!(p.into_inner(), 6);
    assert_eq!(CachePadded::from(1u64), CachePadded::new(1u64));
    assert_eq!(format!("{:?}", CachePadded::new(1)), "CachePadded(1)");
    #[cfg(target_has_atomic = "64")]
    {
        assert_eq!(std::mem::align_of::<CachePadded<u8>>(), 128);
        assert_eq!(std::mem::size_of::<[CachePadded<u8>; 2]>(), 256);
    }
}

#[test]
fn callbacks_take_closures_by_value_or_by_mut_reference() {
    // Pattern reports, like every callback in the crate, are `impl FnMut`: a closure
    // directly, or `&mut` one to keep it.
    let mut d = Detector::<u8, Utc, _, 8>::new(
        Absence::<u8, Utc, 4>::new(0, 1, Duration::from_nanos(10)),
        Duration::ZERO,
    );
    let ev = |t| Event {
        timestamp: ts(t, 1),
        kind: 0u8,
        partition: 0,
    };
    let mut fired = 0;
    let mut on = |r: Report<'_>| {
        if let Report::Match(_) = r {
            fired += 1
        }
    };
    d.push(ev(1), &mut on).unwrap();
    d.push(ev(100), &mut on).unwrap();
    d.flush(on);
    assert_eq!(fired, 2);
    assert_eq!(d.watermark(), Some(HlcTime::MAX));
}
