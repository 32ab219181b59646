//! Fixed-capacity vector clocks.
//!
//! A [`VectorClock<NODES>`] maps up to `NODES` node ids to event counters. It is sparse:
//! node ids are any `u32`, and only nodes with a non-zero counter take a slot, kept sorted
//! by id so compare and merge are one linear pass. A node that would need slot
//! `NODES + 1` is a typed error, never a silent truncation.

use core::cmp::Ordering;
use core::fmt;

use crate::timestamp::NodeId;

/// How two vector clocks relate in the happened-before order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum CausalOrder {
    /// Every counter of the left is ≤ the right's, one strictly: left happened before.
    Before,
    /// The right happened before the left.
    After,
    /// Identical clocks.
    Equal,
    /// Neither happened before the other.
    Concurrent,
}

/// What can go wrong with a vector clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum VClockError {
    /// The operation needs a slot for this node, and all `capacity` slots are taken.
    /// The clock is unchanged.
    CapacityExceeded {
        /// The node that did not fit.
        node: NodeId,
        /// `NODES`.
        capacity: usize,
    },
    /// The node's counter is at `u64::MAX`. The clock is unchanged.
    CounterOverflow {
        /// The node.
        node: NodeId,
    },
}

impl fmt::Display for VClockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::CapacityExceeded { node, capacity } => {
                write!(f, "no slot for node {node}: all {capacity} are taken")
            }
            Self::CounterOverflow { node } => write!(f, "counter of node {node} overflows"),
        }
    }
}

impl core::error::Error for VClockError {}

/// Why bytes are not a vector clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum VClockDecodeError {
    /// The input ends before the entries its length announces.
    Truncated,
    /// More entries than the capacity `NODES`.
    TooManyEntries {
        /// Entries announced.
        len: usize,
        /// `NODES`.
        capacity: usize,
    },
    /// Node ids are not strictly increasing (a duplicate or out of order).
    Unsorted,
    /// An entry with counter 0 (absent nodes are not written).
    ZeroCounter,
    /// Bytes after the last entry.
    TrailingBytes,
}

impl fmt::Display for VClockDecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Truncated => f.write_str("vector clock truncated"),
            Self::TooManyEntries { len, capacity } => {
                write!(f, "vector clock has {len} entries, capacity is {capacity}")
            }
            Self::Unsorted => f.write_str("vector clock node ids not strictly increasing"),
            Self::ZeroCounter => f.write_str("vector clock entry with counter 0"),
            Self::TrailingBytes => f.write_str("bytes after the vector clock"),
        }
    }
}

impl core::error::Error for VClockDecodeError {}

/// The output buffer is too small; `needed` bytes are required.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct BufferTooSmall {
    /// Bytes the encoding needs.
    pub needed: usize,
}

/// A vector clock for up to `NODES` nodes.
///
/// ```
/// use tempora_core::causal::{CausalOrder, VectorClock};
/// use tempora_core::NodeId;
///
/// let mut a = VectorClock::<8>::new();
/// a.increment(NodeId(1)).unwrap();
/// let mut b = a.clone();
/// b.increment(NodeId(2)).unwrap();
/// assert_eq!(a.compare(&b), CausalOrder::Before);
/// a.increment(NodeId(3)).unwrap();
/// assert_eq!(a.compare(&b), CausalOrder::Concurrent);
/// a.merge(&b).unwrap();
/// assert_eq!(a.compare(&b), CausalOrder::After);
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct VectorClock<const NODES: usize> {
    nodes: [u32; NODES],
    counts: [u64; NODES],
    len: usize,
}

impl<const NODES: usize> Default for VectorClock<NODES> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const NODES: usize> VectorClock<NODES> {
    /// The bytes of the wire form for a clock with `len` entries.
    pub const fn wire_len(len: usize) -> usize {
        2 + 12 * len
    }

    /// The zero clock.
    pub const fn new() -> Self {
        Self {
            nodes: [0; NODES],
            counts: [0; NODES],
            len: 0,
        }
    }

    /// Nodes with a non-zero counter.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether every counter is zero.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The capacity `NODES`.
    pub const fn capacity(&self) -> usize {
        NODES
    }

