//! A fixed-capacity interval tree with stabbing, overlap and count queries.
//!
//! Intervals are **half-open**, `[start, end)` with `start < end`: an interval contains
//! `start` and not `end`, two intervals that only touch (`a.end == b.start`) do not
//! overlap, and an empty or reversed interval is a typed error. Endpoints are `u64`
//! (nanoseconds, HLC packed times, or any other monotone count).
//!
//! The layout is an implicit augmented tree over a flat array sorted by start (the layout
//! of Heng Li's cgranges): the tree is the in-order array itself, node `x` at level `k`
//! has children `x ∓ 2^(k-1)`, and each entry keeps the largest `end` in its subtree.
//! Queries are O(log n + k) with no pointers to chase; when the intervals near the query
//! are short, a binary search and a short scan answer it faster still. Inserts land in a small unsorted
//! staging area (scanned by queries) that is merged into the array when full, so an insert
//! costs O(n / 32) amortised; removals are tombstones, compacted when they reach half.

use core::fmt;

use crate::error::Full;

/// Inserts staged before a merge into the sorted array.
pub const STAGING: usize = 32;

/// A half-open interval `[start, end)`, never empty.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Interval {
    start: u64,
    end: u64,
}

/// Why an interval cannot be built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum IntervalError {
    /// `start == end`: it would contain nothing.
    Empty,
    /// `end < start`.
    Reversed,
}

impl fmt::Display for IntervalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Empty => "empty interval (start == end)",
            Self::Reversed => "reversed interval (end < start)",
        })
    }
}

impl core::error::Error for IntervalError {}

impl Interval {
    /// `[start, end)`; an error unless `start < end`.
    pub const fn new(start: u64, end: u64) -> Result<Self, IntervalError> {
        if end == start {
            Err(IntervalError::Empty)
        } else if end < start {
            Err(IntervalError::Reversed)
        } else {
            Ok(Self { start, end })
        }
    }

    /// The single point `[t, t + 1)`; `None` for `t = u64::MAX`, which no half-open
    /// interval can contain.
    pub const fn point(t: u64) -> Option<Self> {
        match t.checked_add(1) {
            Some(end) => Some(Self { start: t, end }),
            None => None,
        }
    }

    /// First instant in the interval.
    pub const fn start(&self) -> u64 {
        self.start
    }

    /// First instant after the interval.
    pub const fn end(&self) -> u64 {
        self.end
    }

    /// Whether `t` lies in `[start, end)`.
    pub const fn contains(&self, t: u64) -> bool {
        self.start <= t && t < self.end
    }

    /// Whether the two share at least one instant.
    pub const fn overlaps(&self, other: &Interval) -> bool {
        self.start < other.end && other.start < self.end
    }
}

#[derive(Clone, Copy)]
struct Entry<V> {
    start: u64,
    end: u64,
    live: bool,
    value: V,
}

/// A fixed-capacity interval tree mapping intervals to values `V` (duplicates allowed).
///
/// ```
/// use tempora_core::interval::{Interval, IntervalTree};
///
/// let mut t = IntervalTree::<&str, 16>::new();
/// t.insert(Interval::new(0, 10).unwrap(), "a").unwrap();
/// t.insert(Interval::new(5, 15).unwrap(), "b").unwrap();
/// t.insert(Interval::new(15, 20).unwrap(), "c").unwrap();
/// let mut hits = Vec::new();
/// t.stabbing(7, |_, v| hits.push(*v));
/// assert_eq!(hits, ["a", "b"]);
/// assert_eq!(t.count_overlapping(Interval::new(10, 16).unwrap()), 2); // b and c, not a
/// assert!(t.remove(Interval::new(5, 15).unwrap(), &"b"));
/// assert_eq!(t.count_overlapping(Interval::new(10, 16).unwrap()), 1);
/// ```
pub struct IntervalTree<V: Copy, const CAPACITY: usize> {
    sorted: heapless::Vec<Entry<V>, CAPACITY>,
    /// Largest `end` in each entry's implicit subtree (tombstones included). Kept apart
    /// from the entries so the binary search reads smaller lines.
    max: heapless::Vec<u64, CAPACITY>,
    staged: heapless::Vec<Entry<V>, STAGING>,
    dead: usize,
    /// Longest interval in `sorted` (tombstones included): bounds how far before a query
    /// an overlapping interval can start.
    max_len: u64,
}

