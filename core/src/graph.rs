//! A temporal graph: edges that exist only during a validity interval and take time to
//! traverse, with time-respecting path queries.
//!
//! An edge `u → v` valid during `[start, end)` with duration `d` can be taken by leaving
//! `u` at any `τ` with `start ≤ τ < end`, arriving at `v` at `τ + d`. Travellers may wait
//! at nodes. A *time-respecting path* is a sequence of such traversals, each leaving no
//! earlier than the previous one arrived.
//!
//! Queries run a label-setting search (Dijkstra on arrival times, which is exact here
//! because waiting is allowed, so arriving earlier never hurts) in a caller-provided
//! [`PathSearch`] scratch space, so the graph itself stays shared and read-only.

use core::fmt;

use crate::interval::Interval;

const NONE: u32 = u32::MAX;

/// A node of a [`TemporalGraph`]: a dense index handed out by [`TemporalGraph::add_node`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct NodeIx(pub u32);

/// An edge of a [`TemporalGraph`], in insertion order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct EdgeIx(pub u32);

/// A directed edge with a validity interval and a traversal duration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Edge {
    /// Where it leaves from.
    pub from: NodeIx,
    /// Where it arrives.
    pub to: NodeIx,
    /// When it can be entered: `[start, end)`.
    pub valid: Interval,
    /// How long a traversal takes (0: instantaneous).
    pub duration: u64,
}

/// What can go wrong building or querying a graph.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum GraphError {
    /// All node slots are taken.
    NodeCapacity,
    /// All edge slots are taken.
    EdgeCapacity,
    /// A node index that was never added.
    UnknownNode(NodeIx),
    /// The output buffer for a path is too short; it needs this many entries.
    PathBuffer {
        /// Hops in the path.
        needed: usize,
    },
}

impl fmt::Display for GraphError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NodeCapacity => f.write_str("temporal graph: node capacity reached"),
            Self::EdgeCapacity => f.write_str("temporal graph: edge capacity reached"),
            Self::UnknownNode(n) => write!(f, "temporal graph: unknown node {}", n.0),
            Self::PathBuffer { needed } => write!(f, "path needs a buffer of {needed}"),
        }
    }
}

impl core::error::Error for GraphError {}

/// A directed temporal graph of at most `NODES` nodes and `EDGES` edges, stored as
/// forward and backward adjacency lists threaded through flat arrays.
///
/// ```
/// use tempora_core::graph::{PathSearch, TemporalGraph};
/// use tempora_core::interval::Interval;
///
/// let mut g = TemporalGraph::<4, 8>::new();
/// let [a, b, c] = [g.add_node().unwrap(), g.add_node().unwrap(), g.add_node().unwrap()];
/// g.add_edge(a, b, Interval::new(10, 20).unwrap(), 5).unwrap(); // leave a in [10, 20), 5 long
/// g.add_edge(b, c, Interval::new(0, 12).unwrap(), 1).unwrap(); // closed before we reach b
/// g.add_edge(b, c, Interval::new(30, 40).unwrap(), 1).unwrap(); // wait at b until 30
/// let mut search = PathSearch::<4>::new();
/// let j = g.earliest_arrival(&mut search, a, c, 0).unwrap().unwrap();
/// assert_eq!((j.departure, j.arrival, j.hops), (10, 31, 2));
/// ```
pub struct TemporalGraph<const NODES: usize, const EDGES: usize> {
    nodes: usize,
    edges: heapless::Vec<Edge, EDGES>,
    out_head: [u32; NODES],
    in_head: [u32; NODES],
    out_next: heapless::Vec<u32, EDGES>,
    in_next: heapless::Vec<u32, EDGES>,
    out_index: Grouped<NODES, EDGES>,
    in_index: Grouped<NODES, EDGES>,
    /// Whether the grouped copies match `edges` (cleared by every `add_edge`).
    indexed: bool,
}

/// Copies of the edges grouped by one endpoint, so a search scans each node's edges
/// sequentially instead of chasing list links across the whole edge array.
struct Grouped<const NODES: usize, const EDGES: usize> {
    start: [u32; NODES],
    items: heapless::Vec<Leg, EDGES>,
}

/// An edge as a search sees it from one end: 32 bytes, so two fit a cache line.
#[derive(Clone, Copy)]
struct Leg {
    id: u32,
    /// The far end: `to` for out-edges, `from` for in-edges.
    other: u32,
    start: u64,
    end: u64,
    duration: u64,
}

impl Leg {
    fn of(id: u32, e: &Edge, outgoing: bool) -> Self {
        Self {
            id,
            other: if outgoing { e.to.0 } else { e.from.0 },
            start: e.valid.start(),
            end: e.valid.end(),
            duration: e.duration,
        }
    }
}

