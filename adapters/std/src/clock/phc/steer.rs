//! Steering one clock to another, as linuxptp's `phc2sys` does: the system clock to a
//! PHC, or a PHC to the system clock. Frequency through `clock_adjtime(ADJ_FREQUENCY)`
//! under a PI servo, a step (`ADJ_SETOFFSET`) when the first offset is large.
//!
//! Never by default: only `tempora phc sync`, asked for by the user, calls this (and
//! the project's tests call it only inside a QEMU guest, on the guest's own clocks).

use std::io;
use std::time::{Duration, Instant as MonoInstant};

use tempora_core::time::Offset;

use crate::stop::StopSignal;
use crate::sys;

use super::cross::{raw_minus_realtime, CrossTimestamper};
use super::PhcClock;

/// Which clock is steered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Steered {
    /// `CLOCK_REALTIME` follows the PHC (phc2sys's usual direction).
    System,
    /// The PHC follows `CLOCK_REALTIME` (a PTP master serving the system's time).
    Phc,
}

/// A clock `clock_adjtime` can steer.
#[derive(Clone, Copy, Debug)]
pub struct SteerableClock(libc::clockid_t);

impl SteerableClock {
    /// `CLOCK_REALTIME`.
    pub const SYSTEM: Self = Self(libc::CLOCK_REALTIME);

    /// A PHC (opened writable: [`PhcClock::open_writable`]).
    pub fn phc(phc: &PhcClock) -> Self {
        Self(phc.clock_id())
    }

    /// Sets the clock's frequency offset to `ppb` parts per billion (+: faster).
    pub fn set_frequency(&self, ppb: f64) -> io::Result<()> {
        let mut tx = sys::zeroed_timex();
        tx.modes = libc::ADJ_FREQUENCY;
        // timex.freq is ppm with a 16-bit fraction.
        tx.freq = (ppb * 65.536).round() as libc::c_long;
        sys::clock_adjtime(self.0, &mut tx).map(drop)
    }

    /// The clock's frequency offset now (ppb).
    pub fn frequency(&self) -> io::Result<f64> {
        let mut tx = sys::zeroed_timex();
        sys::clock_adjtime(self.0, &mut tx)?;
        Ok(tx.freq as f64 / 65.536)
    }

    /// Steps the clock by `by` (`ADJ_SETOFFSET`).
    pub fn step(&self, by: Offset) -> io::Result<()> {
        let mut tx = sys::zeroed_timex();
        tx.modes = libc::ADJ_SETOFFSET | libc::ADJ_NANO;
        let ns = by.as_nanos();
        // The kernel wants a non-negative fraction: -1.5 s is (-2 s, 0.5 s).
        // `as _`: `time_t` and `suseconds_t` are 64 bits on both glibc and musl (1.2) here.
        tx.time.tv_sec = ns.div_euclid(1_000_000_000) as _;
        tx.time.tv_usec = ns.rem_euclid(1_000_000_000) as _;
        sys::clock_adjtime(self.0, &mut tx).map(drop)
    }

    /// Sets the clock to `ns` since its epoch.
    pub fn set_time(&self, ns: i128) -> io::Result<()> {
        let ts = nix::sys::time::TimeSpec::new(
            ns.div_euclid(1_000_000_000) as _,
            ns.rem_euclid(1_000_000_000) as libc::c_long,
        );
        nix::time::clock_settime(nix::time::ClockId::from_raw(self.0), ts).map_err(io::Error::from)
    }
}

/// How `tempora phc sync` steers.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SyncOptions {
    /// Which clock follows the other.
    pub steered: Steered,
    /// Time between updates.
    pub interval: Duration,
    /// The first offset beyond this is stepped away; later ones are slewed.
    pub step_threshold: Duration,
    /// PHC time minus system time when in step: TAI - UTC (37 s) for a PHC on TAI and
    /// a system clock on UTC, 0 when both are on one scale.
    pub phc_minus_system: Offset,
    /// The servo's proportional and integral constants (phc2sys's 0.7 and 0.3).
    pub kp: f64,
    /// See `kp`.
    pub ki: f64,
    /// Stop after this long; `None`: until stopped.
    pub duration: Option<Duration>,
    /// Cross-timestamp samples per update.
    pub samples: usize,
}

