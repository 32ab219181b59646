//! HLC timestamps: physical time, a logical counter and a node id, totally ordered.
//!
//! A timestamp packs its physical time and logical counter into one `u64`, as Kulkarni
//! et al. suggest: the nanoseconds since the epoch with the low [`LOGICAL_BITS`] bits
//! replaced by the counter. The physical part therefore ticks in 256 ns steps, and
//! `(physical, logical)` order is plain integer order. The node id breaks ties between
//! nodes, so no two nodes ever issue equal timestamps.
//!
//! Three forms, all round-tripping:
//! - the value itself, ordered by `(time, node)`;
//! - a 12-byte big-endian wire form ([`Timestamp::encode`] / [`Timestamp::decode`]);
//! - text, `SECONDS.NANOSECONDS+LOGICAL@NODE`, e.g. `1764189663.123456768+3@42`.

use core::cmp::Ordering;
use core::fmt;
use core::hash::{Hash, Hasher};
use core::marker::PhantomData;
use core::str::FromStr;

use crate::time::{Instant, Timescale, Utc, NANOS_PER_SEC};

/// Bits of the packed time that hold the logical counter.
pub const LOGICAL_BITS: u32 = 8;
/// The largest logical counter; one more carries into the physical part.
pub const LOGICAL_MAX: u8 = u8::MAX;
const LOGICAL_MASK: u64 = (1 << LOGICAL_BITS) - 1;

/// Identifies the node (process, board, port) that issued a timestamp.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct NodeId(pub u32);

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A hybrid logical clock timestamp on timescale `S`.
///
/// ```
/// use tempora_core::time::{Instant, Utc};
/// use tempora_core::timestamp::{NodeId, Timestamp};
///
/// let t = Timestamp::<Utc>::new(Instant::from_secs_nanos(1_764_189_663, 123_456_768).unwrap(), 3, NodeId(42));
/// assert_eq!(t.to_string(), "1764189663.123456768+3@42");
/// assert_eq!("1764189663.123456768+3@42".parse::<Timestamp>(), Ok(t));
/// assert_eq!(Timestamp::<Utc>::decode(&t.encode()), Ok(t));
/// ```
pub struct Timestamp<S: Timescale = Utc> {
    time: u64,
    node: NodeId,
    scale: PhantomData<S>,
}

impl<S: Timescale> Timestamp<S> {
    /// Length of the wire form in bytes: 8 of packed time, 4 of node id, big-endian.
    pub const WIRE_LEN: usize = 12;

    /// A timestamp from its parts. The physical time is rounded down to its 256 ns tick.
    pub const fn new(physical: Instant<S>, logical: u8, node: NodeId) -> Self {
        Self::from_raw((physical.as_nanos() & !LOGICAL_MASK) | logical as u64, node)
    }

    /// A timestamp from its packed time (physical nanoseconds with the counter in the low
    /// [`LOGICAL_BITS`]) and node.
    #[inline]
    pub const fn from_raw(time: u64, node: NodeId) -> Self {
        Self {
            time,
            node,
            scale: PhantomData,
        }
    }

    /// The packed time: physical nanoseconds with the counter in the low bits.
    #[inline]
    pub const fn raw(&self) -> u64 {
        self.time
    }

    /// The physical part, a multiple of 256 ns.
    #[inline]
    pub const fn physical(&self) -> Instant<S> {
        Instant::from_nanos(self.time & !LOGICAL_MASK)
    }

    /// The logical counter.
    #[inline]
    pub const fn logical(&self) -> u8 {
        (self.time & LOGICAL_MASK) as u8
    }

    /// The issuing node.
    #[inline]
    pub const fn node(&self) -> NodeId {
        self.node
    }

    /// The 12-byte big-endian wire form.
    pub fn encode(&self) -> [u8; 12] {
        let mut out = [0u8; 12];
        out[..8].copy_from_slice(&self.time.to_be_bytes());
        out[8..].copy_from_slice(&self.node.0.to_be_bytes());
        out
    }

