//! The segment's layout, version 1: where each word is, and the header and a slot's
//! correction as values, encoded into 64-bit words and decoded back.
//!
//! Pure data, no memory mapping, so the encoding is tested on its own. Every field is
//! one native-endian `u64` (the segment never leaves its host), accessed atomically.
//! `docs/architecture.md` has the table; `include/tempora_time.h` the same offsets
//! for C.

use std::fmt;
use std::time::Duration;

use tempora_core::clock::{ClockReading, ClockStatus};
use tempora_core::time::{Instant, Offset, TaiOffset, Utc};
use tempora_core::timestamp::NodeId;

/// Bytes in each of the two files (one page).
pub const SEGMENT_BYTES: usize = 4096;
/// `"TEMPORAt"`, the time segment's first word.
pub const TIME_MAGIC: u64 = u64::from_le_bytes(*b"TEMPORAt");
/// `"TEMPORAh"`, the HLC segment's first word.
pub const HLC_MAGIC: u64 = u64::from_le_bytes(*b"TEMPORAh");
/// The layout this code reads and writes. A change that moves or redefines a word
/// bumps it; readers refuse other versions.
pub const LAYOUT_VERSION: u64 = 1;
/// The reference clock corrections are relative to: 0 is `CLOCK_REALTIME`.
pub const CLOCK_REALTIME: u64 = 0;
/// Fractional bits of the fixed-point rates ([`Correction::rate_q40`]).
pub const RATE_SHIFT: u32 = 40;

/// Word indices in the time segment (byte offset = index × 8).
pub mod word {
    /// [`TIME_MAGIC`](super::TIME_MAGIC).
    pub const MAGIC: usize = 0;
    /// [`LAYOUT_VERSION`](super::LAYOUT_VERSION).
    pub const VERSION: usize = 1;
    /// [`SEGMENT_BYTES`](super::SEGMENT_BYTES).
    pub const SIZE: usize = 2;
    /// The reference clock's id ([`CLOCK_REALTIME`](super::CLOCK_REALTIME)).
    pub const CLOCK_ID: usize = 3;
    /// The publishing daemon's process id.
    pub const PID: usize = 4;
    /// Daemon starts on this segment, counting from 1.
    pub const GENERATION: usize = 5;
    /// 1 while a daemon runs, 0 after a clean stop (or before the first start).
    pub const STATE: usize = 6;
    /// The host's HLC node id.
    pub const NODE: usize = 7;
    /// Nanoseconds between publications.
    pub const INTERVAL_NS: usize = 8;
    /// A publication is stale (its reading unknown) this many nanoseconds after it.
    pub const STALE_AFTER_NS: usize = 9;
    /// TAI - UTC in seconds, as the daemon knows it (two's complement).
    pub const TAI_MINUS_UTC: usize = 10;
    /// The host's HLC max offset in nanoseconds (`tempora run --max-offset`): every
    /// process's host-wide HLC refuses remote timestamps further ahead; 0: not set.
    /// Taken from a reserved word, so readers of layout 1 that predate it still read
    /// the segment (they use their own default).
    pub const MAX_OFFSET_NS: usize = 11;
    /// Publications so far: the seqlock's pointer (the latest is in slot `n % 2`).
    pub const PUBLICATIONS: usize = 16;
    /// `CLOCK_MONOTONIC` nanoseconds at the last publication: the heartbeat.
    pub const HEARTBEAT_MONO_NS: usize = 17;
    /// History entries written so far (the journal's ring of status lines); outside the
    /// header, so a restarted daemon continues the journal.
    pub const HISTORY_COUNT: usize = 18;
    /// Events written so far (the journal's ring of warnings).
    pub const EVENTS_COUNT: usize = 19;
    /// The daemon's source, UTF-8, NUL-padded, 8 words (64 bytes).
    pub const SOURCE: usize = 24;
    /// Words in the source name.
    pub const SOURCE_WORDS: usize = 8;
    /// The first of two slots.
    pub const SLOTS: usize = 32;
    /// Words per slot (two cache lines).
    pub const SLOT_WORDS: usize = 16;
    /// In a slot: the sequence count, odd while the slot is written.
    pub const SEQ: usize = 0;
    /// In a slot: which publication it holds.
    pub const PUBLICATION: usize = 1;
    /// In a slot: the first of the [`CORRECTION_WORDS`] words of the correction.
    pub const CORRECTION: usize = 2;
    /// Words of an encoded [`Correction`](super::Correction).
    pub const CORRECTION_WORDS: usize = 7;
    /// The journal's history ring: 48 entries of 6 words.
    pub const HISTORY: usize = 64;
    /// The journal's event ring: 14 entries of 11 words.
    pub const EVENTS: usize = 352;
    /// In the HLC segment: the HLC state word (on its own cache line).
    pub const HLC: usize = 8;
}