impl<const NODES: usize, const EDGES: usize> Grouped<NODES, EDGES> {
    const fn new() -> Self {
        Self {
            start: [0; NODES],
            items: heapless::Vec::new(),
        }
    }

    fn rebuild(
        &mut self,
        nodes: usize,
        head: &[u32],
        next: &[u32],
        edges: &[Edge],
        outgoing: bool,
    ) {
        self.items.clear();
        for (n, &at) in head.iter().enumerate().take(nodes.min(NODES)) {
            self.start[n] = self.items.len() as u32;
            for e in (Adjacency { next, at }) {
                if let Some(edge) = edges.get(e as usize) {
                    // Cannot fail: items has the capacity of the edge array.
                    let _ = self.items.push(Leg::of(e, edge, outgoing));
                }
            }
        }
    }

    fn of(&self, n: usize, nodes: usize) -> &[Leg] {
        let from = self.start.get(n).map_or(0, |&s| s as usize);
        let to = if n + 1 < nodes {
            self.start.get(n + 1).map_or(from, |&s| s as usize)
        } else {
            self.items.len()
        };
        self.items.get(from..to).unwrap_or(&[])
    }
}

/// One node's edges: from the grouped copy when it is current, else from the lists.
enum Neighbours<'a> {
    Grouped(core::slice::Iter<'a, Leg>),
    Linked(Adjacency<'a>, &'a [Edge], bool),
}

impl Iterator for Neighbours<'_> {
    type Item = Leg;
    #[inline]
    fn next(&mut self) -> Option<Leg> {
        match self {
            Self::Grouped(it) => it.next().copied(),
            Self::Linked(adj, edges, outgoing) => loop {
                let e = adj.next()?;
                if let Some(edge) = edges.get(e as usize) {
                    return Some(Leg::of(e, edge, *outgoing));
                }
            },
        }
    }
}

/// The outcome of a path query: when the journey leaves, when it arrives, how many edges.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Journey {
    /// Departure from the source (the time of the first traversal; the query time for a
    /// journey of zero hops).
    pub departure: u64,
    /// Arrival at the destination.
    pub arrival: u64,
    /// Edges taken.
    pub hops: usize,
}

impl<const NODES: usize, const EDGES: usize> Default for TemporalGraph<NODES, EDGES> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const NODES: usize, const EDGES: usize> TemporalGraph<NODES, EDGES> {
    /// An empty graph, usable in a `static`.
    pub const fn new() -> Self {
        Self {
            nodes: 0,
            edges: heapless::Vec::new(),
            out_head: [NONE; NODES],
            in_head: [NONE; NODES],
            out_next: heapless::Vec::new(),
            in_next: heapless::Vec::new(),
            out_index: Grouped::new(),
            in_index: Grouped::new(),
            indexed: false,
        }
    }

    /// Groups every node's edges into contiguous runs: O(nodes + edges), once after
    /// building. Path queries are correct without it and about twice as fast with it;
    /// any later `add_edge` falls back to the lists until the next `reindex`.
    pub fn reindex(&mut self) {
        self.out_index.rebuild(
            self.nodes,
            &self.out_head,
            &self.out_next,
            &self.edges,
            true,
        );
        self.in_index
            .rebuild(self.nodes, &self.in_head, &self.in_next, &self.edges, false);
        self.indexed = true;
    }

    /// Nodes added.
    pub fn node_count(&self) -> usize {
        self.nodes
    }

    /// Edges added.
    pub fn edge_count(&self) -> usize {
        self.edges.len()
    }

    /// Adds a node.
    pub fn add_node(&mut self) -> Result<NodeIx, GraphError> {
        if self.nodes >= NODES || self.nodes >= NONE as usize {
            return Err(GraphError::NodeCapacity);
        }
        self.nodes += 1;
        Ok(NodeIx(self.nodes as u32 - 1))
    }

    fn check(&self, n: NodeIx) -> Result<usize, GraphError> {
        if (n.0 as usize) < self.nodes {
            Ok(n.0 as usize)
        } else {
            Err(GraphError::UnknownNode(n))
        }
    }

