//! Temporal path queries against a brute-force fixpoint (a temporal Bellman-Ford), and
//! every returned path checked leg by leg.
#![cfg(not(loom))]

use proptest::prelude::*;
use tempora_core::graph::{EdgeIx, GraphError, NodeIx, PathSearch, TemporalGraph};
use tempora_core::interval::Interval;

const NODES: usize = 12;
const EDGES: usize = 60;
type G = TemporalGraph<NODES, EDGES>;

#[derive(Debug, Clone)]
struct Spec {
    nodes: usize,
    edges: Vec<(usize, usize, u64, u64, u64)>, // from, to, start, len, duration
}

fn spec() -> impl Strategy<Value = Spec> {
    (2usize..=NODES).prop_flat_map(|n| {
        proptest::collection::vec((0..n, 0..n, 0u64..100, 1u64..30, 0u64..10), 0..EDGES)
            .prop_map(move |edges| Spec { nodes: n, edges })
    })
}

fn build(spec: &Spec) -> G {
    let mut g = G::new();
    for _ in 0..spec.nodes {
        g.add_node().unwrap();
    }
    for &(f, t, s, l, d) in &spec.edges {
        g.add_edge(
            NodeIx(f as u32),
            NodeIx(t as u32),
            Interval::new(s, s + l).unwrap(),
            d,
        )
        .unwrap();
    }
    g
}

/// Earliest arrival at every node: relax every edge until nothing changes.
fn brute_earliest(spec: &Spec, s: usize, t0: u64) -> Vec<Option<u64>> {
    let mut arr = vec![None; spec.nodes];
    arr[s] = Some(t0);
    loop {
        let mut changed = false;
        for &(f, t, st, l, d) in &spec.edges {
            if let Some(a) = arr[f] {
                let dep = a.max(st);
                if dep < st + l && arr[t].is_none_or(|x| dep + d < x) {
                    arr[t] = Some(dep + d);
                    changed = true;
                }
            }
        }
        if !changed {
            return arr;
        }
    }
}

/// Latest departure from every node that still reaches `d` by `deadline`.
fn brute_latest(spec: &Spec, d: usize, deadline: u64) -> Vec<Option<u64>> {
    let mut lat = vec![None; spec.nodes];
    lat[d] = Some(deadline);
    loop {
        let mut changed = false;
        for &(f, t, st, l, dur) in &spec.edges {
            if let Some(by) = lat[t].and_then(|x: u64| x.checked_sub(dur)) {
                let dep = by.min(st + l - 1);
                if dep >= st && lat[f].is_none_or(|x| dep > x) {
                    lat[f] = Some(dep);
                    changed = true;
                }
            }
        }
        if !changed {
            return lat;
        }
    }
}

