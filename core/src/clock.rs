//! The clock-source abstraction: a reading is a time *and* a bound on its error.

use core::time::Duration;

use crate::sync::AtomicU64;
use crate::time::{Instant, TimeInterval, Timescale};

/// How much a clock's reading can be trusted right now.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ClockStatus {
    /// Disciplined by a reference; the bound is the reference's estimate.
    Synchronized,
    /// Was synchronized and lost its reference; the bound grows with the holdover time.
    Holdover,
    /// Never synchronized (or told so by its discipline): the bound is a worst case.
    FreeRunning,
    /// The source cannot tell; treat the bound as meaningless.
    Unknown,
}

impl ClockStatus {
    /// A short lower-case name, for logs and status lines.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Synchronized => "synchronized",
            Self::Holdover => "holdover",
            Self::FreeRunning => "free-running",
            Self::Unknown => "unknown",
        }
    }
}

impl core::fmt::Display for ClockStatus {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a source's readings can show against its elapsed reference that a healthy
/// clock never does; found by the [`select`](crate::select) module's detector.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Anomaly {
    /// The clock advanced this much more than the reference between two checks.
    SteppedForward {
        /// How far beyond elapsed time.
        by: Duration,
    },
    /// The clock advanced this much less than the reference (or went back).
    SteppedBack {
        /// How far short of elapsed time.
        by: Duration,
    },
    /// The clock showed the same time while the reference advanced this much.
    Frozen {
        /// Reference time that passed without the clock moving.
        for_: Duration,
    },
    /// Over a window of the reference, the clock ran this fast (negative: slow)
    /// relative to it, beyond the configured limit; in parts per million.
    Rate {
        /// Clock rate minus reference rate, ppm.
        ppm: i64,
    },
}

impl Anomaly {
    /// A short lower-case name, for logs and metric labels.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::SteppedForward { .. } => "stepped-forward",
            Self::SteppedBack { .. } => "stepped-back",
            Self::Frozen { .. } => "frozen",
            Self::Rate { .. } => "rate",
        }
    }
}

/// One reading of a clock: its best estimate of the time, how far the true time can be
/// from that estimate, and why it believes so.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ClockReading<S: Timescale> {
    /// The clock's best estimate.
    pub time: Instant<S>,
    /// The true time lies within `time ± bound`.
    pub bound: Duration,
    /// How the bound was obtained.
    pub status: ClockStatus,
}

impl<S: Timescale> ClockReading<S> {
    /// The reading of a free-running clock that counts time but knows no date (a board's
    /// counter, `CLOCK_MONOTONIC_RAW`, a local clock before any discipline): its time,
    /// an unbounded error, [`ClockStatus::Unknown`].
    pub const fn unknown(time: Instant<S>) -> Self {
        Self {
            time,
            bound: Duration::MAX,
            status: ClockStatus::Unknown,
        }
    }

    /// The interval `[earliest, latest]` that contains the true time.
    ///
    /// ```
    /// use core::time::Duration;
    /// use tempora_core::clock::{ClockReading, ClockStatus};
    /// use tempora_core::time::{Instant, Utc};
    ///
    /// let r = ClockReading {
    ///     time: Instant::<Utc>::from_nanos(1_000),
    ///     bound: Duration::from_nanos(50),
    ///     status: ClockStatus::Synchronized,
    /// };
    /// let i = r.interval();
    /// assert_eq!((i.earliest.as_nanos(), i.latest.as_nanos()), (950, 1_050));
    /// ```
    pub fn interval(&self) -> TimeInterval<S> {
        TimeInterval::around(self.time, self.bound)
    }
}

/// Prints `TIME ± BOUND (STATUS)`: the time in civil form on its scale, the bound as
/// [`Duration`]'s `Debug` prints it, e.g.
/// `2023-11-14T22:13:20.000000000 UTC ± 1.5ms (holdover)`.
///
/// ```
/// use core::time::Duration;
/// use tempora_core::clock::{ClockReading, ClockStatus};
/// use tempora_core::time::{Instant, Utc};
///
/// let r = ClockReading {
///     time: Instant::<Utc>::from_secs_nanos(1_700_000_000, 0).unwrap(),
///     bound: Duration::from_micros(1_500),
///     status: ClockStatus::Holdover,
/// };
/// assert_eq!(r.to_string(), "2023-11-14T22:13:20.000000000 UTC ± 1.5ms (holdover)");
/// ```
impl<S: Timescale> core::fmt::Display for ClockReading<S> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{} ± {:?} ({})", self.time, self.bound, self.status)
    }
}