    /// Adds an edge `from → to`, enterable during `valid`, taking `duration`.
    pub fn add_edge(
        &mut self,
        from: NodeIx,
        to: NodeIx,
        valid: Interval,
        duration: u64,
    ) -> Result<EdgeIx, GraphError> {
        let (f, t) = (self.check(from)?, self.check(to)?);
        let id = self.edges.len();
        if id >= NONE as usize {
            return Err(GraphError::EdgeCapacity);
        }
        let edge = Edge {
            from,
            to,
            valid,
            duration,
        };
        self.edges
            .push(edge)
            .map_err(|_| GraphError::EdgeCapacity)?;
        // The three vectors share one capacity and grow together, so these fit.
        let _ = self.out_next.push(self.out_head[f]);
        let _ = self.in_next.push(self.in_head[t]);
        self.out_head[f] = id as u32;
        self.in_head[t] = id as u32;
        self.indexed = false;
        Ok(EdgeIx(id as u32))
    }

    /// The edge `e`, if it exists.
    pub fn edge(&self, e: EdgeIx) -> Option<&Edge> {
        self.edges.get(e.0 as usize)
    }

    /// Node `n`'s edges leaving it (`outgoing`) or arriving at it: from the grouped
    /// copy when it is current, else from the lists.
    fn legs(&self, n: usize, outgoing: bool) -> Neighbours<'_> {
        let (index, head, next) = if outgoing {
            (&self.out_index, &self.out_head, &self.out_next)
        } else {
            (&self.in_index, &self.in_head, &self.in_next)
        };
        if self.indexed {
            return Neighbours::Grouped(index.of(n, self.nodes).iter());
        }
        let at = head.get(n).copied().unwrap_or(NONE);
        Neighbours::Linked(Adjacency { next, at }, &self.edges, outgoing)
    }

    /// Calls `visit` for every edge leaving `node` whose validity overlaps `range`.
    pub fn edges_active(
        &self,
        node: NodeIx,
        range: Interval,
        mut visit: impl FnMut(EdgeIx, &Edge),
    ) -> Result<(), GraphError> {
        let n = self.check(node)?;
        for leg in self.legs(n, true) {
            if leg.start < range.end() && range.start() < leg.end {
                if let Some(e) = self.edges.get(leg.id as usize) {
                    visit(EdgeIx(leg.id), e);
                }
            }
        }
        Ok(())
    }

    /// The graph as it was at `t`: calls `visit` for every edge enterable at `t`.
    pub fn snapshot_at(&self, t: u64, mut visit: impl FnMut(EdgeIx, &Edge)) {
        for (id, e) in self.edges.iter().enumerate() {
            if e.valid.contains(t) {
                visit(EdgeIx(id as u32), e);
            }
        }
    }

    /// Earliest arrival at `to` leaving `from` at or after `t0`, or `None` if no
    /// time-respecting path exists. The path is then in `search` ([`PathSearch::path`]).
    pub fn earliest_arrival(
        &self,
        search: &mut PathSearch<NODES>,
        from: NodeIx,
        to: NodeIx,
        t0: u64,
    ) -> Result<Option<Journey>, GraphError> {
        let (s, d) = (self.check(from)?, self.check(to)?);
        self.forward(search, s, t0, u64::MAX, Some(d));
        if !search.reached(d) {
            return Ok(None);
        }
        let (first, hops) = search.walk(&self.edges, d);
        // The traveller leaves as soon as the first edge opens.
        let departure = first
            .and_then(|e| self.edges.get(e as usize))
            .map_or(t0, |e| e.valid.start().max(t0));
        Ok(Some(Journey {
            departure,
            arrival: search.key[d],
            hops,
        }))
    }

    /// Nodes reachable from `from` leaving at or after `window.start()` and arriving
    /// before `window.end()`, each with its earliest arrival (the source included).
    pub fn reachable_within(
        &self,
        search: &mut PathSearch<NODES>,
        from: NodeIx,
        window: Interval,
        mut visit: impl FnMut(NodeIx, u64),
    ) -> Result<(), GraphError> {
        let s = self.check(from)?;
        self.forward(search, s, window.start(), window.end(), None);
        for n in 0..self.nodes {
            if search.reached(n) && search.key[n] < window.end() {
                visit(NodeIx(n as u32), search.key[n]);
            }
        }
        Ok(())
    }

    /// The latest time one can leave `from` and still reach `to` by `deadline`
    /// (arrival at or before it), or `None`. The path is then in `search`
    /// ([`PathSearch::path`] from `from`).
    pub fn latest_departure(
        &self,
        search: &mut PathSearch<NODES>,
        from: NodeIx,
        to: NodeIx,
        deadline: u64,
    ) -> Result<Option<Journey>, GraphError> {
        let (s, d) = (self.check(from)?, self.check(to)?);
        self.backward(search, d, deadline, Some(s));
        if !search.reached(s) {
            return Ok(None);
        }
        let departure = u64::MAX - search.key[s];
        // Follow the successor edges to find the arrival of that journey.
        let (mut at, mut time, mut hops) = (s, departure, 0);
        while at != d && hops <= self.nodes {
            let e = search.pred[at];
            let Some(edge) = self.edges.get(e as usize) else {
                break;
            };
            time = time.max(edge.valid.start()).saturating_add(edge.duration);
            at = edge.to.0 as usize;
            hops += 1;
        }
        Ok(Some(Journey {
            departure,
            arrival: time,
            hops,
        }))
    }

    /// Label-setting search forward in time from `s` at `t0`; relaxations arriving at or
    /// after `limit` are dropped; stops once `target` is settled.
    fn forward(
        &self,
        search: &mut PathSearch<NODES>,
        s: usize,
        t0: u64,
        limit: u64,
        target: Option<usize>,
    ) {
        search.reset(self.nodes, Direction::Forward);
        search.improve(s, t0, NONE);
        while let Some(u) = search.pop() {
            if Some(u) == target {
                break;
            }
            let t = search.key[u];
            for leg in self.legs(u, true) {
                let departure = t.max(leg.start);
                if departure >= leg.end {
                    continue;
                }
                let Some(arrival) = departure.checked_add(leg.duration) else {
                    continue;
                };
                if arrival < limit {
                    search.improve(leg.other as usize, arrival, leg.id);
                }
            }
        }
    }

    /// The same search backwards from `d` at `deadline`, on keys `u64::MAX - latest` so
    /// the min-heap yields the latest times first. `pred` then holds successor edges.
    fn backward(
        &self,
        search: &mut PathSearch<NODES>,
        d: usize,
        deadline: u64,
        target: Option<usize>,
    ) {
        search.reset(self.nodes, Direction::Backward);
        search.improve(d, u64::MAX - deadline, NONE);
        while let Some(v) = search.pop() {
            if Some(v) == target {
                break;
            }
            let latest = u64::MAX - search.key[v];
            for leg in self.legs(v, false) {
                let Some(by) = latest.checked_sub(leg.duration) else {
                    continue;
                };
                let departure = by.min(leg.end - 1);
                if departure >= leg.start {
                    search.improve(leg.other as usize, u64::MAX - departure, leg.id);
                }
            }
        }
    }
}

