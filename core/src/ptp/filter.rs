//! From the four timestamps of an exchange to an offset estimate with an honest bound.
//!
//! An E2E exchange gives `t1` (master sends Sync), `t2` (slave receives it), `t3` (slave
//! sends Delay_Req) and `t4` (master receives it). With a symmetric path,
//! `offset = ((t2 - t1) - (t4 - t3)) / 2` and `delay = ((t2 - t1) + (t4 - t3)) / 2`.
//!
//! [`OffsetFilter`] is a two-state Kalman filter (offset and frequency error) instead of
//! linuxptp's moving median: it weighs each sample by how noisy the path has been,
//! tracks the frequency error it needs for holdover, rejects outliers by their innovation
//! (a queued packet that took 140 µs instead of 2 µs), and reports a standard deviation
//! from which an error bound follows. A run of consecutive outliers that agree with each
//! other is a real step of the reference and is followed; a scattered run is a burst of
//! queueing and stays rejected.
//!
//! Before the Kalman filter, a *delay floor* stage ("lucky packet" filtering, as telecom
//! profiles do for packet delay variation): queueing, interrupts and cold caches only
//! ever add delay, and they add it unequally to the two directions, which biases the
//! two-way offset. Each direction's transit is therefore taken at its floor, the least
//! transit over recent exchanges (each brought to the present with the estimated
//! frequency), and the offset is half the difference of the two floors. The window
//! spans only as far back as the frequency is known well enough for the drift across
//! it to stay below a quarter of the path noise, so it starts at one exchange and grows
//! as the estimate settles.

use core::time::Duration;

use crate::time::{Instant, Offset, Tai};

/// One exchange's four timestamps, with the correction fields of the Sync/Follow_Up and
/// Delay_Resp already summed per direction. `t1` and `t4` are the master's clock, `t2`
/// and `t3` the slave's: both on the PTP timescale, so their differences are transits
/// plus or minus the offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Exchange {
    /// Master sends Sync (origin or precise origin timestamp).
    pub t1: Instant<Tai>,
    /// Slave receives Sync.
    pub t2: Instant<Tai>,
    /// Slave sends Delay_Req.
    pub t3: Instant<Tai>,
    /// Master receives Delay_Req.
    pub t4: Instant<Tai>,
    /// Correction of the master-to-slave direction.
    pub correction_ms: Offset,
    /// Correction of the slave-to-master direction.
    pub correction_sm: Offset,
}

impl Exchange {
    /// The two transits, forward `t2 - t1` and reverse `t4 - t3`, corrections removed
    /// (each includes the offset, with opposite signs): the offset is half their
    /// difference, the delay half their sum. `None` if either exceeds ±292 years, which
    /// no real exchange does.
    pub fn transits(&self) -> Option<(Offset, Offset)> {
        let forward = self
            .t2
            .offset_from(self.t1)?
            .checked_sub(self.correction_ms)?;
        let reverse = self
            .t4
            .offset_from(self.t3)?
            .checked_sub(self.correction_sm)?;
        Some((forward, reverse))
    }

    /// Slave minus master, assuming a symmetric path and equal clock rates (rounded
    /// toward zero); `None` as for [`Exchange::transits`].
    pub fn offset(&self) -> Option<Offset> {
        let (forward, reverse) = self.transits()?;
        // Half the difference of two i64 always fits an i64.
        Offset::try_from_nanos((wide(forward) - wide(reverse)) / 2)
    }

    /// One-way path delay, likewise.
    pub fn delay(&self) -> Option<Offset> {
        let (forward, reverse) = self.transits()?;
        Offset::try_from_nanos((wide(forward) + wide(reverse)) / 2)
    }

    /// The transits in ns, the reverse one brought to the Sync's time with the clocks'
    /// frequency difference `frequency_ppb` over `t3 - t2`: without it a free-running
    /// clock 30 ppm fast, with the Delay_Req 60 ms after the Sync, biases the offset by
    /// 0.9 µs. Wide integers, so that sums and differences cannot overflow.
    fn at_sync(&self, (forward, reverse): (Offset, Offset), frequency_ppb: f64) -> (i128, i128) {
        let drift = frequency_ppb * ns_f64(wide_between(self.t3, self.t2)) / 1e9;
        (wide(forward), wide(reverse) + i128::from(drift as i64))
    }
}

fn wide(o: Offset) -> i128 {
    i128::from(o.as_nanos())
}

