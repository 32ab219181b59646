//! Pattern detection over timestamped events: sequences, counts in windows, absences.
//!
//! Events carry an HLC timestamp, a kind and a partition key; patterns are matched per
//! partition, on events in timestamp order. Out-of-order arrival is absorbed by a
//! [`Detector`]: it holds events in a reorder buffer and releases them in order once the
//! *watermark* (the largest timestamp seen minus the allowed lateness, or one given
//! explicitly) passes them. An event at or below the watermark when it arrives is
//! reported as late, never silently dropped, and a full buffer refuses and hands back.
//!
//! The matchers follow the Flink CEP / Esper vocabulary:
//! - [`Sequence`]: `A` then `B` (then `C` …) `within` Δ, with strict contiguity (`next`:
//!   nothing else in between, in that partition) or relaxed contiguity (`followedBy`:
//!   other events may come between; each start takes the next matching event);
//! - [`Count`]: at least `k` events of a kind (`times`) in a [`Window`]: sliding by time,
//!   the last `n` events, tumbling, or hopping;
//! - [`Absence`]: `A` not followed by `B` within Δ (`notFollowedBy`), which fires when
//!   the watermark passes `A + Δ`.
//!
//! Partial matches are kept per partition at fixed capacity; when a capacity is reached
//! the condition is reported as [`Report::Overflow`], never hidden. Every match carries
//! the timestamps of the events that formed it. Times are compared on the packed HLC
//! value (nanoseconds whose low 8 bits are the logical counter), and the watermark is an
//! [`HlcTime`].
//!
//! Reports go to a callback, `impl FnMut(Report)`, as everywhere in the crate: pass a
//! closure, or `&mut` one to keep using it.

use core::fmt;
use core::time::Duration;

use heapless::index_map::FnvIndexMap;

use crate::error::Full;
use crate::hooks::{Metric, MetricsHook, NoHooks};
use crate::queue::{Priority, TemporalQueue};
use crate::time::{duration_nanos, Timescale, Utc};
use crate::timestamp::{HlcTime, Timestamp};

/// The most events a match can carry (sequence steps, count threshold).
pub const MATCH_MAX: usize = 16;

/// A timestamped event of kind `K` in a partition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Event<K, S: Timescale = Utc> {
    /// When it happened.
    pub timestamp: Timestamp<S>,
    /// What happened.
    pub kind: K,
    /// Which stream it belongs to (a user, a device, a flow): patterns match per partition.
    pub partition: u64,
}

/// A completed pattern, lent to the report callback (copy what you keep).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Match<'a, S: Timescale = Utc> {
    /// The partition it matched in.
    pub partition: u64,
    /// The events that formed it, in time order. For an absence, the `A` event.
    pub timestamps: &'a [Timestamp<S>],
}

/// Which capacity was reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Capacity {
    /// No room for another partition's state: its event was not matched.
    Partitions,
    /// No room for another partial match in the partition: a new start was not tracked.
    PartialMatches,
    /// A window's buffer is full: counts in it may be low.
    Window,
}

/// What a matcher reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Report<'a, S: Timescale = Utc> {
    /// A pattern matched.
    Match(Match<'a, S>),
    /// A capacity was reached; matches may be missed in this partition.
    Overflow {
        /// Where.
        partition: u64,
        /// Which capacity.
        capacity: Capacity,
    },
}

