//! Source selection: an ordered chain of clocks (a PHC, then software PTP, then the
//! system clock), one of which is read at a time, with failover, failback and a
//! monotone output whose bound covers the step between sources.
//!
//! A [`Selector`] is itself a [`ClockSource`]. Its sources are in order of preference;
//! [`Selector::check`], called periodically (the *check interval*: once a second, say),
//! judges every source and picks the one to read:
//!
//! - **Health.** A source is *healthy* when its status is
//!   [`Synchronized`](ClockStatus::Synchronized) or [`Holdover`](ClockStatus::Holdover),
//!   its bound is within [`SelectorConfig::max_bound`], and no anomaly holds it back;
//!   *usable* when its status is not [`Unknown`](ClockStatus::Unknown) and it has not
//!   been failed over (a free-running system clock with a 16 s bound is usable: better
//!   than nothing). The [`detect`] module's [`Detector`] checks each source against its
//!   elapsed reference for steps, freezes and implausible rates; its table says which
//!   anomaly demotes a source, which fails it over, and which only asks for a resync.
//! - **Failover.** When the active source stops being healthy and another is healthy,
//!   the selector moves to the first healthy source in the chain. When nothing is
//!   healthy it stays on the active source while that is usable, else takes the first
//!   usable one. When nothing is usable either (the active source's status turned
//!   unknown, and the others are unknown or failed over), it takes a failed-over source
//!   that has been moving again for [`freeze_after`](DetectorConfig::freeze_after)
//!   since its last anomaly, while its penalty runs out: a clock that thawed is better
//!   than one that cannot say what time it is. One still frozen is never taken.
//! - **Failback** to an earlier, preferred source happens only once that source has
//!   been healthy without interruption for [`SelectorConfig::failback_after`] (measured
//!   on its own clock), so a source that comes and goes does not make the output flap.
//! - **Reports.** Every switch goes to the fault hook as [`Fault::SourceSwitched`] with
//!   its [`SwitchReason`], and to the metrics hook as [`Metric::SourceSwitch`]; every
//!   anomaly as [`Fault::SourceAnomaly`]; every check ends with a
//!   [`Metric::Selection`] (active source, bound, offset, drift).
//!
//! # Monotone across switches, and still bounded
//!
//! Sources disagree: when the selector moves from a source that ran 3 ms ahead to one
//! that is right, reading the new source as is would step time back 3 ms. Instead:
//!
//! 1. The output never goes back: every reading is at least the last one served
//!    (one atomic `fetch_max`, so this holds across threads too).
//! 2. At a switch, and at every check, the output's lead over the active source is
//!    taken as a *carry* that decays at [`SelectorConfig::slew_ppm`] of the source's
//!    progress: the output runs slow by that rate until it meets the source again, as
//!    the kernel slews a clock rather than stepping it. (With 1 000 000 ppm the output
//!    holds still until the source catches up.) A new source that is *ahead* is taken
//!    at once: stepping forward keeps the output monotone.
//! 3. The bound always covers the distance: a reading is `o` with bound
//!    `b.bound + |o - b.time|`, where `b` is the active source's own reading. So the
//!    interval served contains the interval the active source vouches for, whatever the
//!    step was: the truth is as covered as the source says it is.
//!
//! `core/tests/select_props.rs` checks both properties over arbitrary scripted
//! readings, statuses, bounds and switch sequences.
//!
//! # Sharing
//!
//! Reads take `&self` and never block, from any number of threads; a check takes
//! `&mut self` (it is one context's periodic job). A daemon that reads on many threads
//! while one thread checks keeps the selector behind a read-write lock, which the
//! check holds for a few source reads once a second.
//!
//! ```
//! use core::time::Duration;
//! use tempora_core::clock::{ClockReading, ClockSource, ClockStatus, ManualClock};
//! use tempora_core::hooks::SwitchReason;
//! use tempora_core::select::{Selector, SelectorConfig};
//! use tempora_core::time::Tai;
//!
//! // A stand-in for a PTP-disciplined clock whose status we can change.
//! struct Ptp(ManualClock<Tai>, core::cell::Cell<ClockStatus>);
//! impl ClockSource for Ptp {
//!     type Scale = Tai;
//!     fn read(&self) -> ClockReading<Tai> {
//!         ClockReading { status: self.1.get(), bound: Duration::from_micros(10), ..self.0.read() }
//!     }
//! }
//! let ptp = Ptp(ManualClock::new(10_000_000), ClockStatus::Synchronized.into());
//! let system = ManualClock::<Tai>::new(7_000_000); // 3 ms behind
//! let mut selector = Selector::new([&ptp as &dyn ClockSource<Scale = Tai>, &system], SelectorConfig::DEFAULT);
//! assert_eq!(selector.check().active, 0);
//! let before = selector.read();
//!
//! ptp.1.set(ClockStatus::Unknown); // PTP lost
//! let report = selector.check();
//! assert_eq!(report.active, 1);
//! assert_eq!(report.switch.unwrap().reason, SwitchReason::Status(ClockStatus::Unknown));
//! let after = selector.read();
//! assert!(after.time >= before.time); // no step back...
//! assert!(after.bound >= Duration::from_millis(3)); // ...and the bound says why
//! ```