/// `later - earlier` in ns, exact at any distance.
fn wide_between(later: Instant<Tai>, earlier: Instant<Tai>) -> i128 {
    i128::from(later.as_nanos()) - i128::from(earlier.as_nanos())
}

/// `later - earlier` in seconds, for the filter's arithmetic (saturating beyond ±292
/// years, see [`ns_f64`]).
fn secs_between(later: Instant<Tai>, earlier: Instant<Tai>) -> f64 {
    ns_f64(wide_between(later, earlier)) / 1e9
}

/// Tuning of an [`OffsetFilter`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FilterConfig {
    /// Random-walk noise of the local oscillator's frequency, in (ns/s)² per second: how
    /// fast the frequency error may wander. Larger follows faster and smooths less.
    pub frequency_wander: f64,
    /// Measurement noise assumed before the filter has learnt the path's (ns²).
    pub initial_noise: f64,
    /// Innovations beyond this many standard deviations are outliers.
    pub reject_sigmas: f64,
    /// After this many consecutive outliers that agree with each other (same sign, spread
    /// no wider than the path's own noise), the next one is taken as a step of the
    /// reference.
    pub max_rejects: u32,
}

impl FilterConfig {
    /// The first of its numbers that is not finite and above 0 (none of them means
    /// anything otherwise: a NaN wander would make every estimate NaN).
    pub fn invalid_field(&self) -> Option<FilterField> {
        [
            (FilterField::FrequencyWander, self.frequency_wander),
            (FilterField::InitialNoise, self.initial_noise),
            (FilterField::RejectSigmas, self.reject_sigmas),
        ]
        .into_iter()
        .find(|(_, v)| !(v.is_finite() && *v > 0.0))
        .map(|(field, _)| field)
    }

    /// Tuned for software timestamps on a LAN: ~1 µs noise, crystals within 100 ppm.
    pub const DEFAULT: Self = Self {
        frequency_wander: 10.0,
        initial_noise: 1.0e6,
        reject_sigmas: 5.0,
        max_rejects: 5,
    };
}

/// A number of a [`FilterConfig`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum FilterField {
    /// [`FilterConfig::frequency_wander`].
    FrequencyWander,
    /// [`FilterConfig::initial_noise`].
    InitialNoise,
    /// [`FilterConfig::reject_sigmas`].
    RejectSigmas,
}

impl FilterField {
    /// The field's name.
    pub const fn name(self) -> &'static str {
        match self {
            Self::FrequencyWander => "frequency_wander",
            Self::InitialNoise => "initial_noise",
            Self::RejectSigmas => "reject_sigmas",
        }
    }
}

/// The smallest path noise the filter will believe (10 ns standard deviation): below
/// that, timestamp quantisation dominates anyway.
const MIN_NOISE: f64 = 100.0;

/// Variance given to the first sample's offset: (1 ms)².
const FIRST_SAMPLE_VARIANCE: f64 = 1.0e12;

/// Frequency errors beyond this (ppb) are not physical for a clock a PTP slave follows
/// (crystals are within ±100 ppm); estimates are clamped to it.
const MAX_FREQUENCY_PPB: f64 = 500_000.0;

/// What the filter assumes about the frequency error before any sample: zero, with a
/// standard deviation of 100 ppm (crystals), in (ns/s)².
const INITIAL_FREQUENCY_VARIANCE: f64 = 1.0e10;

/// The covariance follows increases of the learnt noise once the frequency variance is
/// below this ((10 ppm)², in (ns/s)²).
const SCALE_AFTER_FREQUENCY_VARIANCE: f64 = 1.0e8;

/// Samples accepted before outlier gating starts (the noise is learnt by then).
const GATE_AFTER: u64 = 8;

/// What the filter did with a sample.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Verdict {
    /// Used; the estimate moved.
    Accepted,
    /// Used as the first sample after a step of the reference: a run of outliers that
    /// agreed with each other, which the estimate now follows.
    Stepped,
    /// Too far from the prediction; ignored (consecutive count so far).
    Rejected(u32),
    /// A transit beyond ±292 years ([`Exchange::transits`] is `None`): not a
    /// measurement; ignored, and not counted as an outlier.
    OutOfRange,
}