/// A pattern matcher fed with events in timestamp order.
pub trait Matcher<K, S: Timescale> {
    /// The next event (timestamps never decrease between calls).
    fn event(&mut self, event: &Event<K, S>, report: impl FnMut(Report<'_, S>));
    /// Every event at or below `watermark` has been delivered.
    fn watermark(&mut self, _watermark: HlcTime<S>, _report: impl FnMut(Report<'_, S>)) {}
}

fn match_of<S: Timescale>(partition: u64, timestamps: &[Timestamp<S>]) -> Report<'_, S> {
    Report::Match(Match {
        partition,
        timestamps,
    })
}

/// Whether a sequence step must follow the previous one directly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Contiguity {
    /// `next`: the step must be the very next event of the partition.
    Strict,
    /// `followedBy`: other events may come between.
    Relaxed,
}

/// `steps[0]` then `steps[1]` … within `within` of the first, per partition.
///
/// Up to `PARTITIONS` partitions (a power of two) with up to `PARTIALS` partial matches
/// each; `STEPS` is the length of the pattern. A partition's state is freed when it has
/// no partial match.
pub struct Sequence<
    K,
    S: Timescale,
    const STEPS: usize,
    const PARTITIONS: usize,
    const PARTIALS: usize,
> {
    steps: [K; STEPS],
    within: u64,
    contiguity: Contiguity,
    partials:
        FnvIndexMap<u64, heapless::Vec<heapless::Vec<Timestamp<S>, STEPS>, PARTIALS>, PARTITIONS>,
    /// Watermark of the last sweep for partial matches that can no longer complete.
    swept: u64,
}

impl<
        K: Copy + PartialEq,
        S: Timescale,
        const STEPS: usize,
        const PARTITIONS: usize,
        const PARTIALS: usize,
    > Sequence<K, S, STEPS, PARTITIONS, PARTIALS>
{
    /// A sequence pattern.
    pub const fn new(steps: [K; STEPS], within: Duration, contiguity: Contiguity) -> Self {
        const {
            assert!(STEPS >= 1 && STEPS <= MATCH_MAX, "1..=16 steps");
            assert!(
                PARTITIONS > 1 && PARTITIONS.is_power_of_two(),
                "PARTITIONS: a power of two > 1"
            );
        }
        Self {
            steps,
            within: duration_nanos(within),
            contiguity,
            partials: FnvIndexMap::new(),
            swept: 0,
        }
    }

    /// Partial matches held now, over all partitions.
    pub fn partial_matches(&self) -> usize {
        self.partials.values().map(|v| v.len()).sum()
    }
}

impl<
        K: Copy + PartialEq,
        S: Timescale,
        const STEPS: usize,
        const PARTITIONS: usize,
        const PARTIALS: usize,
    > Matcher<K, S> for Sequence<K, S, STEPS, PARTITIONS, PARTIALS>
{
    fn event(&mut self, e: &Event<K, S>, mut report: impl FnMut(Report<'_, S>)) {
        let t = e.timestamp.raw();
        let key = e.partition;
        if !self.partials.contains_key(&key) {
            if e.kind != self.steps[0] {
                return; // nothing to advance, nothing to start
            }
            if STEPS == 1 {
                report(match_of(key, &[e.timestamp]));
                return;
            }
            if self.partials.insert(key, heapless::Vec::new()).is_err() {
                report(Report::Overflow {
                    partition: key,
                    capacity: Capacity::Partitions,
                });
                return;
            }
        }
        let Some(state) = self.partials.get_mut(&key) else {
            return;
        };
        let within = self.within;
        // Too old to complete within the window: drop.
        state.retain(|p| p.first().is_some_and(|f| t - f.raw() <= within));
        let mut i = 0;
        while i < state.len() {
            let next = self.steps[state[i].len()];
            if e.kind == next {
                let _ = state[i].push(e.timestamp);
                if state[i].len() == STEPS {
                    report(match_of(key, &state[i]));
                    state.swap_remove(i);
                    continue;
                }
            } else if self.contiguity == Contiguity::Strict {
                state.swap_remove(i);
                continue;
            }
            i += 1;
        }
        if e.kind == self.steps[0] {
            if STEPS == 1 {
                report(match_of(key, &[e.timestamp]));
            } else {
                let mut p = heapless::Vec::new();
                let _ = p.push(e.timestamp);
                if state.push(p).is_err() {
                    report(Report::Overflow {
                        partition: key,
                        capacity: Capacity::PartialMatches,
                    });
                }
            }
        }
        if state.is_empty() {
            self.partials.swap_remove(&key);
        }
    }

    /// Drops partial matches older than `within` before the watermark (no later event
    /// can complete them) and frees idle partitions; at most once per `within` of
    /// watermark progress, so the sweep costs O(partitions / events per window).
    fn watermark(&mut self, watermark: HlcTime<S>, _report: impl FnMut(Report<'_, S>)) {
        let watermark = watermark.raw();
        if watermark.saturating_sub(self.swept) < self.within.max(1) {
            return;
        }
        self.swept = watermark;
        let within = self.within;
        self.partials.retain(|_, state| {
            state.retain(|p| {
                p.first()
                    .is_some_and(|f| f.raw().saturating_add(within) >= watermark)
            });
            !state.is_empty()
        });
    }
}

/// The window a [`Count`] counts in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Window {
    /// Sliding by time: the events in `(t - length, t]` at each event `t`.
    Sliding(Duration),
    /// The last `n` events of the partition, of any kind (`n` ≤ 64).
    LastEvents(u8),
    /// Fixed, non-overlapping windows `[m·length, (m+1)·length)`.
    Tumbling(Duration),
    /// Windows `[j·hop, j·hop + length)`, overlapping when `hop < length`.
    Hopping {
        /// Window length.
        length: Duration,
        /// Distance between window starts.
        hop: Duration,
    },
}

/// Why a [`Count`] cannot be built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum CountError {
    /// `at_least` must be in `1..=16` (a match carries its events' timestamps).
    Threshold,
    /// A zero-length window or hop, or `LastEvents` of more than 64 or fewer than
    /// `at_least`.
    Window,
}

impl fmt::Display for CountError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Threshold => "count threshold must be in 1..=16",
            Self::Window => "invalid window",
        })
    }
}

