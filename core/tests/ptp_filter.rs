//! The offset filter on synthetic exchanges with a known truth: a clock 50 ppm fast,
//! 500 ns of jitter per direction, 1% of packets queued for 140 µs, and a step of the
//! reference. The estimate must beat the raw samples, stay inside its own bound, learn
//! the frequency, ignore the outliers and follow the step.
#![cfg(not(loom))]

use tempora_core::rng::SplitMix64 as Rng;

use tempora_core::ptp::filter::{Exchange, FilterConfig, OffsetFilter, Verdict};
use tempora_core::time::{Instant, Offset, Tai};

const PPB: i128 = 50_000; // the slave is 50 ppm fast
const DELAY: i128 = 2_000;

/// The slave's offset from the master at master time `t` (ns).
fn truth(t: i128, step_at: i128) -> i128 {
    let step = if t >= step_at { 30_000 } else { 0 };
    1_000_000 + t * PPB / 1_000_000_000 + step
}

/// Nanoseconds as a local instant (the test's times start at 0).
fn at(ns: i128) -> Instant<Tai> {
    Instant::from_nanos(u64::try_from(ns).expect("a time after the epoch"))
}

/// An exchange with these four timestamps (ns) and no corrections.
fn exchange(t1: i128, t2: i128, t3: i128, t4: i128) -> Exchange {
    Exchange {
        t1: at(t1),
        t2: at(t2),
        t3: at(t3),
        t4: at(t4),
        correction_ms: Offset::ZERO,
        correction_sm: Offset::ZERO,
    }
}

#[test]
fn the_filter_tracks_offset_and_frequency_inside_its_bound() {
    let mut rng = Rng::new(7);
    let mut f: OffsetFilter = OffsetFilter::new(FilterConfig::DEFAULT);
    let step_at = 60_000_000_000; // the reference steps 30 µs at 60 s
    let (mut err2, mut raw2, mut n, mut inside, mut outliers, mut rejected) =
        (0f64, 0f64, 0u32, 0u32, 0, 0);
    let mut recovered_at = None;
    for k in 0..800i128 {
        let t1 = k * 125_000_000; // 8 Sync per second, master time
        let queued = |rng: &mut Rng| {
            if rng.next_u64() % 100 == 0 {
                140_000
            } else {
                0
            }
        };
        let (q1, q2) = (queued(&mut rng), queued(&mut rng));
        outliers += usize::from(q1 > 0) + usize::from(q2 > 0);
        let ms = DELAY + i128::from(rng.jitter(500)) + q1;
        let sm = DELAY + i128::from(rng.jitter(500)) + q2;
        let t2 = t1 + ms + truth(t1 + ms, step_at);
        let t3 = t2 + 1_000_000;
        let t4 = t3 - truth(t3 - truth(t1, step_at), step_at) + sm;
        let e = exchange(t1, t2, t3, t4);
        if let Verdict::Rejected(_) = f.update(&e) {
            rejected += 1;
        }
        let Some(est) = f.estimate() else { continue };
        // The filter estimates the offset when the Sync arrived.
        let real = truth(t1 + ms, step_at) as f64;
        if t1 >= step_at && recovered_at.is_none() && (est.offset_ns - real).abs() < 1_000.0 {
            recovered_at = Some(t1 - step_at);
        }
        // Steady state: after 10 s, outside 5 s after the step.
        let settled = t1 > 10_000_000_000 && !(step_at..step_at + 5_000_000_000).contains(&t1);
        if settled && q1 == 0 && q2 == 0 {
            let err = est.offset_ns - real;
            err2 += err * err;
            raw2 += (e.offset().unwrap().as_f64() - real).powi(2);
            n += 1;
            if err.abs() <= 3.0 * est.offset_sigma_ns + 50.0 {
                inside += 1;
            }
            assert!(
                (est.frequency_ppb - PPB as f64).abs() < 1_000.0,
                "frequency {} ppb at {k}",
                est.frequency_ppb
            );
        }
    }
    let (rms, raw_rms) = ((err2 / f64::from(n)).sqrt(), (raw2 / f64::from(n)).sqrt());
    println!("filtered RMS {rms:.0} ns, raw RMS {raw_rms:.0} ns, inside 3 sigma {inside}/{n}, rejected {rejected} of {outliers} queued packets");
    assert!(
        rms < raw_rms / 2.0,
        "filtered {rms} ns is not much better than raw {raw_rms} ns"
    );
    assert!(rms < 200.0, "filtered RMS {rms} ns");
    assert!(
        f64::from(inside) >= 0.99 * f64::from(n),
        "{inside}/{n} inside the bound"
    );
    assert!(
        rejected >= outliers * 3 / 4,
        "rejected {rejected} of {outliers} outliers"
    );
    let recovered = recovered_at.expect("never followed the 30 µs step");
    assert!(
        recovered <= 2_000_000_000,
        "followed the step only after {recovered} ns"
    );
}

#[test]
fn prediction_bound_grows_in_holdover() {
    let mut f: OffsetFilter = OffsetFilter::new(FilterConfig::DEFAULT);
    for k in 0..100i128 {
        let t1 = k * 125_000_000;
        let e = exchange(
            t1,
            t1 + 2_000 + 500,
            t1 + 3_000_000,
            t1 + 3_000_000 + 2_000 - 500,
        );
        f.update(&e);
    }
    let last = 99 * 125_000_000 + 2_500;
    let s0 = f.predict(at(last)).unwrap().sigma_ns;
    let s1 = f.predict(at(last + 10_000_000_000)).unwrap().sigma_ns;
    let s2 = f.predict(at(last + 100_000_000_000)).unwrap().sigma_ns;
    assert!(s0 < s1 && s1 < s2, "{s0} {s1} {s2}");
}