/// The filter's belief about the local clock relative to the master. Floating-point
/// nanoseconds, as the filter keeps them: sub-nanosecond resolution matters to the
/// clock that applies the estimate and to the lock rule, which compares these.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Estimate {
    /// Offset (local minus master), ns, at the time of the last update.
    pub offset_ns: f64,
    /// How far (ns) taking the transits at their floors moved `offset_ns` from the plain
    /// two-way estimate: the bias the path's one-sided delay noise would have caused.
    pub floor_correction_ns: f64,
    /// Frequency error (local minus master), ns per s (= ppb).
    pub frequency_ppb: f64,
    /// Standard deviation of `offset_ns`, ns.
    pub offset_sigma_ns: f64,
    /// Path delay (running mean of accepted samples), ns.
    pub delay_ns: f64,
    /// The path noise the filter has learnt: standard deviation of one sample, ns.
    pub noise_sigma_ns: f64,
    /// Standard deviation of `frequency_ppb`, ppb.
    pub frequency_sigma_ppb: f64,
}

/// The offset the filter predicts at some local time, and how sure it is.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Prediction {
    /// Local minus master, ns.
    pub offset_ns: f64,
    /// Standard deviation of `offset_ns`, ns: it grows with the time since the last
    /// exchange (the holdover bound). Never negative or NaN.
    pub sigma_ns: f64,
}

impl Prediction {
    /// The offset rounded to the nanosecond.
    pub fn offset(&self) -> Offset {
        Offset::from_nanos_f64(self.offset_ns)
    }
}

/// A two-state Kalman filter over offset samples.
#[derive(Clone, Debug)]
pub struct OffsetFilter<const FLOOR: usize = FLOOR_WINDOW> {
    config: FilterConfig,
    /// Local time of the last update.
    at: Option<Instant<Tai>>,
    offset: f64,
    frequency: f64,
    /// Covariance [[p00, p01], [p01, p11]] of (offset ns, frequency ns/s).
    p00: f64,
    p01: f64,
    p11: f64,
    /// Measurement noise, learnt from accepted innovations (ns²).
    noise: f64,
    delay: f64,
    rejects: u32,
    /// Smallest and largest innovation of the current run of rejections.
    rejected_range: (f64, f64),
    samples: u64,
    /// The first samples (seconds since the first, offset), fitted by least squares:
    /// a line through several noisy points is a far better start than one point.
    warmup: [(f64, f64); WARMUP],
    first_at: Instant<Tai>,
    floor: DelayFloor<FLOOR>,
    /// Floored minus raw offset (ns), filtered with the offset's own gains; added to
    /// what the filter reports.
    floor_correction: f64,
    /// The correction's rate of change (ppb), from the frequency gain: added to the
    /// reported frequency, so that the report is the filter of the floored samples.
    floor_drift: f64,
}

/// Samples fitted by least squares before the Kalman filter takes over.
const WARMUP: usize = 8;

/// Exchanges the delay floor looks back over by default (8 s at 8 per second); the
/// `FLOOR` parameter of [`OffsetFilter`] and of the port. Each costs 16 bytes.
pub const FLOOR_WINDOW: usize = 64;

/// Units of [`Transit::at`]: 100 µs, so a `u32` spans almost five days; exchanges more
/// than [`FLOOR_MAX_GAP`] apart clear the window, so ages never wrap.
const FLOOR_TICK_NS: u64 = 100_000;

/// A gap between exchanges after which the kept transits are dropped (10 minutes).
const FLOOR_MAX_GAP: Duration = Duration::from_secs(600);

/// One accepted exchange as the delay floor keeps it, in 16 bytes: when the Sync arrived
/// (local time in [`FLOOR_TICK_NS`] units, wrapping), the forward transit (ns; it carries
/// the whole clock offset, which may be large) and the round trip (ns; small, or the
/// exchange is not kept).
#[derive(Clone, Copy, Debug)]
struct Transit {
    forward: i64,
    at: u32,
    round_trip: i32,
}

impl Transit {
    fn new(at: Instant<Tai>, forward: i128, reverse: i128) -> Option<Self> {
        Some(Self {
            forward: i64::try_from(forward).ok()?,
            // Wrapping on purpose: only differences of recent ticks are used.
            at: (at.as_nanos() / FLOOR_TICK_NS) as u32,
            round_trip: i32::try_from(forward + reverse).ok()?,
        })
    }
}

/// The recent transits of accepted exchanges, oldest overwritten first.
#[derive(Clone, Debug)]
struct DelayFloor<const N: usize> {
    ring: [Transit; N],
    len: usize,
    next: usize,
}