    /// Parses exactly [`Self::WIRE_LEN`] bytes.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let (ts, rest) = Self::decode_prefix(bytes)?;
        if rest.is_empty() {
            Ok(ts)
        } else {
            Err(DecodeError::TrailingBytes { extra: rest.len() })
        }
    }

    /// Parses a timestamp from the front of `bytes` and returns the rest, for framing
    /// inside a larger message.
    pub fn decode_prefix(bytes: &[u8]) -> Result<(Self, &[u8]), DecodeError> {
        let truncated = DecodeError::Truncated { len: bytes.len() };
        let (time, rest) = bytes.split_first_chunk::<8>().ok_or(truncated)?;
        let (node, rest) = rest.split_first_chunk::<4>().ok_or(truncated)?;
        let (time, node) = (u64::from_be_bytes(*time), u32::from_be_bytes(*node));
        Ok((Self::from_raw(time, NodeId(node)), rest))
    }
}

/// A point in HLC time: a [`Timestamp`] without its node, the packed physical time and
/// logical counter (nanoseconds whose low [`LOGICAL_BITS`] bits are the counter).
///
/// This is what watermarks and windows over HLC-stamped events are measured in. It is
/// not an [`Instant`]: the low bits count events, not nanoseconds, so the two do not
/// mix without saying how ([`HlcTime::new`], [`HlcTime::physical`]).
///
/// ```
/// use core::time::Duration;
/// use tempora_core::time::{Instant, Utc};
/// use tempora_core::timestamp::{HlcTime, NodeId, Timestamp};
///
/// let t = Timestamp::<Utc>::new(Instant::from_nanos(1_000_000_256), 3, NodeId(7));
/// let h = t.time();
/// assert_eq!(h, HlcTime::new(Instant::from_nanos(1_000_000_256), 3));
/// assert_eq!(h.to_string(), "1.000000256+3");
/// // Watermark one microsecond behind, same logical counter.
/// let w = h.saturating_sub(Duration::from_nanos(1_024));
/// assert!(w < h && w.logical() == 3);
/// ```
pub struct HlcTime<S: Timescale = Utc> {
    time: u64,
    scale: PhantomData<S>,
}

impl<S: Timescale> HlcTime<S> {
    /// The earliest HLC time.
    pub const MIN: Self = Self::from_raw(0);
    /// The last HLC time (year 2554, counter 255).
    pub const MAX: Self = Self::from_raw(u64::MAX);

    /// The HLC time of `physical` (rounded down to its 256 ns tick) and counter `logical`.
    pub const fn new(physical: Instant<S>, logical: u8) -> Self {
        Self::from_raw((physical.as_nanos() & !LOGICAL_MASK) | logical as u64)
    }

    /// From the packed value (see [`Timestamp::raw`]).
    #[inline]
    pub const fn from_raw(time: u64) -> Self {
        Self {
            time,
            scale: PhantomData,
        }
    }

    /// The packed value: physical nanoseconds with the counter in the low bits.
    #[inline]
    pub const fn raw(self) -> u64 {
        self.time
    }

    /// The physical part, a multiple of 256 ns.
    #[inline]
    pub const fn physical(self) -> Instant<S> {
        Instant::from_nanos(self.time & !LOGICAL_MASK)
    }

    /// The logical counter.
    #[inline]
    pub const fn logical(self) -> u8 {
        (self.time & LOGICAL_MASK) as u8
    }

    /// This time with the node `node`: the timestamp it would be on that node.
    pub const fn on(self, node: NodeId) -> Timestamp<S> {
        Timestamp::from_raw(self.time, node)
    }

    /// `d` earlier (the packed value minus `d` in nanoseconds), or `None` before the
    /// epoch.
    pub const fn checked_sub(self, d: core::time::Duration) -> Option<Self> {
        match self.time.checked_sub(crate::time::duration_nanos(d)) {
            Some(t) => Some(Self::from_raw(t)),
            None => None,
        }
    }

    /// `d` earlier, clamped to [`HlcTime::MIN`].
    pub const fn saturating_sub(self, d: core::time::Duration) -> Self {
        Self::from_raw(self.time.saturating_sub(crate::time::duration_nanos(d)))
    }

    /// `d` later, clamped to [`HlcTime::MAX`].
    pub const fn saturating_add(self, d: core::time::Duration) -> Self {
        Self::from_raw(self.time.saturating_add(crate::time::duration_nanos(d)))
    }
}

impl<S: Timescale> Timestamp<S> {
    /// The HLC time, without the node.
    #[inline]
    pub const fn time(&self) -> HlcTime<S> {
        HlcTime::from_raw(self.time)
    }
}

