//! The interval tree against brute force, on random inserts, removals and queries.
#![cfg(not(loom))]

use proptest::prelude::*;
use tempora_core::error::Full;
use tempora_core::interval::{Interval, IntervalError, IntervalTree};

const CAP: usize = 300;

#[derive(Debug, Clone)]
enum Op {
    Insert(u64, u64),
    Remove(usize),
    Overlap(u64, u64),
    Stab(u64),
    Bulk(Vec<(u64, u64)>),
    /// Visit everything stored.
    All,
    Clear,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        60 => (0u64..1000, 1u64..120).prop_map(|(s, l)| Op::Insert(s, s + l)),
        20 => any::<usize>().prop_map(Op::Remove),
        30 => (0u64..1100, 1u64..200).prop_map(|(s, l)| Op::Overlap(s, s + l)),
        30 => (0u64..1100).prop_map(Op::Stab),
        10 => proptest::collection::vec((0u64..1000, 1u64..120).prop_map(|(s, l)| (s, s + l)), 0..80).prop_map(Op::Bulk),
        10 => Just(Op::All),
        1 => Just(Op::Clear),
    ]
}

fn sorted(mut v: Vec<(u64, u64, u32)>) -> Vec<(u64, u64, u32)> {
    v.sort_unstable();
    v
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    #[test]
    fn tree_matches_brute_force(ops in proptest::collection::vec(op(), 1..250)) {
        let mut tree = IntervalTree::<u32, CAP>::new();
        let mut model: Vec<(u64, u64, u32)> = Vec::new();
        let mut next = 0u32;
        for op in ops {
            match op {
                Op::Insert(s, e) => {
                    let iv = Interval::new(s, e).unwrap();
                    match tree.insert(iv, next) {
                        Ok(()) => model.push((s, e, next)),
                        Err(Full((back, v))) => {
                            prop_assert_eq!(model.len(), CAP);
                            prop_assert_eq!((back, v), (iv, next));
                        }
                    }
                    next += 1;
                }
                Op::Bulk(items) => {
                    let items: Vec<_> = items.into_iter().map(|(s, e)| { next += 1; (s, e, next) }).collect();
                    let room = CAP - model.len();
                    let r = tree.extend(items.iter().map(|&(s, e, v)| (Interval::new(s, e).unwrap(), v)));
                    prop_assert_eq!(r.is_err(), items.len() > room);
                    model.extend(items.into_iter().take(room));
                }
                Op::Remove(i) => {
                    if model.is_empty() {
                        prop_assert!(!tree.remove(Interval::new(1, 2).unwrap(), &u32::MAX));
                    } else {
                        let (s, e, v) = model.swap_remove(i % model.len());
                        prop_assert!(tree.remove(Interval::new(s, e).unwrap(), &v));
                        prop_assert!(!tree.remove(Interval::new(s, e).unwrap(), &v), "removed twice");
                    }
                }
                Op::Overlap(s, e) => {
                    let q = Interval::new(s, e).unwrap();
                    let mut got = Vec::new();
                    tree.overlapping(q, |iv, &v| got.push((iv.start(), iv.end(), v)));
                    let want: Vec<_> = model.iter().copied().filter(|&(a, b, _)| a < e && s < b).collect();
                    for &(a, b, _) in &model {
                        let iv = Interval::new(a, b).unwrap();
                        prop_assert_eq!(iv.overlaps(&q), a < e && s < b);
                        prop_assert_eq!(q.overlaps(&iv), iv.overlaps(&q), "overlap is symmetric");
                    }
                    prop_assert_eq!(tree.count_overlapping(q), want.len());
                    prop_assert_eq!(sorted(got), sorted(want));
                }
                Op::Stab(t) => {
                    let mut got = Vec::new();
                    tree.stabbing(t, |iv, &v| got.push((iv.start(), iv.end(), v)));
                    let want: Vec<_> = model.iter().copied().filter(|&(a, b, _)| a <= t && t < b).collect();
                    prop_assert_eq!(tree.count_stabbing(t), want.len());
                    prop_assert_eq!(sorted(got), sorted(want));
                }
                Op::All => {
                    let mut got = Vec::new();
                    tree.for_each(|iv, &v| got.push((iv.start(), iv.end(), v)));
                    prop_assert_eq!(sorted(got), sorted(model.clone()));
                }
                Op::Clear => {
                    tree.clear();
                    model.clear();
                    prop_assert_eq!(tree.count_overlapping(Interval::new(0, u64::MAX).unwrap()), 0);
                }
            }
            prop_assert_eq!(tree.len(), model.len());
            prop_assert_eq!(tree.is_empty(), model.is_empty());
            prop_assert_eq!(tree.capacity(), CAP);
        }
    }

    #[test]
    fn sorted_part_visits_in_start_order(
        items in proptest::collection::vec((0u64..10_000, 1u64..500), 1..2000),
        queries in proptest::collection::vec((0u64..10_600, 1u64..300), 20),
    ) {
        let mut tree = IntervalTree::<u32, 2048>::new();
        tree.extend(items.iter().enumerate().map(|(i, &(s, l))| (Interval::new(s, s + l).unwrap(), i as u32))).unwrap();
        let mut starts = Vec::new();
        tree.overlapping(Interval::new(0, u64::MAX).unwrap(), |iv, _| starts.push(iv.start()));
        prop_assert_eq!(starts.len(), items.len());
        prop_assert!(starts.windows(2).all(|w| w[0] <= w[1]));
        for (s, l) in queries {
            let want = items.iter().filter(|&&(a, la)| a < s + l && s < a + la).count();
            prop_assert_eq!(tree.count_overlapping(Interval::new(s, s + l).unwrap()), want);
            let stab = items.iter().filter(|&&(a, la)| a <= s && s < a + la).count();
            prop_assert_eq!(tree.count_stabbing(s), stab);
        }
    }
}