impl<const N: usize> DelayFloor<N> {
    const fn new() -> Self {
        Self {
            ring: [Transit {
                forward: 0,
                at: 0,
                round_trip: 0,
            }; N],
            len: 0,
            next: 0,
        }
    }

    fn clear(&mut self) {
        self.len = 0;
        self.next = 0;
    }

    fn push(&mut self, t: Transit) {
        if N == 0 {
            return;
        }
        self.ring[self.next] = t;
        self.next = (self.next + 1) % N;
        self.len = (self.len + 1).min(N);
    }

    /// How far (ns) the floors of the exchange `now` lie below its own transits, over
    /// the kept exchanges no older than `span_s` seconds: (forward, reverse), both <= 0.
    /// Each older transit is first brought to `now`'s time with `frequency_ppb`.
    fn depth(&self, now: &Transit, frequency_ppb: f64, span_s: f64) -> (f64, f64) {
        let (mut forward, mut reverse) = (0.0f64, 0.0f64);
        for t in &self.ring[..self.len] {
            let age = f64::from(now.at.wrapping_sub(t.at)) * (FLOOR_TICK_NS as f64 / 1e9);
            if age > span_s {
                continue;
            }
            // An older transit brought to `now`: forward + drift, reverse - drift.
            let drift = frequency_ppb * age;
            let f = now.forward.saturating_sub(t.forward) as f64;
            let r = f64::from(now.round_trip) - f64::from(t.round_trip) - f;
            forward = forward.min(drift - f);
            reverse = reverse.min(-drift - r);
        }
        (forward, reverse)
    }
}

impl<const FLOOR: usize> OffsetFilter<FLOOR> {
    /// An empty filter.
    pub const fn new(config: FilterConfig) -> Self {
        Self {
            config,
            at: None,
            offset: 0.0,
            frequency: 0.0,
            p00: 0.0,
            p01: 0.0,
            p11: 0.0,
            noise: config.initial_noise,
            delay: 0.0,
            rejects: 0,
            rejected_range: (0.0, 0.0),
            samples: 0,
            warmup: [(0.0, 0.0); WARMUP],
            first_at: Instant::EPOCH,
            floor: DelayFloor::new(),
            floor_correction: 0.0,
            floor_drift: 0.0,
        }
    }

    /// Samples accepted so far.
    pub fn samples(&self) -> u64 {
        self.samples
    }

    /// The estimate after the last update, if any sample was accepted.
    pub fn estimate(&self) -> Option<Estimate> {
        self.at.map(|_| Estimate {
            offset_ns: self.offset + self.floor_correction,
            frequency_ppb: self.frequency + self.floor_drift,
            floor_correction_ns: self.floor_correction,
            offset_sigma_ns: sqrt(self.p00),
            noise_sigma_ns: sqrt(self.noise),
            frequency_sigma_ppb: sqrt(self.p11),
            delay_ns: self.delay,
        })
    }

    /// The offset predicted at local time `now` (the clock of the samples' `t2`) and
    /// its standard deviation, which grows with the time since the last sample: the
    /// holdover bound.
    pub fn predict(&self, now: Instant<Tai>) -> Option<Prediction> {
        let at = self.at?;
        let dt = secs_between(now, at);
        let offset = self.offset + self.floor_correction + (self.frequency + self.floor_drift) * dt;
        // The wander term by |dt|: what the frequency's random walk adds over the span,
        // in either direction. A port asks about a moment before the last update when a
        // Sync held back behind a newer one completes an exchange; that must not come
        // out more certain.
        let var = self.p00
            + 2.0 * dt * self.p01
            + dt * dt * self.p11
            + self.config.frequency_wander * abs(dt) * dt * dt / 3.0;
        Some(Prediction {
            offset_ns: offset,
            // Negative only by rounding; a NaN stays NaN (`max` would make it 0) and
            // `sqrt` makes it unbounded.
            sigma_ns: sqrt(if var < 0.0 { 0.0 } else { var }),
        })
    }

