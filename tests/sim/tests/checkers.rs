//! Every checker must be seen to fail: each test takes a good trace, breaks it the way
//! the invariant forbids, and expects exactly that checker to complain.

use tempora_sim::check::{BoundChecker, DeliveryChecker};
use tempora_sim::system::{self, SystemConfig};
use tempora_sim::trace::{self, Fact, Invariants, Trace};

const NODES: usize = 4;

fn good() -> Trace {
    let (report, trace) = system::run(SystemConfig {
        nodes: NODES,
        duration_ns: 6_000_000_000,
        ..SystemConfig::new(42)
    });
    assert_eq!(report.invariants.violations(), 0, "{:?}", report.invariants);
    trace
}

/// The names of the invariants with violations.
fn broken(inv: &Invariants) -> Vec<&'static str> {
    inv.each()
        .into_iter()
        .filter(|(_, t)| t.violations > 0)
        .map(|(n, _)| n)
        .collect()
}

fn position(trace: &Trace, what: impl Fn(&Fact) -> bool) -> usize {
    trace.iter().position(what).expect("the trace has one")
}

#[test]
fn a_delivery_moved_before_its_causal_predecessor_breaks_causal_order() {
    let mut trace = good();
    // Find a node's delivery of message 2 from some sender and move it before that
    // node's delivery of message 1 from the same sender.
    let second = position(&trace, |f| matches!(f, Fact::Deliver { seq: 2, .. }));
    let Fact::Deliver { node, from, .. } = trace[second] else {
        unreachable!()
    };
    let first = position(
        &trace,
        |f| matches!(f, &Fact::Deliver { seq: 1, node: n, from: s, .. } if n == node && s == from),
    );
    let moved = trace.remove(second);
    trace.insert(first, moved);
    let inv = trace::check(&trace, NODES);
    assert!(broken(&inv).contains(&"causal-order"), "{inv:?}");
}

#[test]
fn a_dropped_delivery_is_a_lost_message() {
    let mut trace = good();
    let last = trace
        .iter()
        .rposition(|f| matches!(f, Fact::Deliver { .. }))
        .expect("deliveries");
    trace.remove(last);
    let inv = trace::check(&trace, NODES);
    assert_eq!(broken(&inv), ["nothing-lost"], "{inv:?}");
    assert_eq!(inv.nothing_lost.violations, 1);
}

#[test]
fn a_delivery_repeated_or_altered_is_caught() {
    let mut trace = good();
    let i = position(&trace, |f| matches!(f, Fact::Deliver { .. }));
    let mut again = trace[i].clone();
    if let Fact::Deliver { hlc, .. } = &mut again {
        *hlc += 1 << 20; // a fresh, later receive stamp: only the repetition is wrong
    }
    trace.push(again);
    let inv = trace::check(&trace, NODES);
    assert!(broken(&inv).contains(&"delivered-once"), "{inv:?}");

    let mut trace = good();
    let i = position(&trace, |f| matches!(f, Fact::Deliver { .. }));
    if let Fact::Deliver { content, .. } = &mut trace[i] {
        *content ^= 1;
    }
    let inv = trace::check(&trace, NODES);
    assert_eq!(broken(&inv), ["delivered-once"], "{inv:?}");
}

#[test]
fn an_hlc_going_back_or_a_receive_before_its_send_is_caught() {
    let mut trace = good();
    let i = position(&trace, |f| matches!(f, Fact::Deliver { .. }));
    let Fact::Deliver { from, seq, .. } = trace[i] else {
        unreachable!()
    };
    let sent = trace
        .iter()
        .find_map(|f| match *f {
            Fact::Send {
                node, seq: s, hlc, ..
            } if node == from && s == seq => Some(hlc),
            _ => None,
        })
        .expect("its send");
    if let Fact::Deliver { hlc, .. } = &mut trace[i] {
        *hlc = sent; // not after the send, and behind what the node issued before
    }
    let inv = trace::check(&trace, NODES);
    assert!(broken(&inv).contains(&"hlc-causality"), "{inv:?}");

    let mut trace = good();
    let i = trace
        .iter()
        .rposition(|f| matches!(f, Fact::Send { .. }))
        .expect("sends");
    if let Fact::Send { hlc, .. } = &mut trace[i] {
        *hlc = 1;
    }
    let inv = trace::check(&trace, NODES);
    assert!(broken(&inv).contains(&"hlc-monotone"), "{inv:?}");
}

#[test]
fn a_reading_whose_bound_excludes_the_truth_is_caught_unless_excused() {
    let mut trace = good();
    // A reading with a finite bound (an `Unknown` one spans all of time).
    let i = position(
        &trace,
        |f| matches!(f, Fact::Reading { excused: false, latest, .. } if *latest < u64::MAX),
    );
    if let Fact::Reading { truth, latest, .. } = &mut trace[i] {
        *truth = *latest + 1;
    }
    let inv = trace::check(&trace, NODES);
    assert_eq!(broken(&inv), ["bounds-honest"], "{inv:?}");
    if let Fact::Reading { excused, .. } = &mut trace[i] {
        *excused = true;
    }
    assert_eq!(trace::check(&trace, NODES).violations(), 0);

    let mut bounds = BoundChecker::default();
    bounds.reading(0, 99, 100, 200);
    bounds.reading(0, 201, 100, 200);
    bounds.reading(0, 100, 100, 200);
    assert_eq!((bounds.honest.checked, bounds.honest.violations), (1, 2));
}

#[test]
fn a_detector_match_the_reference_does_not_find_or_a_missed_one_is_caught() {
    let mut trace = good();
    let i = position(&trace, |f| matches!(f, Fact::Match { .. }));
    trace.remove(i);
    let inv = trace::check(&trace, NODES);
    assert_eq!(broken(&inv), ["patterns-agree"], "{inv:?}");

    let mut trace = good();
    let i = position(&trace, |f| matches!(f, Fact::Match { .. }));
    if let Fact::Match { key, .. } = &mut trace[i] {
        key.0 += 1; // the right events, the wrong partition
    }
    let inv = trace::check(&trace, NODES);
    assert_eq!(broken(&inv), ["patterns-agree"], "{inv:?}");
}

#[test]
fn the_delivery_checker_alone_sees_gaps_duplicates_and_losses() {
    // Node 0 sends 1 and 2; node 1 depends on 1 and sends; node 2 gets node 1's
    // message before node 0's first.
    let mut c = DeliveryChecker::new(3);
    c.send(0, 1, 10);
    c.deliver(1, 0, 1, 10);
    c.send(1, 1, 20);
    c.deliver(2, 1, 1, 20); // before 0's message 1, on which it depends
    assert_eq!(c.causal.violations, 1, "{:?}", c.causal);
    c.deliver(2, 0, 1, 10);
    c.deliver(2, 0, 1, 10); // twice
    assert_eq!(c.once.violations, 1);
    c.send(0, 2, 30);
    c.deliver(1, 0, 2, 30);
    c.finish(); // 0's message 2 never reached node 2, 1's message 1 never node 0
    assert_eq!(c.complete.violations, 2, "{:?}", c.complete);
}