impl core::error::Error for CountError {}

/// Per-partition state of a [`Count`]: recent matching timestamps plus window
/// bookkeeping.
struct Tally<S: Timescale, const EVENTS: usize> {
    /// Matching timestamps, oldest first (sliding: all in the window; last-n: the latest
    /// `at_least`; tumbling and hopping: the current windows' first ones).
    recent: heapless::Deque<Timestamp<S>, EVENTS>,
    /// Last-n: which of the last `n` events matched (bit 0 = newest).
    history: u64,
    /// Tumbling: the current window index and its count. Hopping: per open window
    /// (start index, count), oldest first.
    windows: heapless::Deque<(u64, u32, heapless::Vec<Timestamp<S>, MATCH_MAX>), 8>,
}

/// At least `at_least` events of `kind` in a [`Window`], per partition.
///
/// Sliding and last-n windows report at every matching event that brings the window to
/// the threshold or keeps it there, with the latest `at_least` timestamps. Tumbling and
/// hopping windows report once per window, when its count reaches the threshold.
/// Up to `PARTITIONS` partitions (a power of two) with up to `EVENTS` timestamps held
/// each (sliding windows need one per matching event in the window; overflowing it is
/// reported). Hopping windows may
/// overlap at most 8 deep.
pub struct Count<K, S: Timescale, const PARTITIONS: usize, const EVENTS: usize> {
    kind: K,
    at_least: usize,
    window: Window,
    tallies: FnvIndexMap<u64, Tally<S, EVENTS>, PARTITIONS>,
    /// Watermark of the last sweep for expired windows.
    swept: u64,
}

impl<K: Copy + PartialEq, S: Timescale, const PARTITIONS: usize, const EVENTS: usize>
    Count<K, S, PARTITIONS, EVENTS>
{
    /// A count pattern.
    pub fn new(kind: K, at_least: usize, window: Window) -> Result<Self, CountError> {
        const {
            assert!(
                PARTITIONS > 1 && PARTITIONS.is_power_of_two(),
                "PARTITIONS: a power of two > 1"
            );
        }
        if at_least == 0 || at_least > MATCH_MAX || at_least > EVENTS {
            return Err(CountError::Threshold);
        }
        let ok = match window {
            Window::Sliding(d) | Window::Tumbling(d) => !d.is_zero(),
            Window::LastEvents(n) => n <= 64 && usize::from(n) >= at_least,
            Window::Hopping { length, hop } => {
                !length.is_zero()
                    && !hop.is_zero()
                    && duration_nanos(length).div_ceil(duration_nanos(hop)) <= 8
            }
        };
        if !ok {
            return Err(CountError::Window);
        }
        Ok(Self {
            kind,
            at_least,
            window,
            tallies: FnvIndexMap::new(),
            swept: 0,
        })
    }
}

