//! A PHC as a bounded [`ClockSource`] whose reads cost about a `clock_gettime`.
//!
//! Reading the PHC itself is a system call (about 1 µs, more under a hypervisor). So
//! readers never touch it: a reading is `CLOCK_MONOTONIC_RAW` (the vDSO, about 22 ns)
//! corrected by the core [`Discipline`], which a background thread keeps disciplined
//! *towards the PHC's time* with cross-timestamps ([`super::cross`]) every interval.
//! The bound is the cross-timestamp's (half its window, plus the device's stated
//! error), grown at the configured drift rate since it was taken.
//!
//! `CLOCK_MONOTONIC_RAW` is the local clock because nothing steps or slews it: `tempora
//! phc sync` may be steering `CLOCK_REALTIME` at the same time.
//!
//! Faults are checked at every measurement and reported through the [`FaultHook`]:
//! a PHC that stopped ([`Fault::SourceFrozen`]), one running at an implausible rate
//! ([`Fault::SourceRateImplausible`]), and one that cannot be read or whose device went
//! away ([`Fault::SourceLost`]). While faulty the source feeds nothing, so readings
//! coast in [`Holdover`](ClockStatus::Holdover) with a growing bound; a lost device is
//! re-opened when a PTP device node appears again (inotify, no polling). Readings never
//! go backwards: should the recovered clock be behind what was read, time holds still
//! and the bound widens to cover the difference.

use std::collections::VecDeque;
use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant as MonoInstant};

use tempora_core::clock::{ClockReading, ClockSource, ClockStatus};
use tempora_core::discipline::{Discipline, DisciplineConfig, OffsetSample, MAX_FREQUENCY_PPT};
use tempora_core::hooks::{Fault, FaultHook};
use tempora_core::time::{Instant, Offset, Tai};

use crate::clock::hotplug::{DeviceEvent, DeviceWatcher};
use crate::sys;

use super::cross::{CrossMethod, CrossTimestamp, CrossTimestamper};
use super::health::{Health, HealthCheck};
use super::{PhcClock, PhcSelector};

/// How a [`PhcSource`] measures and how much it trusts its estimate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PhcSourceConfig {
    /// Time between cross-timestamps (and fault checks).
    pub interval: Duration,
    /// Samples per cross-timestamp (1 to 25); the narrowest window is kept.
    pub samples: usize,
    /// How fast the bound grows between cross-timestamps, in parts per billion: the
    /// frequency error the estimate may have or acquire. 10 ppm by default.
    pub drift_ppb: u32,
    /// The device's own error, added to every cross-timestamp's bound (0 unless the
    /// vendor states one).
    pub device_error: Duration,
    /// What puts the PHC's time on TAI: 0 for a PHC on PTP's timescale (what ptp4l
    /// keeps it on); TAI - UTC (37 s) for a PHC on UTC.
    pub tai_minus_phc: Offset,
    /// Rates further than this from the local clock's are a fault (ppm).
    pub max_rate_ppm: u32,
}

impl PhcSourceConfig {
    /// Four cross-timestamps a second of 7 samples each, 10 ppm of drift, a PHC on TAI,
    /// rates within 1 000 ppm.
    pub const DEFAULT: Self = Self {
        interval: Duration::from_millis(250),
        samples: 7,
        drift_ppb: 10_000,
        device_error: Duration::ZERO,
        tai_minus_phc: Offset::ZERO,
        max_rate_ppm: 1_000,
    };
}

impl Default for PhcSourceConfig {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// `CLOCK_MONOTONIC_RAW` as a free-running clock (nanoseconds since boot, on no date):
/// the local clock the discipline corrects.
#[derive(Clone, Copy, Debug, Default)]
pub struct MonoRawClock;

impl ClockSource for MonoRawClock {
    type Scale = Tai;

    fn read(&self) -> ClockReading<Tai> {
        ClockReading::unknown(self.time())
    }

