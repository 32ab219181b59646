//! The hybrid logical clock (Kulkarni, Demirbas et al., 2014), lock-free.
//!
//! An [`Hlc`] issues [`Timestamp`]s that
//! - strictly increase, on one node and across threads, whatever the physical clock does;
//! - stay within a bounded distance of physical time (they equal it while the clock
//!   advances faster than one event per 256 ns tick);
//! - respect causality: [`Hlc::update`] with a received timestamp returns one greater than
//!   it and than everything this clock issued before.
//!
//! The whole state is one 64-bit word (physical time with the logical counter in its low
//! bits), advanced with a single compare-and-swap: no lock, no allocation, usable from a
//! `static`. On targets without 64-bit atomics (thumbv6m) portable-atomic supplies them
//! through a critical section.
//!
//! # Guarantees and their limits
//! - **Max offset.** `update` refuses a remote timestamp more than
//!   [`HlcConfig::max_offset`] ahead of local physical time (default 500 ms, as uhlc and
//!   CockroachDB), so a peer with a broken clock cannot drag this one into the future.
//!   Refusal is a typed error and changes nothing.
//! - **Backward steps.** If the physical clock steps back, timestamps keep increasing on
//!   the logical counter (carrying into the physical part, see below) until physical time
//!   catches up, and the step is reported once through the [`FaultHook`].
//! - **Forward jumps.** For sources with an
//!   [`elapsed_reference`](ClockSource::elapsed_reference) a jump of the clock ahead of
//!   elapsed time beyond [`HlcConfig::forward_jump`] is reported. Sources without one
//!   cannot tell a jump from a pause between reads, so none is reported for them.
//!   Jump detection samples the clock at most every 65.5 µs of progress: steps back of
//!   more than that are always seen.
//! - **Counter overflow.** The logical counter has 8 bits. When it is full the increment
//!   carries into the physical part, i.e. the timestamp borrows one 256 ns tick from the
//!   future. This never wraps and never panics, and only happens while timestamps are
//!   issued faster than one per nanosecond on average, so the lead stays tiny; it is
//!   counted by [`Metric::HlcLogicalCarry`].
//! - **End of time.** At 2^64 ns (the year 2554) the clock cannot advance:
//!   [`Hlc::try_now`] and [`Hlc::update`] return an error, [`Hlc::now`] returns the last
//!   timestamp again and reports [`Fault::HlcExhausted`].
//!
//! ```
//! use tempora_core::clock::ManualClock;
//! use tempora_core::hlc::Hlc;
//! use tempora_core::time::Utc;
//! use tempora_core::timestamp::NodeId;
//!
//! static CLOCK: ManualClock<Utc> = ManualClock::new(1_000_000_000);
//! static HLC: Hlc<&ManualClock<Utc>> = Hlc::new(&CLOCK, NodeId(1));
//!
//! let a = HLC.now();
//! CLOCK.set(500_000_000); // the physical clock steps back half a second
//! let b = HLC.now();
//! assert!(b > a);
//! assert_eq!(b.physical(), a.physical());
//! assert_eq!(b.logical(), a.logical() + 1);
//! ```

use core::fmt;
use core::time::Duration;

use crate::clock::ClockSource;
use crate::hooks::{Fault, FaultHook, Metric, MetricsHook, NoHooks};
use crate::shared::CachePadded;
use crate::sync::{AtomicU64, Ordering};
use crate::time::duration_nanos;
use crate::timestamp::{NodeId, Timestamp, LOGICAL_BITS};

const LOGICAL_MASK: u64 = (1 << LOGICAL_BITS) - 1;
/// Jump detection samples the physical clock when it has moved this far (2^16 ns).
const SAMPLE_EVERY: u64 = 1 << 16;
/// "No elapsed reference sampled yet."
const NO_REFERENCE: u64 = u64::MAX;

/// Limits an [`Hlc`] enforces and reports on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HlcConfig {
    /// The furthest a remote timestamp may be ahead of local physical time.
    pub max_offset: Duration,
    /// Backward steps of the physical clock larger than this are reported.
    pub step_back: Duration,
    /// Forward jumps (beyond elapsed time) larger than this are reported.
    pub forward_jump: Duration,
}

impl HlcConfig {
    /// 500 ms max offset; every observed backward step reported; forward jumps of more
    /// than the max offset reported (beyond that, peers start refusing our timestamps).
    pub const DEFAULT: Self = Self {
        max_offset: Duration::from_millis(500),
        step_back: Duration::ZERO,
        forward_jump: Duration::from_millis(500),
    };
}