impl<K: Copy + PartialEq, S: Timescale, const PARTITIONS: usize, const EVENTS: usize> Matcher<K, S>
    for Count<K, S, PARTITIONS, EVENTS>
{
    fn event(&mut self, e: &Event<K, S>, mut report: impl FnMut(Report<'_, S>)) {
        let hit = e.kind == self.kind;
        let key = e.partition;
        if !self.tallies.contains_key(&key) {
            if !hit {
                return; // an empty tally stays empty (last-n: no match in its history)
            }
            let fresh = Tally {
                recent: heapless::Deque::new(),
                history: 0,
                windows: heapless::Deque::new(),
            };
            if self.tallies.insert(key, fresh).is_err() {
                report(Report::Overflow {
                    partition: key,
                    capacity: Capacity::Partitions,
                });
                return;
            }
        }
        let at_least = self.at_least;
        let window = self.window;
        let Some(tally) = self.tallies.get_mut(&key) else {
            return;
        };
        let t = e.timestamp.raw();
        let overflow = Report::Overflow {
            partition: key,
            capacity: Capacity::Window,
        };
        let mut found = None;
        match window {
            Window::Sliding(length) => {
                let length = duration_nanos(length);
                while tally.recent.front().is_some_and(|f| t - f.raw() >= length) {
                    tally.recent.pop_front();
                }
                if hit {
                    if tally.recent.is_full() {
                        tally.recent.pop_front();
                        report(overflow);
                    }
                    let _ = tally.recent.push_back(e.timestamp);
                    if tally.recent.len() >= at_least {
                        found = Some(Self::latest_of(&tally.recent, at_least));
                    }
                }
            }
            Window::LastEvents(n) => {
                let mask = if n >= 64 { u64::MAX } else { (1u64 << n) - 1 };
                tally.history = ((tally.history << 1) | u64::from(hit)) & mask;
                if hit {
                    if tally.recent.len() >= at_least || tally.recent.is_full() {
                        tally.recent.pop_front();
                    }
                    let _ = tally.recent.push_back(e.timestamp);
                    if tally.history.count_ones() as usize >= at_least {
                        found = Some(Self::latest_of(&tally.recent, at_least));
                    }
                }
            }
            Window::Tumbling(length) => {
                if hit {
                    let index = t / duration_nanos(length);
                    if tally.windows.front().is_none_or(|w| w.0 != index) {
                        tally.windows.clear();
                        let _ = tally.windows.push_back((index, 0, heapless::Vec::new()));
                    }
                    if let Some(w) = tally.windows.front_mut() {
                        w.1 += 1;
                        let _ = w.2.push(e.timestamp);
                        if w.1 as usize == at_least {
                            report(match_of(key, &w.2));
                        }
                    }
                }
            }
            Window::Hopping { length, hop } => {
                let (length, hop) = (duration_nanos(length), duration_nanos(hop));
                // Close windows that ended at or before t.
                while tally
                    .windows
                    .front()
                    .is_some_and(|w| w.0.saturating_mul(hop).saturating_add(length) <= t)
                {
                    tally.windows.pop_front();
                }
                if hit {
                    // Windows containing t: j·hop <= t < j·hop + length.
                    let last = t / hop;
                    let first = if t >= length {
                        (t - length) / hop + 1
                    } else {
                        0
                    };
                    for j in first..=last {
                        if !tally.windows.iter().any(|w| w.0 == j)
                            && tally
                                .windows
                                .push_back((j, 0, heapless::Vec::new()))
                                .is_err()
                        {
                            report(overflow);
                        }
                    }
                    for w in tally
                        .windows
                        .iter_mut()
                        .filter(|w| w.0 >= first && w.0 <= last)
                    {
                        w.1 += 1;
                        let _ = w.2.push(e.timestamp);
                        if w.1 as usize == at_least {
                            report(match_of(key, &w.2));
                        }
                    }
                }
            }
        }
        if let Some(ts) = found {
            report(match_of(key, &ts));
        }
        if tally.idle(window) {
            self.tallies.swap_remove(&key);
        }
    }

    /// Expires time windows the watermark has passed and frees idle partitions, at most
    /// once per window length of watermark progress. Last-n windows do not expire by
    /// time: their state lives until the partition's last n events hold no match.
    fn watermark(&mut self, watermark: HlcTime<S>, _report: impl FnMut(Report<'_, S>)) {
        let watermark = watermark.raw();
        let (length, hop) = match self.window {
            Window::Sliding(l) | Window::Tumbling(l) => (duration_nanos(l), 1),
            Window::Hopping { length, hop } => (duration_nanos(length), duration_nanos(hop)),
            Window::LastEvents(_) => return,
        };
        if watermark.saturating_sub(self.swept) < length {
            return;
        }
        self.swept = watermark;
        let window = self.window;
        self.tallies.retain(|_, tally| {
            match window {
                Window::Sliding(_) => tally
                    .recent
                    .retain(|f| f.raw().saturating_add(length) > watermark),
                Window::Tumbling(_) => tally
                    .windows
                    .retain(|w| w.0.saturating_add(1).saturating_mul(length) > watermark),
                _ => tally
                    .windows
                    .retain(|w| w.0.saturating_mul(hop).saturating_add(length) > watermark),
            }
            !tally.idle(window)
        });
    }
}

impl<S: Timescale, const EVENTS: usize> Tally<S, EVENTS> {
    fn idle(&self, window: Window) -> bool {
        match window {
            Window::Sliding(_) => self.recent.is_empty(),
            Window::LastEvents(_) => self.history == 0,
            Window::Tumbling(_) | Window::Hopping { .. } => self.windows.is_empty(),
        }
    }
}

impl<K: Copy + PartialEq, S: Timescale, const PARTITIONS: usize, const EVENTS: usize>
    Count<K, S, PARTITIONS, EVENTS>
{
    fn latest_of(
        recent: &heapless::Deque<Timestamp<S>, EVENTS>,
        n: usize,
    ) -> heapless::Vec<Timestamp<S>, MATCH_MAX> {
        let skip = recent.len().saturating_sub(n);
        recent.iter().skip(skip).copied().take(MATCH_MAX).collect()
    }
}

/// `first` not followed by `then` within `within`, per partition. Reports the `first`
/// event when the watermark passes its deadline with no `then` in between (a `then` at
/// exactly the deadline counts as in time).
pub struct Absence<K, S: Timescale, const PENDING: usize> {
    first: K,
    then: K,
    within: u64,
    /// Open `first` events, oldest first: (partition, timestamp).
    pending: heapless::Deque<(u64, Timestamp<S>), PENDING>,
}

impl<K: Copy + PartialEq, S: Timescale, const PENDING: usize> Absence<K, S, PENDING> {
    /// An absence pattern.
    pub const fn new(first: K, then: K, within: Duration) -> Self {
        Self {
            first,
            then,
            within: duration_nanos(within),
            pending: heapless::Deque::new(),
        }
    }

    /// Open `first` events waiting for their deadline.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    fn expire(&mut self, now: u64, inclusive: bool, mut report: impl FnMut(Report<'_, S>)) {
        while let Some(&(partition, t)) = self.pending.front() {
            let deadline = t.raw().saturating_add(self.within);
            let due = if inclusive {
                deadline <= now
            } else {
                deadline < now
            };
            if !due {
                break;
            }
            self.pending.pop_front();
            report(match_of(partition, &[t]));
        }
    }
}

impl<K: Copy + PartialEq, S: Timescale, const PENDING: usize> Matcher<K, S>
    for Absence<K, S, PENDING>
{
    fn event(&mut self, e: &Event<K, S>, mut report: impl FnMut(Report<'_, S>)) {
        let t = e.timestamp.raw();
        // Deadlines strictly before this event have passed with no `then`.
        self.expire(t, false, &mut report);
        if e.kind == self.then {
            // Events arrive in order, so every pending `first` of this partition is at or
            // before t and within its deadline: all are answered.
            let p = e.partition;
            self.pending.retain(|q| q.0 != p);
        }
        if e.kind == self.first && self.pending.push_back((e.partition, e.timestamp)).is_err() {
            report(Report::Overflow {
                partition: e.partition,
                capacity: Capacity::PartialMatches,
            });
        }
    }

    fn watermark(&mut self, watermark: HlcTime<S>, report: impl FnMut(Report<'_, S>)) {
        self.expire(watermark.raw(), true, report);
    }
}

/// Why [`Detector::push`] did not take an event. The event is handed back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PushError<K, S: Timescale = Utc> {
    /// Its timestamp was at or below the watermark: events after it were already matched.
    Late(Event<K, S>),
    /// The reorder buffer is full.
    Full(Full<Event<K, S>>),
}

impl<K, S: Timescale> PushError<K, S> {
    /// The refused event.
    pub fn into_inner(self) -> Event<K, S> {
        match self {
            Self::Late(e) | Self::Full(Full(e)) => e,
        }
    }
}

impl<K, S: Timescale> From<Full<Event<K, S>>> for PushError<K, S> {
    fn from(full: Full<Event<K, S>>) -> Self {
        Self::Full(full)
    }
}

impl<K, S: Timescale> fmt::Display for PushError<K, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Late(e) => write!(f, "event at {} is behind the watermark", e.timestamp),
            Self::Full(_) => f.write_str("reorder buffer full"),
        }
    }
}

