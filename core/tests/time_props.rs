//! The time types at the ends of their range: offsets print and saturate exactly,
//! instants and HLC times saturate instead of wrapping, equal values hash equally, and
//! every error names itself.
#![cfg(not(loom))]

use core::time::Duration;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use proptest::prelude::*;
use tempora_core::hlc::{Exhausted, UpdateError};
use tempora_core::time::{Instant, Offset, Tai, Utc};
use tempora_core::timestamp::{DecodeError, HlcTime, ParseError};
use tempora_core::{NodeId, Timestamp};

fn hash<T: Hash>(v: &T) -> u64 {
    let mut h = DefaultHasher::new();
    v.hash(&mut h);
    h.finish()
}

fn nanos() -> impl Strategy<Value = i64> {
    prop_oneof![
        Just(i64::MIN),
        Just(i64::MAX),
        Just(0),
        -3_000_000_000i64..3_000_000_000,
        any::<i64>()
    ]
}

fn duration() -> impl Strategy<Value = Duration> {
    prop_oneof![
        Just(Duration::MAX),
        Just(Duration::ZERO),
        any::<u64>().prop_map(Duration::from_nanos),
        (any::<u64>(), 0u32..1_000_000_000).prop_map(|(s, n)| Duration::new(s, n)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// `{sign}{secs}.{nanos:09}s`, exact at every value, `i64::MIN` included.
    #[test]
    fn offsets_print_exactly(n in nanos()) {
        let text = Offset::from_nanos(n).to_string();
        let (sign, rest) = text.split_at(1);
        let (secs, frac) = rest.strip_suffix('s').unwrap().split_once('.').unwrap();
        prop_assert_eq!(frac.len(), 9);
        let magnitude = i128::from(secs.parse::<u64>().unwrap()) * 1_000_000_000 + i128::from(frac.parse::<u32>().unwrap());
        let value = if sign == "-" { -magnitude } else { prop_assert_eq!(sign, "+"); magnitude };
        prop_assert_eq!(value, i128::from(n));
    }

    /// Saturating and checked offset arithmetic against exact wide arithmetic.
    #[test]
    fn offset_arithmetic_is_exact_or_clamped(a in nanos(), b in nanos(), d in duration()) {
        let (x, y) = (Offset::from_nanos(a), Offset::from_nanos(b));
        let clamp = |v: i128| Offset::from_nanos(v.clamp(i64::MIN.into(), i64::MAX.into()) as i64);
        let exact = |v: i128| i64::try_from(v).ok().map(Offset::from_nanos);
        prop_assert_eq!(x.saturating_sub(y), clamp(i128::from(a) - i128::from(b)));
        prop_assert_eq!(x.saturating_add(y), clamp(i128::from(a) + i128::from(b)));
        prop_assert_eq!(x.checked_sub(y), exact(i128::from(a) - i128::from(b)));
        prop_assert_eq!(x.checked_add(y), exact(i128::from(a) + i128::from(b)));
        prop_assert_eq!(Offset::from_duration(d), Offset::from_nanos(i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)));
        prop_assert!(Offset::from_duration(d) >= Offset::ZERO);
    }

    /// HLC times move by durations without wrapping: exact inside the range, clamped to
    /// `MIN`/`MAX` outside, `None` from `checked_sub` below zero.
    #[test]
    fn hlc_times_saturate(raw in prop_oneof![Just(0u64), Just(u64::MAX), any::<u64>()], d in duration()) {
        let t = HlcTime::<Utc>::from_raw(raw);
        let dn = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        prop_assert_eq!(t.saturating_add(d).raw(), raw.saturating_add(dn));
        prop_assert_eq!(t.saturating_sub(d).raw(), raw.saturating_sub(dn));
        prop_assert_eq!(t.checked_sub(d).map(HlcTime::raw), raw.checked_sub(dn));
        prop_assert!(t.saturating_add(d) >= t && t.saturating_sub(d) <= t);
    }

    /// Equal values hash equally, copies are equal, and `Debug` shows the scale.
    #[test]
    fn equal_values_hash_equally(raw in any::<u64>(), node in any::<u32>()) {
        let i = Instant::<Tai>::from_nanos(raw);
        #[allow(clippy::clone_on_copy)]
        let j = i.clone();
        prop_assert_eq!(hash(&i), hash(&j));
        prop_assert_eq!(format!("{i:?}"), format!("{}.{:09} TAI", raw / 1_000_000_000, raw % 1_000_000_000));
        let h = HlcTime::<Utc>::from_raw(raw);
        #[allow(clippy::clone_on_copy)]
        let h2 = h.clone();
        prop_assert_eq!(hash(&h), hash(&h2));
        let ts = Timestamp::<Utc>::from_raw(raw, NodeId(node));
        #[allow(clippy::clone_on_copy)]
        let ts2 = ts.clone();
        prop_assert_eq!(hash(&ts), hash(&ts2));
        prop_assert_eq!(format!("{ts:?}"), format!("Timestamp({ts} UTC)"));
        prop_assert_eq!(ts.time(), h);
    }
}

#[test]
fn defaults_are_the_start_of_the_range() {
    assert_eq!(Instant::<Utc>::default(), Instant::EPOCH);
    assert_eq!(HlcTime::<Tai>::default(), HlcTime::MIN);
    assert_eq!(Offset::default(), Offset::ZERO);
    assert_eq!(Offset::MIN.to_string(), "-9223372036.854775808s");
    assert_eq!(Offset::from_nanos(1).to_string(), "+0.000000001s");
}

#[test]
fn errors_name_themselves() {
    let texts: [(&dyn std::error::Error, &str); 10] = [
        (
            &DecodeError::Truncated { len: 3 },
            "timestamp needs 12 bytes, got 3",
        ),
        (
            &DecodeError::TrailingBytes { extra: 2 },
            "2 bytes after the timestamp",
        ),
        (
            &ParseError::Malformed,
            "expected SECONDS.NANOSECONDS+LOGICAL@NODE",
        ),
        (
            &ParseError::BadNumber,
            "a field is not a number of the right width",
        ),
        (&ParseError::OutOfRange, "time out of range"),
        (
            &ParseError::NotCanonical,
            "not canonical (leading zeros, or nanoseconds not a multiple of 256)",
        ),
        (&Exhausted, "hybrid logical clock exhausted (year 2554)"),
        (
            &UpdateError::Exhausted,
            "hybrid logical clock exhausted (year 2554)",
        ),
        (
            &UpdateError::TooFarAhead {
                ahead: Duration::from_millis(600),
                max_offset: Duration::from_millis(500),
            },
            "remote timestamp 600ms ahead of local time, more than the max offset 500ms",
        ),
        (
            &tempora_core::interval::IntervalError::Empty,
            "empty interval (start == end)",
        ),
    ];
    for (e, text) in texts {
        assert_eq!(e.to_string(), text);
    }
    assert_eq!(UpdateError::from(Exhausted), UpdateError::Exhausted);
}
