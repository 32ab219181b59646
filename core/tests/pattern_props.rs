//! Every pattern kind against a brute-force matcher over the whole (sorted) stream, and
//! the detector's reordering and late-event reporting against a direct simulation.
#![cfg(not(loom))]

use std::time::Duration;

use proptest::prelude::*;
use tempora_core::error::Full;
use tempora_core::pattern::{
    Absence, Contiguity, Count, Detector, Event, Matcher, PushError, Report, Sequence, Window,
};
use tempora_core::timestamp::HlcTime;
use tempora_core::{NodeId, Timestamp, Utc};

type Ev = Event<u8, Utc>;
type Found = Vec<(u64, Vec<u64>)>;

fn ev(t: u64, kind: u8, partition: u64) -> Ev {
    Event {
        timestamp: Timestamp::from_raw(t, NodeId(0)),
        kind,
        partition,
    }
}

/// Random events over 3 partitions and kinds 0..4, sorted by time (ties keep order).
fn stream() -> impl Strategy<Value = Vec<Ev>> {
    proptest::collection::vec((0u64..2_000, 0u8..4, 0u64..3), 0..150).prop_map(|v| {
        let mut evs: Vec<Ev> = v.into_iter().map(|(t, k, p)| ev(t, k, p)).collect();
        evs.sort_by_key(|e| e.timestamp.raw());
        evs
    })
}

fn run<M: Matcher<u8, Utc>>(mut m: M, events: &[Ev]) -> Found {
    let mut out = Vec::new();
    let mut on = |r: Report<'_>| match r {
        Report::Match(mm) => out.push((
            mm.partition,
            mm.timestamps.iter().map(|t| t.raw()).collect(),
        )),
        Report::Overflow { .. } => panic!("capacities in these tests are large enough"),
    };
    for e in events {
        m.event(e, &mut on);
    }
    m.watermark(HlcTime::MAX, &mut on);
    out.sort();
    out
}

fn sorted(mut v: Found) -> Found {
    v.sort();
    v
}

fn partition(events: &[Ev], p: u64) -> Vec<Ev> {
    events
        .iter()
        .copied()
        .filter(|e| e.partition == p)
        .collect()
}

fn seq_reference(events: &[Ev], steps: &[u8], within: u64, strict: bool) -> Found {
    let mut out = Vec::new();
    for p in 0..3 {
        let evs = partition(events, p);
        for i in 0..evs.len() {
            if evs[i].kind != steps[0] {
                continue;
            }
            let t0 = evs[i].timestamp.raw();
            let mut ts = vec![t0];
            let mut j = i;
            for &step in &steps[1..] {
                let next = if strict {
                    Some(j + 1).filter(|&k| k < evs.len() && evs[k].kind == step)
                } else {
                    (j + 1..evs.len()).find(|&k| evs[k].kind == step)
                };
                match next {
                    Some(k) if evs[k].timestamp.raw() - t0 <= within => {
                        ts.push(evs[k].timestamp.raw());
                        j = k;
                    }
                    _ => break,
                }
            }
            if ts.len() == steps.len() {
                out.push((p, ts));
            }
        }
    }
    sorted(out)
}

fn count_reference(events: &[Ev], kind: u8, k: usize, window: Window) -> Found {
    let mut out = Vec::new();
    for p in 0..3 {
        let evs = partition(events, p);
        match window {
            Window::Sliding(w) => {
                let w = w.as_nanos() as u64;
                for i in 0..evs.len() {
                    if evs[i].kind != kind {
                        continue;
                    }
                    let t = evs[i].timestamp.raw();
                    let inside: Vec<u64> = evs[..=i]
                        .iter()
                        .filter(|e| e.kind == kind && e.timestamp.raw() + w > t)
                        .map(|e| e.timestamp.raw())
                        .collect();
                    if inside.len() >= k {
                        out.push((p, inside[inside.len() - k..].to_vec()));
                    }
                }
            }
            Window::LastEvents(n) => {
                for i in 0..evs.len() {
                    if evs[i].kind != kind {
                        continue;
                    }
                    let from = (i + 1).saturating_sub(n as usize);
                    let inside: Vec<u64> = evs[from..=i]
                        .iter()
                        .filter(|e| e.kind == kind)
                        .map(|e| e.timestamp.raw())
                        .collect();
                    if inside.len() >= k {
                        out.push((p, inside[inside.len() - k..].to_vec()));
                    }
                }
            }
            Window::Tumbling(w) => {
                let w = w.as_nanos() as u64;
                let mut by_window: std::collections::BTreeMap<u64, Vec<u64>> = Default::default();
                for e in evs.iter().filter(|e| e.kind == kind) {
                    by_window
                        .entry(e.timestamp.raw() / w)
                        .or_default()
                        .push(e.timestamp.raw());
                }
                for ts in by_window.into_values().filter(|ts| ts.len() >= k) {
                    out.push((p, ts[..k].to_vec()));
                }
            }
            Window::Hopping { length, hop } => {
                let (l, h) = (length.as_nanos() as u64, hop.as_nanos() as u64);
                for j in 0..=(2_000 / h) {
                    let ts: Vec<u64> = evs
                        .iter()
                        .filter(|e| {
                            e.kind == kind
                                && j * h <= e.timestamp.raw()
                                && e.timestamp.raw() < j * h + l
                        })
                        .map(|e| e.timestamp.raw())
                        .collect();
                    if ts.len() >= k {
                        out.push((p, ts[..k].to_vec()));
                    }
                }
            }
        }
    }
    sorted(out)
}