/// Walks `path` from `s` leaving at or after `t0`; returns the arrival if it is a valid
/// time-respecting path ending at `d`.
fn replay(g: &G, path: &[EdgeIx], s: usize, d: usize, t0: u64) -> Option<u64> {
    let (mut at, mut time) = (s, t0);
    for &e in path {
        let e = g.edge(e)?;
        if e.from.0 as usize != at {
            return None;
        }
        let dep = time.max(e.valid.start());
        if dep >= e.valid.end() {
            return None;
        }
        time = dep + e.duration;
        at = e.to.0 as usize;
    }
    (at == d).then_some(time)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn earliest_arrival_matches_brute_force(spec in spec(), s in 0usize..NODES, d in 0usize..NODES, t0 in 0u64..120) {
        let (s, d) = (s % spec.nodes, d % spec.nodes);
        let g = build(&spec);
        let mut search = PathSearch::<NODES>::new();
        let want = brute_earliest(&spec, s, t0);
        let got = g.earliest_arrival(&mut search, NodeIx(s as u32), NodeIx(d as u32), t0).unwrap();
        prop_assert_eq!(got.map(|j| j.arrival), want[d]);
        if let Some(j) = got {
            let mut buf = [EdgeIx(0); NODES];
            let path = search.path(&g, NodeIx(d as u32), &mut buf).unwrap();
            prop_assert_eq!(path.len(), j.hops);
            prop_assert_eq!(replay(&g, path, s, d, t0), Some(j.arrival), "path {:?} does not replay", path);
            prop_assert!(j.departure >= t0);
            if j.hops > 0 {
                // Too small a buffer is an error, not a truncation.
                let mut small = [EdgeIx(0); 0];
                prop_assert_eq!(search.path(&g, NodeIx(d as u32), &mut small).unwrap_err(), GraphError::PathBuffer { needed: j.hops });
            }
        }
    }

    #[test]
    fn reachability_matches_brute_force(spec in spec(), s in 0usize..NODES, t0 in 0u64..100, len in 1u64..80) {
        let s = s % spec.nodes;
        let g = build(&spec);
        let mut search = PathSearch::<NODES>::new();
        let want: Vec<(u32, u64)> = brute_earliest(&spec, s, t0)
            .into_iter()
            .enumerate()
            .filter_map(|(n, a)| a.filter(|&a| a < t0 + len).map(|a| (n as u32, a)))
            .collect();
        let mut got = Vec::new();
        g.reachable_within(&mut search, NodeIx(s as u32), Interval::new(t0, t0 + len).unwrap(), |n, a| got.push((n.0, a))).unwrap();
        prop_assert_eq!(got, want);
    }

    #[test]
    fn latest_departure_matches_brute_force(spec in spec(), s in 0usize..NODES, d in 0usize..NODES, deadline in 0u64..150) {
        let (s, d) = (s % spec.nodes, d % spec.nodes);
        let g = build(&spec);
        let mut search = PathSearch::<NODES>::new();
        let want = brute_latest(&spec, d, deadline);
        let got = g.latest_departure(&mut search, NodeIx(s as u32), NodeIx(d as u32), deadline).unwrap();
        prop_assert_eq!(got.map(|j| j.departure), want[s]);
        if let Some(j) = got {
            prop_assert!(j.arrival <= deadline);
            let mut buf = [EdgeIx(0); NODES];
            let path = search.path(&g, NodeIx(s as u32), &mut buf).unwrap();
            prop_assert_eq!(path.len(), j.hops);
            prop_assert_eq!(replay(&g, path, s, d, j.departure), Some(j.arrival));
        }
    }

    #[test]
    fn snapshots_and_active_edges_match_a_scan(spec in spec(), t in 0u64..130, n in 0usize..NODES, len in 1u64..40) {
        let g = build(&spec);
        let mut got = Vec::new();
        g.snapshot_at(t, |e, _| got.push(e.0 as usize));
        let want: Vec<usize> = spec.edges.iter().enumerate().filter(|(_, &(_, _, s, l, _))| s <= t && t < s + l).map(|(i, _)| i).collect();
        prop_assert_eq!(got, want);
        let n = n % spec.nodes;
        let mut active = Vec::new();
        g.edges_active(NodeIx(n as u32), Interval::new(t, t + len).unwrap(), |e, _| active.push(e.0 as usize)).unwrap();
        active.sort_unstable();
        let want: Vec<usize> = spec.edges.iter().enumerate()
            .filter(|(_, &(f, _, s, l, _))| f == n && s < t + len && t < s + l)
            .map(|(i, _)| i).collect();
        prop_assert_eq!(active, want);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// `reindex` only speeds queries up: after it, and after an edge added since (which
    /// falls back to the lists until the next `reindex`), every query answers exactly as
    /// on a graph built the same way and never reindexed.
    #[test]
    fn reindexing_changes_no_answer(
        spec in spec(),
        extra in (0usize..NODES, 0usize..NODES, 0u64..100, 1u64..30, 0u64..10),
        t0 in 0u64..120,
        deadline in 0u64..150,
    ) {
        let plain = build(&spec);
        let mut indexed = build(&spec);
        indexed.reindex();
        let mut late = build(&spec);
        late.reindex();
        let (f, t, s, l, d) = extra;
        let (f, t) = (f % spec.nodes, t % spec.nodes);
        let extra_edge = (NodeIx(f as u32), NodeIx(t as u32), Interval::new(s, s + l).unwrap(), d);
        late.add_edge(extra_edge.0, extra_edge.1, extra_edge.2, extra_edge.3).unwrap();
        let mut plain_late = build(&spec);
        plain_late.add_edge(extra_edge.0, extra_edge.1, extra_edge.2, extra_edge.3).unwrap();
        prop_assert_eq!((indexed.node_count(), indexed.edge_count()), (spec.nodes, spec.edges.len()));
        prop_assert_eq!(late.edge_count(), spec.edges.len() + 1);
        let (mut a, mut b) = (PathSearch::<NODES>::new(), PathSearch::<NODES>::default());
        for (x, y) in [(&plain, &indexed), (&plain_late, &late)] {
            for from in 0..spec.nodes {
                let from = NodeIx(from as u32);
                for to in 0..spec.nodes {
                    let to = NodeIx(to as u32);
                    let want = x.earliest_arrival(&mut a, from, to, t0).unwrap();
                    let got = y.earliest_arrival(&mut b, from, to, t0).unwrap();
                    prop_assert_eq!(got.map(|j| j.arrival), want.map(|j| j.arrival));
                    prop_assert_eq!(b.arrival(to), a.arrival(to));
                    prop_assert_eq!(b.arrival(to), got.map(|j| j.arrival));
                    let want = x.latest_departure(&mut a, from, to, deadline).unwrap();
                    let got = y.latest_departure(&mut b, from, to, deadline).unwrap();
                    prop_assert_eq!(got.map(|j| j.departure), want.map(|j| j.departure));
                    // Labels of a latest-departure search are not arrivals.
                    prop_assert_eq!(b.arrival(to), None);
                }
                let window = Interval::new(t0, t0 + 40).unwrap();
                let (mut want, mut got) = (Vec::new(), Vec::new());
                x.reachable_within(&mut a, from, window, |n, t| want.push((n, t))).unwrap();
                y.reachable_within(&mut b, from, window, |n, t| got.push((n, t))).unwrap();
                prop_assert_eq!(got, want);
                let (mut want, mut got) = (Vec::new(), Vec::new());
                x.edges_active(from, window, |e, _| want.push(e)).unwrap();
                y.edges_active(from, window, |e, _| got.push(e)).unwrap();
                want.sort_unstable();
                got.sort_unstable();
                prop_assert_eq!(got, want);
            }
        }
    }
}

#[test]
fn capacity_and_unknown_nodes_are_typed_errors() {
    let mut g = TemporalGraph::<2, 1>::new();
    let a = g.add_node().unwrap();
    let b = g.add_node().unwrap();
    assert_eq!(g.add_node(), Err(GraphError::NodeCapacity));
    let iv = Interval::new(0, 1).unwrap();
    assert_eq!(
        g.add_edge(a, NodeIx(7), iv, 0),
        Err(GraphError::UnknownNode(NodeIx(7)))
    );
    g.add_edge(a, b, iv, 0).unwrap();
    assert_eq!(g.add_edge(b, a, iv, 0), Err(GraphError::EdgeCapacity));
    let mut search = PathSearch::<2>::new();
    assert_eq!(
        g.earliest_arrival(&mut search, a, NodeIx(5), 0),
        Err(GraphError::UnknownNode(NodeIx(5)))
    );
    // A path asked of a node the last search did not cover.
    g.earliest_arrival(&mut search, a, b, 0).unwrap();
    let mut buf = [EdgeIx(0); 2];
    assert_eq!(
        search.path(&g, NodeIx(9), &mut buf),
        Err(GraphError::UnknownNode(NodeIx(9)))
    );
    assert_eq!(search.arrival(NodeIx(9)), None);
    let texts = [
        (
            GraphError::NodeCapacity,
            "temporal graph: node capacity reached",
        ),
        (
            GraphError::EdgeCapacity,
            "temporal graph: edge capacity reached",
        ),
        (
            GraphError::UnknownNode(NodeIx(7)),
            "temporal graph: unknown node 7",
        ),
        (
            GraphError::PathBuffer { needed: 3 },
            "path needs a buffer of 3",
        ),
    ];
    for (e, text) in texts {
        assert_eq!(e.to_string(), text);
    }
    let g = TemporalGraph::<2, 1>::default();
    assert_eq!((g.node_count(), g.edge_count()), (0, 0));
}
