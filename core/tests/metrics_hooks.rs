//! Each structure's metrics hook sees exactly what the structure did: the temporal
//! queue, the causal queue, the pattern detector and a PTP port, each against a counting
//! hook, with the counts checked against the structure's own results.
#![cfg(not(loom))]

use std::cell::RefCell;
use std::collections::HashMap;
use std::time::Duration;

use tempora_core::causal::{CausalQueue, Receipt};
use tempora_core::hooks::{Metric, MetricsHook};
use tempora_core::pattern::{Contiguity, Detector, Event, Report, Sequence};
use tempora_core::ptp::port::{Action, Port, PortConfig, Timer};
use tempora_core::ptp::wire::ClockIdentity;
use tempora_core::queue::{Priority, TemporalQueue};
use tempora_core::time::{Instant, Tai, Utc};
use tempora_core::timestamp::HlcTime;
use tempora_core::{NodeId, Timestamp};

/// Counts metrics by a label, and keeps them in order.
#[derive(Default)]
struct Counter {
    seen: RefCell<Vec<Metric>>,
}

impl MetricsHook for Counter {
    fn record(&self, metric: Metric) {
        self.seen.borrow_mut().push(metric);
    }
}

impl Counter {
    fn count(&self, pred: impl Fn(&Metric) -> bool) -> usize {
        self.seen.borrow().iter().filter(|m| pred(m)).count()
    }
    fn by_label(&self) -> HashMap<String, usize> {
        let mut out = HashMap::new();
        for m in self.seen.borrow().iter() {
            let label = format!("{m:?}");
            let label = label
                .split([' ', '{', '('])
                .next()
                .unwrap_or("")
                .to_string();
            *out.entry(label).or_default() += 1;
        }
        out
    }
}

#[test]
fn temporal_queue_counts_pushes_refusals_releases_and_depth() {
    let hooks = Counter::default();
    let mut q = TemporalQueue::<u32, Utc, 3, &Counter>::with_hooks(&hooks);
    let ts = |ns| Timestamp::<Utc>::from_raw(ns, NodeId(1));
    for i in 0..5u32 {
        let _ = q.push(Priority(0), ts(u64::from(i) * 1_000), i);
    }
    assert_eq!(q.pop().map(|m| m.message), Some(0));
    // Watermark at 1.5 µs: releases the message at 1 µs only.
    assert!(q
        .pop_ready(Instant::from_nanos(2_500), Duration::from_nanos(1_000))
        .is_some());
    assert!(q
        .pop_ready(Instant::from_nanos(2_500), Duration::from_nanos(1_000))
        .is_none());
    let seen = hooks.seen.borrow().clone();
    assert_eq!(
        seen,
        [
            Metric::QueueEnqueued { depth: 1 },
            Metric::QueueEnqueued { depth: 2 },
            Metric::QueueEnqueued { depth: 3 },
            Metric::QueueRefused,
            Metric::QueueRefused,
            Metric::QueueDelivered { depth: 2 },
            Metric::QueueDelivered { depth: 1 },
        ]
    );
    // The plain constructor still works, and costs no hook.
    let mut plain = TemporalQueue::<u32, Utc, 3>::new();
    plain.push(Priority(0), ts(1), 1).unwrap();
    assert_eq!(plain.len(), 1);
}

#[test]
fn causal_queue_counts_deliveries_holds_and_refusals() {
    let hooks = Counter::default();
    let mut alice = CausalQueue::<&str, 4, 8>::new(NodeId(1));
    let m1 = alice.send("1").unwrap();
    let m2 = alice.send("2").unwrap();
    let m3 = alice.send("3").unwrap();
    let mut bob = CausalQueue::<&str, 4, 1, &Counter>::with_hooks(NodeId(2), &hooks);
    assert_eq!(bob.receive(m3.clone(), |_| {}), Ok(Receipt::Held));
    // Buffer (1) full: m2 must wait and is refused.
    assert!(bob.receive(m2.clone(), |_| {}).is_err());
    // m1 delivers, but m3 still waits for m2.
    assert_eq!(
        bob.receive(m1.clone(), |_| {}),
        Ok(Receipt::Delivered { count: 1 })
    );
    assert_eq!(bob.receive(m2, |_| {}), Ok(Receipt::Delivered { count: 2 }));
    assert!(bob.receive(m1, |_| {}).is_err()); // duplicate
    let seen = hooks.seen.borrow().clone();
    assert_eq!(
        seen,
        [
            Metric::CausalHeld { held: 1 },
            Metric::CausalRefused { reason: "full" },
            Metric::CausalDelivered { held: 1 },
            Metric::CausalDelivered { held: 1 },
            Metric::CausalDelivered { held: 0 },
            Metric::CausalRefused {
                reason: "duplicate"
            },
        ]
    );
    let stats = bob.stats();
    assert_eq!(
        (stats.delivered, stats.refused, stats.duplicates),
        (3, 1, 1)
    );
}

