//! "No panics on any input", for the entry points that take external values: the offset
//! filter's [`Exchange`] fields and configuration, the port's timers and clock readings
//! at the ends of their range, and the discipline's samples and readings. Driven with
//! the extremes (the epoch and [`Instant::MAX`], `i64::MIN`/`MAX` corrections, NaN and
//! infinite floats, [`Duration::MAX`] bounds) mixed with ordinary values, and run with
//! overflow checks on (debug; CI's coverage run; and once with
//! `RUSTFLAGS="-C overflow-checks=on" cargo test --release`). Beyond not panicking, a
//! standard deviation or bound is never NaN, never negative, and never smaller than it
//! must be.
#![cfg(not(loom))]

use core::time::Duration;

use proptest::prelude::*;
use tempora_core::clock::{ClockReading, ClockSource, ClockStatus, ManualClock};
use tempora_core::discipline::{
    Discipline, DisciplineConfig, DisciplineError, OffsetSample, MAX_FREQUENCY_PPT,
};
use tempora_core::ptp::filter::{Exchange, FilterConfig, OffsetFilter, Verdict};
use tempora_core::ptp::port::{Action, Port, PortConfig, Timer};
use tempora_core::ptp::wire::ClockIdentity;
use tempora_core::time::{Instant, Offset, Tai, TimeInterval};

/// Any instant, weighted towards the ends of the range and a realistic present.
fn instant() -> impl Strategy<Value = Instant<Tai>> {
    const NOW: u64 = 1_700_000_000_000_000_000;
    prop_oneof![
        1 => Just(Instant::EPOCH),
        1 => Just(Instant::MAX),
        1 => (0u64..1_000).prop_map(Instant::from_nanos),
        1 => (0u64..1_000).prop_map(|n| Instant::from_nanos(u64::MAX - n)),
        3 => (0u64..2_000_000_000).prop_map(|n| Instant::from_nanos(NOW + n)),
        2 => any::<u64>().prop_map(Instant::from_nanos),
    ]
}

/// Any offset, weighted towards the ends of the range and zero.
fn offset() -> impl Strategy<Value = Offset> {
    prop_oneof![
        1 => Just(Offset::MIN),
        1 => Just(Offset::MAX),
        2 => Just(Offset::ZERO),
        2 => (-1_000_000i64..1_000_000).prop_map(Offset::from_nanos),
        2 => any::<i64>().prop_map(Offset::from_nanos),
    ]
}

fn exchange() -> impl Strategy<Value = Exchange> {
    (
        instant(),
        instant(),
        instant(),
        instant(),
        offset(),
        offset(),
    )
        .prop_map(|(t1, t2, t3, t4, correction_ms, correction_sm)| Exchange {
            t1,
            t2,
            t3,
            t4,
            correction_ms,
            correction_sm,
        })
}

/// An exchange of a plausible path (a few µs each way) at a plausible present, with
/// `offset` between the clocks, `spacing` after the previous.
fn sane_exchange(k: u64, offset: i64, jitter: (u32, u32)) -> Exchange {
    const NOW: u64 = 1_700_000_000_000_000_000;
    let t1 = NOW + k * 125_000_000;
    let t2 = t1.saturating_add_signed(offset) + 2_000 + u64::from(jitter.0);
    let t3 = t2 + 1_000_000;
    let t4 = t3.saturating_add_signed(offset.saturating_neg()) + 2_000 + u64::from(jitter.1);
    Exchange {
        t1: Instant::from_nanos(t1),
        t2: Instant::from_nanos(t2),
        t3: Instant::from_nanos(t3),
        t4: Instant::from_nanos(t4),
        correction_ms: Offset::ZERO,
        correction_sm: Offset::ZERO,
    }
}

/// A float as it may come from a configuration file: ordinary, or not a number at all.
fn float() -> impl Strategy<Value = f64> {
    prop_oneof![
        4 => 0.0f64..1e6,
        1 => Just(f64::NAN),
        1 => Just(f64::INFINITY),
        1 => Just(f64::NEG_INFINITY),
        1 => Just(-1.0),
        1 => Just(0.0),
        1 => Just(f64::MAX),
        1 => any::<f64>(),
    ]
}

