//! Status, anomaly and switch names (the labels logs and metrics carry), the defaults
//! of each configuration, and what the clock-source wrappers pass through from the
//! clock they wrap.
#![cfg(not(loom))]

use core::time::Duration;

use tempora_core::clock::{Anomaly, ClockReading, ClockSource, ClockStatus, ManualClock};
use tempora_core::discipline::{Discipline, DisciplineConfig, DisciplineError};
use tempora_core::hooks::SwitchReason;
use tempora_core::select::{DetectorConfig, Selector, SelectorConfig};
use tempora_core::time::{Instant, Tai};

#[test]
fn statuses_anomalies_and_switches_have_stable_names() {
    let statuses = [
        (ClockStatus::Synchronized, "synchronized"),
        (ClockStatus::Holdover, "holdover"),
        (ClockStatus::FreeRunning, "free-running"),
        (ClockStatus::Unknown, "unknown"),
    ];
    for (s, name) in statuses {
        assert_eq!((s.as_str(), s.to_string().as_str()), (name, name));
    }
    let d = Duration::from_millis(7);
    let anomalies = [
        (Anomaly::SteppedForward { by: d }, "stepped-forward"),
        (Anomaly::SteppedBack { by: d }, "stepped-back"),
        (Anomaly::Frozen { for_: d }, "frozen"),
        (Anomaly::Rate { ppm: -2_000 }, "rate"),
    ];
    for (a, name) in anomalies {
        assert_eq!(a.as_str(), name);
    }
    let switches = [
        (SwitchReason::Status(ClockStatus::Unknown), "status"),
        (SwitchReason::Bound(d), "bound"),
        (
            SwitchReason::Anomaly(Anomaly::Frozen { for_: d }),
            "anomaly",
        ),
        (SwitchReason::Failback, "failback"),
    ];
    for (s, name) in switches {
        assert_eq!(s.as_str(), name);
    }
    assert_eq!(
        DisciplineError::Busy.to_string(),
        "another discipline update was in progress"
    );
    assert_eq!(
        DisciplineError::Frequency.to_string(),
        "the sample's frequency is beyond 1000 ppm"
    );
}

#[test]
fn defaults_are_the_documented_constants() {
    assert_eq!(DisciplineConfig::default(), DisciplineConfig::DEFAULT);
    assert_eq!(SelectorConfig::default(), SelectorConfig::DEFAULT);
    assert_eq!(DetectorConfig::default(), DetectorConfig::DEFAULT);
    assert_eq!(SelectorConfig::DEFAULT.detector, DetectorConfig::DEFAULT);
}

#[test]
fn an_unknown_reading_promises_nothing() {
    let t = Instant::<Tai>::from_nanos(42);
    let r = ClockReading::unknown(t);
    assert_eq!(
        (r.time, r.bound, r.status),
        (t, Duration::MAX, ClockStatus::Unknown)
    );
    let i = r.interval();
    assert_eq!((i.earliest, i.latest), (Instant::EPOCH, Instant::MAX));
}

#[test]
fn wrappers_pass_through_what_they_wrap() {
    let local = ManualClock::<Tai>::new(5_000);
    let d = Discipline::new(&local, DisciplineConfig::DEFAULT);
    assert_eq!(d.config(), &DisciplineConfig::DEFAULT);
    assert_eq!(d.elapsed_reference(), local.elapsed_reference());
    // No estimate: the disciplined time is the local time.
    assert_eq!(d.time(), local.time());

    let (a, b) = (ManualClock::<Tai>::new(1), ManualClock::<Tai>::new(2));
    let mut s = Selector::new([&a, &b], SelectorConfig::DEFAULT);
    assert_eq!(s.config(), &SelectorConfig::DEFAULT);
    assert_eq!(s.sources().len(), 2);
    assert_eq!(s.active(), 0);
    assert_eq!(s.elapsed_reference(), a.elapsed_reference());
    let _: &tempora_core::hooks::NoHooks = s.hooks();
    assert!(s.detector(0).is_some() && s.detector(1).is_some());
    assert!(s.detector(2).is_none());
    let debug = format!("{s:?}");
    assert!(
        debug.starts_with("Selector { sources: 2, active: 0"),
        "{debug}"
    );
    s.check();
    let mut detector = *s.detector(0).unwrap();
    detector.reset();
    assert_eq!(detector, Default::default());
}