impl Default for HlcConfig {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Why [`Hlc::update`] refused a remote timestamp. The clock is unchanged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum UpdateError {
    /// The remote timestamp is further ahead of local physical time than the max offset.
    TooFarAhead {
        /// How far ahead it was.
        ahead: Duration,
        /// The configured limit.
        max_offset: Duration,
    },
    /// The clock reached the last representable timestamp.
    Exhausted,
}

impl fmt::Display for UpdateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooFarAhead { ahead, max_offset } => write!(
                f,
                "remote timestamp {ahead:?} ahead of local time, more than the max offset {max_offset:?}"
            ),
            Self::Exhausted => f.write_str("hybrid logical clock exhausted (year 2554)"),
        }
    }
}

impl core::error::Error for UpdateError {}

/// The clock reached the last representable timestamp (physical time 2^64 ns).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Exhausted;

impl fmt::Display for Exhausted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("hybrid logical clock exhausted (year 2554)")
    }
}

impl core::error::Error for Exhausted {}

impl From<Exhausted> for UpdateError {
    fn from(_: Exhausted) -> Self {
        Self::Exhausted
    }
}

/// The word that holds an [`Hlc`]'s last issued packed time: the whole of its shared
/// state. By default it lives inside the `Hlc` ([`InlineWord`]); an `Hlc` built with
/// [`Hlc::with_state`] uses a word kept elsewhere (`&AtomicU64`), e.g. on a page shared
/// by every process of a host, so that all of them issue timestamps from one clock.
///
/// Both methods behave as the atomic operations of the same name.
pub trait StateWord {
    /// The current value.
    fn load(&self, order: core::sync::atomic::Ordering) -> u64;
    /// Stores `new` if the value is `current`; returns the value seen either way.
    fn compare_exchange_weak(
        &self,
        current: u64,
        new: u64,
        success: core::sync::atomic::Ordering,
        failure: core::sync::atomic::Ordering,
    ) -> Result<u64, u64>;
}

/// The default [`StateWord`]: inside the [`Hlc`], on a cache line of its own.
pub struct InlineWord(CachePadded<AtomicU64>);

impl StateWord for InlineWord {
    #[inline(always)]
    fn load(&self, order: core::sync::atomic::Ordering) -> u64 {
        self.0.load(order)
    }
    #[inline(always)]
    fn compare_exchange_weak(
        &self,
        current: u64,
        new: u64,
        success: core::sync::atomic::Ordering,
        failure: core::sync::atomic::Ordering,
    ) -> Result<u64, u64> {
        self.0.compare_exchange_weak(current, new, success, failure)
    }
}

/// A word kept elsewhere (a `static`, a shared memory page); where the target has
/// native 64-bit atomics.
#[cfg(target_has_atomic = "64")]
impl StateWord for &core::sync::atomic::AtomicU64 {
    #[inline(always)]
    fn load(&self, order: core::sync::atomic::Ordering) -> u64 {
        core::sync::atomic::AtomicU64::load(self, order)
    }
    #[inline(always)]
    fn compare_exchange_weak(
        &self,
        current: u64,
        new: u64,
        success: core::sync::atomic::Ordering,
        failure: core::sync::atomic::Ordering,
    ) -> Result<u64, u64> {
        core::sync::atomic::AtomicU64::compare_exchange_weak(self, current, new, success, failure)
    }
}

/// The mutable state. The issued time is written on every call and the jump-detection
/// sample about every 65 µs, so each gets a cache line of its own: threads then read the
/// sample from their own caches instead of fighting over the line of the time.
struct State<W> {
    /// Last issued packed time.
    time: W,
    /// The last jump-detection sample.
    sample: CachePadded<Sample>,
}

struct Sample {
    /// Physical time at the sample.
    physical: AtomicU64,
    /// Elapsed reference at the sample, or [`NO_REFERENCE`].
    reference: AtomicU64,
}

/// A lock-free hybrid logical clock over a [`ClockSource`].
///
/// `H` receives faults and metrics; the default [`NoHooks`] costs nothing. `W` is where
/// the last issued time lives: inside the clock by default, or a shared word
/// ([`Hlc::with_state`]).
pub struct Hlc<C: ClockSource, H = NoHooks, W: StateWord = InlineWord> {
    state: State<W>,
    clock: C,
    node: NodeId,
    max_offset: u64,
    step_back: u64,
    forward_jump: u64,
    hooks: H,
}