/// The exact transits of an exchange, as the specification defines them.
fn exact_transits(e: &Exchange) -> (i128, i128) {
    let ns = |i: Instant<Tai>| i128::from(i.as_nanos());
    (
        ns(e.t2) - ns(e.t1) - i128::from(e.correction_ms.as_nanos()),
        ns(e.t4) - ns(e.t3) - i128::from(e.correction_sm.as_nanos()),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// `transits`, `offset` and `delay` are exact or `None`: never a wrapped or clamped
    /// value. `None` whenever a transit exceeds ±292 years, and also when only the raw
    /// timestamp difference does (`t4 - t3` past 292 years brought back into range by a
    /// correction of as much: no real exchange, and refusing it is the safe side).
    #[test]
    fn exchange_arithmetic_is_exact_or_none(e in exchange()) {
        let (forward, reverse) = exact_transits(&e);
        let fits = |v: i128| i64::try_from(v).ok().map(Offset::from_nanos);
        let raw_fits = e.t2.offset_from(e.t1).is_some() && e.t4.offset_from(e.t3).is_some();
        let transits = fits(forward).zip(fits(reverse)).filter(|_| raw_fits);
        prop_assert_eq!(e.transits(), transits);
        let (offset, delay) = match transits {
            Some(_) => (fits((forward - reverse) / 2), fits((forward + reverse) / 2)),
            None => (None, None),
        };
        prop_assert_eq!(e.offset(), offset);
        prop_assert_eq!(e.delay(), delay);
    }

    /// Any sequence of exchanges, however wild: the filter never panics, an exchange
    /// whose transits do not fit is `OutOfRange` and changes nothing, and every
    /// estimate and prediction is finite with a non-negative, non-NaN uncertainty.
    #[test]
    fn the_filter_takes_any_exchanges(
        exchanges in proptest::collection::vec(
            prop_oneof![
                3 => (0u64..64, -1_000_000i64..1_000_000, any::<(u16, u16)>())
                    .prop_map(|(k, o, (a, b))| sane_exchange(k, o, (a.into(), b.into()))),
                1 => exchange(),
            ],
            1..40,
        ),
        probes in proptest::collection::vec(instant(), 1..4),
    ) {
        let mut f: OffsetFilter = OffsetFilter::new(FilterConfig::DEFAULT);
        for e in &exchanges {
            let before = (f.samples(), f.estimate());
            let verdict = f.update(e);
            if e.transits().is_none() {
                prop_assert_eq!(verdict, Verdict::OutOfRange);
                prop_assert_eq!((f.samples(), f.estimate()), before);
            } else {
                prop_assert_ne!(verdict, Verdict::OutOfRange);
            }
            if let Some(est) = f.estimate() {
                for v in [est.offset_ns, est.frequency_ppb, est.delay_ns, est.floor_correction_ns] {
                    prop_assert!(v.is_finite(), "{est:?}");
                }
                for s in [est.offset_sigma_ns, est.noise_sigma_ns, est.frequency_sigma_ppb] {
                    prop_assert!(s.is_finite() && s >= 0.0, "{est:?}");
                }
            }
            for &now in &probes {
                if let Some(p) = f.predict(now) {
                    prop_assert!(p.offset_ns.is_finite(), "{p:?}");
                    prop_assert!(p.sigma_ns.is_finite() && p.sigma_ns >= 0.0, "{p:?}");
                    let _ = p.offset();
                }
            }
        }
    }

    /// The holdover bound never shrinks as the prediction moves away from the last
    /// update, forwards: at `d` seconds it covers at least the oscillator's own
    /// random walk over `d` (frequency wander q: variance q·d³/3).
    #[test]
    fn the_holdover_bound_covers_the_frequency_wander_forwards(
        jitter in proptest::collection::vec(any::<(u16, u16)>(), 12..40),
        secs in prop_oneof![0u64..10, 10u64..100_000, Just(9_000_000_000u64)],
    ) {
        let mut f: OffsetFilter = OffsetFilter::new(FilterConfig::DEFAULT);
        let mut last = Instant::EPOCH;
        for (k, &(a, b)) in jitter.iter().enumerate() {
            let e = sane_exchange(k as u64, 3_000, (a.into(), b.into()));
            f.update(&e);
            last = e.t2;
        }
        let q = FilterConfig::DEFAULT.frequency_wander;
        let d = secs as f64;
        let p = f.predict(last.saturating_add(Duration::from_secs(secs))).unwrap();
        prop_assert!(p.sigma_ns.is_finite());
        // 1e-6 of slack for the floating-point square root.
        prop_assert!(p.sigma_ns * p.sigma_ns >= q * d * d * d / 3.0 * (1.0 - 1e-6), "{p:?} at +{secs} s");
    }

    /// A port fed timer expiries at any times, in any order, never panics, and every
    /// timer it arms is at or after the time it was armed (saturating at the end of
    /// the range, never wrapping to the past).
    #[test]
    fn port_timers_at_any_time(
        events in proptest::collection::vec((0u8..4, instant()), 1..60),
        start in instant(),
        slave_only in any::<bool>(),
        intervals in (any::<i8>(), any::<i8>(), any::<i8>(), any::<u8>()),
    ) {
        let config = PortConfig::ordinary(ClockIdentity([3; 8]), 128, slave_only)
            .with_intervals(intervals.0, intervals.1, intervals.2, intervals.3);
        let mut port = Port::<4>::new(config);
        let check = |actions: &[Action], now: Instant<Tai>| -> Result<(), TestCaseError> {
            for a in actions {
                if let Action::SetTimer { at, .. } = a {
                    prop_assert!(*at >= now, "timer at {at:?} armed at {now:?}");
                }
            }
            Ok(())
        };
        let a = port.start(start);
        check(&a, start)?;
        for (t, now) in events {
            let timer = [Timer::Announce, Timer::Sync, Timer::DelayReq, Timer::AnnounceReceipt][usize::from(t)];
            let a = port.on_timer(timer, now);
            check(&a, now)?;
            if let Some(p) = port.predict(now) {
                prop_assert!(p.sigma_ns >= 0.0);
            }
        }
    }

    /// The discipline takes any sample, at any local time: a frequency beyond
    /// ±1000 ppm is refused and changes nothing; otherwise the reading's bound is never
    /// below the sample's own bound (saturated to the nanoseconds the discipline
    /// stores) and the reading's interval contains the corrected time.
    #[test]
    fn the_discipline_takes_any_sample(
        at in instant(),
        off in offset(),
        frequency_ppt in prop_oneof![
            any::<i64>(),
            -MAX_FREQUENCY_PPT..=MAX_FREQUENCY_PPT,
            Just(i64::MIN),
            Just(MAX_FREQUENCY_PPT),
        ],
        bound in prop_oneof![
            Just(Duration::MAX),
            Just(Duration::ZERO),
            any::<u64>().prop_map(Duration::from_nanos),
            (any::<u64>(), 0u32..1_000_000_000).prop_map(|(s, n)| Duration::new(s, n)),
        ],
        locked in any::<bool>(),
        local in instant(),
        drift_ppb in prop_oneof![Just(0u32), Just(u32::MAX), any::<u32>()],
        tolerance_ppb in prop_oneof![Just(0u32), Just(u32::MAX), any::<u32>()],
    ) {
        let clock = ManualClock::<Tai>::new(local.as_nanos());
        let config = DisciplineConfig {
            fresh_for: Duration::from_secs(4),
            drift_ppb,
            tolerance_ppb,
        };
        let d = Discipline::new(&clock, config);
        let sample = OffsetSample { at, offset: off, frequency_ppt, bound, locked };
        let r = d.update(sample);
        if frequency_ppt.unsigned_abs() > MAX_FREQUENCY_PPT.unsigned_abs() {
            prop_assert_eq!(r, Err(DisciplineError::Frequency));
            prop_assert!(d.estimate().is_none());
            prop_assert_eq!(d.read(), clock.read());
            return Ok(());
        }
        prop_assert!(r.is_ok());
        let reading = d.read();
        let stored = Duration::from_nanos(u64::try_from(bound.as_nanos()).unwrap_or(u64::MAX));
        prop_assert!(reading.bound >= stored, "{reading:?} from {sample:?}");
        let i = reading.interval();
        prop_assert!(i.earliest <= reading.time && reading.time <= i.latest);
        prop_assert_eq!(d.time(), reading.time);
        if locked && local >= at && local.abs_diff(at) <= Duration::from_secs(4) {
            prop_assert_eq!(reading.status, ClockStatus::Synchronized);
        } else {
            prop_assert_ne!(reading.status, ClockStatus::Synchronized);
        }
    }

    /// A reading's interval, for any time and bound: ordered, saturating at the ends of
    /// the range, exact where it fits, and the unknown reading spans everything.
    #[test]
    fn reading_intervals_saturate(
        time in instant(),
        bound in prop_oneof![Just(Duration::MAX), any::<u64>().prop_map(Duration::from_nanos)],
    ) {
        let r = ClockReading { time, bound, status: ClockStatus::Holdover };
        let i: TimeInterval<Tai> = r.interval();
        prop_assert!(i.earliest <= time && time <= i.latest);
        prop_assert_eq!(i.earliest, time.checked_sub(bound).unwrap_or(Instant::EPOCH));
        prop_assert_eq!(i.latest, time.checked_add(bound).unwrap_or(Instant::MAX));
        let u = ClockReading::unknown(time);
        prop_assert_eq!((u.bound, u.status), (Duration::MAX, ClockStatus::Unknown));
        let ui = u.interval();
        prop_assert_eq!((ui.earliest, ui.latest), (Instant::EPOCH, Instant::MAX));
    }
}

/// What the filter makes of a configuration that is not a number: found by
/// `the_filter_takes_any_configuration` below.
fn run_with(config: FilterConfig, n: u64) -> OffsetFilter {
    let mut f: OffsetFilter = OffsetFilter::new(config);
    for k in 0..n {
        f.update(&sane_exchange(
            k,
            3_000,
            ((k * 37 % 500) as u32, (k * 91 % 500) as u32),
        ));
    }
    f
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Any configuration, however broken: no panic.
    #[test]
    fn the_filter_survives_any_configuration(
        frequency_wander in float(),
        initial_noise in float(),
        reject_sigmas in float(),
        max_rejects in any::<u32>(),
        n in 1u64..24,
        probe in instant(),
    ) {
        let config = FilterConfig { frequency_wander, initial_noise, reject_sigmas, max_rejects };
        let f = run_with(config, n);
        let _ = f.estimate();
        let _ = f.predict(probe);
    }
}

// Bugs these found in `ptp/filter.rs` (fixed): regression tests.

/// Backwards from the last update the holdover bound must still cover the oscillator's
/// random walk (q·|d|³/3); `predict` adds q·d³/3 with d negative, so 100 s before the
/// last update the variance goes negative, is clamped to 0, and the bound is 0 ns.
#[test]
fn the_holdover_bound_covers_the_frequency_wander_backwards() {
    let f = run_with(FilterConfig::DEFAULT, 40);
    let last = sane_exchange(39, 0, (0, 0)).t2;
    let q = FilterConfig::DEFAULT.frequency_wander;
    for secs in [1u64, 10, 100, 1_000, 100_000] {
        let d = secs as f64;
        let p = f
            .predict(last.saturating_sub(Duration::from_secs(secs)))
            .unwrap();
        assert!(
            p.sigma_ns * p.sigma_ns >= q * d * d * d / 3.0 * (1.0 - 1e-6),
            "{p:?} at -{secs} s"
        );
    }
    let p = f.predict(Instant::EPOCH).unwrap();
    assert!(p.sigma_ns > 1e9, "{p:?} at the epoch, 53 years back");
}

/// A configuration that is not a number must not give a tiny bound: `sqrt` of a NaN
/// covariance is 0 today, so a `frequency_wander` of NaN ends in an offset of NaN with
/// a standard deviation of 0 (a port then reports offset 0 ± the path delay, locked);
/// an infinite one gives a NaN prediction, an infinite `initial_noise` a NaN estimate.
/// Either the configuration is refused or the bound is unbounded; never NaN, never 0.
#[test]
fn a_configuration_that_is_not_a_number_gives_no_tiny_bound() {
    let broken = [
        FilterConfig {
            frequency_wander: f64::NAN,
            ..FilterConfig::DEFAULT
        },
        FilterConfig {
            frequency_wander: f64::INFINITY,
            ..FilterConfig::DEFAULT
        },
        FilterConfig {
            frequency_wander: f64::MAX,
            ..FilterConfig::DEFAULT
        },
        FilterConfig {
            initial_noise: f64::INFINITY,
            ..FilterConfig::DEFAULT
        },
    ];
    for c in broken {
        for n in [1, 5, 9, 40] {
            let f = run_with(c, n);
            let e = f.estimate().unwrap();
            let p = f.predict(sane_exchange(n, 0, (0, 0)).t2).unwrap();
            for s in [e.offset_sigma_ns, p.sigma_ns] {
                assert!(!s.is_nan() && s >= 1.0, "{c:?} after {n}: {e:?} {p:?}");
            }
        }
    }
}

/// The same bug end to end: a slave port whose filter configuration has a NaN
/// `frequency_wander` (which `PortConfig::validate` now refuses, but a port runs
/// unvalidated configurations too) fed a discipline whose readings claimed
/// `Synchronized` with a bound of about the path delay while the clock was 250 µs off.
#[test]
fn a_port_with_a_nan_filter_configuration_claims_no_false_bound() {
    use tempora_ptp_sim::sim::{Link, Simulation};
    use tempora_ptp_sim::{config, LocalClock, SECOND};
    let mut sim = Simulation::new(1, Link::new(20_000, 1_000));
    let master = sim.add_node(config::fast(1, 10, false), LocalClock::new(0, 0));
    let mut broken = config::fast(2, 128, true);
    broken.filter.frequency_wander = f64::NAN;
    let refused = broken.validate();
    assert_eq!(
        refused,
        Err(tempora_core::ptp::port::ConfigError::Filter(
            tempora_core::ptp::filter::FilterField::FrequencyWander
        ))
    );
    assert_eq!(
        refused.unwrap_err().to_string(),
        "filter frequency_wander is not a finite number above 0"
    );
    let slave = sim.add_node(broken, LocalClock::new(250_000, 30_000));
    sim.feed_discipline(slave, master, DisciplineConfig::DEFAULT, SECOND / 10);
    sim.run_until(10 * SECOND, |_| {});
    let readings = sim.readings();
    assert!(!readings.is_empty());
    for r in readings {
        assert!(r.inside_bound(), "{r:?}");
    }
}
