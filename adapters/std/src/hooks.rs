//! Hooks that count what the core reports and log faults through `tracing`.

use std::sync::atomic::{AtomicU64, Ordering};

use tempora_core::hooks::{Fault, FaultHook, Metric, MetricsHook};

/// Counters for everything the HLC reports; faults are also logged as warnings.
#[derive(Debug, Default)]
pub struct CountingHooks {
    /// Timestamps issued by `now`.
    pub timestamps: AtomicU64,
    /// Remote timestamps merged by `update`.
    pub merges: AtomicU64,
    /// Logical-counter carries into the physical part.
    pub logical_carries: AtomicU64,
    /// Backward steps of the physical clock.
    pub steps_back: AtomicU64,
    /// Forward jumps of the physical clock.
    pub jumps_forward: AtomicU64,
    /// Remote timestamps refused for exceeding the max offset.
    pub remote_refusals: AtomicU64,
    /// Attempts to advance past the end of time.
    pub exhausted: AtomicU64,
    /// Faults of a clock source: frozen, at an implausible rate, or lost.
    pub source_faults: AtomicU64,
}

impl CountingHooks {
    /// All counters at zero.
    pub const fn new() -> Self {
        Self {
            timestamps: AtomicU64::new(0),
            merges: AtomicU64::new(0),
            logical_carries: AtomicU64::new(0),
            steps_back: AtomicU64::new(0),
            jumps_forward: AtomicU64::new(0),
            remote_refusals: AtomicU64::new(0),
            exhausted: AtomicU64::new(0),
            source_faults: AtomicU64::new(0),
        }
    }

    /// Total faults of every kind.
    pub fn faults(&self) -> u64 {
        [
            &self.steps_back,
            &self.jumps_forward,
            &self.remote_refusals,
            &self.exhausted,
            &self.source_faults,
        ]
        .iter()
        .map(|c| c.load(Ordering::Relaxed))
        .sum()
    }
}

/// `timestamps=12 merges=0 logical_carries=0 steps_back=0 jumps_forward=0
/// remote_refusals=0 exhausted=0 source_faults=0`.
impl std::fmt::Display for CountingHooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = |c: &AtomicU64| c.load(Ordering::Relaxed);
        write!(
            f,
            "timestamps={} merges={} logical_carries={} steps_back={} jumps_forward={} remote_refusals={} exhausted={} source_faults={}",
            n(&self.timestamps),
            n(&self.merges),
            n(&self.logical_carries),
            n(&self.steps_back),
            n(&self.jumps_forward),
            n(&self.remote_refusals),
            n(&self.exhausted),
            n(&self.source_faults)
        )
    }
}

fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

impl FaultHook for CountingHooks {
    fn fault(&self, fault: Fault) {
        match fault {
            Fault::ClockSteppedBack { by } => {
                bump(&self.steps_back);
                tracing::warn!(
                    ?by,
                    "physical clock stepped back; HLC continues on its counter"
                );
            }
            Fault::ClockJumpedForward { by } => {
                bump(&self.jumps_forward);
                tracing::warn!(?by, "physical clock jumped forward");
            }
            Fault::RemoteTooFarAhead { ahead, max_offset } => {
                bump(&self.remote_refusals);
                tracing::warn!(?ahead, ?max_offset, "refused a remote timestamp");
            }
            Fault::HlcExhausted => {
                bump(&self.exhausted);
                tracing::error!("HLC exhausted: physical time at the end of its range");
            }
            Fault::SourceFrozen => {
                bump(&self.source_faults);
                tracing::error!("clock source frozen: it no longer advances; holdover");
            }
            Fault::SourceRateImplausible { error_ppm } => {
                bump(&self.source_faults);
                tracing::error!(
                    error_ppm,
                    "clock source runs at an implausible rate; holdover"
                );
            }
            Fault::SourceLost => {
                bump(&self.source_faults);
                tracing::error!("clock source lost (read error or device gone); holdover");
            }
            other => tracing::warn!(?other, "fault"),
        }
    }
}

impl MetricsHook for CountingHooks {
    #[inline]
    fn record(&self, metric: Metric) {
        match metric {
            Metric::HlcTimestamp => bump(&self.timestamps),
            Metric::HlcMerge { .. } => bump(&self.merges),
            Metric::HlcLogicalCarry => bump(&self.logical_carries),
            _ => {}
        }
    }
}