#[test]
fn endpoints_are_half_open_and_bad_intervals_are_errors() {
    assert_eq!(Interval::new(5, 5), Err(IntervalError::Empty));
    assert_eq!(Interval::new(6, 5), Err(IntervalError::Reversed));
    let mut t = IntervalTree::<(), 4>::new();
    t.insert(Interval::new(10, 20).unwrap(), ()).unwrap();
    assert_eq!(t.count_stabbing(10), 1);
    assert_eq!(t.count_stabbing(19), 1);
    assert_eq!(t.count_stabbing(20), 0, "end is excluded");
    assert_eq!(
        t.count_overlapping(Interval::new(20, 30).unwrap()),
        0,
        "touching is not overlapping"
    );
    assert_eq!(t.count_overlapping(Interval::new(0, 10).unwrap()), 0);
    assert_eq!(t.count_overlapping(Interval::new(0, 11).unwrap()), 1);
    assert_eq!(Interval::point(u64::MAX), None);
    t.stabbing(u64::MAX, |_, _| panic!("nothing contains u64::MAX"));
    assert_eq!(
        IntervalError::Empty.to_string(),
        "empty interval (start == end)"
    );
    assert_eq!(
        IntervalError::Reversed.to_string(),
        "reversed interval (end < start)"
    );
    assert_eq!(format!("{t:?}"), "IntervalTree { len: 1, capacity: 4 }");
    let d = IntervalTree::<(), 4>::default();
    assert!(d.is_empty() && d.capacity() == 4);
}

/// A bulk load that does not fit stops at the first interval that does not, hands it
/// back, and keeps the ones before it, whether the tree was empty or already held some.
#[test]
fn a_bulk_load_past_capacity_hands_back_the_first_that_does_not_fit() {
    let iv = |s: u64| Interval::new(s, s + 10).unwrap();
    let mut t = IntervalTree::<u32, 4>::new();
    t.insert(iv(100), 100).unwrap();
    let r = t.extend((0..6).map(|i| (iv(i), i as u32)));
    assert_eq!(r, Err(Full((iv(3), 3))));
    assert_eq!(t.len(), 4);
    let mut all = Vec::new();
    t.for_each(|i, &v| all.push((i.start(), v)));
    all.sort_unstable();
    assert_eq!(all, [(0, 0), (1, 1), (2, 2), (100, 100)]);
    assert_eq!(t.insert(iv(7), 7), Err(Full((iv(7), 7))));
    t.clear();
    assert!(t.is_empty());
    assert_eq!(t.extend((0..4).map(|i| (iv(i), i as u32))), Ok(()));
    assert_eq!(t.count_stabbing(5), 4);
}