    /// The `(node, counter)` entries in node order.
    pub fn iter(&self) -> impl Iterator<Item = (NodeId, u64)> + '_ {
        self.nodes[..self.len]
            .iter()
            .zip(&self.counts[..self.len])
            .map(|(&n, &c)| (NodeId(n), c))
    }

    fn find(&self, node: NodeId) -> Result<usize, usize> {
        self.nodes[..self.len].binary_search(&node.0)
    }

    /// The counter of `node` (0 for nodes not present).
    pub fn get(&self, node: NodeId) -> u64 {
        match self.find(node) {
            Ok(i) => self.counts[i],
            Err(_) => 0,
        }
    }

    /// Sets `node`'s counter (0 removes it).
    pub fn set(&mut self, node: NodeId, count: u64) -> Result<(), VClockError> {
        match self.find(node) {
            Ok(i) if count == 0 => {
                self.nodes.copy_within(i + 1..self.len, i);
                self.counts.copy_within(i + 1..self.len, i);
                self.len -= 1;
            }
            Ok(i) => self.counts[i] = count,
            Err(_) if count == 0 => {}
            Err(i) => {
                if self.len == NODES {
                    return Err(VClockError::CapacityExceeded {
                        node,
                        capacity: NODES,
                    });
                }
                self.nodes.copy_within(i..self.len, i + 1);
                self.counts.copy_within(i..self.len, i + 1);
                self.nodes[i] = node.0;
                self.counts[i] = count;
                self.len += 1;
            }
        }
        Ok(())
    }

    /// Counts one more event of `node`; returns the new counter.
    pub fn increment(&mut self, node: NodeId) -> Result<u64, VClockError> {
        let next = self
            .get(node)
            .checked_add(1)
            .ok_or(VClockError::CounterOverflow { node })?;
        self.set(node, next)?;
        Ok(next)
    }

    /// Takes the element-wise maximum with `other`. If the union of nodes does not fit,
    /// returns an error and leaves `self` unchanged.
    pub fn merge(&mut self, other: &Self) -> Result<(), VClockError> {
        let mut out = Self::new();
        let (mut i, mut j) = (0, 0);
        while i < self.len || j < other.len {
            let (node, count) = match (
                self.nodes[..self.len].get(i),
                other.nodes[..other.len].get(j),
            ) {
                (Some(&a), Some(&b)) if a == b => {
                    let c = self.counts[i].max(other.counts[j]);
                    i += 1;
                    j += 1;
                    (a, c)
                }
                (Some(&a), Some(&b)) if a < b => {
                    i += 1;
                    (a, self.counts[i - 1])
                }
                (Some(&a), None) => {
                    i += 1;
                    (a, self.counts[i - 1])
                }
                (_, Some(&b)) => {
                    j += 1;
                    (b, other.counts[j - 1])
                }
                (None, None) => break,
            };
            if out.len == NODES {
                return Err(VClockError::CapacityExceeded {
                    node: NodeId(node),
                    capacity: NODES,
                });
            }
            out.nodes[out.len] = node;
            out.counts[out.len] = count;
            out.len += 1;
        }
        *self = out;
        Ok(())
    }

    /// Where `self` stands relative to `other` in happened-before order.
    pub fn compare(&self, other: &Self) -> CausalOrder {
        let (mut less, mut greater) = (false, false);
        let (mut i, mut j) = (0, 0);
        while i < self.len && j < other.len {
            match self.nodes[i].cmp(&other.nodes[j]) {
                Ordering::Equal => {
                    match self.counts[i].cmp(&other.counts[j]) {
                        Ordering::Less => less = true,
                        Ordering::Greater => greater = true,
                        Ordering::Equal => {}
                    }
                    i += 1;
                    j += 1;
                }
                // A node only `self` has: self is ahead there (counters are non-zero).
                Ordering::Less => {
                    greater = true;
                    i += 1;
                }
                Ordering::Greater => {
                    less = true;
                    j += 1;
                }
            }
            if less && greater {
                return CausalOrder::Concurrent;
            }
        }
        greater |= i < self.len;
        less |= j < other.len;
        match (less, greater) {
            (false, false) => CausalOrder::Equal,
            (true, false) => CausalOrder::Before,
            (false, true) => CausalOrder::After,
            (true, true) => CausalOrder::Concurrent,
        }
    }

    /// Writes the wire form: a big-endian `u16` entry count, then per entry the node id
    /// (`u32`) and counter (`u64`), big-endian, in node order. Returns the bytes written.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, BufferTooSmall> {
        let needed = Self::wire_len(self.len);
        let Some(out) = out.get_mut(..needed) else {
            return Err(BufferTooSmall { needed });
        };
        let (head, mut rest) = out.split_at_mut(2);
        head.copy_from_slice(&(self.len as u16).to_be_bytes());
        for (node, count) in self.iter() {
            let (entry, tail) = rest.split_at_mut(12);
            entry[..4].copy_from_slice(&node.0.to_be_bytes());
            entry[4..].copy_from_slice(&count.to_be_bytes());
            rest = tail;
        }
        Ok(needed)
    }

    /// Parses the wire form from the front of `bytes`; returns the clock and the rest.
    pub fn decode_prefix(bytes: &[u8]) -> Result<(Self, &[u8]), VClockDecodeError> {
        let (len, mut rest) = bytes
            .split_first_chunk::<2>()
            .ok_or(VClockDecodeError::Truncated)?;
        let len = usize::from(u16::from_be_bytes(*len));
        if len > NODES {
            return Err(VClockDecodeError::TooManyEntries {
                len,
                capacity: NODES,
            });
        }
        let mut clock = Self::new();
        for i in 0..len {
            let (entry, tail) = rest
                .split_first_chunk::<12>()
                .ok_or(VClockDecodeError::Truncated)?;
            let (node, count) = entry.split_at(4);
            let node = u32::from_be_bytes([node[0], node[1], node[2], node[3]]);
            let mut c = [0u8; 8];
            c.copy_from_slice(count);
            let count = u64::from_be_bytes(c);
            if count == 0 {
                return Err(VClockDecodeError::ZeroCounter);
            }
            if i > 0 && clock.nodes[i - 1] >= node {
                return Err(VClockDecodeError::Unsorted);
            }
            clock.nodes[i] = node;
            clock.counts[i] = count;
            clock.len = i + 1;
            rest = tail;
        }
        Ok((clock, rest))
    }

    /// Parses exactly one wire-form clock.
    pub fn decode(bytes: &[u8]) -> Result<Self, VClockDecodeError> {
        match Self::decode_prefix(bytes)? {
            (clock, []) => Ok(clock),
            _ => Err(VClockDecodeError::TrailingBytes),
        }
    }
}