impl<C: ClockSource> Hlc<C, NoHooks> {
    /// A clock for `node` with [`HlcConfig::DEFAULT`] and no hooks.
    #[cfg(not(loom))]
    pub const fn new(clock: C, node: NodeId) -> Self {
        Self::with_hooks(clock, node, HlcConfig::DEFAULT, NoHooks)
    }

    /// A clock for `node` with [`HlcConfig::DEFAULT`] and no hooks.
    #[cfg(loom)]
    pub fn new(clock: C, node: NodeId) -> Self {
        Self::with_hooks(clock, node, HlcConfig::DEFAULT, NoHooks)
    }

    /// A clock for `node` with the limits `config` and no hooks; start from the defaults
    /// and change what differs.
    ///
    /// ```
    /// use core::time::Duration;
    /// use tempora_core::clock::ManualClock;
    /// use tempora_core::hlc::{Hlc, HlcConfig};
    /// use tempora_core::time::Utc;
    /// use tempora_core::timestamp::NodeId;
    ///
    /// static CLOCK: ManualClock<Utc> = ManualClock::new(1_000_000_000);
    /// static HLC: Hlc<&ManualClock<Utc>> = Hlc::with_config(
    ///     &CLOCK,
    ///     NodeId(1),
    ///     HlcConfig { max_offset: Duration::from_millis(100), ..HlcConfig::DEFAULT },
    /// );
    /// assert_eq!(HLC.config().max_offset, Duration::from_millis(100));
    /// ```
    #[cfg(not(loom))]
    pub const fn with_config(clock: C, node: NodeId, config: HlcConfig) -> Self {
        Self::with_hooks(clock, node, config, NoHooks)
    }

    /// A clock for `node` with the limits `config` and no hooks.
    #[cfg(loom)]
    pub fn with_config(clock: C, node: NodeId, config: HlcConfig) -> Self {
        Self::with_hooks(clock, node, config, NoHooks)
    }

    /// Starts building a clock for `node`: [`HlcConfig::DEFAULT`] and no hooks until
    /// told otherwise. (For a `static`, use the `const` constructors [`Hlc::new`],
    /// [`Hlc::with_config`] or [`Hlc::with_hooks`].)
    ///
    /// ```
    /// use core::time::Duration;
    /// use tempora_core::clock::ManualClock;
    /// use tempora_core::hlc::Hlc;
    /// use tempora_core::hooks::NoHooks;
    /// use tempora_core::time::Utc;
    /// use tempora_core::timestamp::NodeId;
    ///
    /// let clock = ManualClock::<Utc>::new(1_000_000_000);
    /// let hlc = Hlc::builder(&clock, NodeId(7))
    ///     .max_offset(Duration::from_millis(50))
    ///     .hooks(NoHooks) // or your FaultHook + MetricsHook
    ///     .build();
    /// let far = hlc.now().time().saturating_add(Duration::from_millis(60)).on(NodeId(8));
    /// assert!(hlc.update(far).is_err()); // 60 ms ahead: more than the max offset
    /// ```
    pub const fn builder(clock: C, node: NodeId) -> HlcBuilder<C> {
        HlcBuilder {
            clock,
            node,
            config: HlcConfig::DEFAULT,
            hooks: NoHooks,
        }
    }
}

/// Builds an [`Hlc`] from the defaults: see [`Hlc::builder`].
#[derive(Debug)]
#[must_use = "a builder does nothing until `build`"]
pub struct HlcBuilder<C, H = NoHooks> {
    clock: C,
    node: NodeId,
    config: HlcConfig,
    hooks: H,
}

impl<C: ClockSource> HlcBuilder<C, NoHooks> {
    /// Hooks for faults and metrics (instead of none).
    pub fn hooks<H: FaultHook + MetricsHook>(self, hooks: H) -> HlcBuilder<C, H> {
        HlcBuilder {
            clock: self.clock,
            node: self.node,
            config: self.config,
            hooks,
        }
    }
}

impl<C: ClockSource, H: FaultHook + MetricsHook> HlcBuilder<C, H> {
    /// See [`HlcConfig::max_offset`].
    pub fn max_offset(mut self, max_offset: Duration) -> Self {
        self.config.max_offset = max_offset;
        self
    }

    /// See [`HlcConfig::step_back`].
    pub fn step_back(mut self, step_back: Duration) -> Self {
        self.config.step_back = step_back;
        self
    }

    /// See [`HlcConfig::forward_jump`].
    pub fn forward_jump(mut self, forward_jump: Duration) -> Self {
        self.config.forward_jump = forward_jump;
        self
    }