    /// Fits offset and frequency to the samples so far by least squares, with the
    /// covariance the fit implies, and the path noise from its residuals.
    fn warm_up(&mut self, now: Instant<Tai>, z: f64, delay: f64) {
        if self.samples == 0 {
            self.first_at = now;
            self.delay = delay;
        }
        let n = self.samples as usize;
        self.warmup[n] = (secs_between(now, self.first_at), z);
        let n = n + 1;
        self.samples = n as u64;
        self.at = Some(now);
        self.delay += (delay - self.delay) / n as f64;
        let pts = &self.warmup[..n];
        let (tl, _) = pts[n - 1];
        if n == 1 {
            self.offset = z;
            self.frequency = 0.0;
            self.p00 = FIRST_SAMPLE_VARIANCE.max(self.noise);
            self.p01 = 0.0;
            self.p11 = INITIAL_FREQUENCY_VARIANCE;
            return;
        }
        // Screen first: one packet held up by a millisecond in the first second would
        // otherwise pull the fit, inflate the learnt noise and widen the gate that should
        // have caught it. Points further than five robust standard deviations (1.4826 x
        // the median absolute deviation) from the median are left out. A drift of up to
        // 100 ppm over the first second only widens the spread, so the screen errs
        // towards keeping points.
        let mut inlier = [true; WARMUP];
        if n >= 4 {
            let mut work = [0.0f64; WARMUP];
            for (w, p) in work.iter_mut().zip(pts) {
                *w = p.1;
            }
            let middle = median(&mut work[..n]);
            for (w, p) in work.iter_mut().zip(pts) {
                *w = abs(p.1 - middle);
            }
            let spread = (1.4826 * median(&mut work[..n])).max(sqrt(MIN_NOISE));
            for (keep, p) in inlier.iter_mut().zip(pts) {
                *keep = abs(p.1 - middle) <= 5.0 * spread;
            }
        }
        let kept = || {
            pts.iter()
                .zip(inlier)
                .filter(|(_, keep)| *keep)
                .map(|(p, _)| *p)
        };
        let nf = kept().count() as f64;
        let tm = kept().map(|p| p.0).sum::<f64>() / nf;
        let zm = kept().map(|p| p.1).sum::<f64>() / nf;
        let sxx = kept().map(|p| (p.0 - tm) * (p.0 - tm)).sum::<f64>();
        let sxz = kept().map(|p| (p.0 - tm) * (p.1 - zm)).sum::<f64>();
        if sxx <= 0.0 {
            self.offset = zm;
            return;
        }
        // The slope is fitted against the prior (zero, ±100 ppm; `INITIAL_FREQUENCY_VARIANCE`):
        // the least-squares slope shrunk by how little the samples say about it so far
        // (a ridge fit, the posterior mean). A bare fit over half a second of a path with
        // 100 µs of jitter lands hundreds of ppm off, which then inflates the learnt noise
        // and delays the lock for seconds.
        let r = self.noise;
        let slope = (sxz / (sxx + r / INITIAL_FREQUENCY_VARIANCE))
            .clamp(-MAX_FREQUENCY_PPB, MAX_FREQUENCY_PPB);
        let residuals = kept()
            .map(|p| {
                let r = p.1 - (zm + slope * (p.0 - tm));
                r * r
            })
            .sum::<f64>();
        if nf > 2.0 {
            self.noise = (residuals / (nf - 2.0)).max(MIN_NOISE);
        }
        let r = self.noise;
        let slope_variance = r / (sxx + r / INITIAL_FREQUENCY_VARIANCE);
        self.offset = zm + slope * (tl - tm);
        self.frequency = slope;
        self.p00 = r / nf + (tl - tm) * (tl - tm) * slope_variance;
        self.p01 = (tl - tm) * slope_variance;
        self.p11 = slope_variance;
    }