struct Adjacency<'a> {
    next: &'a [u32],
    at: u32,
}

impl Iterator for Adjacency<'_> {
    type Item = u32;
    fn next(&mut self) -> Option<u32> {
        if self.at == NONE {
            return None;
        }
        let e = self.at;
        self.at = self.next.get(e as usize).copied().unwrap_or(NONE);
        Some(e)
    }
}

/// `pos` of a node never labelled in this search.
const UNSEEN: u32 = NONE;
/// `pos` of a node that left the heap for good.
const SETTLED: u32 = NONE - 1;

/// Which way the last search ran: labels are arrivals (and `pred` predecessor edges), or
/// inverted latest departures (and `pred` successor edges).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    Forward,
    Backward,
}

/// Scratch space for path queries on graphs of up to `NODES` nodes: labels, the edge
/// that set each label, and an indexed binary heap whose entries carry their keys (so
/// sifting compares in place). Reused across queries; no allocation.
pub struct PathSearch<const NODES: usize> {
    key: [u64; NODES],
    pred: [u32; NODES],
    /// Heap entries: (key, node).
    heap: [(u64, u32); NODES],
    /// Where each node sits in `heap`, or [`UNSEEN`] / [`SETTLED`].
    pos: [u32; NODES],
    len: usize,
    nodes: usize,
    direction: Direction,
}

impl<const NODES: usize> Default for PathSearch<NODES> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const NODES: usize> PathSearch<NODES> {
    /// Fresh scratch space.
    pub const fn new() -> Self {
        Self {
            key: [0; NODES],
            pred: [NONE; NODES],
            heap: [(0, 0); NODES],
            pos: [UNSEEN; NODES],
            len: 0,
            nodes: 0,
            direction: Direction::Forward,
        }
    }

    fn reset(&mut self, nodes: usize, direction: Direction) {
        let n = nodes.min(NODES);
        self.pred[..n].fill(NONE);
        self.pos[..n].fill(UNSEEN);
        self.len = 0;
        self.nodes = n;
        self.direction = direction;
    }

    fn reached(&self, v: usize) -> bool {
        v < self.nodes && self.pos[v] != UNSEEN
    }