    /// All the limits at once.
    pub fn config(mut self, config: HlcConfig) -> Self {
        self.config = config;
        self
    }

    /// The clock.
    pub fn build(self) -> Hlc<C, H> {
        Hlc::with_hooks(self.clock, self.node, self.config, self.hooks)
    }
}

impl<C: ClockSource, H: FaultHook + MetricsHook> Hlc<C, H> {
    /// A clock for `node` with the given limits and hooks.
    #[cfg(not(loom))]
    pub const fn with_hooks(clock: C, node: NodeId, config: HlcConfig, hooks: H) -> Self {
        Self {
            state: State {
                time: InlineWord(CachePadded::new(AtomicU64::new(0))),
                sample: CachePadded::new(Sample {
                    physical: AtomicU64::new(0),
                    reference: AtomicU64::new(NO_REFERENCE),
                }),
            },
            clock,
            node,
            max_offset: duration_nanos(config.max_offset),
            step_back: duration_nanos(config.step_back),
            forward_jump: duration_nanos(config.forward_jump),
            hooks,
        }
    }

    /// A clock for `node` with the given limits and hooks.
    #[cfg(loom)]
    pub fn with_hooks(clock: C, node: NodeId, config: HlcConfig, hooks: H) -> Self {
        Self {
            state: State {
                time: InlineWord(CachePadded::new(AtomicU64::new(0))),
                sample: CachePadded::new(Sample {
                    physical: AtomicU64::new(0),
                    reference: AtomicU64::new(NO_REFERENCE),
                }),
            },
            clock,
            node,
            max_offset: duration_nanos(config.max_offset),
            step_back: duration_nanos(config.step_back),
            forward_jump: duration_nanos(config.forward_jump),
            hooks,
        }
    }
}

#[cfg(all(target_has_atomic = "64", not(loom)))]
impl<'a, C: ClockSource, H: FaultHook + MetricsHook> Hlc<C, H, &'a core::sync::atomic::AtomicU64> {
    /// A clock for `node` whose last issued time is the word `state`, kept outside it.
    /// Every `Hlc` over one word issues from one clock: their timestamps are strictly
    /// increasing taken together, as one `Hlc`'s across threads. The word may be
    /// shared with other processes (a shared memory page) as long as every user
    /// advances it with this clock's rule: a compare-and-swap to a larger value only.
    ///
    /// Jump detection stays per `Hlc`: each reports the steps it sees itself.
    ///
    /// ```
    /// use core::sync::atomic::AtomicU64;
    /// use tempora_core::clock::ManualClock;
    /// use tempora_core::hlc::{Hlc, HlcConfig};
    /// use tempora_core::hooks::NoHooks;
    /// use tempora_core::time::Utc;
    /// use tempora_core::timestamp::NodeId;
    ///
    /// static WORD: AtomicU64 = AtomicU64::new(0);
    /// let slow = ManualClock::<Utc>::new(1_000_000);
    /// let fast = ManualClock::<Utc>::new(9_000_000);
    /// let a = Hlc::with_state(&WORD, &slow, NodeId(1), HlcConfig::DEFAULT, NoHooks);
    /// let b = Hlc::with_state(&WORD, &fast, NodeId(1), HlcConfig::DEFAULT, NoHooks);
    /// let (t1, t2) = (b.now(), a.now());
    /// assert!(t2 > t1); // `a`'s clock is behind, but it issues after `b`
    /// ```
    pub const fn with_state(
        state: &'a core::sync::atomic::AtomicU64,
        clock: C,
        node: NodeId,
        config: HlcConfig,
        hooks: H,
    ) -> Self {
        Self {
            state: State {
                time: state,
                sample: CachePadded::new(Sample {
                    physical: AtomicU64::new(0),
                    reference: AtomicU64::new(NO_REFERENCE),
                }),
            },
            clock,
            node,
            max_offset: duration_nanos(config.max_offset),
            step_back: duration_nanos(config.step_back),
            forward_jump: duration_nanos(config.forward_jump),
            hooks,
        }
    }
}

impl<C: ClockSource, H: FaultHook + MetricsHook, W: StateWord> Hlc<C, H, W> {
    /// The node this clock stamps.
    pub fn node(&self) -> NodeId {
        self.node
    }

    /// The underlying physical clock.
    pub fn clock(&self) -> &C {
        &self.clock
    }

    /// The hooks.
    pub fn hooks(&self) -> &H {
        &self.hooks
    }