    /// Takes one exchange, measured at local time `e.t2`.
    pub fn update(&mut self, e: &Exchange) -> Verdict {
        let Some(transits) = e.transits() else {
            return Verdict::OutOfRange;
        };
        // Bring the Delay_Req half to the Sync's time with the frequency learnt so far.
        let (forward, reverse) = e.at_sync(transits, self.frequency);
        let z = ns_f64(forward - reverse) / 2.0;
        let now = e.t2;
        let delay = ns_f64(forward + reverse) / 2.0;
        let transit = Transit::new(now, forward, reverse);
        let gap = self.at.and_then(|at| now.checked_duration_since(at));
        if gap.is_some_and(|gap| gap > FLOOR_MAX_GAP) {
            self.floor.clear();
        }
        if (self.samples as usize) < WARMUP {
            if let Some(t) = transit {
                self.floor.push(t);
            }
            self.warm_up(now, z, delay);
            return Verdict::Accepted;
        }
        let Some(at) = self.at else {
            return Verdict::Accepted; // unreachable: warm_up set it
        };
        let dt = secs_between(now, at).max(0.0);
        // Predict.
        let q = self.config.frequency_wander;
        let offset = self.offset + self.frequency * dt;
        let p00 = self.p00 + 2.0 * dt * self.p01 + dt * dt * self.p11 + q * dt * dt * dt / 3.0;
        let p01 = self.p01 + dt * self.p11 + q * dt * dt / 2.0;
        let p11 = self.p11 + q * dt;
        // Gate.
        let mut p00 = p00;
        let innovation = z - offset;
        let limit = self.config.reject_sigmas * self.config.reject_sigmas * (p00 + self.noise);
        let mut stepped = false;
        // No gating until the path noise has been learnt from a few samples.
        if innovation * innovation > limit && self.samples >= GATE_AFTER {
            let (lo, hi) = if self.rejects == 0 {
                (innovation, innovation)
            } else {
                (
                    self.rejected_range.0.min(innovation),
                    self.rejected_range.1.max(innovation),
                )
            };
            self.rejected_range = (lo, hi);
            // Outliers that keep coming *and agree with each other* are the reference
            // moving: follow it. A burst of queued packets also comes as a run of
            // outliers, but scattered; it is rejected however long it lasts.
            let agree = lo.signum() == hi.signum() && hi - lo <= 6.0 * sqrt(self.noise);
            if self.rejects < self.config.max_rejects || !agree {
                self.rejects = self.rejects.saturating_add(1);
                return Verdict::Rejected(self.rejects);
            }
            p00 += innovation * innovation;
            stepped = true;
        }
        self.rejects = 0;
        // Update.
        let s = p00 + self.noise;
        let (k0, k1) = (p00 / s, p01 / s);
        self.offset = offset + k0 * innovation;
        self.frequency =
            (self.frequency + k1 * innovation).clamp(-MAX_FREQUENCY_PPB, MAX_FREQUENCY_PPB);
        // (1 - k0)·p00 and (1 - k0)·p01, written as R·k0 and R·k1 (the same, as
        // 1 - k0 = R / s): with p00 far above R, 1 - k0 rounds to 0 and the posterior
        // would claim a variance of 0.
        self.p00 = self.noise * k0;
        self.p01 = self.noise * k1;
        self.p11 = p11 - k1 * p01;
        self.at = Some(now);
        self.samples += 1;
        // Learn the path noise. While warming up, from the innovations (an overestimate,
        // so the first noisy samples get modest gains); then from the residuals:
        // E[residual²] = R - p00 (posterior), so residual² + p00 estimates R without bias
        // and never goes negative.
        // The path noise is that of single exchanges (what the gate compares against):
        // the raw sample against the estimate.
        // Winsorised at three standard deviations: a packet that passed the gate with a
        // large excess delay must not inflate the noise (and so the gate) for the next
        // thirty samples.
        let residual = z - self.offset;
        let r = (residual * residual).min(9.0 * self.noise) + self.p00;
        let weight = (self.samples as f64).min(32.0);
        let learnt = ((self.noise * (weight - 1.0) + r) / weight).max(MIN_NOISE);
        // The covariance was worked out with the noise believed so far (the warm-up's
        // from its fit residuals, which a fit over one second's points underestimates).
        // When the path turns out noisier, what the earlier samples said about offset
        // and frequency was overstated by the same factor: scale it up. Not down: a
        // quiet spell does not make the earlier samples better. Without this, a
        // warm-up slope fitted through the first second's start-up transients was
        // trusted for tens of seconds (a 400 ppb error decaying over 20 s on veth).
        // Only once the frequency is known to 10 ppm (what a port waits for before it
        // calls itself locked): under heavy jitter the frequency is what the lock waits
        // for, and the start-up noise spikes there would hold it back by seconds, while
        // the overconfidence this corrects matters for the settled estimate.
        if learnt > self.noise && self.p11 <= SCALE_AFTER_FREQUENCY_VARIANCE {
            let scale = learnt / self.noise;
            self.p00 *= scale;
            self.p01 *= scale;
            self.p11 *= scale;
        }
        self.noise = learnt;
        self.delay += (delay - self.delay) / 8.0;
        // The floor correction: how far taking this exchange's transits at their floors
        // moves its offset, filtered with the same two gains as the raw estimate, so that
        // raw estimate plus correction (offset and rate) is exactly the filter of the
        // floored samples. With the offset gain alone (as before), a shift of the raw
        // transits' spread kicked the raw frequency and nothing took the kick back out:
        // on veth that left a few hundred ns of drift. The frequency that brings old
        // transits to the present stays the raw filter's: a floored frequency fed back
        // into that makes a loop (it ran away as the window grew). After a step the old
        // transits describe another reference and are dropped.
        self.floor_correction += self.floor_drift * dt;
        if stepped {
            self.floor.clear();
            self.floor_correction = 0.0;
            self.floor_drift = 0.0;
        } else if let Some(t) = transit {
            let span = FLOOR_SPAN_NOISE * sqrt(self.noise) / sqrt(self.p11).max(1e-3);
            let (deep_forward, deep_reverse) = self.floor.depth(&t, self.frequency, span);
            let correction = (deep_forward - deep_reverse) / 2.0;
            let innovation = correction - self.floor_correction;
            self.floor_correction += k0 * innovation;
            self.floor_drift =
                (self.floor_drift + k1 * innovation).clamp(-MAX_FREQUENCY_PPB, MAX_FREQUENCY_PPB);
        }
        match transit {
            Some(t) => self.floor.push(t),
            // A round trip beyond two seconds: nothing to compare later exchanges with.
            None => self.floor.clear(),
        }
        if stepped {
            Verdict::Stepped
        } else {
            Verdict::Accepted
        }
    }
}