fn absence_reference(events: &[Ev], first: u8, then: u8, within: u64) -> Found {
    let mut out = Vec::new();
    for (i, a) in events.iter().enumerate() {
        if a.kind != first {
            continue;
        }
        let t = a.timestamp.raw();
        let answered = events[i + 1..].iter().any(|b| {
            b.partition == a.partition && b.kind == then && b.timestamp.raw() <= t + within
        });
        if !answered {
            out.push((a.partition, vec![t]));
        }
    }
    sorted(out)
}

fn window() -> impl Strategy<Value = Window> {
    prop_oneof![
        (1u64..400).prop_map(|w| Window::Sliding(Duration::from_nanos(w))),
        (1u8..20).prop_map(Window::LastEvents),
        (1u64..400).prop_map(|w| Window::Tumbling(Duration::from_nanos(w))),
        (1u64..300, 1u64..=8).prop_map(|(h, n)| Window::Hopping {
            length: Duration::from_nanos(h * n),
            hop: Duration::from_nanos(h)
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn sequences_match_the_reference(events in stream(), steps in proptest::collection::vec(0u8..4, 3), within in 0u64..600, strict in any::<bool>()) {
        let c = if strict { Contiguity::Strict } else { Contiguity::Relaxed };
        let steps3 = [steps[0], steps[1], steps[2]];
        let got = run(Sequence::<u8, Utc, 3, 16, 256>::new(steps3, Duration::from_nanos(within), c), &events);
        prop_assert_eq!(got, seq_reference(&events, &steps, within, strict));
    }

    #[test]
    fn counts_match_the_reference(events in stream(), kind in 0u8..4, k in 1usize..5, window in window()) {
        let m = match Count::<u8, Utc, 16, 256>::new(kind, k, window) {
            Ok(m) => m,
            Err(_) => {
                // Only last-n windows shorter than k are refused.
                prop_assert!(matches!(window, Window::LastEvents(n) if (n as usize) < k));
                return Ok(());
            }
        };
        prop_assert_eq!(run(m, &events), count_reference(&events, kind, k, window));
    }

    #[test]
    fn absences_match_the_reference(events in stream(), first in 0u8..4, then in 0u8..4, within in 0u64..500) {
        let got = run(Absence::<u8, Utc, 256>::new(first, then, Duration::from_nanos(within)), &events);
        prop_assert_eq!(got, absence_reference(&events, first, then, within));
    }

    /// Events arrive out of order. Those at or below the watermark when they arrive are
    /// reported late (and only those); the rest are matched exactly as the reference
    /// matches the accepted events in time order.
    #[test]
    fn detector_reorders_and_reports_late_events(
        events in stream(),
        delays in proptest::collection::vec(0u64..300, 150),
        lateness in 0u64..300,
    ) {
        let steps = [0u8, 1];
        let mut arrivals: Vec<(u64, usize, Ev)> = events.iter().enumerate().map(|(i, e)| (e.timestamp.raw() + delays[i], i, *e)).collect();
        arrivals.sort_by_key(|a| (a.0, a.1));
        let mut d = Detector::<_, _, _, 256>::new(
            Sequence::<u8, Utc, 2, 16, 256>::new(steps, Duration::from_nanos(100), Contiguity::Relaxed),
            Duration::from_nanos(lateness),
        );
        let mut got = Vec::new();
        let mut accepted = Vec::new();
        let mut max_seen: Option<u64> = None;
        for &(_, _, e) in &arrivals {
            let t = e.timestamp.raw();
            let watermark = max_seen.and_then(|m| m.checked_sub(lateness));
            let expect_late = watermark.is_some_and(|w| t <= w);
            let r = d.push(e, &mut |r: Report<'_>| if let Report::Match(m) = r { got.push((m.partition, m.timestamps.iter().map(|t| t.raw()).collect::<Vec<_>>())) });
            match r {
                Ok(()) => {
                    prop_assert!(!expect_late);
                    accepted.push(e);
                    max_seen = Some(max_seen.map_or(t, |m| m.max(t)));
                }
                Err(PushError::Late(back)) => {
                    prop_assert!(expect_late);
                    prop_assert_eq!(back, e);
                }
                Err(PushError::Full(_)) => prop_assert!(false, "buffer of 256 > 150 events"),
            }
        }
        d.flush(&mut |r: Report<'_>| if let Report::Match(m) = r { got.push((m.partition, m.timestamps.iter().map(|t| t.raw()).collect::<Vec<_>>())) });
        accepted.sort_by_key(|e| e.timestamp.raw());
        prop_assert_eq!(sorted(got), seq_reference(&accepted, &steps, 100, false));
        let s = d.stats();
        prop_assert_eq!(s.accepted as usize + s.late as usize, events.len());
        if lateness >= 300 {
            prop_assert_eq!(s.late, 0, "a lateness above the largest delay loses nothing");
        }
    }
}

#[test]
fn capacities_are_reported_not_hidden() {
    let overflows = std::cell::Cell::new(0);
    let mut on = |r: Report<'_>| {
        if let Report::Overflow { .. } = r {
            overflows.set(overflows.get() + 1)
        }
    };
    // 2 partial matches per partition: the third open start is reported.
    let mut seq =
        Sequence::<u8, Utc, 2, 2, 2>::new([0, 1], Duration::from_secs(1), Contiguity::Relaxed);
    for t in 0..3 {
        seq.event(&ev(t, 0, 9), &mut on);
    }
    assert_eq!(overflows.get(), 1);
    // 2 partitions: a third partition is reported.
    seq.event(&ev(5, 0, 10), &mut on);
    seq.event(&ev(6, 0, 11), &mut on);
    assert_eq!(overflows.get(), 2);
    // A full reorder buffer hands the event back.
    let mut d = Detector::<u8, Utc, _, 2>::new(
        Absence::<u8, Utc, 4>::new(0, 1, Duration::from_secs(1)),
        Duration::from_secs(10),
    );
    let mut none = |_: Report| {};
    d.push(ev(1, 0, 0), &mut none).unwrap();
    d.push(ev(2, 0, 0), &mut none).unwrap();
    assert_eq!(
        d.push(ev(3, 0, 0), &mut none),
        Err(PushError::Full(Full(ev(3, 0, 0))))
    );
    assert_eq!(d.stats().refused, 1);
}

#[test]
fn absence_fires_when_the_watermark_passes_the_deadline() {
    let mut d = Detector::<u8, Utc, _, 16>::new(
        Absence::<u8, Utc, 4>::new(0, 1, Duration::from_nanos(100)),
        Duration::ZERO,
    );
    let fired = std::cell::RefCell::new(Vec::new());
    let mut on = |r: Report<'_>| {
        if let Report::Match(m) = r {
            fired.borrow_mut().push(m.timestamps[0].raw())
        }
    };
    d.push(ev(1_000, 0, 1), &mut on).unwrap(); // A in partition 1
    d.push(ev(1_050, 0, 2), &mut on).unwrap(); // A in partition 2
    d.push(ev(1_080, 1, 2), &mut on).unwrap(); // B answers partition 2
    d.advance(HlcTime::from_raw(1_099), &mut on);
    assert!(fired.borrow().is_empty(), "deadline 1100 not passed yet");
    d.advance(HlcTime::from_raw(1_100), &mut on);
    assert_eq!(*fired.borrow(), [1_000]);
}

#[test]
fn idle_partitions_are_freed_by_the_watermark() {
    let mut seq =
        Sequence::<u8, Utc, 2, 2, 4>::new([0, 1], Duration::from_nanos(10), Contiguity::Relaxed);
    let mut on = |r: Report<'_>| assert!(!matches!(r, Report::Overflow { .. }), "{r:?}");
    seq.event(&ev(0, 0, 1), &mut on);
    seq.event(&ev(1, 0, 2), &mut on);
    assert_eq!(seq.partial_matches(), 2);
    // Both partial matches can no longer complete after t = 11: the sweep frees them,
    // so two new partitions fit.
    seq.watermark(HlcTime::from_raw(100), &mut on);
    assert_eq!(seq.partial_matches(), 0);
    seq.event(&ev(101, 0, 3), &mut on);
    seq.event(&ev(102, 0, 4), &mut on);
}