    /// The limits in force.
    pub fn config(&self) -> HlcConfig {
        HlcConfig {
            max_offset: Duration::from_nanos(self.max_offset),
            step_back: Duration::from_nanos(self.step_back),
            forward_jump: Duration::from_nanos(self.forward_jump),
        }
    }

    /// The last timestamp issued (or merged), without issuing one.
    pub fn last(&self) -> Timestamp<C::Scale> {
        Timestamp::from_raw(self.state.time.load(Ordering::Acquire), self.node)
    }

    /// A new timestamp for a local or send event: greater than every timestamp this clock
    /// issued or merged before.
    ///
    /// At the end of time (year 2554) it returns the last timestamp again and reports
    /// [`Fault::HlcExhausted`]; use [`Hlc::try_now`] to get an error instead.
    #[inline]
    pub fn now(&self) -> Timestamp<C::Scale> {
        match self.try_now() {
            Ok(t) => t,
            Err(Exhausted) => Timestamp::from_raw(u64::MAX, self.node),
        }
    }

    /// Like [`Hlc::now`], but an error at the end of time.
    #[inline]
    pub fn try_now(&self) -> Result<Timestamp<C::Scale>, Exhausted> {
        let pt = self.physical();
        let t = self.advance(pt, 0)?;
        self.hooks.record(Metric::HlcTimestamp);
        Ok(Timestamp::from_raw(t, self.node))
    }

    /// Merges a received timestamp (a receive event) and returns the timestamp of the
    /// receipt, which is greater than `remote` and than every earlier local timestamp.
    ///
    /// Refuses, leaving the clock unchanged, a `remote` more than the max offset ahead of
    /// the local physical clock.
    #[inline]
    pub fn update(&self, remote: Timestamp<C::Scale>) -> Result<Timestamp<C::Scale>, UpdateError> {
        let pt = self.physical();
        let r = remote.raw();
        if r > pt.saturating_add(self.max_offset) {
            return Err(self.refuse(r - pt));
        }
        let t = self.advance(pt, r)?;
        self.hooks.record(Metric::HlcMerge {
            ahead_ns: (t & !LOGICAL_MASK).saturating_sub(pt),
        });
        Ok(Timestamp::from_raw(t, self.node))
    }

    #[cold]
    fn refuse(&self, ahead: u64) -> UpdateError {
        let (ahead, max_offset) = (
            Duration::from_nanos(ahead),
            Duration::from_nanos(self.max_offset),
        );
        self.hooks
            .fault(Fault::RemoteTooFarAhead { ahead, max_offset });
        UpdateError::TooFarAhead { ahead, max_offset }
    }

    /// Reads the physical clock, sampling it for jump detection every [`SAMPLE_EVERY`].
    #[inline(always)]
    fn physical(&self) -> u64 {
        // Load the last sample *before* reading the clock: whoever stored it read the
        // clock earlier, so a reading below it is a genuine backward step.
        let last = self.state.sample.physical.load(Ordering::Acquire);
        let pt = self.clock.time().as_nanos();
        // One comparison on the hot path: both "went back" and "moved on by a sample
        // period" make the wrapping difference large.
        if pt.wrapping_sub(last) >= SAMPLE_EVERY {
            self.sample(last, pt);
        }
        pt
    }

    #[cold]
    #[inline(never)]
    fn sample(&self, last: u64, pt: u64) {
        // Only the thread that moves the sample reports, so each step is reported once.
        if self
            .state
            .sample
            .physical
            .compare_exchange(last, pt, Ordering::AcqRel, Ordering::Relaxed)
            .is_err()
        {
            return;
        }
        let reference = self.clock.elapsed_reference().unwrap_or(NO_REFERENCE);
        let last_reference = self
            .state
            .sample
            .reference
            .swap(reference, Ordering::AcqRel);
        if pt < last {
            if last - pt > self.step_back {
                self.hooks.fault(Fault::ClockSteppedBack {
                    by: Duration::from_nanos(last - pt),
                });
            }
        } else if last != 0 && reference != NO_REFERENCE && last_reference != NO_REFERENCE {
            let advanced = pt - last;
            let elapsed = reference.saturating_sub(last_reference);
            if advanced.saturating_sub(elapsed) > self.forward_jump {
                self.hooks.fault(Fault::ClockJumpedForward {
                    by: Duration::from_nanos(advanced - elapsed),
                });
            }
        }
    }