    #[inline]
    fn time(&self) -> Instant<Tai> {
        Instant::from_nanos(sys::clock_nanos(libc::CLOCK_MONOTONIC_RAW))
    }

    #[inline]
    fn elapsed_reference(&self) -> Option<u64> {
        Some(sys::clock_nanos(libc::CLOCK_MONOTONIC_RAW))
    }
}

/// What the background thread knows, for status lines and tests.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PhcSourceState {
    /// The device in use, `None` while lost.
    pub device: Option<PathBuf>,
    /// The cross-timestamp method in use.
    pub method: Option<CrossMethod>,
    /// The last cross-timestamp.
    pub last: Option<CrossTimestamp>,
    /// Cross-timestamps taken.
    pub measurements: u64,
    /// Faults reported.
    pub faults: u64,
    /// The fault the source is in, if any.
    pub fault: Option<Fault>,
    /// Times a lost device was opened again.
    pub reopened: u64,
}

/// The fast read path of a [`PhcSource`], on its own: `CLOCK_MONOTONIC_RAW` corrected
/// by the discipline, never going backwards, holdover while faulty. The PHC source
/// feeds it cross-timestamps; benchmarks and tests feed it samples of their own.
#[derive(Debug)]
pub struct FastClock {
    discipline: Discipline<MonoRawClock>,
    /// The latest time handed out (ns): readings never go below it.
    high_water: AtomicU64,
    /// Set while the source is faulty: readings say holdover at once.
    faulty: AtomicBool,
}

impl FastClock {
    /// No estimate yet: readings are unbounded until the first sample.
    pub fn new(config: &PhcSourceConfig) -> Self {
        Self {
            discipline: Discipline::new(
                MonoRawClock,
                DisciplineConfig {
                    fresh_for: config.interval * 3,
                    drift_ppb: config.drift_ppb,
                    // Every cross-timestamp is a converged sample: never used.
                    tolerance_ppb: DisciplineConfig::DEFAULT.tolerance_ppb,
                },
            ),
            high_water: AtomicU64::new(0),
            faulty: AtomicBool::new(false),
        }
    }

    /// The discipline: samples against [`MonoRawClock`] time go in here.
    pub fn discipline(&self) -> &Discipline<MonoRawClock> {
        &self.discipline
    }

    /// Marks the source faulty (readings say holdover) or healthy.
    pub fn set_faulty(&self, faulty: bool) {
        self.faulty.store(faulty, Ordering::Relaxed);
    }
}

impl ClockSource for FastClock {
    type Scale = Tai;

    #[inline]
    fn read(&self) -> ClockReading<Tai> {
        let mut r = self.discipline.read();
        if r.status == ClockStatus::Unknown {
            return r;
        }
        let t = r.time.as_nanos();
        let before = self.high_water.fetch_max(t, Ordering::Relaxed);
        if before > t {
            // Behind what was already read (a recovered clock that came back behind the
            // holdover estimate): hold still, and widen the bound to keep the truth in.
            r.bound = r.bound.saturating_add(Duration::from_nanos(before - t));
            r.time = Instant::from_nanos(before);
        }
        if r.status == ClockStatus::Synchronized && self.faulty.load(Ordering::Relaxed) {
            r.status = ClockStatus::Holdover;
        }
        r
    }

    fn elapsed_reference(&self) -> Option<u64> {
        MonoRawClock.elapsed_reference()
    }
}

#[derive(Debug)]
struct Shared {
    fast: FastClock,
    stop: AtomicBool,
    state: Mutex<PhcSourceState>,
}

/// A PHC as a bounded clock on TAI; see the [module docs](self).
pub struct PhcSource {
    shared: Arc<Shared>,
    worker: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for PhcSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PhcSource")
            .field("state", &self.state())
            .finish_non_exhaustive()
    }
}

