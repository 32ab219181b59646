//! Vector clock laws, against a naive map model.
#![cfg(not(loom))]

use std::collections::BTreeMap;

use proptest::prelude::*;
use tempora_core::causal::{CausalOrder, VectorClock};
use tempora_core::NodeId;

const N: usize = 8;
type V = VectorClock<N>;

/// Clocks over at most 4 of 6 node ids, so unions of two or three always fit in 8 slots
/// and also sometimes collide.
fn clock() -> impl Strategy<Value = V> {
    proptest::collection::btree_map(0u32..6, 1u64..5, 0..4).prop_map(|m| {
        let mut v = V::new();
        for (n, c) in m {
            v.set(NodeId(n), c).unwrap();
        }
        v
    })
}

fn model(v: &V) -> BTreeMap<u32, u64> {
    v.iter().map(|(n, c)| (n.0, c)).collect()
}

fn merged(a: &V, b: &V) -> V {
    let mut m = a.clone();
    m.merge(b).unwrap();
    m
}

proptest! {
    #[test]
    fn merge_is_commutative_associative_idempotent(a in clock(), b in clock(), c in clock()) {
        prop_assert_eq!(merged(&a, &b), merged(&b, &a));
        prop_assert_eq!(merged(&merged(&a, &b), &c), merged(&a, &merged(&b, &c)));
        prop_assert_eq!(merged(&a, &a), a.clone());
    }

    #[test]
    fn merge_is_the_elementwise_max(a in clock(), b in clock()) {
        let mut want = model(&a);
        for (n, c) in model(&b) {
            let e = want.entry(n).or_insert(0);
            *e = (*e).max(c);
        }
        prop_assert_eq!(model(&merged(&a, &b)), want);
    }

    #[test]
    fn compare_is_consistent_with_merge(a in clock(), b in clock()) {
        let m = merged(&a, &b);
        let expected = match (m == b, m == a) {
            (true, true) => CausalOrder::Equal,
            (true, false) => CausalOrder::Before,   // a ≤ b
            (false, true) => CausalOrder::After,    // b ≤ a
            (false, false) => CausalOrder::Concurrent,
        };
        prop_assert_eq!(a.compare(&b), expected);
        let mirrored = match expected {
            CausalOrder::Before => CausalOrder::After,
            CausalOrder::After => CausalOrder::Before,
            o => o,
        };
        prop_assert_eq!(b.compare(&a), mirrored);
    }

    #[test]
    fn increment_moves_strictly_after(a in clock(), n in 0u32..6) {
        let mut b = a.clone();
        b.increment(NodeId(n)).unwrap();
        prop_assert_eq!(b.get(NodeId(n)), a.get(NodeId(n)) + 1);
        prop_assert_eq!(a.compare(&b), CausalOrder::Before);
    }

    #[test]
    fn wire_form_round_trips(a in clock()) {
        let mut buf = [0u8; V::wire_len(N)];
        let len = a.encode(&mut buf).unwrap();
        prop_assert_eq!(len, V::wire_len(a.len()));
        prop_assert_eq!(V::decode(&buf[..len]), Ok(a));
    }

    #[test]
    fn arbitrary_bytes_never_panic_decode(bytes in proptest::collection::vec(any::<u8>(), 0..120)) {
        if let Ok(v) = V::decode(&bytes) {
            let mut buf = [0u8; V::wire_len(N)];
            let len = v.encode(&mut buf).unwrap();
            prop_assert_eq!(&buf[..len], &bytes[..]);
        }
    }
}