#[test]
fn pattern_detector_counts_events_matches_late_and_refused() {
    let hooks = Counter::default();
    let ev = |ns: u64, kind: char| Event {
        timestamp: Timestamp::<Utc>::from_raw(ns, NodeId(1)),
        kind,
        partition: 7,
    };
    let pattern = Sequence::<char, Utc, 2, 16, 4>::new(
        ['a', 'b'],
        Duration::from_micros(10),
        Contiguity::Relaxed,
    );
    let mut d =
        Detector::<_, _, _, 3, &Counter>::with_hooks(pattern, Duration::from_micros(1), &hooks);
    let mut matches = 0;
    let mut on = |r: Report<Utc>| matches += usize::from(matches!(r, Report::Match(_)));
    d.push(ev(5_000, 'b'), &mut on).unwrap();
    d.push(ev(4_500, 'a'), &mut on).unwrap();
    d.push(ev(4_600, 'x'), &mut on).unwrap();
    assert!(d.push(ev(4_700, 'y'), &mut on).is_err()); // buffer of 3 full
                                                       // Releases a, x, b in time order: one match, a then b.
    d.advance(HlcTime::from_raw(5_000), &mut on);
    assert!(d.push(ev(1_000, 'a'), &mut on).is_err()); // late
    d.flush(&mut on);
    assert_eq!(matches, 1);
    let by = hooks.by_label();
    assert_eq!(by.get("PatternEvent"), Some(&3));
    assert_eq!(by.get("PatternRefused"), Some(&1));
    assert_eq!(by.get("PatternLate"), Some(&1));
    assert_eq!(by.get("PatternMatch"), Some(&1));
    assert_eq!(by.get("PatternOverflow"), None);
    let s = d.stats();
    assert_eq!((s.accepted, s.refused, s.late, s.matches), (3, 1, 1, 1));
}

#[test]
fn ptp_port_counts_sends_state_changes_and_refusals() {
    let hooks = Counter::default();
    let config = PortConfig::ordinary(ClockIdentity([1; 8]), 128, false);
    let mut port = Port::<4, 16, 0, &Counter>::with_hooks(config, &hooks);
    let t0 = Instant::<Tai>::from_secs_nanos(1_700_000_000, 0).unwrap();
    let mut sent = 0;
    let mut count_sends = |actions: &[Action]| {
        sent += actions
            .iter()
            .filter(|a| matches!(a, Action::Send { .. }))
            .count()
    };
    count_sends(&port.start(t0));
    let later = t0.saturating_add(Duration::from_secs(6));
    count_sends(&port.on_timer(Timer::AnnounceReceipt, later));
    count_sends(&port.on_timer(Timer::Announce, later));
    count_sends(&port.on_timer(Timer::Sync, later));
    assert!(port.on_receive(&[0xFF; 3], None, later).is_err());
    assert_eq!(sent, 2);
    assert_eq!(
        hooks.count(|m| matches!(m, Metric::PtpState { .. })),
        2,
        "listening, master"
    );
    assert_eq!(
        hooks.count(|m| *m
            == Metric::PtpSent {
                message: "Announce"
            }),
        1
    );
    assert_eq!(
        hooks.count(|m| *m == Metric::PtpSent { message: "Sync" }),
        1
    );
    assert_eq!(
        hooks.count(|m| *m
            == Metric::PtpIgnored {
                reason: "malformed"
            }),
        1
    );
    assert_eq!(hooks.count(|m| matches!(m, Metric::PtpSent { .. })), sent);
}
