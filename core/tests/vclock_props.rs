//! Vector clock laws, against a naive map model.
#![cfg(not(loom))]

use std::collections::BTreeMap;

use proptest::prelude::*;
use tempora_core::causal::{CausalOrder, VClockDecodeError, VClockError, VectorClock};
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

proptest! {
    /// `set` against the map model: 0 removes, any other count inserts or replaces,
    /// and the entries stay sorted by node.
    #[test]
    fn set_matches_the_map_model(a in clock(), n in 0u32..6, c in 0u64..4) {
        let mut want = model(&a);
        if c == 0 { want.remove(&n); } else { want.insert(n, c); }
        let mut v = a.clone();
        v.set(NodeId(n), c).unwrap();
        prop_assert_eq!(model(&v), want.clone());
        prop_assert_eq!(v.len(), want.len());
        prop_assert_eq!(v.is_empty(), want.is_empty());
        prop_assert_eq!(v.capacity(), N);
        let nodes: Vec<u32> = v.iter().map(|(n, _)| n.0).collect();
        prop_assert!(nodes.windows(2).all(|w| w[0] < w[1]));
        // Debug prints the map.
        prop_assert_eq!(format!("{v:?}"), format!("{want:?}"));
    }

    /// Each way a wire form can be broken is its own error, never a wrong clock.
    #[test]
    fn broken_wire_forms_are_typed_errors(a in clock(), extra in 1usize..4) {
        let mut buf = [0u8; 2 + 12 * N + 4];
        let len = a.encode(&mut buf).unwrap();
        let bytes = &buf[..len];
        // Cut short: truncated (anywhere, even inside the count).
        for cut in 0..len {
            prop_assert_eq!(V::decode(&bytes[..cut]), Err(VClockDecodeError::Truncated));
        }
        // Bytes after it: trailing, though decode_prefix takes the clock and hands them back.
        let mut long = bytes.to_vec();
        long.extend(std::iter::repeat_n(0xAB, extra));
        prop_assert_eq!(V::decode(&long), Err(VClockDecodeError::TrailingBytes));
        let (clock, rest) = V::decode_prefix(&long).unwrap();
        prop_assert_eq!((clock, rest.len()), (a.clone(), extra));
        if a.len() >= 2 {
            // Swap the first two entries' node ids: not strictly increasing.
            let mut unsorted = bytes.to_vec();
            let (x, y) = (unsorted[2..6].to_vec(), unsorted[14..18].to_vec());
            unsorted[2..6].copy_from_slice(&y);
            unsorted[14..18].copy_from_slice(&x);
            prop_assert_eq!(V::decode(&unsorted), Err(VClockDecodeError::Unsorted));
        }
        if !a.is_empty() {
            let mut zero = bytes.to_vec();
            zero[6..14].fill(0);
            prop_assert_eq!(V::decode(&zero), Err(VClockDecodeError::ZeroCounter));
        }
        let mut many = bytes.to_vec();
        many[..2].copy_from_slice(&(N as u16 + extra as u16).to_be_bytes());
        prop_assert_eq!(
            V::decode(&many),
            Err(VClockDecodeError::TooManyEntries { len: N + extra, capacity: N })
        );
    }
}

#[test]
fn errors_name_what_went_wrong() {
    let texts = [
        (VClockDecodeError::Truncated, "vector clock truncated"),
        (
            VClockDecodeError::TooManyEntries {
                len: 9,
                capacity: 8,
            },
            "vector clock has 9 entries, capacity is 8",
        ),
        (
            VClockDecodeError::Unsorted,
            "vector clock node ids not strictly increasing",
        ),
        (
            VClockDecodeError::ZeroCounter,
            "vector clock entry with counter 0",
        ),
        (
            VClockDecodeError::TrailingBytes,
            "bytes after the vector clock",
        ),
    ];
    for (e, text) in texts {
        assert_eq!(e.to_string(), text);
    }
    // A counter at u64::MAX cannot count one more: the clock is unchanged.
    let mut v = VectorClock::<2>::default();
    v.set(NodeId(4), u64::MAX).unwrap();
    let e = v.increment(NodeId(4)).unwrap_err();
    assert_eq!(e, VClockError::CounterOverflow { node: NodeId(4) });
    assert_eq!(e.to_string(), "counter of node 4 overflows");
    assert_eq!(v.get(NodeId(4)), u64::MAX);
    // A full clock has no slot for another node.
    v.set(NodeId(5), 1).unwrap();
    let e = v.set(NodeId(6), 1).unwrap_err();
    assert_eq!(e.to_string(), "no slot for node 6: all 2 are taken");
}