impl<const NODES: usize> fmt::Debug for VectorClock<NODES> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.iter().map(|(n, c)| (n.0, c)))
            .finish()
    }
}

#[cfg(feature = "defmt")]
impl<const NODES: usize> defmt::Format for VectorClock<NODES> {
    fn format(&self, f: defmt::Formatter) {
        defmt::write!(f, "{{");
        for (n, c) in self.iter() {
            defmt::write!(f, " {=u32}:{=u64}", n.0, c);
        }
        defmt::write!(f, " }}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capacity_is_a_typed_error_and_changes_nothing() {
        let mut a = VectorClock::<2>::new();
        a.increment(NodeId(5)).unwrap();
        a.increment(NodeId(1)).unwrap();
        let before = a.clone();
        assert_eq!(
            a.increment(NodeId(3)),
            Err(VClockError::CapacityExceeded {
                node: NodeId(3),
                capacity: 2
            })
        );
        let mut b = VectorClock::<2>::new();
        b.increment(NodeId(9)).unwrap();
        assert!(a.merge(&b).is_err());
        assert_eq!(a, before);
        a.set(NodeId(1), u64::MAX).unwrap();
        assert_eq!(
            a.increment(NodeId(1)),
            Err(VClockError::CounterOverflow { node: NodeId(1) })
        );
    }

    #[test]
    fn malformed_wire_is_rejected() {
        type V = VectorClock<4>;
        assert_eq!(V::decode(&[]), Err(VClockDecodeError::Truncated));
        assert_eq!(
            V::decode(&[0, 5]),
            Err(VClockDecodeError::TooManyEntries {
                len: 5,
                capacity: 4
            })
        );
        assert_eq!(
            V::decode(&[0, 1, 0, 0, 0, 1]),
            Err(VClockDecodeError::Truncated)
        );
        let zero = [0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(V::decode(&zero), Err(VClockDecodeError::ZeroCounter));
        let mut dup = [0u8; 26];
        dup[1] = 2;
        dup[5] = 7;
        dup[13] = 1;
        dup[17] = 7;
        dup[25] = 1;
        assert_eq!(V::decode(&dup), Err(VClockDecodeError::Unsorted));
        assert_eq!(V::decode(&[0, 0, 1]), Err(VClockDecodeError::TrailingBytes));
        assert_eq!(V::decode(&[0, 0]), Ok(V::new()));
        let mut small = [0u8; 3];
        let mut v = V::new();
        v.increment(NodeId(1)).unwrap();
        assert_eq!(v.encode(&mut small), Err(BufferTooSmall { needed: 14 }));
    }
}