/// Words of an encoded [`Header`].
pub const HEADER_WORDS: usize = 16;

/// Why words are not a segment this code can use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LayoutError {
    /// The first word is not the magic: not a tempora segment.
    Magic(u64),
    /// Another layout version.
    Version(u64),
    /// The stated size is not [`SEGMENT_BYTES`].
    Size(u64),
    /// A reference clock this version does not know.
    ClockId(u64),
    /// A state other than 0 or 1.
    State(u64),
    /// A status code other than 0..=3.
    Status(u64),
}

impl fmt::Display for LayoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Magic(m) => write!(f, "not a tempora segment (magic {m:#018x})"),
            Self::Version(v) => write!(
                f,
                "segment layout version {v}, this build reads version {LAYOUT_VERSION}"
            ),
            Self::Size(s) => write!(f, "segment size {s}, expected {SEGMENT_BYTES}"),
            Self::ClockId(c) => write!(f, "unknown reference clock id {c}"),
            Self::State(s) => write!(f, "unknown daemon state {s}"),
            Self::Status(s) => write!(f, "unknown clock status code {s}"),
        }
    }
}

impl std::error::Error for LayoutError {}

/// Who publishes, and how often: the time segment's first two cache lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// The daemon's process id.
    pub pid: u32,
    /// Daemon starts on this segment.
    pub generation: u64,
    /// Whether a daemon runs (it clears this when it stops cleanly).
    pub running: bool,
    /// The host's HLC node id.
    pub node: NodeId,
    /// Time between publications.
    pub interval: Duration,
    /// How long a publication is good for.
    pub stale_after: Duration,
    /// TAI - UTC.
    pub tai_minus_utc: TaiOffset,
    /// The host's HLC max offset; `None`: not set (a daemon that predates it).
    pub max_offset: Option<Duration>,
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl Header {
    /// The words `0..HEADER_WORDS`, magic and version included.
    pub fn encode(&self) -> [u64; HEADER_WORDS] {
        let mut w = [0u64; HEADER_WORDS];
        w[word::MAGIC] = TIME_MAGIC;
        w[word::VERSION] = LAYOUT_VERSION;
        w[word::SIZE] = SEGMENT_BYTES as u64;
        w[word::CLOCK_ID] = CLOCK_REALTIME;
        w[word::PID] = u64::from(self.pid);
        w[word::GENERATION] = self.generation;
        w[word::STATE] = u64::from(self.running);
        w[word::NODE] = u64::from(self.node.0);
        w[word::INTERVAL_NS] = nanos(self.interval);
        w[word::STALE_AFTER_NS] = nanos(self.stale_after);
        w[word::TAI_MINUS_UTC] = i64::from(self.tai_minus_utc.0) as u64;
        w[word::MAX_OFFSET_NS] = self.max_offset.map_or(0, nanos);
        w
    }

    /// Checks the identifying words, then reads the rest.
    pub fn decode(w: &[u64; HEADER_WORDS]) -> Result<Self, LayoutError> {
        check_identity(w[word::MAGIC], TIME_MAGIC, w[word::VERSION], w[word::SIZE])?;
        if w[word::CLOCK_ID] != CLOCK_REALTIME {
            return Err(LayoutError::ClockId(w[word::CLOCK_ID]));
        }
        let running = match w[word::STATE] {
            0 => false,
            1 => true,
            s => return Err(LayoutError::State(s)),
        };
        Ok(Self {
            // Truncation cannot lose a pid: Linux pids fit 22 bits.
            pid: w[word::PID] as u32,
            generation: w[word::GENERATION],
            running,
            node: NodeId(w[word::NODE] as u32),
            interval: Duration::from_nanos(w[word::INTERVAL_NS]),
            stale_after: Duration::from_nanos(w[word::STALE_AFTER_NS]),
            tai_minus_utc: TaiOffset(w[word::TAI_MINUS_UTC] as i64 as i32),
            max_offset: match w[word::MAX_OFFSET_NS] {
                0 => None,
                ns => Some(Duration::from_nanos(ns)),
            },
        })
    }
}

