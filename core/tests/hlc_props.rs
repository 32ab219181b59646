//! Property tests of the HLC against its specification, on a scripted physical clock.
#![cfg(not(loom))]

use proptest::prelude::*;
use tempora_core::clock::ManualClock;
use tempora_core::hlc::{Hlc, HlcConfig, UpdateError};
use tempora_core::time::{Instant, Utc};
use tempora_core::timestamp::{NodeId, Timestamp};

const START: u64 = 1_700_000_000_000_000_000;
const MAX_OFFSET: u64 = 500_000_000;

#[derive(Debug, Clone)]
enum Op {
    /// Move the physical clock by this many nanoseconds (backwards too).
    Step(i64),
    Now,
    /// A remote timestamp this far from local physical time, with this counter and node.
    Update(i64, u8, u32),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => prop_oneof![-2_000_000_000i64..2_000_000_000, -1_000i64..1_000].prop_map(Op::Step),
        4 => Just(Op::Now),
        3 => (-1_000_000_000i64..1_000_000_000, any::<u8>(), any::<u32>())
            .prop_map(|(d, l, n)| Op::Update(d, l, n)),
    ]
}

fn offset(base: u64, d: i64) -> u64 {
    base.saturating_add_signed(d)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Every issued timestamp is greater than every earlier one and than the remote it
    /// merged; refusals change nothing; timestamps never run further ahead of the largest
    /// time seen (physical or remote) than one unit per event.
    #[test]
    fn hlc_follows_its_specification(ops in proptest::collection::vec(op(), 1..200)) {
        let clock = ManualClock::<Utc>::new(START);
        let hlc = Hlc::new(&clock, NodeId(7));
        let mut pt = START;
        let mut last: Option<Timestamp<Utc>> = None;
        let mut max_seen = 0u64;
        let mut events = 0u64;
        for op in ops {
            match op {
                Op::Step(d) => {
                    pt = offset(pt, d);
                    clock.set(pt);
                }
                Op::Now => {
                    let t = hlc.now();
                    events += 1;
                    max_seen = max_seen.max(pt & !0xff);
                    prop_assert!(last.is_none_or(|l| t > l), "{t:?} after {last:?}");
                    prop_assert_eq!(t.node(), NodeId(7));
                    prop_assert!(t.raw() <= max_seen + events);
                    last = Some(t);
                }
                Op::Update(d, logical, node) => {
                    let remote = Timestamp::<Utc>::new(Instant::from_nanos(offset(pt, d)), logical, NodeId(node));
                    let before = hlc.last();
                    match hlc.update(remote) {
                        Ok(t) => {
                            events += 1;
                            max_seen = max_seen.max(pt & !0xff).max(remote.raw());
                            prop_assert!(remote.raw() <= pt + MAX_OFFSET);
                            prop_assert!(t > remote && t.raw() > remote.raw());
                            prop_assert!(last.is_none_or(|l| t > l));
                            prop_assert!(t.raw() <= max_seen + events);
                            last = Some(t);
                        }
                        Err(UpdateError::TooFarAhead { ahead, max_offset }) => {
                            prop_assert!(remote.raw() > pt + MAX_OFFSET);
                            prop_assert_eq!(ahead.as_nanos() as u64, remote.raw() - pt);
                            prop_assert_eq!(max_offset, HlcConfig::DEFAULT.max_offset);
                            prop_assert_eq!(hlc.last(), before);
                        }
                        Err(e) => prop_assert!(false, "unexpected {e:?}"),
                    }
                }
            }
        }
    }

    /// While physical time runs ahead of everything seen, the HLC *is* physical time.
    #[test]
    fn hlc_equals_physical_time_when_it_leads(steps in proptest::collection::vec(256u64..10_000_000, 1..100)) {
        let clock = ManualClock::<Utc>::new(START);
        let hlc = Hlc::new(&clock, NodeId(1));
        let mut pt = START;
        for s in steps {
            pt += s;
            clock.set(pt);
            let t = hlc.now();
            prop_assert_eq!(t.physical().as_nanos(), pt & !0xff);
            prop_assert_eq!(t.logical(), 0);
        }
    }

    #[test]
    fn wire_form_round_trips(time in any::<u64>(), node in any::<u32>()) {
        let t = Timestamp::<Utc>::from_raw(time, NodeId(node));
        prop_assert_eq!(Timestamp::<Utc>::decode(&t.encode()), Ok(t));
        let mut framed = t.encode().to_vec();
        framed.extend_from_slice(b"rest");
        let (u, rest) = Timestamp::<Utc>::decode_prefix(&framed).unwrap();
        prop_assert_eq!((u, rest), (t, &b"rest"[..]));
    }

    #[test]
    fn wire_order_is_timestamp_order(a in any::<(u64, u32)>(), b in any::<(u64, u32)>()) {
        let (ta, tb) = (Timestamp::<Utc>::from_raw(a.0, NodeId(a.1)), Timestamp::<Utc>::from_raw(b.0, NodeId(b.1)));
        prop_assert_eq!(ta.encode().cmp(&tb.encode()), ta.cmp(&tb));
    }

    #[test]
    fn text_form_round_trips(time in any::<u64>(), node in any::<u32>()) {
        let t = Timestamp::<Utc>::from_raw(time, NodeId(node));
        prop_assert_eq!(t.to_string().parse::<Timestamp<Utc>>(), Ok(t));
    }

    #[test]
    fn arbitrary_bytes_never_panic_decode(bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
        let r = Timestamp::<Utc>::decode(&bytes);
        prop_assert_eq!(r.is_ok(), bytes.len() == Timestamp::<Utc>::WIRE_LEN);
    }

    /// Near-valid spellings (random leading zeros, fractions) parse only if canonical.
    #[test]
    fn only_canonical_text_parses(secs in 0u64..5_000_000_000, frac in 0u32..1_000_000_000, l in any::<u8>(), n in any::<u32>(), zeros in 0usize..2) {
        let pad = "0".repeat(zeros);
        let text = format!("{pad}{secs}.{frac:09}+{pad}{l}@{n}");
        match text.parse::<Timestamp<Utc>>() {
            Ok(ts) => prop_assert_eq!(ts.to_string(), text),
            Err(_) => prop_assert!(zeros > 0 || frac % 256 != 0),
        }
    }

    #[test]
    fn arbitrary_text_never_panics_parse(s in "\\PC{0,40}", t in "[0-9.+@]{0,40}") {
        let _ = s.parse::<Timestamp<Utc>>();
        if let Ok(ts) = t.parse::<Timestamp<Utc>>() {
            prop_assert_eq!(ts.to_string(), t);
        }
    }
}