impl PhcSource {
    /// Opens the PHC `selector` names and starts measuring it, reporting faults to
    /// `hooks`. Returns once the first estimate is in (a frequency needs two
    /// cross-timestamps: about one interval), or after `warmup` without one, in which
    /// case readings are unbounded ([`ClockStatus::Unknown`]) until it comes.
    pub fn open(
        selector: PhcSelector,
        config: PhcSourceConfig,
        warmup: Duration,
        hooks: Arc<dyn FaultHook + Send + Sync>,
    ) -> io::Result<Self> {
        let phc = selector.open()?;
        let shared = Arc::new(Shared {
            fast: FastClock::new(&config),
            stop: AtomicBool::new(false),
            state: Mutex::new(PhcSourceState {
                device: Some(phc.path().to_path_buf()),
                ..PhcSourceState::default()
            }),
        });
        let worker = {
            let shared = Arc::clone(&shared);
            std::thread::Builder::new()
                .name("tempora-phc".into())
                .spawn(move || Worker::new(selector, config, hooks, shared).run(Some(phc)))?
        };
        let source = Self {
            shared,
            worker: Some(worker),
        };
        let started = MonoInstant::now();
        while source.shared.fast.discipline.estimate().is_none() && started.elapsed() < warmup {
            std::thread::sleep(Duration::from_millis(5));
        }
        Ok(source)
    }

    /// What the background thread knows now.
    pub fn state(&self) -> PhcSourceState {
        self.shared
            .state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The discipline's estimate: PHC time = raw - offset.
    pub fn estimate(&self) -> Option<tempora_core::discipline::Estimate<Tai>> {
        self.shared.fast.discipline.estimate()
    }
}

impl Drop for PhcSource {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(w) = self.worker.take() {
            let _ = w.join();
        }
    }
}

impl ClockSource for PhcSource {
    type Scale = Tai;

    #[inline]
    fn read(&self) -> ClockReading<Tai> {
        self.shared.fast.read()
    }

    fn elapsed_reference(&self) -> Option<u64> {
        MonoRawClock.elapsed_reference()
    }
}

/// Turns cross-timestamps into the discipline's samples: the offset of
/// `CLOCK_MONOTONIC_RAW` from the PHC (on TAI), and the frequency from the oldest
/// sample of the last 16 s whose baseline is long enough.
#[derive(Debug)]
struct Estimator {
    config: PhcSourceConfig,
    /// (raw ns, raw - phc ns, bound ns) of recent good cross-timestamps, oldest first.
    history: VecDeque<(i128, i128, i128)>,
}

const HISTORY: i128 = 16_000_000_000;

impl Estimator {
    fn new(config: PhcSourceConfig) -> Self {
        Self {
            config,
            history: VecDeque::new(),
        }
    }

    fn reset(&mut self) {
        self.history.clear();
    }