impl<V: Copy, const CAPACITY: usize> Default for IntervalTree<V, CAPACITY> {
    fn default() -> Self {
        Self::new()
    }
}

impl<V: Copy, const CAPACITY: usize> IntervalTree<V, CAPACITY> {
    /// An empty tree, usable in a `static`.
    pub const fn new() -> Self {
        Self {
            sorted: heapless::Vec::new(),
            max: heapless::Vec::new(),
            staged: heapless::Vec::new(),
            dead: 0,
            max_len: 0,
        }
    }

    /// Live intervals stored.
    pub fn len(&self) -> usize {
        self.sorted.len() - self.dead + self.staged.len()
    }

    /// Whether no interval is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The capacity, `CAPACITY`.
    pub const fn capacity(&self) -> usize {
        CAPACITY
    }

    /// Adds an interval, or hands it and its value back if `CAPACITY` intervals are
    /// stored.
    pub fn insert(&mut self, interval: Interval, value: V) -> Result<(), Full<(Interval, V)>> {
        if self.len() >= CAPACITY {
            return Err(Full((interval, value)));
        }
        let entry = Entry {
            start: interval.start,
            end: interval.end,
            live: true,
            value,
        };
        if self.staged.is_full() || self.sorted.len() + self.staged.len() >= CAPACITY {
            self.merge_staged();
        }
        self.staged.push(entry).map_err(|e| {
            Full((
                Interval {
                    start: e.start,
                    end: e.end,
                },
                e.value,
            ))
        })
    }

    /// Adds many intervals at once: one sort and one rebuild, O(n log n). Stops at the
    /// first that does not fit and hands it back; the ones before it are in.
    pub fn extend(
        &mut self,
        items: impl IntoIterator<Item = (Interval, V)>,
    ) -> Result<(), Full<(Interval, V)>> {
        self.merge_staged();
        let mut result = Ok(());
        for (interval, value) in items {
            if self.len() >= CAPACITY {
                result = Err(Full((interval, value)));
                break;
            }
            let entry = Entry {
                start: interval.start,
                end: interval.end,
                live: true,
                value,
            };
            if let Err(e) = self.sorted.push(entry) {
                result = Err(Full((
                    Interval {
                        start: e.start,
                        end: e.end,
                    },
                    e.value,
                )));
                break;
            }
        }
        self.sorted.sort_unstable_by_key(|e| e.start);
        self.rebuild_max();
        result
    }

    /// Removes one interval equal to `interval` with a value equal to `value`.
    /// Returns whether one was found.
    pub fn remove(&mut self, interval: Interval, value: &V) -> bool
    where
        V: PartialEq,
    {
        let same = |e: &Entry<V>| {
            e.live && e.start == interval.start && e.end == interval.end && e.value == *value
        };
        if let Some(i) = self.staged.iter().position(same) {
            self.staged.swap_remove(i);
            return true;
        }
        let first = self.sorted.partition_point(|e| e.start < interval.start);
        let found = self.sorted[first..]
            .iter()
            .take_while(|e| e.start == interval.start)
            .position(same);
        match found {
            Some(i) => {
                self.sorted[first + i].live = false;
                self.dead += 1;
                if self.dead * 2 > self.sorted.len() {
                    self.merge_staged();
                }
                true
            }
            None => false,
        }
    }

    /// Removes everything.
    pub fn clear(&mut self) {
        self.sorted.clear();
        self.max.clear();
        self.staged.clear();
        self.dead = 0;
        self.max_len = 0;
    }