/// Checks a segment's magic, version and size words against `magic`.
pub fn check_identity(found: u64, magic: u64, version: u64, size: u64) -> Result<(), LayoutError> {
    if found != magic {
        return Err(LayoutError::Magic(found));
    }
    if version != LAYOUT_VERSION {
        return Err(LayoutError::Version(version));
    }
    if size != SEGMENT_BYTES as u64 {
        return Err(LayoutError::Size(size));
    }
    Ok(())
}

/// The source name as [`word::SOURCE_WORDS`] words: UTF-8, NUL-padded, cut at a
/// character boundary to at most 64 bytes.
pub fn encode_source(source: &str) -> [u64; word::SOURCE_WORDS] {
    let mut end = source.len().min(word::SOURCE_WORDS * 8);
    while !source.is_char_boundary(end) {
        end -= 1;
    }
    let mut bytes = [0u8; word::SOURCE_WORDS * 8];
    bytes[..end].copy_from_slice(&source.as_bytes()[..end]);
    let mut w = [0u64; word::SOURCE_WORDS];
    for (w, chunk) in w.iter_mut().zip(bytes.chunks_exact(8)) {
        *w = u64::from_ne_bytes(chunk.try_into().unwrap_or_default());
    }
    w
}

/// The source name back: up to the first NUL, invalid UTF-8 replaced.
pub fn decode_source(w: &[u64; word::SOURCE_WORDS]) -> String {
    let bytes: Vec<u8> = w.iter().flat_map(|w| w.to_ne_bytes()).collect();
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

/// The status codes of a slot.
pub fn status_code(s: ClockStatus) -> u64 {
    match s {
        ClockStatus::Unknown => 0,
        ClockStatus::Synchronized => 1,
        ClockStatus::Holdover => 2,
        ClockStatus::FreeRunning => 3,
    }
}

pub(super) fn status_of(code: u64) -> Result<ClockStatus, LayoutError> {
    Ok(match code {
        0 => ClockStatus::Unknown,
        1 => ClockStatus::Synchronized,
        2 => ClockStatus::Holdover,
        3 => ClockStatus::FreeRunning,
        c => return Err(LayoutError::Status(c)),
    })
}

/// What a reader needs to compute bounded time from its own read of the reference clock
/// (`CLOCK_REALTIME`, a vDSO call): the estimate at one instant and how it moves.
///
/// At reference reading `now` in `[at, expires]`, with `age = now - at`:
/// - time = `now - (offset + (rate_q40 × age) >> 40)`,
/// - bound = `bound + ((growth_q40 × age) >> 40) + 1` (rounded up),
/// - status as published.
///
/// Outside that window the reading is [`ClockStatus::Unknown`]: the daemon stopped
/// publishing (or the reference clock was stepped). The rates are fixed point with
/// [`RATE_SHIFT`] fractional bits, so a read costs two multiplications, no division.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Correction {
    /// The reference clock's reading (ns) at which the estimate holds.
    pub at: u64,
    /// Reference clock minus true time at `at`.
    pub offset: Offset,
    /// How fast that offset grows, per nanosecond of reference time, × 2^40.
    pub rate_q40: i64,
    /// Error bound at `at`, in nanoseconds.
    pub bound: u64,
    /// How fast the bound grows, per nanosecond, × 2^40.
    pub growth_q40: u64,
    /// The reference reading after which this correction is stale.
    pub expires: u64,
    /// The status while fresh.
    pub status: ClockStatus,
}

impl Correction {
    /// The correction for `reading` (UTC) taken at reference reading `at`, whose offset
    /// changes by `frequency_ppt` (ps/s) and whose error grows by `drift_ppb`, good for
    /// `valid_for`.
    pub fn new(
        at: u64,
        reading: &ClockReading<Utc>,
        frequency_ppt: i64,
        drift_ppb: u32,
        valid_for: Duration,
    ) -> Self {
        let offset = Offset::try_from_nanos(i128::from(at) - i128::from(reading.time.as_nanos()))
            .unwrap_or(Offset::ZERO);
        let rate = (i128::from(frequency_ppt) << RATE_SHIFT) / 1_000_000_000_000;
        let growth = (u128::from(drift_ppb) << RATE_SHIFT).div_ceil(1_000_000_000);
        let unbounded = reading.bound == Duration::MAX;
        Self {
            at,
            offset,
            rate_q40: i64::try_from(rate).unwrap_or(0),
            bound: nanos(reading.bound),
            growth_q40: u64::try_from(growth).unwrap_or(u64::MAX),
            expires: at.saturating_add(nanos(valid_for)),
            status: if unbounded {
                ClockStatus::Unknown
            } else {
                reading.status
            },
        }
    }