impl SyncOptions {
    /// phc2sys's defaults: once a second, step above 20 µs, kp 0.7, ki 0.3.
    pub const DEFAULT: Self = Self {
        steered: Steered::System,
        interval: Duration::from_secs(1),
        step_threshold: Duration::from_micros(20),
        phc_minus_system: Offset::ZERO,
        kp: 0.7,
        ki: 0.3,
        duration: None,
        samples: 7,
    };
}

/// One update of the servo.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SyncUpdate {
    /// Seconds since the start.
    pub elapsed: Duration,
    /// Steered minus reference (ns), measured before this update.
    pub offset_ns: i64,
    /// The frequency set (ppb), or `None` where this update stepped.
    pub frequency_ppb: Option<f64>,
    /// The cross-timestamp's bound.
    pub bound: Duration,
}

/// `offset=+123ns freq=-4567.000ppb bound=250ns` (or `step` in place of `freq`).
impl std::fmt::Display for SyncUpdate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "t={:.1}s offset={:+}ns ",
            self.elapsed.as_secs_f64(),
            self.offset_ns
        )?;
        match self.frequency_ppb {
            Some(ppb) => write!(f, "freq={ppb:+.3}ppb")?,
            None => f.write_str("step")?,
        }
        write!(f, " bound={}ns", self.bound.as_nanos())
    }
}

/// PHC minus `CLOCK_REALTIME` (ns) and the bound of that measurement.
fn phc_minus_realtime(
    cross: &mut CrossTimestamper,
    phc: &PhcClock,
) -> io::Result<(i128, Duration)> {
    let ts = cross.take(phc)?;
    let (raw_minus_rt, err) = raw_minus_realtime();
    // realtime at the PHC reading = raw - (raw - realtime).
    let realtime = ts.raw_ns - raw_minus_rt;
    Ok((ts.phc_ns - realtime, ts.bound + err))
}

/// A PI servo as linuxptp's: the first two samples give the frequency, then
/// `ppb = kp * offset + drift`, `drift += ki * offset` (per second of interval).
#[derive(Clone, Debug)]
pub struct PiServo {
    kp: f64,
    ki: f64,
    drift_ppb: f64,
    /// The first sample: (elapsed s, offset ns).
    first: Option<(f64, f64)>,
    locked: bool,
}

impl PiServo {
    /// Constants `kp`, `ki`; `drift_ppb` the frequency the steered clock has now.
    pub fn new(kp: f64, ki: f64, drift_ppb: f64) -> Self {
        Self {
            kp,
            ki,
            drift_ppb,
            first: None,
            locked: false,
        }
    }

    /// The frequency (ppb) to set for `offset_ns` (steered minus reference) at `t`
    /// seconds, with updates `interval` seconds apart; `None` for "no change yet".
    pub fn sample(&mut self, t: f64, offset_ns: f64, interval: f64) -> Option<f64> {
        if !self.locked {
            match self.first {
                None => {
                    self.first = Some((t, offset_ns));
                    return None;
                }
                Some((t0, o0)) if t > t0 => {
                    // The steered clock runs (o - o0)/(t - t0) ns/s fast: take it off.
                    self.drift_ppb -= (offset_ns - o0) / (t - t0);
                    self.locked = true;
                }
                Some(_) => return None,
            }
        }
        let interval = interval.max(1e-3);
        let ki_term = -self.ki * offset_ns / interval;
        let ppb = -self.kp * offset_ns / interval + self.drift_ppb + ki_term;
        self.drift_ppb += ki_term;
        Some(ppb.clamp(-500_000.0, 500_000.0))
    }
}