    /// The HLC step: the new time is the physical tick if that is ahead of everything
    /// seen, else one more than the larger of the last local and the remote time.
    #[inline(always)]
    fn advance(&self, pt: u64, remote: u64) -> Result<u64, Exhausted> {
        let tick = pt & !LOGICAL_MASK;
        let mut current = self.state.time.load(Ordering::Relaxed);
        loop {
            let seen = if remote > current { remote } else { current };
            let next = if tick > seen {
                tick
            } else {
                match seen.checked_add(1) {
                    Some(n) => n,
                    None => return Err(self.exhausted()),
                }
            };
            match self.state.time.compare_exchange_weak(
                current,
                next,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => {
                    if next & LOGICAL_MASK == 0 && next != tick {
                        self.hooks.record(Metric::HlcLogicalCarry);
                    }
                    return Ok(next);
                }
                Err(actual) => current = actual,
            }
        }
    }

    #[cold]
    fn exhausted(&self) -> Exhausted {
        self.hooks.fault(Fault::HlcExhausted);
        Exhausted
    }
}

impl<C: ClockSource, H, W: StateWord> fmt::Debug for Hlc<C, H, W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hlc")
            .field("node", &self.node)
            .field(
                "last",
                &Timestamp::<C::Scale>::from_raw(
                    self.state.time.load(Ordering::Relaxed),
                    self.node,
                ),
            )
            .field("max_offset_ns", &self.max_offset)
            .finish_non_exhaustive()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::time::Utc;
    use core::cell::RefCell;

    #[derive(Default)]
    struct Recorder {
        faults: RefCell<heapless_vec::Vec8<Fault>>,
        carries: core::cell::Cell<u32>,
    }

    mod heapless_vec {
        /// Eight faults are plenty for a unit test; no alloc in core, not even in tests.
        pub struct Vec8<T>(pub [Option<T>; 8], pub usize);
        impl<T: Copy> Default for Vec8<T> {
            fn default() -> Self {
                Self([None; 8], 0)
            }
        }
        impl<T: Copy> Vec8<T> {
            pub fn push(&mut self, t: T) {
                if self.1 < 8 {
                    self.0[self.1] = Some(t);
                    self.1 += 1;
                }
            }
            pub fn get(&self, i: usize) -> Option<T> {
                self.0.get(i).copied().flatten()
            }
        }
    }

    impl FaultHook for Recorder {
        fn fault(&self, f: Fault) {
            self.faults.borrow_mut().push(f);
        }
    }
    impl MetricsHook for Recorder {
        fn record(&self, m: Metric) {
            if m == Metric::HlcLogicalCarry {
                self.carries.set(self.carries.get() + 1);
            }
        }
    }

    #[test]
    fn counter_carries_into_physical_part() {
        let clock = ManualClock::<Utc>::new(1 << 20);
        let hlc = Hlc::with_hooks(&clock, NodeId(1), HlcConfig::DEFAULT, Recorder::default());
        let first = hlc.now();
        let mut last = first;
        for _ in 0..300 {
            let t = hlc.now();
            assert!(t > last);
            last = t;
        }
        assert_eq!(hlc.hooks().carries.get(), 1);
        assert_eq!(
            last.physical().as_nanos(),
            first.physical().as_nanos() + 256
        );
        assert_eq!(last.logical(), (300 - 256) as u8);
    }

    #[test]
    fn exhaustion_is_an_error_not_a_wrap() {
        let clock = ManualClock::<Utc>::new(u64::MAX - 1);
        let hlc = Hlc::with_hooks(&clock, NodeId(1), HlcConfig::DEFAULT, Recorder::default());
        let mut n = 0;
        while hlc.try_now().is_ok() {
            n += 1;
            assert!(n <= 256);
        }
        assert_eq!(hlc.try_now(), Err(Exhausted));
        assert_eq!(hlc.now().raw(), u64::MAX);
        assert_eq!(
            hlc.hooks().faults.borrow().get(0),
            Some(Fault::HlcExhausted)
        );
    }

    #[test]
    fn steps_back_are_reported_once() {
        let clock = ManualClock::<Utc>::new(10_000_000_000);
        let hlc = Hlc::with_hooks(&clock, NodeId(1), HlcConfig::DEFAULT, Recorder::default());
        hlc.now();
        clock.set(9_000_000_000);
        hlc.now();
        hlc.now();
        let faults = hlc.hooks().faults.borrow();
        assert_eq!(
            faults.get(0),
            Some(Fault::ClockSteppedBack {
                by: Duration::from_secs(1)
            })
        );
        assert_eq!(faults.get(1), None);
    }
}