    /// A correction that says nothing: every reading unknown.
    pub fn unknown(at: u64) -> Self {
        Self {
            at,
            offset: Offset::ZERO,
            rate_q40: 0,
            bound: u64::MAX,
            growth_q40: 0,
            expires: at,
            status: ClockStatus::Unknown,
        }
    }

    /// The bounded reading at reference reading `now`.
    #[inline]
    pub fn reading_at(&self, now: u64) -> ClockReading<Utc> {
        if self.status == ClockStatus::Unknown || now < self.at || now > self.expires {
            return ClockReading {
                time: Instant::from_nanos(now),
                bound: Duration::MAX,
                status: ClockStatus::Unknown,
            };
        }
        let age = now - self.at;
        // Signed 64 × 64 -> 128 bits, one multiplication; an age beyond 292 years is
        // clamped (and long expired). One clamp at the end, not a saturation per step.
        let signed_age = age.min(i64::MAX as u64) as i64;
        let drift = (i128::from(self.rate_q40) * i128::from(signed_age)) >> RATE_SHIFT;
        let time = i128::from(now) - i128::from(self.offset.as_nanos()) - drift;
        let growth = (u128::from(self.growth_q40) * u128::from(age)) >> RATE_SHIFT;
        let bound = u128::from(self.bound) + growth + 1;
        ClockReading {
            time: Instant::from_nanos(time.clamp(0, i128::from(u64::MAX)) as u64),
            bound: Duration::from_nanos(bound.min(u128::from(u64::MAX)) as u64),
            status: self.status,
        }
    }

    /// The [`word::CORRECTION_WORDS`] words of a slot's correction.
    pub fn encode(&self) -> [u64; word::CORRECTION_WORDS] {
        [
            self.at,
            self.offset.as_nanos() as u64,
            self.rate_q40 as u64,
            self.bound,
            self.growth_q40,
            self.expires,
            status_code(self.status),
        ]
    }