/// A source of time on a known scale.
///
/// Implementations take `&self` so one source can be shared by many threads (or tasks and
/// interrupts) without locks; use interior mutability for any state.
pub trait ClockSource {
    /// The scale the readings are on.
    type Scale: Timescale;

    /// A full reading: time, error bound and status.
    fn read(&self) -> ClockReading<Self::Scale>;

    /// Just the time. Hot paths (the HLC) call this; override it when reading the bound
    /// costs more than reading the time.
    #[inline]
    fn time(&self) -> Instant<Self::Scale> {
        self.read().time
    }

    /// A monotonic count of nanoseconds that never steps, if the platform has one
    /// (Linux: `CLOCK_BOOTTIME`). Comparing its progress with the progress of [`time`]
    /// tells a forward step of the clock apart from a long pause between reads.
    ///
    /// [`time`]: ClockSource::time
    #[inline]
    fn elapsed_reference(&self) -> Option<u64> {
        None
    }
}

impl<C: ClockSource + ?Sized> ClockSource for &C {
    type Scale = C::Scale;
    #[inline]
    fn read(&self) -> ClockReading<C::Scale> {
        (**self).read()
    }
    #[inline]
    fn time(&self) -> Instant<C::Scale> {
        (**self).time()
    }
    #[inline]
    fn elapsed_reference(&self) -> Option<u64> {
        (**self).elapsed_reference()
    }
}

/// A clock that shows whatever it was last set to: for simulations, tests and replays.
///
/// Its reading is [`ClockStatus::Synchronized`] with a zero bound, since by definition it
/// is the reference of whatever it drives.
///
/// ```
/// use tempora_core::clock::{ClockSource, ManualClock};
/// use tempora_core::time::Tai;
///
/// static CLOCK: ManualClock<Tai> = ManualClock::new(5);
/// CLOCK.advance(10);
/// assert_eq!(CLOCK.time().as_nanos(), 15);
/// ```
#[derive(Debug)]
pub struct ManualClock<S: Timescale> {
    nanos: AtomicU64,
    scale: core::marker::PhantomData<S>,
}

impl<S: Timescale> ManualClock<S> {
    /// A clock showing `nanos` since the epoch.
    #[cfg(not(loom))]
    pub const fn new(nanos: u64) -> Self {
        Self {
            nanos: AtomicU64::new(nanos),
            scale: core::marker::PhantomData,
        }
    }

    /// A clock showing `nanos` since the epoch.
    #[cfg(loom)]
    pub fn new(nanos: u64) -> Self {
        Self {
            nanos: AtomicU64::new(nanos),
            scale: core::marker::PhantomData,
        }
    }

    /// Show `nanos` from now on (backwards too: this is how tests step a clock back).
    pub fn set(&self, nanos: u64) {
        self.nanos.store(nanos, crate::sync::Ordering::Relaxed);
    }

    /// Move forward by `nanos`, saturating at the end of time.
    pub fn advance(&self, nanos: u64) {
        let _ = self.nanos.fetch_update(
            crate::sync::Ordering::Relaxed,
            crate::sync::Ordering::Relaxed,
            |n| Some(n.saturating_add(nanos)),
        );
    }
}

impl<S: Timescale> ClockSource for ManualClock<S> {
    type Scale = S;
    fn read(&self) -> ClockReading<S> {
        ClockReading {
            time: self.time(),
            bound: Duration::ZERO,
            status: ClockStatus::Synchronized,
        }
    }
    #[inline]
    fn time(&self) -> Instant<S> {
        Instant::from_nanos(self.nanos.load(crate::sync::Ordering::Relaxed))
    }
}