impl<S: Timescale> From<Timestamp<S>> for HlcTime<S> {
    fn from(t: Timestamp<S>) -> Self {
        t.time()
    }
}

impl<S: Timescale> Clone for HlcTime<S> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<S: Timescale> Copy for HlcTime<S> {}
impl<S: Timescale> PartialEq for HlcTime<S> {
    fn eq(&self, other: &Self) -> bool {
        self.time == other.time
    }
}
impl<S: Timescale> Eq for HlcTime<S> {}
impl<S: Timescale> PartialOrd for HlcTime<S> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<S: Timescale> Ord for HlcTime<S> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.time.cmp(&other.time)
    }
}
impl<S: Timescale> Hash for HlcTime<S> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.time.hash(state)
    }
}
impl<S: Timescale> Default for HlcTime<S> {
    fn default() -> Self {
        Self::MIN
    }
}

/// `SECONDS.NANOSECONDS+LOGICAL`, a timestamp's text without `@NODE`.
impl<S: Timescale> fmt::Display for HlcTime<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = self.physical();
        write!(f, "{}.{:09}+{}", p.secs(), p.subsec_nanos(), self.logical())
    }
}

impl<S: Timescale> fmt::Debug for HlcTime<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HlcTime({self} {})", S::NAME)
    }
}

#[cfg(feature = "defmt")]
impl<S: Timescale> defmt::Format for HlcTime<S> {
    fn format(&self, f: defmt::Formatter) {
        let p = self.physical();
        defmt::write!(
            f,
            "{=u64}.{=u32:09}+{=u8}",
            p.secs(),
            p.subsec_nanos(),
            self.logical()
        )
    }
}

/// Why bytes are not a timestamp.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum DecodeError {
    /// Fewer than 12 bytes.
    Truncated {
        /// How many there were.
        len: usize,
    },
    /// More than 12 bytes where exactly 12 were expected.
    TrailingBytes {
        /// How many bytes followed the timestamp.
        extra: usize,
    },
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Truncated { len } => write!(f, "timestamp needs 12 bytes, got {len}"),
            Self::TrailingBytes { extra } => write!(f, "{extra} bytes after the timestamp"),
        }
    }
}

impl core::error::Error for DecodeError {}

/// Why text is not a timestamp.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ParseError {
    /// Not of the form `SECONDS.NANOSECONDS+LOGICAL@NODE`.
    Malformed,
    /// A field is not a decimal number that fits its width (nanoseconds take exactly
    /// nine digits).
    BadNumber,
    /// The time is past the year 2554.
    OutOfRange,
    /// Not the one spelling a timestamp prints as: nanoseconds that are not a multiple of
    /// 256, or a number with leading zeros.
    NotCanonical,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Malformed => "expected SECONDS.NANOSECONDS+LOGICAL@NODE",
            Self::BadNumber => "a field is not a number of the right width",
            Self::OutOfRange => "time out of range",
            Self::NotCanonical => {
                "not canonical (leading zeros, or nanoseconds not a multiple of 256)"
            }
        })
    }
}

impl core::error::Error for ParseError {}

fn parse_digits<T: FromStr>(s: &str) -> Result<T, ParseError> {
    // `u64::from_str` accepts a leading '+', which would make two spellings of one value.
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ParseError::BadNumber);
    }
    s.parse().map_err(|_| ParseError::BadNumber)
}

impl<S: Timescale> FromStr for Timestamp<S> {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, ParseError> {
        let (time, node) = s.split_once('@').ok_or(ParseError::Malformed)?;
        let (physical, logical) = time.split_once('+').ok_or(ParseError::Malformed)?;
        let (secs, frac) = physical.split_once('.').ok_or(ParseError::Malformed)?;
        if frac.len() != 9 {
            return Err(ParseError::BadNumber);
        }
        let secs: u64 = parse_digits(secs)?;
        let frac: u64 = parse_digits(frac)?;
        let logical_n: u8 = parse_digits(logical)?;
        let node_n: u32 = parse_digits(node)?;
        let padded = |f: &str| f.len() > 1 && f.starts_with('0');
        if frac & LOGICAL_MASK != 0
            || padded(physical.split_once('.').map_or("", |p| p.0))
            || padded(logical)
            || padded(node)
        {
            return Err(ParseError::NotCanonical);
        }
        let nanos = secs
            .checked_mul(NANOS_PER_SEC)
            .and_then(|n| n.checked_add(frac))
            .ok_or(ParseError::OutOfRange)?;
        Ok(Self::from_raw(nanos | u64::from(logical_n), NodeId(node_n)))
    }
}