pub mod detect;

use core::time::Duration;

pub use detect::{Detector, DetectorConfig, Response};

use crate::clock::{Anomaly, ClockReading, ClockSource, ClockStatus};
use crate::hooks::{Fault, FaultHook, Metric, MetricsHook, NoHooks, SwitchReason};
use crate::sync::{AtomicU64, Ordering};
use crate::time::{duration_nanos, Instant};

/// How a [`Selector`] judges and switches sources.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct SelectorConfig {
    /// A source whose bound exceeds this is not healthy.
    pub max_bound: Duration,
    /// How long a preferred source must have been healthy, without interruption, before
    /// the selector fails back to it.
    pub failback_after: Duration,
    /// How fast the output's lead over a source that is behind it decays: parts per
    /// million of the source's progress (1 000 000: hold the output until the source
    /// catches up).
    pub slew_ppm: u32,
    /// The jump and freeze detector's limits.
    pub detector: DetectorConfig,
}

impl SelectorConfig {
    /// 1 ms bound threshold, 30 s of hysteresis, a 500 ppm slew (the kernel's largest),
    /// the detector's defaults.
    pub const DEFAULT: Self = Self {
        max_bound: Duration::from_millis(1),
        failback_after: Duration::from_secs(30),
        slew_ppm: 500,
        detector: DetectorConfig::DEFAULT,
    };
}

impl Default for SelectorConfig {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// A switch the selector made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Switch {
    /// The source it left.
    pub from: u8,
    /// The source it reads now.
    pub to: u8,
    /// Why.
    pub reason: SwitchReason,
}

/// A set of the chain's sources (up to 64), as a bit mask.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Sources(pub u64);

impl Sources {
    /// Whether source `i` is in the set.
    pub const fn contains(self, i: usize) -> bool {
        i < 64 && self.0 & (1 << i) != 0
    }

    /// Whether the set is empty.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The sources in the set, in chain order.
    pub fn iter(self) -> impl Iterator<Item = usize> {
        (0..64).filter(move |&i| self.contains(i))
    }

    fn insert(&mut self, i: usize) {
        if i < 64 {
            self.0 |= 1 << i;
        }
    }
}

/// What one [`Selector::check`] found and did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct CheckReport {
    /// The source read from now on.
    pub active: u8,
    /// The switch this check made, if any.
    pub switch: Option<Switch>,
    /// Sources whose anomaly calls for re-synchronisation ([`Response::Resync`]): the
    /// owner should re-synchronise them (with a [`Backoff`](crate::backoff::Backoff)
    /// if that fails).
    pub resync: Sources,
    /// Sources healthy at this check.
    pub healthy: Sources,
}

/// A penalty an anomaly put on a source, until it has been clean for the hysteresis
/// period.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Penalty {
    response: Response,
    anomaly: Anomaly,
    /// The source's time at the anomaly (restarted by every new one).
    since: u64,
}

/// What the selector keeps about one source between checks.
#[derive(Clone, Copy, Debug, Default)]
struct SourceState {
    detector: Detector,
    /// The source's time since which it has been healthy without interruption.
    healthy_since: Option<u64>,
    penalty: Option<Penalty>,
}

/// How the output follows the active source: `carry` ns ahead of it at its time
/// `anchor`, decaying at the slew rate as the source advances.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Carry {
    anchor: u64,
    carry: u64,
}

impl Carry {
    /// The output's lead over the source when the source shows `time`.
    fn at(self, time: u64, slew_ppm: u32) -> u64 {
        let progressed = time.saturating_sub(self.anchor);
        let decayed = (u128::from(progressed) * u128::from(slew_ppm) / 1_000_000)
            .try_into()
            .unwrap_or(u64::MAX);
        self.carry.saturating_sub(decayed)
    }
}