impl<K: fmt::Debug, S: Timescale> core::error::Error for PushError<K, S> {}

/// Counters of a [`Detector`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct DetectorStats {
    /// Events accepted.
    pub accepted: u64,
    /// Events refused as late.
    pub late: u64,
    /// Events refused for a full reorder buffer.
    pub refused: u64,
    /// Matches reported.
    pub matches: u64,
    /// Overflows reported.
    pub overflows: u64,
}

/// Reorders events by timestamp under a watermark and feeds them to a [`Matcher`].
///
/// ```
/// use core::time::Duration;
/// use tempora_core::pattern::{Contiguity, Detector, Event, PushError, Report, Sequence};
/// use tempora_core::{NodeId, Timestamp, Utc};
///
/// let ev = |ns: u64, kind: char| Event { timestamp: Timestamp::<Utc>::from_raw(ns, NodeId(1)), kind, partition: 7 };
/// let pattern = Sequence::<char, Utc, 2, 16, 4>::new(['a', 'b'], Duration::from_micros(10), Contiguity::Relaxed);
/// // Events may arrive up to 1 µs out of order.
/// let mut d = Detector::<_, _, _, 64>::new(pattern, Duration::from_micros(1));
/// let mut found = Vec::new();
/// let mut on = |r: Report| if let Report::Match(m) = r { found.push(m.timestamps.len()) };
/// d.push(ev(5_000, 'b'), &mut on).unwrap();
/// d.push(ev(4_500, 'a'), &mut on).unwrap(); // earlier, but within the lateness
/// d.push(ev(9_000, 'x'), &mut on).unwrap(); // moves the watermark past both
/// assert!(matches!(d.push(ev(1_000, 'a'), &mut on), Err(PushError::Late(_))));
/// assert_eq!(found, [2]); // one match, of two events
/// ```
///
/// `H` counts events in, matches, late and refused events and overflows
/// ([`Metric::PatternEvent`] and the rest); the default [`NoHooks`] costs nothing.
/// Build one with [`Detector::with_hooks`].
pub struct Detector<K, S: Timescale, M, const BUFFER: usize, H = NoHooks> {
    matcher: M,
    buffer: TemporalQueue<Event<K, S>, S, BUFFER>,
    lateness: Duration,
    max_seen: HlcTime<S>,
    watermark: Option<HlcTime<S>>,
    stats: DetectorStats,
    hooks: H,
}