    /// Lowers `v`'s key to `k` (through edge `via`) if that is an improvement.
    #[inline]
    fn improve(&mut self, v: usize, k: u64, via: u32) {
        if v >= self.nodes {
            return;
        }
        let mut i = match self.pos[v] {
            // Settled labels are final: arrivals never decrease along an edge.
            SETTLED => return,
            UNSEEN => {
                if self.len >= NODES {
                    return; // unreachable: each node is in the heap at most once
                }
                self.len += 1;
                self.len - 1
            }
            p if k >= self.key[v] => {
                let _ = p;
                return;
            }
            p => p as usize,
        };
        self.key[v] = k;
        self.pred[v] = via;
        while i > 0 {
            let parent = (i - 1) / 2;
            let up = self.heap[parent];
            if up.0 <= k {
                break;
            }
            self.heap[i] = up;
            self.pos[up.1 as usize] = i as u32;
            i = parent;
        }
        self.heap[i] = (k, v as u32);
        self.pos[v] = i as u32;
    }

    #[inline]
    fn pop(&mut self) -> Option<usize> {
        if self.len == 0 {
            return None;
        }
        let top = self.heap[0].1 as usize;
        self.pos[top] = SETTLED;
        self.len -= 1;
        let n = self.len;
        if n > 0 {
            // Floyd: walk the hole to the bottom along smaller children (one comparison
            // a level), then sift the last entry up from there (usually not far).
            let last = self.heap[n];
            let heap = &mut self.heap[..n];
            let mut i = 0;
            loop {
                let l = 2 * i + 1;
                let Some(left) = heap.get(l) else { break };
                let c = match heap.get(l + 1) {
                    Some(right) if right.0 < left.0 => l + 1,
                    _ => l,
                };
                heap[i] = heap[c];
                self.pos[heap[i].1 as usize] = i as u32;
                i = c;
            }
            while i > 0 {
                let parent = (i - 1) / 2;
                if heap[parent].0 <= last.0 {
                    break;
                }
                heap[i] = heap[parent];
                self.pos[heap[i].1 as usize] = i as u32;
                i = parent;
            }
            heap[i] = last;
            self.pos[last.1 as usize] = i as u32;
        }
        Some(top)
    }

    /// After an earliest-arrival or reachability query: the earliest arrival at `node`,
    /// or `None` if unreached (or if the last query was a latest-departure query).
    pub fn arrival(&self, node: NodeIx) -> Option<u64> {
        let v = node.0 as usize;
        (self.direction == Direction::Forward && self.reached(v)).then(|| self.key[v])
    }

    /// Start edge and hop count of the path into `d` (forward searches).
    fn walk(&self, edges: &[Edge], d: usize) -> (Option<u32>, usize) {
        let (mut at, mut hops, mut first) = (d, 0, None);
        while let Some(&e) = self.pred.get(at).filter(|&&e| e != NONE) {
            first = Some(e);
            hops += 1;
            match edges.get(e as usize) {
                Some(edge) => at = edge.from.0 as usize,
                None => break,
            }
            if hops > self.nodes {
                break; // defensive: labels never form a cycle
            }
        }
        (first, hops)
    }

    /// Writes the edges of the path found by the last query into `out`, in travel
    /// order, and returns them. After [`TemporalGraph::earliest_arrival`] give the
    /// destination; after [`TemporalGraph::latest_departure`] give the source.
    pub fn path<'o, const N: usize, const E: usize>(
        &self,
        graph: &TemporalGraph<N, E>,
        node: NodeIx,
        out: &'o mut [EdgeIx],
    ) -> Result<&'o [EdgeIx], GraphError> {
        let start = node.0 as usize;
        if start >= self.nodes {
            return Err(GraphError::UnknownNode(node));
        }
        let forward_search = self.direction == Direction::Forward;
        // One step back along the search tree: the edge that reached `at`, and the node
        // it came from.
        let back = |at: usize| -> Option<(u32, usize)> {
            let e = *self.pred.get(at).filter(|&&e| e != NONE)?;
            let edge = graph.edge(EdgeIx(e))?;
            let from = if forward_search {
                edge.from.0
            } else {
                edge.to.0
            };
            Some((e, from as usize))
        };
        // Count first, then fill, so the buffer can be exactly the path's length.
        let (mut hops, mut at) = (0, start);
        while let Some((_, from)) = back(at) {
            hops += 1;
            at = from;
            if hops > self.nodes {
                break;
            }
        }
        let out = out
            .get_mut(..hops)
            .ok_or(GraphError::PathBuffer { needed: hops })?;
        let mut at = start;
        for i in 0..hops {
            let Some((e, from)) = back(at) else {
                break;
            };
            let slot = if forward_search { hops - 1 - i } else { i };
            out[slot] = EdgeIx(e);
            at = from;
        }
        Ok(out)
    }
}