#[test]
fn exchange_arithmetic() {
    let ns = |n| Some(Offset::from_nanos(n));
    let e = exchange(1_000, 3_500, 10_000, 11_500);
    assert_eq!(e.offset(), ns(500));
    assert_eq!(e.delay(), ns(2_000));
    let c = Exchange {
        correction_ms: Offset::from_nanos(1_000),
        ..e
    };
    assert_eq!((c.offset(), c.delay()), (ns(0), ns(1_500)));
}

#[test]
fn an_exchange_beyond_the_range_of_offsets_is_not_a_measurement() {
    // A master at the epoch and a slave near the end of time: a transit of 584 years.
    let e = Exchange {
        t1: Instant::EPOCH,
        t2: Instant::MAX,
        t3: Instant::MAX,
        t4: Instant::EPOCH,
        correction_ms: Offset::ZERO,
        correction_sm: Offset::ZERO,
    };
    assert_eq!((e.transits(), e.offset(), e.delay()), (None, None, None));
    let mut f: OffsetFilter = OffsetFilter::new(FilterConfig::DEFAULT);
    assert_eq!(f.update(&e), Verdict::OutOfRange);
    assert_eq!(f.estimate(), None);
    assert_eq!(f.samples(), 0);
}

#[test]
fn a_stall_and_a_burst_of_scattered_outliers_stay_rejected() {
    let mut rng = Rng::new(3);
    let mut f: OffsetFilter = OffsetFilter::new(FilterConfig::DEFAULT);
    let exchange = |t1: i128, ms: i128, sm: i128| {
        exchange(t1, t1 + ms, t1 + ms + 1_000_000, t1 + ms + 1_000_000 + sm)
    };
    for k in 0..80i128 {
        f.update(&exchange(
            k * 125_000_000,
            2_000 + i128::from(rng.jitter(200)),
            2_000 + i128::from(rng.jitter(200)),
        ));
    }
    let before = f.estimate().unwrap();
    // One packet stalled for 5 ms is an outlier, not a step of the reference.
    let v = f.update(&exchange(80 * 125_000_000 - 60_000_000, 5_002_000, 2_000));
    assert_eq!(v, Verdict::Rejected(1), "a single 5 ms stall was taken");
    // Two seconds of queueing in one direction: every packet late by 0.1 to 0.9 ms.
    for k in 80..96i128 {
        let late = 100_000 + i128::from(rng.below(800_000));
        let v = f.update(&exchange(k * 125_000_000, 2_000 + late, 2_000));
        assert!(
            matches!(v, Verdict::Rejected(_)),
            "burst sample {k} was accepted"
        );
    }
    let after = f.estimate().unwrap();
    assert_eq!(
        after.offset_ns, before.offset_ns,
        "the burst moved the estimate"
    );
    // The path recovers and the filter carries on from where it was.
    for k in 96..100i128 {
        assert_eq!(
            f.update(&exchange(k * 125_000_000, 2_000, 2_000)),
            Verdict::Accepted
        );
    }
}

/// Delay noise is one-sided (queueing, interrupts, cold caches only ever add delay) and
/// here it is unequal: the master-to-slave direction carries an exponential excess with a
/// 2 µs mean, the way back 0.3 µs, as on veth with software timestamps. A plain two-way
/// average is then biased by half the difference (+850 ns); taking each direction at its
/// floor is not. The slave is 20 ppm fast, so the floors only line up when old transits
/// are brought to the present with the learnt frequency.
#[test]
fn floors_remove_the_bias_of_one_sided_unequal_delay_noise() {
    const FAST: i128 = 20_000; // ppb
    let mut rng = Rng::new(11);
    let mut f: OffsetFilter = OffsetFilter::new(FilterConfig::DEFAULT);
    // An exponential excess with the given mean, from a uniform draw.
    let excess = |rng: &mut Rng, mean: f64| -> i128 {
        let u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        (-mean * (1.0 - u).ln()) as i128
    };
    let offset_at = |t: i128| 500_000 + t * FAST / 1_000_000_000;
    let (mut floored, mut plain, mut n) = (0f64, 0f64, 0u32);
    for k in 0..480i128 {
        let t1 = k * 125_000_000; // 8 per second for 60 s
        let ms = DELAY + excess(&mut rng, 2_000.0);
        let sm = DELAY + excess(&mut rng, 300.0);
        let t2 = t1 + ms + offset_at(t1 + ms);
        let t3 = t2 + 200_000;
        let master_t3 = t3 - offset_at(t1 + ms + 200_000);
        let t4 = master_t3 + sm;
        let e = exchange(t1, t2, t3, t4);
        let verdict = f.update(&e);
        assert_ne!(verdict, Verdict::Stepped, "exchange {k}");
        let est = f.estimate().expect("estimate");
        // (A rejected sample leaves the estimate at the previous exchange's time.)
        if k >= 240 && verdict == Verdict::Accepted {
            let truth = offset_at(t1 + ms) as f64;
            floored += (est.offset_ns - truth).powi(2);
            plain += (est.offset_ns - est.floor_correction_ns - truth).powi(2);
            n += 1;
        }
    }
    let (floored, plain) = (
        (floored / f64::from(n)).sqrt(),
        (plain / f64::from(n)).sqrt(),
    );
    println!("floored error RMS {floored:.0} ns, plain two-way {plain:.0} ns");
    assert!(
        plain > 600.0,
        "the plain estimate should carry the bias: {plain} ns"
    );
    assert!(floored < 100.0, "floored error RMS {floored} ns");
    let est = f.estimate().expect("estimate");
    assert!(
        (est.frequency_ppb - FAST as f64).abs() < 200.0,
        "frequency {} ppb",
        est.frequency_ppb
    );
}