    /// Merges staged entries into the sorted array and drops tombstones: O(n).
    fn merge_staged(&mut self) {
        // Drop tombstones, keeping order.
        if self.dead > 0 {
            self.sorted.retain(|e| e.live);
            self.dead = 0;
        }
        if !self.staged.is_empty() {
            self.staged.sort_unstable_by_key(|e| e.start);
            let (old, add) = (self.sorted.len(), self.staged.len());
            // Grow, then merge from the back so nothing is overwritten before it moves.
            for e in self.staged.iter() {
                if self.sorted.push(*e).is_err() {
                    break; // unreachable: insert keeps len <= CAPACITY
                }
            }
            let (mut i, mut j, mut k) = (old, add, old + add);
            while j > 0 {
                k -= 1;
                if i > 0 && self.sorted[i - 1].start > self.staged[j - 1].start {
                    self.sorted[k] = self.sorted[i - 1];
                    i -= 1;
                } else {
                    self.sorted[k] = self.staged[j - 1];
                    j -= 1;
                }
            }
            self.staged.clear();
        }
        self.rebuild_max();
    }

    /// Recomputes the subtree maxima bottom-up, level by level: O(n).
    fn rebuild_max(&mut self) {
        let a = &self.sorted[..];
        let n = a.len();
        self.max.clear();
        let mut max_len = 0;
        for e in a {
            // Cannot fail: `max` has the same capacity as `sorted`.
            let _ = self.max.push(e.end);
            max_len = max_len.max(e.end - e.start);
        }
        self.max_len = max_len;
        let m = &mut self.max[..];
        let mut k = 1;
        while (1usize << k) <= n {
            let half = 1usize << (k - 1);
            // Nodes of level k: x = 2^k - 1 + m * 2^(k+1).
            let mut x = (1usize << k) - 1;
            while x < n {
                let left = m[x - half];
                let right = if x + half < n {
                    m[x + half]
                } else {
                    // The right child is past the end: its real part is (x, n).
                    a[x + 1..].iter().map(|e| e.end).max().unwrap_or(0)
                };
                m[x] = m[x].max(left).max(right);
                x += 1usize << (k + 1);
            }
            k += 1;
        }
    }

    /// Calls `visit` for every stored interval that overlaps `query`: the sorted part in
    /// start order, then the staged part. O(log n + k + 32).
    pub fn overlapping(&self, query: Interval, mut visit: impl FnMut(Interval, &V)) {
        self.sorted_overlapping(query.start, query.end, &mut |e| {
            visit(
                Interval {
                    start: e.start,
                    end: e.end,
                },
                &e.value,
            )
        });
        for e in self.staged.iter() {
            if e.start < query.end && query.start < e.end {
                visit(
                    Interval {
                        start: e.start,
                        end: e.end,
                    },
                    &e.value,
                );
            }
        }
    }

    /// Calls `visit` for every stored interval containing `t`.
    pub fn stabbing(&self, t: u64, visit: impl FnMut(Interval, &V)) {
        if let Some(p) = Interval::point(t) {
            self.overlapping(p, visit);
        }
    }

    /// How many stored intervals overlap `query`.
    pub fn count_overlapping(&self, query: Interval) -> usize {
        let mut n = 0;
        self.overlapping(query, |_, _| n += 1);
        n
    }

    /// How many stored intervals contain `t`.
    pub fn count_stabbing(&self, t: u64) -> usize {
        let mut n = 0;
        self.stabbing(t, |_, _| n += 1);
        n
    }

    /// Every stored interval, in no particular order.
    pub fn for_each(&self, mut visit: impl FnMut(Interval, &V)) {
        for e in self
            .sorted
            .iter()
            .chain(self.staged.iter())
            .filter(|e| e.live)
        {
            visit(
                Interval {
                    start: e.start,
                    end: e.end,
                },
                &e.value,
            );
        }
    }