impl<S: Timescale> fmt::Display for Timestamp<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = self.physical();
        write!(
            f,
            "{}.{:09}+{}@{}",
            p.secs(),
            p.subsec_nanos(),
            self.logical(),
            self.node
        )
    }
}

impl<S: Timescale> fmt::Debug for Timestamp<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Timestamp({self} {})", S::NAME)
    }
}

impl<S: Timescale> Clone for Timestamp<S> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<S: Timescale> Copy for Timestamp<S> {}
impl<S: Timescale> PartialEq for Timestamp<S> {
    fn eq(&self, other: &Self) -> bool {
        self.time == other.time && self.node == other.node
    }
}
impl<S: Timescale> Eq for Timestamp<S> {}
impl<S: Timescale> PartialOrd for Timestamp<S> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<S: Timescale> Ord for Timestamp<S> {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.time, self.node).cmp(&(other.time, other.node))
    }
}
impl<S: Timescale> Hash for Timestamp<S> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        (self.time, self.node).hash(state)
    }
}

#[cfg(feature = "defmt")]
impl<S: Timescale> defmt::Format for Timestamp<S> {
    fn format(&self, f: defmt::Formatter) {
        let p = self.physical();
        defmt::write!(
            f,
            "{=u64}.{=u32:09}+{=u8}@{=u32}",
            p.secs(),
            p.subsec_nanos(),
            self.logical(),
            self.node.0
        )
    }
}

#[cfg(feature = "serde")]
impl<S: Timescale> serde::Serialize for Timestamp<S> {
    fn serialize<Z: serde::Serializer>(&self, s: Z) -> Result<Z::Ok, Z::Error> {
        (self.time, self.node.0).serialize(s)
    }
}

#[cfg(feature = "serde")]
impl<'de, S: Timescale> serde::Deserialize<'de> for Timestamp<S> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let (time, node) = <(u64, u32)>::deserialize(d)?;
        Ok(Self::from_raw(time, NodeId(node)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_pack_and_unpack() {
        let t = Timestamp::<Utc>::new(Instant::from_nanos(1_000_000_255), 7, NodeId(9));
        assert_eq!(t.physical().as_nanos(), 1_000_000_000);
        assert_eq!(t.logical(), 7);
        assert_eq!(t.node(), NodeId(9));
    }

    #[test]
    fn order_is_time_then_node() {
        let a = Timestamp::<Utc>::from_raw(5, NodeId(2));
        let b = Timestamp::<Utc>::from_raw(6, NodeId(1));
        let c = Timestamp::<Utc>::from_raw(6, NodeId(2));
        assert!(a < b && b < c);
    }

    #[test]
    fn bad_wire_and_text_are_typed_errors() {
        assert_eq!(
            Timestamp::<Utc>::decode(&[0; 11]),
            Err(DecodeError::Truncated { len: 11 })
        );
        assert_eq!(
            Timestamp::<Utc>::decode(&[0; 13]),
            Err(DecodeError::TrailingBytes { extra: 1 })
        );
        let p = |s: &str| s.parse::<Timestamp>();
        assert_eq!(p("1.000000000+0"), Err(ParseError::Malformed));
        assert_eq!(p("1.00000000+0@1"), Err(ParseError::BadNumber));
        assert_eq!(p("+1.000000000+0@1"), Err(ParseError::Malformed));
        assert_eq!(p("-1.000000000+0@1"), Err(ParseError::BadNumber));
        assert_eq!(p("1.000000000+256@1"), Err(ParseError::BadNumber));
        assert_eq!(p("1.000000001+0@1"), Err(ParseError::NotCanonical));
        assert_eq!(p("01.000000000+0@1"), Err(ParseError::NotCanonical));
        assert_eq!(p("1.000000000+00@1"), Err(ParseError::NotCanonical));
        assert_eq!(p("1.000000000+0@01"), Err(ParseError::NotCanonical));
        assert_eq!(p("0.000000000+0@0").unwrap().raw(), 0);
        assert_eq!(p("99999999999.000000000+0@1"), Err(ParseError::OutOfRange));
        assert_eq!(p("1.000000256+255@4294967295").unwrap().logical(), 255);
    }
}