/// An ordered chain of `N` clock sources read as one; see the [module docs](self).
///
/// `C` is how the caller holds a source: `&dyn ClockSource<Scale = S>` for a chain of
/// different kinds (add `+ Sync` to share the selector between threads), an enum of the
/// caller's kinds, or one concrete type. Source 0 is the most preferred; `N` is at most
/// 64. `H` receives faults and metrics; the default [`NoHooks`] costs nothing.
pub struct Selector<C: ClockSource, const N: usize, H = NoHooks> {
    sources: [C; N],
    states: [SourceState; N],
    config: SelectorConfig,
    active: usize,
    carry: Carry,
    /// The latest output served, ns: readings never go below it.
    last: AtomicU64,
    hooks: H,
}

impl<C: ClockSource, const N: usize> Selector<C, N, NoHooks> {
    /// A selector over `sources`, most preferred first, reading source 0 until the
    /// first [`check`](Selector::check), with no hooks.
    pub fn new(sources: [C; N], config: SelectorConfig) -> Self {
        Self::with_hooks(sources, config, NoHooks)
    }
}

impl<C: ClockSource, const N: usize, H: FaultHook + MetricsHook> Selector<C, N, H> {
    /// A selector with hooks for its switches, anomalies and metrics.
    pub fn with_hooks(sources: [C; N], config: SelectorConfig, hooks: H) -> Self {
        const { assert!(N >= 1 && N <= 64, "a selector chains 1 to 64 sources") };
        Self {
            sources,
            states: [SourceState::default(); N],
            config,
            active: 0,
            carry: Carry::default(),
            last: AtomicU64::new(0),
            hooks,
        }
    }

    /// The sources, most preferred first.
    pub fn sources(&self) -> &[C; N] {
        &self.sources
    }

    /// The source read now.
    pub fn active(&self) -> usize {
        self.active
    }

    /// The configuration.
    pub fn config(&self) -> &SelectorConfig {
        &self.config
    }

    /// The hooks.
    pub fn hooks(&self) -> &H {
        &self.hooks
    }

    /// The detector of source `i` (its measured drift), if there is one.
    pub fn detector(&self, i: usize) -> Option<&Detector> {
        self.states.get(i).map(|s| &s.detector)
    }

    /// Judges every source and picks the one to read; see the [module docs](self).
    pub fn check(&mut self) -> CheckReport {
        let mut readings = [None; N];
        let mut healthy = Sources::default();
        let mut usable = Sources::default();
        let mut resync = Sources::default();
        let mut recovering = Sources::default();
        let mut anomalies: [Option<Anomaly>; N] = [None; N];
        for (i, source) in self.sources.iter().enumerate() {
            let r = source.read();
            let time = r.time.as_nanos();
            let state = &mut self.states[i];
            let anomaly =
                state
                    .detector
                    .check(time, source.elapsed_reference(), &self.config.detector);
            if let Some(anomaly) = anomaly {
                self.hooks.fault(Fault::SourceAnomaly {
                    source: i as u8,
                    anomaly,
                });
                anomalies[i] = Some(anomaly);
                state.healthy_since = None;
                match Response::to(anomaly) {
                    Response::Resync => resync.insert(i),
                    response => {
                        state.penalty = Some(Penalty {
                            response,
                            anomaly,
                            since: time,
                        })
                    }
                }
            } else if let Some(p) = state.penalty {
                let clean_for = time.saturating_sub(p.since);
                if clean_for >= duration_nanos(self.config.failback_after) {
                    state.penalty = None;
                }
            }
            let failed = state
                .penalty
                .is_some_and(|p| p.response == Response::FailOver);
            if r.status != ClockStatus::Unknown && !failed {
                usable.insert(i);
            } else if r.status != ClockStatus::Unknown && anomaly.is_none() {
                // Failed over, but moving again for a freeze's length on its own clock
                // (a source still frozen shows no progress, so it never qualifies).
                let clean_for = state.penalty.map_or(0, |p| time.saturating_sub(p.since));
                if clean_for >= duration_nanos(self.config.detector.freeze_after) {
                    recovering.insert(i);
                }
            }
            let good = matches!(r.status, ClockStatus::Synchronized | ClockStatus::Holdover)
                && r.bound <= self.config.max_bound
                && state.penalty.is_none();
            if good {
                healthy.insert(i);
                state.healthy_since.get_or_insert(time);
            } else {
                state.healthy_since = None;
            }
            readings[i] = Some(r);
        }

        let target = self.choose(&readings, healthy, usable, recovering);
        let mut switch = None;
        if let Some((to, reason)) = target.filter(|&(to, _)| to != self.active) {
            let from = self.active;
            let reason = reason.unwrap_or_else(|| {
                self.leaving_reason(from, readings[from].as_ref(), anomalies[from])
            });
            self.active = to;
            let s = Switch {
                from: from as u8,
                to: to as u8,
                reason,
            };
            self.hooks.fault(Fault::SourceSwitched {
                from: s.from,
                to: s.to,
                reason,
            });
            self.hooks.record(Metric::SourceSwitch {
                from: s.from,
                to: s.to,
            });
            switch = Some(s);
        }
        // Re-anchor the carry on the active source: after a switch the lead over the
        // new source, and after a step back of the active one the lead it opened, both
        // start to decay from here instead of holding the output still.
        if let Some(r) = readings[self.active] {
            self.reanchor(r.time.as_nanos());
        }
        let out = self.read();
        let active_time = readings[self.active].map_or(out.time, |r| r.time);
        let offset = out.time.as_nanos() as i128 - active_time.as_nanos() as i128;
        self.hooks.record(Metric::Selection {
            active: self.active as u8,
            bound: out.bound,
            offset_ns: offset.clamp(i64::MIN.into(), i64::MAX.into()) as i64,
            drift_ppb: self.states[self.active].detector.drift_ppb(),
        });
        CheckReport {
            active: self.active as u8,
            switch,
            resync,
            healthy,
        }
    }

