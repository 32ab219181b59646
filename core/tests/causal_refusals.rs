//! The causal queue's refusals and its behaviour at the edge of its clock's capacity:
//! every refusal hands the message back with a typed reason that names itself, and a
//! group larger than the clock holds messages rather than losing or misordering them.
#![cfg(not(loom))]

use tempora_core::causal::{
    CausalMessage, CausalQueue, CausalStats, Receipt, RefusalReason, Refused, VClockError,
    VectorClock,
};
use tempora_core::NodeId;

fn clock<const N: usize>(entries: &[(u32, u64)]) -> VectorClock<N> {
    let mut v = VectorClock::new();
    for &(n, c) in entries {
        v.set(NodeId(n), c).unwrap();
    }
    v
}

#[test]
fn a_message_its_clock_does_not_count_is_malformed() {
    let mut q = CausalQueue::<&str, 4, 4>::new(NodeId(1));
    // Node 3's message whose clock has no entry for node 3: sequence 0.
    let m = CausalMessage::new(NodeId(3), clock(&[(2, 1)]), "x");
    let refused = q.receive(m.clone(), |_| panic!("delivered")).unwrap_err();
    assert_eq!(refused.reason(), RefusalReason::Malformed);
    assert_eq!(refused.reason().as_str(), "malformed");
    assert_eq!(
        refused.to_string(),
        "message 0 from node 3 refused: clock does not count the message"
    );
    assert!(matches!(&refused, Refused::Malformed(back) if *back == m));
    assert_eq!(refused.message(), &m);
    assert_eq!(refused.into_inner(), m);
    let s = q.stats();
    assert_eq!((s.refused, s.duplicates, s.delivered, s.held), (1, 0, 0, 0));
}

#[test]
fn a_sender_the_clock_has_no_slot_for_is_refused_not_lost() {
    // Room for one node, taken by the local node's own send.
    let mut q = CausalQueue::<&str, 1, 4>::new(NodeId(1));
    let stamped = q.stamp_send().unwrap();
    assert_eq!(stamped.get(NodeId(1)), 1);
    assert_eq!(q.clock(), &stamped);
    let m = CausalMessage::new(NodeId(2), clock(&[(2, 1)]), "from 2");
    let refused = q.receive(m.clone(), |_| panic!("delivered")).unwrap_err();
    let e = VClockError::CapacityExceeded {
        node: NodeId(2),
        capacity: 1,
    };
    assert_eq!(refused.reason(), RefusalReason::Clock(e));
    assert_eq!(refused.reason().as_str(), "clock");
    assert_eq!(
        refused.to_string(),
        "message 1 from node 2 refused: no slot for node 2: all 1 are taken"
    );
    assert!(matches!(&refused, Refused::Clock(err, back) if *err == e && *back == m));
    // The local node's own sends fail the same way once a peer has the slot.
    let mut full = CausalQueue::<u8, 1, 4>::new(NodeId(1));
    full.receive(CausalMessage::new(NodeId(2), clock(&[(2, 1)]), 0), |_| {})
        .unwrap();
    let e = full.send(7).unwrap_err();
    assert_eq!(
        e.error,
        VClockError::CapacityExceeded {
            node: NodeId(1),
            capacity: 1
        }
    );
    assert_eq!(
        e.to_string(),
        "send not counted: no slot for node 1: all 1 are taken"
    );
    assert_eq!(e.into_inner(), 7);
    assert!(full.stamp_send().is_err());
}

#[test]
fn an_unblocked_message_that_does_not_fit_the_clock_stays_held() {
    // Two slots: node 1 (local) and, once delivered, node 2. Node 3's message, which
    // waits for node 2's, then has no slot: it stays held, reported as such.
    let mut q = CausalQueue::<&str, 2, 4>::new(NodeId(1));
    q.stamp_send().unwrap();
    let waiting = CausalMessage::new(NodeId(3), clock(&[(2, 1), (3, 1)]), "from 3");
    assert_eq!(q.receive(waiting.clone(), |_| {}), Ok(Receipt::Held));
    let mut seen = Vec::new();
    let first = CausalMessage::new(NodeId(2), clock(&[(2, 1)]), "from 2");
    assert_eq!(
        q.receive(first, |m| seen.push(m.payload)),
        Ok(Receipt::Delivered { count: 1 })
    );
    assert_eq!(seen, ["from 2"]);
    let held: Vec<_> = q.held().cloned().collect();
    assert_eq!(held, [waiting]);
    assert_eq!(
        q.stats(),
        CausalStats {
            held: 1,
            delivered: 1,
            duplicates: 0,
            refused: 0
        }
    );
    let debug = format!("{q:?}");
    assert!(
        debug.starts_with("CausalQueue { local: NodeId(1)"),
        "{debug}"
    );
    assert!(debug.contains("held: 1, delivered: 1"), "{debug}");
    let _: &tempora_core::hooks::NoHooks = q.hooks();
}

#[test]
fn reasons_print_as_documented() {
    let texts = [
        (RefusalReason::Duplicate, "duplicate", "duplicate"),
        (RefusalReason::Full, "full", "hold-back buffer full"),
        (
            RefusalReason::Malformed,
            "malformed",
            "clock does not count the message",
        ),
        (
            RefusalReason::Clock(VClockError::CounterOverflow { node: NodeId(9) }),
            "clock",
            "counter of node 9 overflows",
        ),
    ];
    for (r, name, text) in texts {
        assert_eq!((r.as_str(), r.to_string().as_str()), (name, text));
    }
}
