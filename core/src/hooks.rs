//! Fault and metrics hooks: how the core reports what it sees without choosing a logger.
//!
//! Both traits have no-op default methods, and [`NoHooks`] implements them with nothing, so
//! a structure built without hooks compiles the calls away. Adapters implement them to
//! export Prometheus counters on Linux or `defmt` lines on firmware.

use core::time::Duration;

use crate::clock::{Anomaly, ClockStatus};

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
    /// A source of a [`Selector`](crate::select::Selector) showed an anomaly against its
    /// elapsed reference (the selector's docs say what it does about each kind).
    SourceAnomaly {
        /// The source's place in the chain (0 is the most preferred).
        source: u8,
        /// What was seen.
        anomaly: Anomaly,
    },
    /// A [`Selector`](crate::select::Selector) switched sources.
    SourceSwitched {
        /// The source it left.
        from: u8,
        /// The source it now reads.
        to: u8,
        /// Why.
        reason: SwitchReason,
    },
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

/// Why a [`Selector`](crate::select::Selector) left its source.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum SwitchReason {
    /// The source's status fell to this ([`ClockStatus::FreeRunning`] or
    /// [`ClockStatus::Unknown`]) while another source was healthy.
    Status(ClockStatus),
    /// The source's bound grew to this, beyond the selector's threshold, while another
    /// source was healthy.
    Bound(Duration),
    /// The detector saw this, and its response is to leave the source.
    Anomaly(Anomaly),
    /// An earlier, preferred source has been healthy for the hysteresis period.
    Failback,
}

impl SwitchReason {
    /// A short lower-case name, for logs and metric labels.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Status(_) => "status",
            Self::Bound(_) => "bound",
            Self::Anomaly(_) => "anomaly",
            Self::Failback => "failback",
        }
    }
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

    /// A [`TemporalQueue`](crate::queue::TemporalQueue) took a message; `depth` counts
    /// it.
    QueueEnqueued {
        /// Messages queued after the push.
        depth: usize,
    },
    /// A [`TemporalQueue`](crate::queue::TemporalQueue) released a message.
    QueueDelivered {
        /// Messages queued after the pop.
        depth: usize,
    },
    /// A full [`TemporalQueue`](crate::queue::TemporalQueue) refused a message.
    QueueRefused,

    /// A [`CausalQueue`](crate::causal::CausalQueue) delivered a message (received or
    /// unblocked).
    CausalDelivered {
        /// Messages held back after it.
        held: usize,
    },
    /// A [`CausalQueue`](crate::causal::CausalQueue) held a message back.
    CausalHeld {
        /// Messages held back, this one included.
        held: usize,
    },
    /// A [`CausalQueue`](crate::causal::CausalQueue) refused a message.
    CausalRefused {
        /// Why: `RefusalReason::as_str` (`duplicate`, `full`, `malformed`, `clock`).
        reason: &'static str,
    },

    /// A pattern [`Detector`](crate::pattern::Detector) took an event.
    PatternEvent,
    /// A pattern matched.
    PatternMatch,
    /// A pattern detector refused an event behind its watermark.
    PatternLate,
    /// A pattern detector's reorder buffer was full and refused an event.
    PatternRefused,
    /// A matcher reached a capacity (see `pattern::Report::Overflow`).
    PatternOverflow,

    /// A PTP [`Port`](crate::ptp::port::Port) received a message it used.
    PtpReceived {
        /// Its type, as IEEE 1588 names it (`Sync`, `Delay_Resp`, ...).
        message: &'static str,
    },
    /// A PTP port put a message out to send.
    PtpSent {
        /// Its type, as IEEE 1588 names it.
        message: &'static str,
    },
    /// A PTP port did not use a packet.
    PtpIgnored {
        /// Why: `Ignored::as_str` (`malformed`, `other-domain`, `unacceptable-master`, ...).
        reason: &'static str,
    },
    /// A PTP port changed state.
    PtpState {
        /// The new state (`listening`, `master`, `slave`, `passive`).
        state: &'static str,
    },
    /// A PTP port's parent (the master it follows) changed.
    PtpParentChanged,
    /// A PTP slave completed an exchange.
    PtpMeasurement {
        /// Filtered offset, local minus master, ns.
        offset_ns: i64,
        /// Filtered mean path delay, ns.
        delay_ns: i64,
        /// Whether the filter used it (false: an outlier).
        accepted: bool,
    },

    /// A [`Selector`](crate::select::Selector) switched sources (the reason goes to the
    /// fault hook as [`Fault::SourceSwitched`]).
    SourceSwitch {
        /// The source it left.
        from: u8,
        /// The source it now reads.
        to: u8,
    },
    /// A selector's check: what it serves now.
    Selection {
        /// The source it reads.
        active: u8,
        /// The bound of its output.
        bound: Duration,
        /// Its output minus the active source's time, ns (the carry after a switch).
        offset_ns: i64,
        /// The active source's rate against its elapsed reference over the last rate
        /// window, parts per billion (0 until a window has passed).
        drift_ppb: i64,
    },
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

/// Both hooks hear everything, the first first: a counter beside an exporter, say.
impl<A: FaultHook, B: FaultHook> FaultHook for (A, B) {
    #[inline(always)]
    fn fault(&self, fault: Fault) {
        self.0.fault(fault);
        self.1.fault(fault);
    }
}

/// Both hooks hear everything, the first first.
impl<A: MetricsHook, B: MetricsHook> MetricsHook for (A, B) {
    #[inline(always)]
    fn record(&self, metric: Metric) {
        self.0.record(metric);
        self.1.record(metric);
    }
}

/// A hook chosen at run time (an exporter that is only there when configured);
/// `None` hears nothing.
impl<T: FaultHook> FaultHook for Option<T> {
    #[inline(always)]
    fn fault(&self, fault: Fault) {
        if let Some(hook) = self {
            hook.fault(fault);
        }
    }
}

/// A hook chosen at run time; `None` hears nothing.
impl<T: MetricsHook> MetricsHook for Option<T> {
    #[inline(always)]
    fn record(&self, metric: Metric) {
        if let Some(hook) = self {
            hook.record(metric);
        }
    }
}

#[cfg(test)]
mod tests {
    use core::cell::Cell;

    use super::*;

    #[derive(Default)]
    struct Count {
        faults: Cell<u32>,
        metrics: Cell<u32>,
    }

    impl FaultHook for Count {
        fn fault(&self, _: Fault) {
            self.faults.set(self.faults.get() + 1);
        }
    }

    impl MetricsHook for Count {
        fn record(&self, _: Metric) {
            self.metrics.set(self.metrics.get() + 1);
        }
    }

    #[test]
    fn a_pair_hears_everything_twice_and_none_hears_nothing() {
        let (a, b, c) = (Count::default(), Count::default(), Count::default());
        let hooks = (&a, (Some(&b), None::<&Count>));
        hooks.fault(Fault::HlcExhausted);
        hooks.record(Metric::HlcTimestamp);
        hooks.record(Metric::PatternMatch);
        assert_eq!((a.faults.get(), a.metrics.get()), (1, 2));
        assert_eq!((b.faults.get(), b.metrics.get()), (1, 2));
        assert_eq!((c.faults.get(), c.metrics.get()), (0, 0));
    }
}