    /// Where to go, and why if the reason is not about the active source's health.
    fn choose(
        &self,
        readings: &[Option<ClockReading<C::Scale>>; N],
        healthy: Sources,
        usable: Sources,
        recovering: Sources,
    ) -> Option<(usize, Option<SwitchReason>)> {
        let hysteresis = duration_nanos(self.config.failback_after);
        if healthy.contains(self.active) {
            // Fail back only to a preferred source healthy for the hysteresis period.
            return (0..self.active)
                .find(|&i| {
                    let since = self.states[i].healthy_since;
                    let now = readings[i].map(|r| r.time.as_nanos());
                    matches!((since, now), (Some(s), Some(n)) if n.saturating_sub(s) >= hysteresis)
                })
                .map(|i| (i, Some(SwitchReason::Failback)));
        }
        if let Some(i) = healthy.iter().next() {
            return Some((i, None));
        }
        if usable.contains(self.active) {
            return None;
        }
        if let Some(i) = usable.iter().next() {
            return Some((i, None));
        }
        // Last resort: a failed-over source that is moving again, rather than one whose
        // status is unknown.
        if recovering.contains(self.active) {
            return None;
        }
        recovering.iter().next().map(|i| (i, None))
    }

    /// Why the active source `i` is being left.
    fn leaving_reason(
        &self,
        i: usize,
        reading: Option<&ClockReading<C::Scale>>,
        anomaly: Option<Anomaly>,
    ) -> SwitchReason {
        if let Some(a) = anomaly.or(self.states[i].penalty.map(|p| p.anomaly)) {
            return SwitchReason::Anomaly(a);
        }
        match reading {
            Some(r) if matches!(r.status, ClockStatus::Synchronized | ClockStatus::Holdover) => {
                SwitchReason::Bound(r.bound)
            }
            Some(r) => SwitchReason::Status(r.status),
            None => SwitchReason::Status(ClockStatus::Unknown),
        }
    }

    /// Takes the output's current lead over the active source, showing `time`, as a
    /// fresh carry.
    fn reanchor(&mut self, time: u64) {
        let last = self.last.load(Ordering::Acquire);
        let ahead = self.carry.at(time, self.config.slew_ppm);
        let lead = last.saturating_sub(time).max(ahead);
        self.carry = Carry {
            anchor: time,
            carry: lead,
        };
    }

    /// The output for a reading of the active source.
    fn serve(&self, r: ClockReading<C::Scale>) -> ClockReading<C::Scale> {
        let time = r.time.as_nanos();
        let target = time.saturating_add(self.carry.at(time, self.config.slew_ppm));
        let out = self.last.fetch_max(target, Ordering::AcqRel).max(target);
        ClockReading {
            time: Instant::from_nanos(out),
            bound: r.bound.saturating_add(Duration::from_nanos(out - time)),
            status: r.status,
        }
    }
}

impl<C: ClockSource, const N: usize, H: FaultHook + MetricsHook> ClockSource for Selector<C, N, H> {
    type Scale = C::Scale;

    fn read(&self) -> ClockReading<C::Scale> {
        self.serve(self.sources[self.active].read())
    }

    fn elapsed_reference(&self) -> Option<u64> {
        self.sources[self.active].elapsed_reference()
    }
}

impl<C: ClockSource, const N: usize, H> core::fmt::Debug for Selector<C, N, H> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Selector")
            .field("sources", &N)
            .field("active", &self.active)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}