    /// Overlaps of `[qs, qe)` in the sorted array, in start order.
    ///
    /// No stored interval is longer than `max_len`, so every overlap starts in
    /// `[qs - max_len, qe)`. When that window holds few entries (the common case: short
    /// intervals) one binary search and a short scan answer the query; otherwise the
    /// implicit-tree walk keeps it O(log n + k) however long some intervals are.
    fn sorted_overlapping(&self, qs: u64, qe: u64, visit: &mut impl FnMut(&Entry<V>)) {
        const SCAN: usize = 48;
        let a = &self.sorted[..];
        let lo = a.partition_point(|e| e.start < qs.saturating_sub(self.max_len));
        if a.get(lo + SCAN).is_none_or(|e| e.start >= qe) {
            for e in &a[lo..] {
                if e.start >= qe {
                    break;
                }
                if e.end > qs && e.live {
                    visit(e);
                }
            }
            return;
        }
        self.tree_walk(qs, qe, visit);
    }

    /// The implicit-tree walk over the sorted array for `[qs, qe)`.
    fn tree_walk(&self, qs: u64, qe: u64, visit: &mut impl FnMut(&Entry<V>)) {
        let a = &self.sorted[..];
        let m = &self.max[..];
        let n = a.len().min(m.len());
        if n == 0 {
            return;
        }
        // Root level: the largest k with 2^k - 1 < n... i.e. the top of a tree covering n.
        let top = usize::BITS - 1 - n.leading_zeros(); // floor(log2 n)
                                                       // (node, level, left subtree done)
        let mut stack: [(usize, u32, bool); 66] = [(0, 0, false); 66];
        stack[0] = ((1usize << top) - 1, top, false);
        let mut sp = 1;
        while sp > 0 {
            sp -= 1;
            let (x, k, left_done) = stack[sp];
            if k <= 2 {
                // Small subtree: scan its range [x + 1 - 2^k, x + 2^k - 1] directly.
                let lo = x + 1 - (1usize << k);
                let hi = (x + (1usize << k)).min(n);
                for e in &a[lo.min(n)..hi] {
                    if e.start >= qe {
                        break;
                    }
                    if e.end > qs && e.live {
                        visit(e);
                    }
                }
                continue;
            }
            let half = 1usize << (k - 1);
            if !left_done {
                // Come back to x after its left subtree.
                stack[sp] = (x, k, true);
                sp += 1;
                let y = x - half;
                // Left child: always < x. Prune it if nothing in it ends after qs; a
                // virtual x (>= n) has no max of its own, its left child may be real.
                if y >= n || m[y] > qs {
                    stack[sp] = (y, k - 1, false);
                    sp += 1;
                }
            } else if x < n && a[x].start < qe {
                if a[x].end > qs && a[x].live {
                    visit(&a[x]);
                }
                let z = x + half;
                if z >= n || m[z] > qs {
                    stack[sp] = (z, k - 1, false);
                    sp += 1;
                }
            }
        }
    }
}

impl<V: Copy, const CAPACITY: usize> fmt::Debug for IntervalTree<V, CAPACITY> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IntervalTree")
            .field("len", &self.len())
            .field("capacity", &CAPACITY)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tree walk is the fallback for dense windows; check it on its own, including
    /// long intervals that make the scan window useless.
    #[test]
    fn tree_walk_matches_brute_force() {
        let mut rng = crate::rng::SplitMix64::new(1);
        let mut rnd = move || rng.next_u64();
        for n in [1usize, 2, 3, 7, 8, 9, 100, 257, 1000] {
            let mut t = IntervalTree::<u32, 1000>::new();
            let items: heapless::Vec<(u64, u64), 1000> = (0..n)
                .map(|_| {
                    let s = rnd() % 10_000;
                    let len = if rnd() % 50 == 0 {
                        5_000
                    } else {
                        1 + rnd() % 50
                    };
                    (s, s + len)
                })
                .collect();
            t.extend(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, &(s, e))| (Interval::new(s, e).unwrap(), i as u32)),
            )
            .unwrap();
            for _ in 0..300 {
                let qs = rnd() % 16_000;
                let qe = qs + 1 + rnd() % 200;
                let mut got = 0;
                t.tree_walk(qs, qe, &mut |_| got += 1);
                let want = items.iter().filter(|&&(s, e)| s < qe && qs < e).count();
                assert_eq!(got, want, "n={n} [{qs},{qe})");
            }
        }
    }
}