    /// The correction from its words.
    pub fn decode(w: &[u64; word::CORRECTION_WORDS]) -> Result<Self, LayoutError> {
        Ok(Self {
            at: w[0],
            offset: Offset::from_nanos(w[1] as i64),
            rate_q40: w[2] as i64,
            bound: w[3],
            growth_q40: w[4],
            expires: w[5],
            status: status_of(w[6])?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use tempora_core::discipline::{Estimate, OffsetSample};

    fn status() -> impl Strategy<Value = ClockStatus> {
        prop_oneof![
            Just(ClockStatus::Unknown),
            Just(ClockStatus::Synchronized),
            Just(ClockStatus::Holdover),
            Just(ClockStatus::FreeRunning),
        ]
    }

    fn header() -> impl Strategy<Value = Header> {
        (
            (any::<u32>(), any::<u64>(), any::<bool>(), any::<u32>()),
            (any::<u64>(), any::<u64>(), any::<i32>(), 1..u64::MAX),
        )
            .prop_map(
                |((pid, generation, running, node), (i, s, tai, m))| Header {
                    pid,
                    generation,
                    running,
                    node: NodeId(node),
                    interval: Duration::from_nanos(i),
                    stale_after: Duration::from_nanos(s),
                    tai_minus_utc: TaiOffset(tai),
                    max_offset: Some(Duration::from_nanos(m)),
                },
            )
    }

    fn correction() -> impl Strategy<Value = Correction> {
        (
            (any::<u64>(), any::<i64>(), any::<i64>()),
            (any::<u64>(), any::<u64>(), any::<u64>(), status()),
        )
            .prop_map(
                |((at, offset, rate_q40), (bound, growth_q40, expires, status))| Correction {
                    at,
                    offset: Offset::from_nanos(offset),
                    rate_q40,
                    bound,
                    growth_q40,
                    expires,
                    status,
                },
            )
    }

    proptest! {
        #[test]
        fn header_round_trips(h in header()) {
            prop_assert_eq!(Header::decode(&h.encode()), Ok(h));
        }

        #[test]
        fn correction_round_trips(c in correction()) {
            prop_assert_eq!(Correction::decode(&c.encode()), Ok(c));
        }

        #[test]
        fn any_words_decode_or_fail_typed(
            w in proptest::array::uniform16(any::<u64>()),
            c in proptest::array::uniform7(any::<u64>()),
            at in any::<u64>(),
        ) {
            // Never a panic, on any words a stray writer could leave.
            let _ = Header::decode(&w);
            if let Ok(c) = Correction::decode(&c) {
                let _ = c.reading_at(at);
            }
        }

        #[test]
        fn source_names_round_trip(s in "\\PC{0,80}") {
            let back = decode_source(&encode_source(&s));
            prop_assert!(s.starts_with(&back));
            prop_assert!(back.len() <= 64);
            if s.len() <= 64 && !s.contains('\0') {
                prop_assert_eq!(back, s);
            }
        }

        /// The reader's fixed-point arithmetic agrees with the core discipline's
        /// (ppt and ppb, divisions) within a nanosecond, and its bound is never smaller.
        #[test]
        fn reading_agrees_with_the_discipline(
            at in 1_000_000_000_000_000_000u64..2_000_000_000_000_000_000,
            offset in -1_000_000_000i64..1_000_000_000,
            frequency_ppt in -1_000_000_000i64..=1_000_000_000,
            bound in 0u64..1_000_000_000,
            drift_ppb in 0u32..1_000_000,
            age in 0u64..3_600_000_000_000,
        ) {
            let truth = at as i128 - offset as i128;
            let reading = ClockReading {
                time: Instant::<Utc>::from_nanos(truth as u64),
                bound: Duration::from_nanos(bound),
                status: ClockStatus::Synchronized,
            };
            let c = Correction::new(at, &reading, frequency_ppt, drift_ppb, Duration::from_secs(7200));
            let r = c.reading_at(at + age);
            let e = Estimate {
                sample: OffsetSample {
                    at: Instant::<Utc>::from_nanos(at),
                    offset: Offset::from_nanos(offset),
                    frequency_ppt,
                    bound: Duration::from_nanos(bound),
                    locked: true,
                },
                was_synchronized: true,
            };
            let now = Instant::<Utc>::from_nanos(at + age);
            let expected = now.saturating_add_offset(e.offset_at(now).saturating_neg());
            // 2^-40 per ns of rate resolution: a nanosecond per 18 minutes of age.
            let slack = 1 + (age >> RATE_SHIFT);
            prop_assert!(r.time.as_nanos().abs_diff(expected.as_nanos()) <= slack + 1,
                "{} vs {}", r.time.as_nanos(), expected.as_nanos());
            let b = e.bound_at(now, drift_ppb);
            prop_assert!(r.bound >= b);
            prop_assert!(r.bound <= b + Duration::from_nanos(2 + slack));
            prop_assert_eq!(r.status, ClockStatus::Synchronized);
        }
    }

    #[test]
    fn stale_or_unknown_corrections_read_unknown() {
        let reading = ClockReading {
            time: Instant::<Utc>::from_nanos(1_000),
            bound: Duration::from_nanos(10),
            status: ClockStatus::Synchronized,
        };
        let c = Correction::new(1_000, &reading, 0, 1_000, Duration::from_nanos(500));
        assert_eq!(c.reading_at(1_500).status, ClockStatus::Synchronized);
        assert_eq!(c.reading_at(1_501).status, ClockStatus::Unknown);
        assert_eq!(
            c.reading_at(999).status,
            ClockStatus::Unknown,
            "a step back"
        );
        assert_eq!(c.reading_at(1_501).bound, Duration::MAX);
        assert_eq!(
            Correction::unknown(5).reading_at(5).status,
            ClockStatus::Unknown
        );
        let unbounded = ClockReading {
            bound: Duration::MAX,
            ..reading
        };
        let c = Correction::new(1_000, &unbounded, 0, 0, Duration::from_secs(1));
        assert_eq!(c.reading_at(1_000).status, ClockStatus::Unknown);
    }

    #[test]
    fn bad_identity_is_a_typed_error() {
        let h = Header {
            pid: 1,
            generation: 1,
            running: true,
            node: NodeId(1),
            interval: Duration::from_secs(1),
            stale_after: Duration::from_secs(2),
            tai_minus_utc: TaiOffset(37),
            max_offset: None,
        };
        let mut w = h.encode();
        assert_eq!(
            w[word::MAX_OFFSET_NS],
            0,
            "not set is 0, as a daemon before it left it"
        );
        assert_eq!(Header::decode(&w), Ok(h));
        w[word::VERSION] = 2;
        assert_eq!(Header::decode(&w), Err(LayoutError::Version(2)));
        let mut w = h.encode();
        w[word::MAGIC] = HLC_MAGIC;
        assert_eq!(Header::decode(&w), Err(LayoutError::Magic(HLC_MAGIC)));
        let mut w = h.encode();
        w[word::STATE] = 7;
        assert_eq!(Header::decode(&w), Err(LayoutError::State(7)));
        assert_eq!(
            Correction::decode(&[0, 0, 0, 0, 0, 0, 9]),
            Err(LayoutError::Status(9))
        );
    }
}