/// The floor window spans at most this fraction of the path noise's worth of drift at
/// the frequency's uncertainty.
const FLOOR_SPAN_NOISE: f64 = 0.25;

/// Nanoseconds as `f64`, through `i64` (saturating; ±292 years): on Cortex-M the direct
/// `i128` conversions pull in half a kilobyte of soft-float helpers.
fn ns_f64(v: i128) -> f64 {
    // Saturating, by the high word: a generic i128 comparison costs more flash here.
    let (high, low) = ((v >> 64) as i64, v as i64);
    if high == low >> 63 {
        low as f64
    } else if high < 0 {
        i64::MIN as f64
    } else {
        i64::MAX as f64
    }
}

fn abs(v: f64) -> f64 {
    if v < 0.0 {
        -v
    } else {
        v
    }
}

/// The median of `v` (reordered in place; the mean of the middle two for an even count).
fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    // Insertion sort: at most eight values, and core's sort would add kilobytes of flash.
    for i in 1..v.len() {
        let mut j = i;
        while j > 0 && v[j - 1] > v[j] {
            v.swap(j - 1, j);
            j -= 1;
        }
    }
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    }
}

/// Square root by Newton's method (core has no `sqrt` without `std`). Exact enough for
/// error bounds.
fn sqrt(v: f64) -> f64 {
    // A variance that is not a number (a broken configuration, an overflow) says
    // nothing: unbounded, never a tiny standard deviation.
    if v.is_nan() || v == f64::INFINITY {
        return f64::INFINITY;
    }
    if v <= 0.0 {
        return 0.0;
    }
    let mut x = if v > 1.0 { v / 2.0 } else { 1.0 };
    for _ in 0..64 {
        let next = 0.5 * (x + v / x);
        let change = if next > x { next - x } else { x - next };
        if change <= x * 1e-12 {
            return next;
        }
        x = next;
    }
    x
}

#[cfg(test)]
mod tests {
    use super::ns_f64;

    #[test]
    fn nanoseconds_convert_exactly_in_range_and_saturate_beyond() {
        assert_eq!(ns_f64(0), 0.0);
        assert_eq!(ns_f64(-1_500), -1_500.0);
        assert_eq!(ns_f64(37_000_000_123), 37_000_000_123.0);
        assert_eq!(ns_f64(i128::from(i64::MAX)), i64::MAX as f64);
        assert_eq!(ns_f64(i128::from(i64::MIN)), i64::MIN as f64);
        assert_eq!(ns_f64(i128::from(i64::MAX) + 1), i64::MAX as f64);
        assert_eq!(ns_f64(i128::from(i64::MIN) - 1), i64::MIN as f64);
        assert_eq!(ns_f64(i128::MAX), i64::MAX as f64);
        assert_eq!(ns_f64(i128::MIN), i64::MIN as f64);
        assert_eq!(ns_f64(1 << 64), i64::MAX as f64);
        assert_eq!(ns_f64(-(1 << 64)), i64::MIN as f64);
    }
}