/// Steers as `options` say until stopped or its duration ends, calling `on_update`
/// after every update. Returns the number of updates.
pub fn run_sync(
    phc: &PhcClock,
    options: &SyncOptions,
    stop: &StopSignal,
    mut on_update: impl FnMut(&SyncUpdate),
) -> io::Result<u64> {
    let steered = match options.steered {
        Steered::System => SteerableClock::SYSTEM,
        Steered::Phc => SteerableClock::phc(phc),
    };
    let mut cross = CrossTimestamper::new(options.samples);
    let mut servo = PiServo::new(options.kp, options.ki, steered.frequency()?);
    let started = MonoInstant::now();
    let mut updates = 0u64;
    let mut first = true;
    while !stop.is_raised() && options.duration.is_none_or(|d| started.elapsed() < d) {
        let (phc_minus_rt, bound) = phc_minus_realtime(&mut cross, phc)?;
        // Steered minus reference, with the scales' nominal difference taken out.
        let nominal = i128::from(options.phc_minus_system.as_nanos());
        let offset = match options.steered {
            Steered::System => nominal - phc_minus_rt,
            Steered::Phc => phc_minus_rt - nominal,
        };
        let offset_ns =
            i64::try_from(offset).unwrap_or(if offset > 0 { i64::MAX } else { i64::MIN });
        let elapsed = started.elapsed();
        let frequency_ppb = if first && offset.unsigned_abs() > options.step_threshold.as_nanos() {
            steered.step(Offset::from_nanos(offset_ns.saturating_neg()))?;
            None
        } else {
            let ppb = servo.sample(
                elapsed.as_secs_f64(),
                offset as f64,
                options.interval.as_secs_f64(),
            );
            if let Some(ppb) = ppb {
                steered.set_frequency(ppb)?;
            }
            ppb.or(Some(servo.drift_ppb))
        };
        first = false;
        updates += 1;
        on_update(&SyncUpdate {
            elapsed,
            offset_ns,
            frequency_ppb,
            bound,
        });
        let next = options
            .interval
            .checked_mul(u32::try_from(updates).unwrap_or(u32::MAX))
            .and_then(|d| started.checked_add(d));
        let end = options.duration.and_then(|d| started.checked_add(d));
        let wake = match (next, end) {
            (Some(n), Some(e)) => Some(n.min(e)),
            (n, e) => n.or(e),
        };
        match wake {
            Some(wake) => stop.wait_until(wake),
            None => stop.wait_for(Duration::MAX),
        };
    }
    Ok(updates)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_servo_takes_the_drift_from_two_samples_then_corrects_the_offset() {
        let mut s = PiServo::new(0.7, 0.3, 0.0);
        assert_eq!(s.sample(0.0, 1_000.0, 1.0), None);
        // 100 ns/s fast: drift -100 ppb, then -0.7 and -0.3 of the 1 100 ns offset.
        let ppb = s.sample(1.0, 1_100.0, 1.0).unwrap();
        assert!((ppb - (-100.0 - 770.0 - 330.0)).abs() < 1e-9, "{ppb}");
        // On target: only the learnt drift remains.
        let ppb = s.sample(2.0, 0.0, 1.0).unwrap();
        assert!((ppb - (-430.0)).abs() < 1e-9, "{ppb}");
    }

    #[test]
    fn a_simulated_clock_converges_under_the_servo() {
        // A clock 50 ppm fast, 30 µs ahead, steered once a second.
        let (mut offset, natural) = (30_000.0f64, 50_000.0f64);
        let mut s = PiServo::new(0.7, 0.3, 0.0);
        let mut freq = 0.0;
        for t in 0..60 {
            if let Some(f) = s.sample(f64::from(t), offset, 1.0) {
                freq = f;
            }
            offset += natural + freq;
        }
        assert!(offset.abs() < 1.0, "{offset}");
        assert!((freq + natural).abs() < 1.0, "{freq}");
    }

    #[test]
    fn updates_print_like_phc2sys() {
        let u = SyncUpdate {
            elapsed: Duration::from_millis(3_000),
            offset_ns: -42,
            frequency_ppb: Some(1234.5),
            bound: Duration::from_nanos(250),
        };
        assert_eq!(
            u.to_string(),
            "t=3.0s offset=-42ns freq=+1234.500ppb bound=250ns"
        );
    }
}
