//! Fault and metrics hooks: how the core reports what it sees without choosing a logger.
//!
//! Both traits have no-op default methods, and [`NoHooks`] implements them with nothing, so
//! a structure built without hooks compiles the calls away. Adapters implement them to
//! export Prometheus counters on Linux or `defmt` lines on firmware.

use core::time::Duration;

/// Something went wrong with time itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Fault {
    /// The physical clock went backwards by this much between two reads.
    /// Timestamps stay strictly increasing; the HLC rides on its logical counter until
    /// the physical clock catches up.
    ClockSteppedBack {
        /// How far back it went.
        by: Duration,
    },
    /// The physical clock advanced this much more than the elapsed-time reference (or,
    /// for sources without one, more than the threshold between two consecutive reads).
    ClockJumpedForward {
        /// How far forward it went, beyond elapsed time.
        by: Duration,
    },
    /// A remote timestamp was refused: it was this far ahead of the local physical clock,
    /// more than the configured max offset.
    RemoteTooFarAhead {
        /// How far ahead of local physical time the remote timestamp was.
        ahead: Duration,
        /// The configured limit.
        max_offset: Duration,
    },
    /// The HLC reached the last representable timestamp (physical time at 2^64 ns, the
    /// year 2554) and can no longer advance.
    HlcExhausted,
    /// A clock source stopped advancing: two readings a check interval apart showed the
    /// same time (a frozen PTP hardware clock). Its readings go to holdover.
    SourceFrozen,
    /// A clock source advanced at an implausible rate against the local free-running
    /// clock: beyond the ±1 000 ppm any oscillator a clock is disciplined from stays
    /// within (a PHC running 2.5 times too fast). Its readings go to holdover.
    SourceRateImplausible {
        /// The source's rate error, in parts per million (+: fast), saturated to i32.
        error_ppm: i32,
    },
    /// A clock source could not be read any more (a read error, a device that
    /// disappeared). Its readings go to holdover until it comes back.
    SourceLost,
}

/// Receives faults. Must be cheap and must not block: it runs on the caller's path.
pub trait FaultHook {
    /// A fault happened.
    #[inline(always)]
    fn fault(&self, _fault: Fault) {}
}

/// Countable things that happen in the core.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Metric {
    /// `Hlc::now` issued a timestamp.
    HlcTimestamp,
    /// `Hlc::update` merged a remote timestamp. `ahead_ns` is how far the resulting
    /// timestamp's physical part runs ahead of the local physical clock (0 when behind).
    HlcMerge {
        /// Drift of the HLC ahead of physical time after the merge, in nanoseconds.
        ahead_ns: u64,
    },
    /// The logical counter filled up and carried into the physical part (more than
    /// 256 events within one 256 ns tick).
    HlcLogicalCarry,
}

/// Receives metrics. Must be cheap and must not block: it runs on the caller's path.
pub trait MetricsHook {
    /// Count one occurrence.
    #[inline(always)]
    fn record(&self, _metric: Metric) {}
}

/// Hooks that do nothing and cost nothing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NoHooks;

impl FaultHook for NoHooks {}
impl MetricsHook for NoHooks {}

impl<T: FaultHook + ?Sized> FaultHook for &T {
    #[inline(always)]
    fn fault(&self, fault: Fault) {
        (**self).fault(fault)
    }
}

impl<T: MetricsHook + ?Sized> MetricsHook for &T {
    #[inline(always)]
    fn record(&self, metric: Metric) {
        (**self).record(metric)
    }
}