impl<K: Copy, S: Timescale, M: Matcher<K, S>, const BUFFER: usize> Detector<K, S, M, BUFFER> {
    /// A detector allowing events to arrive up to `lateness` after later ones.
    pub fn new(matcher: M, lateness: Duration) -> Self {
        Self::with_hooks(matcher, lateness, NoHooks)
    }
}

impl<K: Copy, S: Timescale, M: Matcher<K, S>, const BUFFER: usize, H: MetricsHook>
    Detector<K, S, M, BUFFER, H>
{
    /// A detector whose events, matches and refusals are counted through `hooks`.
    pub fn with_hooks(matcher: M, lateness: Duration, hooks: H) -> Self {
        Self {
            matcher,
            buffer: TemporalQueue::new(),
            lateness,
            max_seen: HlcTime::MIN,
            watermark: None,
            stats: DetectorStats::default(),
            hooks,
        }
    }

    /// The hooks.
    pub fn hooks(&self) -> &H {
        &self.hooks
    }

    /// The matcher.
    pub fn matcher(&self) -> &M {
        &self.matcher
    }

    /// The counters.
    pub fn stats(&self) -> DetectorStats {
        self.stats
    }

    /// The current watermark, if any event has passed one.
    pub fn watermark(&self) -> Option<HlcTime<S>> {
        self.watermark
    }

    /// Events waiting in the reorder buffer.
    pub fn buffered(&self) -> usize {
        self.buffer.len()
    }

    /// Takes an event; releases and matches everything the new watermark passes.
    pub fn push(
        &mut self,
        event: Event<K, S>,
        report: impl FnMut(Report<'_, S>),
    ) -> Result<(), PushError<K, S>> {
        let t = event.timestamp.time();
        if self.watermark.is_some_and(|w| t <= w) {
            self.stats.late += 1;
            self.hooks.record(Metric::PatternLate);
            return Err(PushError::Late(event));
        }
        if let Err(full) = self.buffer.push(Priority(0), event.timestamp, event) {
            self.stats.refused += 1;
            self.hooks.record(Metric::PatternRefused);
            return Err(full.into());
        }
        self.stats.accepted += 1;
        self.hooks.record(Metric::PatternEvent);
        self.max_seen = self.max_seen.max(t);
        if let Some(w) = self.max_seen.checked_sub(self.lateness) {
            self.advance(w, report);
        }
        Ok(())
    }

    /// Moves the watermark to `watermark` (if later): for idle streams, or a watermark
    /// from outside (e.g. an HLC reading minus the peers' max skew,
    /// `hlc.now().time().saturating_sub(max_skew)`).
    pub fn advance(&mut self, watermark: HlcTime<S>, mut report: impl FnMut(Report<'_, S>)) {
        if self.watermark.is_some_and(|w| w >= watermark) {
            return;
        }
        self.watermark = Some(watermark);
        let (stats, hooks) = (&mut self.stats, &self.hooks);
        let mut counting = |r: Report<'_, S>| {
            match r {
                Report::Match(_) => {
                    stats.matches += 1;
                    hooks.record(Metric::PatternMatch);
                }
                Report::Overflow { .. } => {
                    stats.overflows += 1;
                    hooks.record(Metric::PatternOverflow);
                }
            }
            report(r)
        };
        while let Some(q) = self.buffer.pop_through(watermark) {
            self.matcher.event(&q.message, &mut counting);
        }
        self.matcher.watermark(watermark, &mut counting);
    }

    /// Releases everything: the end of the stream.
    pub fn flush(&mut self, report: impl FnMut(Report<'_, S>)) {
        self.advance(HlcTime::MAX, report);
    }
}