    /// The sample for `ts`, once a frequency can be given with an error of at most
    /// half the drift budget; `current` is the estimate the discipline holds, against
    /// which a break (the PHC adjusted or stepped by someone) is detected.
    fn push(
        &mut self,
        ts: &CrossTimestamp,
        current: Option<tempora_core::discipline::Estimate<Tai>>,
    ) -> Option<OffsetSample<Tai>> {
        let device =
            i128::from(u64::try_from(self.config.device_error.as_nanos()).unwrap_or(u64::MAX));
        let bound = i128::from(u64::try_from(ts.bound.as_nanos()).unwrap_or(u64::MAX)) + device;
        let offset = ts.raw_ns - (ts.phc_ns + i128::from(self.config.tai_minus_phc.as_nanos()));
        let at = u64::try_from(ts.raw_ns).ok()?;
        let mut extra = 0i128;
        if let Some(e) = current.filter(|e| e.sample.locked) {
            let at_i = Instant::<Tai>::from_nanos(at);
            let predicted = i128::from(e.offset_at(at_i).as_nanos());
            let allowed = e.bound_at(at_i, self.config.drift_ppb).as_nanos() as i128 + bound;
            if (offset - predicted).abs() > allowed {
                // The PHC changed rate or stepped: what came before says nothing about
                // the new rate. Start again from the last sample, and widen this one's
                // bound by what the rate change can do before the next measurement.
                let last = self.history.back().copied();
                self.history.clear();
                if let Some((r0, o0, b0)) = last {
                    let dt = ts.raw_ns - r0;
                    if dt > 0 {
                        let new_ppt = (offset - o0) * 1_000_000_000_000 / dt;
                        let old_ppt = i128::from(e.sample.frequency_ppt);
                        let interval = self.config.interval.as_nanos() as i128;
                        extra = (new_ppt - old_ppt).abs() * 2 * interval / 1_000_000_000_000;
                        self.history.push_back((r0, o0, b0));
                    }
                }
            }
        }
        while self
            .history
            .front()
            .is_some_and(|(r, _, _)| ts.raw_ns - r > HISTORY)
        {
            self.history.pop_front();
        }
        self.history.push_back((ts.raw_ns, offset, bound));
        let (r0, o0, b0) = *self.history.front()?;
        let dt = ts.raw_ns - r0;
        if dt <= 0 {
            return None;
        }
        // The frequency's error: both ends' bounds over the baseline, in ppb.
        let error_ppb = (bound + b0) * 1_000_000_000 / dt;
        if error_ppb * 2 > i128::from(self.config.drift_ppb) {
            return None;
        }
        let frequency = (offset - o0) * 1_000_000_000_000 / dt;
        let frequency_ppt = i64::try_from(frequency)
            .ok()
            .filter(|f| f.unsigned_abs() <= MAX_FREQUENCY_PPT as u64)?;
        Some(OffsetSample {
            at: Instant::from_nanos(at),
            offset: Offset::from_nanos(i64::try_from(offset).ok()?),
            frequency_ppt,
            bound: Duration::from_nanos(u64::try_from(bound + extra).unwrap_or(u64::MAX)),
            locked: true,
        })
    }
}

struct Worker {
    selector: PhcSelector,
    config: PhcSourceConfig,
    hooks: Arc<dyn FaultHook + Send + Sync>,
    shared: Arc<Shared>,
    cross: CrossTimestamper,
    health: HealthCheck,
    estimator: Estimator,
    watcher: Option<DeviceWatcher>,
}

impl Worker {
    fn new(
        selector: PhcSelector,
        config: PhcSourceConfig,
        hooks: Arc<dyn FaultHook + Send + Sync>,
        shared: Arc<Shared>,
    ) -> Self {
        let watcher = match DeviceWatcher::devices() {
            Ok(w) => Some(w),
            Err(e) => {
                tracing::warn!(error = %e, "cannot watch /dev: a lost PHC will not be re-opened");
                None
            }
        };
        Self {
            selector,
            cross: CrossTimestamper::new(config.samples),
            health: HealthCheck::new(config.max_rate_ppm),
            estimator: Estimator::new(config),
            config,
            hooks,
            shared,
            watcher,
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, PhcSourceState> {
        self.shared.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Enters `fault` (reported once per episode), or leaves any fault (`None`).
    fn set_fault(&self, fault: Option<Fault>) {
        let mut st = self.state();
        if st.fault == fault {
            return;
        }
        if let Some(f) = fault {
            st.faults += 1;
            self.hooks.fault(f);
        } else {
            tracing::info!(device = ?st.device, "PHC source healthy again");
        }
        st.fault = fault;
        self.shared.fast.set_faulty(fault.is_some());
    }

    fn run(mut self, mut phc: Option<PhcClock>) {
        let mut next = MonoInstant::now();
        while !self.shared.stop.load(Ordering::SeqCst) {
            let now = MonoInstant::now();
            if let Some(p) = phc.as_ref().filter(|_| now >= next) {
                next = now + self.config.interval;
                if !self.measure(p) {
                    phc = None;
                }
                continue;
            }
            // Wait for the next measurement, or for a device event, whichever first;
            // in slices, so that `stop` is seen promptly.
            let wait = if phc.is_some() {
                next.saturating_duration_since(now)
            } else {
                self.config.interval
            }
            .min(Duration::from_millis(100));
            let events = match self.watcher.as_mut() {
                Some(w) => w.wait(wait).unwrap_or_default(),
                None => {
                    std::thread::sleep(wait);
                    Vec::new()
                }
            };
            for event in events {
                match event {
                    DeviceEvent::Removed(path) => {
                        if phc.as_ref().is_some_and(|p| p.path() == path) {
                            self.lose(&io::Error::from_raw_os_error(libc::ENODEV));
                            phc = None;
                        }
                    }
                    DeviceEvent::Added(_) if phc.is_none() => {
                        phc = self.reopen();
                        next = MonoInstant::now();
                    }
                    DeviceEvent::Added(_) => {}
                }
            }
        }
    }

    /// One cross-timestamp and check; `false` when the device is lost.
    fn measure(&mut self, phc: &PhcClock) -> bool {
        let ts = match self.cross.take(phc) {
            Ok(ts) => ts,
            Err(e) => {
                self.lose(&e);
                return false;
            }
        };
        {
            let mut st = self.state();
            st.measurements += 1;
            st.last = Some(ts);
            st.method = Some(ts.method);
        }
        match self.health.check(&ts) {
            Health::Good => {
                if self.state().fault.is_some() {
                    // Recovering: the rate must be re-learnt from here.
                    self.estimator.reset();
                    self.set_fault(None);
                }
                let current = self.shared.fast.discipline.estimate();
                if let Some(sample) = self.estimator.push(&ts, current) {
                    if let Err(e) = self.shared.fast.discipline.update(sample) {
                        tracing::warn!(error = %e, "PHC sample refused by the discipline");
                    }
                }
            }
            Health::Frozen => {
                self.estimator.reset();
                self.set_fault(Some(Fault::SourceFrozen));
            }
            Health::RateImplausible { error_ppm } => {
                self.estimator.reset();
                self.set_fault(Some(Fault::SourceRateImplausible { error_ppm }));
            }
        }
        true
    }

    fn lose(&mut self, error: &io::Error) {
        tracing::warn!(device = ?self.state().device, %error, "PHC lost");
        self.set_fault(Some(Fault::SourceLost));
        self.state().device = None;
        self.cross.reset();
        self.health.reset();
        self.estimator.reset();
    }

    fn reopen(&mut self) -> Option<PhcClock> {
        // A new node's permissions may be set a moment after it appears (udev), and a
        // NIC's interface may register after its PHC: up to 2 s.
        for _ in 0..100 {
            if let Ok(p) = self.selector.open() {
                tracing::info!(device = %p.path().display(), "PHC re-opened");
                let mut st = self.state();
                st.device = Some(p.path().to_path_buf());
                st.reopened += 1;
                return Some(p);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(raw_ns: i128, phc_ns: i128, bound_ns: u64) -> CrossTimestamp {
        CrossTimestamp {
            method: CrossMethod::Extended,
            phc_ns,
            raw_ns,
            window: Duration::from_nanos(2 * bound_ns),
            bound: Duration::from_nanos(bound_ns),
        }
    }

    const EPOCH: i128 = 1_700_000_000_000_000_000;

    #[test]
    fn the_frequency_comes_once_the_baseline_is_long_enough() {
        let mut e = Estimator::new(PhcSourceConfig::DEFAULT);
        // A PHC 100 ppm fast: the raw clock is 100 ppm slow against it.
        let phc = |raw: i128| EPOCH + raw + raw / 10_000;
        assert_eq!(
            e.push(&ts(1_000_000_000, phc(1_000_000_000), 200), None),
            None
        );
        // 30 ms: 400 ns over 0.03 s is 13 ppm, more than half of 10 ppm: not yet.
        assert_eq!(
            e.push(&ts(1_030_000_000, phc(1_030_000_000), 200), None),
            None
        );
        let s = e
            .push(&ts(1_250_000_000, phc(1_250_000_000), 200), None)
            .unwrap();
        assert_eq!(s.frequency_ppt, -100_000_000); // local - reference: 100 ppm slower
        assert_eq!(s.bound, Duration::from_nanos(200));
        assert_eq!(
            i128::from(s.offset.as_nanos()),
            1_250_000_000 - phc(1_250_000_000)
        );
        assert!(s.locked);
    }

    #[test]
    fn a_rate_change_restarts_the_baseline_and_widens_the_bound() {
        let config = PhcSourceConfig::DEFAULT;
        let local = tempora_core::clock::ManualClock::<Tai>::new(0);
        let d = Discipline::new(
            &local,
            DisciplineConfig {
                fresh_for: Duration::from_secs(1),
                drift_ppb: config.drift_ppb,
                tolerance_ppb: DisciplineConfig::DEFAULT.tolerance_ppb,
            },
        );
        let mut e = Estimator::new(config);
        let mut phc = EPOCH + 1_000_000_000;
        let mut raw = 1_000_000_000;
        for _ in 0..8 {
            if let Some(s) = e.push(&ts(raw, phc, 100), d.estimate()) {
                d.update(s).unwrap();
            }
            raw += 250_000_000;
            phc += 250_000_000;
        }
        assert_eq!(d.estimate().unwrap().sample.frequency_ppt, 0);
        // Someone sets the PHC 200 ppm fast: 50 µs more per interval.
        phc += 50_000;
        let s = e.push(&ts(raw, phc, 100), d.estimate()).unwrap();
        // The baseline is the previous sample only: -200 ppm, and a bound widened by
        // 200 ppm of two intervals.
        assert_eq!(s.frequency_ppt, -200_000_000);
        assert_eq!(s.bound, Duration::from_nanos(100 + 100_000));
    }

    #[test]
    fn a_pc_without_phcs_refuses_to_open_a_source() {
        let err = PhcSource::open(
            PhcSelector::Index(4_000_000),
            PhcSourceConfig::DEFAULT,
            Duration::from_millis(10),
            Arc::new(tempora_core::hooks::NoHooks),
        )
        .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
    }

    #[test]
    fn fast_reads_never_go_back_and_say_holdover_while_faulty() {
        let fast = FastClock::new(&PhcSourceConfig::DEFAULT);
        assert_eq!(fast.read().status, ClockStatus::Unknown);
        let now = MonoRawClock.time();
        let sample = |offset_ns: i64| OffsetSample {
            at: now,
            offset: Offset::from_nanos(offset_ns),
            frequency_ppt: 0,
            bound: Duration::from_nanos(100),
            locked: true,
        };
        // The PHC 1 000 s ahead of the raw clock.
        fast.discipline()
            .update(sample(-1_000_000_000_000))
            .unwrap();
        let a = fast.read();
        assert_eq!(a.status, ClockStatus::Synchronized);
        fast.set_faulty(true);
        assert_eq!(fast.read().status, ClockStatus::Holdover);
        fast.set_faulty(false);
        // A new estimate 1 ms behind: the time holds, and the bound covers the gap.
        fast.discipline().update(sample(-999_999_000_000)).unwrap();
        let b = fast.read();
        assert!(b.time >= a.time, "{a} then {b}");
        assert!(b.bound >= Duration::from_micros(900), "{b}");
    }

    #[test]
    fn the_raw_clock_is_monotonic_and_unbounded() {
        let a = MonoRawClock.read();
        let b = MonoRawClock.read();
        assert!(b.time >= a.time);
        assert_eq!(a.status, ClockStatus::Unknown);
        assert_eq!(a.bound, Duration::MAX);
    }
}
