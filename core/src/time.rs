//! Instants on an explicit timescale, and bounded time intervals.
//!
//! Every instant says which timescale it counts in: [`Tai`] (what PTP distributes) or
//! [`Utc`] (what the system clock shows). The scale is a type parameter, so comparing or
//! subtracting a TAI instant and a UTC instant does not compile; converting between them
//! needs the TAI-UTC offset, given explicitly.
//!
//! ```compile_fail
//! use tempora_core::time::{Instant, Tai, Utc};
//! let a = Instant::<Tai>::from_nanos(1);
//! let b = Instant::<Utc>::from_nanos(1);
//! let _ = a < b; // error: mismatched timescales
//! ```

use core::cmp::Ordering;
use core::fmt;
use core::hash::{Hash, Hasher};
use core::marker::PhantomData;
use core::time::Duration;

/// Nanoseconds in one second.
pub const NANOS_PER_SEC: u64 = 1_000_000_000;

/// `d` in nanoseconds, saturating at `u64::MAX` (584 years): the one conversion every
/// limit and window in the crate goes through.
pub const fn duration_nanos(d: core::time::Duration) -> u64 {
    let n = d.as_nanos();
    if n > u64::MAX as u128 {
        u64::MAX
    } else {
        n as u64
    }
}

mod sealed {
    pub trait Sealed {}
}

/// A timescale: the rule that maps physical seconds to instant numbers.
///
/// Sealed: the only scales are [`Tai`] and [`Utc`]. Both count from
/// 1970-01-01T00:00:00 of their own scale.
pub trait Timescale:
    sealed::Sealed + Copy + Eq + Ord + Hash + Default + fmt::Debug + Send + Sync + 'static
{
    /// Short name, printed after instants ("TAI" or "UTC").
    const NAME: &'static str;
}

/// International Atomic Time: continuous, no leap seconds. PTP timestamps are TAI.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Tai;

/// Coordinated Universal Time as POSIX counts it (leap seconds not counted).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Utc;

impl sealed::Sealed for Tai {}
impl sealed::Sealed for Utc {}
impl Timescale for Tai {
    const NAME: &'static str = "TAI";
}
impl Timescale for Utc {
    const NAME: &'static str = "UTC";
}

/// TAI minus UTC, in whole seconds (37 since 2017). Needed to convert between scales.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct TaiOffset(pub i32);

/// A point in time: nanoseconds since 1970-01-01T00:00:00 on timescale `S`.
///
/// 64 bits of nanoseconds reach the year 2554. Arithmetic is checked or saturating,
/// never wrapping.
pub struct Instant<S: Timescale> {
    nanos: u64,
    scale: PhantomData<S>,
}

impl<S: Timescale> Instant<S> {
    /// The epoch of the scale.
    pub const EPOCH: Self = Self::from_nanos(0);
    /// The last representable instant.
    pub const MAX: Self = Self::from_nanos(u64::MAX);

    /// An instant `nanos` nanoseconds after the scale's epoch.
    #[inline]
    pub const fn from_nanos(nanos: u64) -> Self {
        Self {
            nanos,
            scale: PhantomData,
        }
    }

    /// An instant from whole seconds and a nanosecond fraction; `None` if it does not fit
    /// or `nanos` is not below one second.
    pub const fn from_secs_nanos(secs: u64, nanos: u32) -> Option<Self> {
        if nanos as u64 >= NANOS_PER_SEC {
            return None;
        }
        match secs.checked_mul(NANOS_PER_SEC) {
            Some(s) => match s.checked_add(nanos as u64) {
                Some(n) => Some(Self::from_nanos(n)),
                None => None,
            },
            None => None,
        }
    }

    /// Nanoseconds since the epoch.
    #[inline]
    pub const fn as_nanos(self) -> u64 {
        self.nanos
    }

    /// Whole seconds since the epoch.
    #[inline]
    pub const fn secs(self) -> u64 {
        self.nanos / NANOS_PER_SEC
    }

    /// The nanosecond fraction of the current second.
    #[inline]
    pub const fn subsec_nanos(self) -> u32 {
        (self.nanos % NANOS_PER_SEC) as u32
    }

    /// `self + d`, or `None` past [`Instant::MAX`].
    #[inline]
    pub fn checked_add(self, d: Duration) -> Option<Self> {
        let d = u64::try_from(d.as_nanos()).ok()?;
        self.nanos.checked_add(d).map(Self::from_nanos)
    }

    /// `self - d`, or `None` before the epoch.
    #[inline]
    pub fn checked_sub(self, d: Duration) -> Option<Self> {
        let d = u64::try_from(d.as_nanos()).ok()?;
        self.nanos.checked_sub(d).map(Self::from_nanos)
    }

    /// `self + d`, clamped to [`Instant::MAX`].
    #[inline]
    pub fn saturating_add(self, d: Duration) -> Self {
        self.checked_add(d).unwrap_or(Self::MAX)
    }

    /// `self - d`, clamped to the epoch.
    #[inline]
    pub fn saturating_sub(self, d: Duration) -> Self {
        self.checked_sub(d).unwrap_or(Self::EPOCH)
    }

    /// How long after `earlier` this instant is, or `None` if it is before it.
    #[inline]
    pub fn checked_duration_since(self, earlier: Self) -> Option<Duration> {
        self.nanos
            .checked_sub(earlier.nanos)
            .map(Duration::from_nanos)
    }

    /// The distance between two instants, whichever comes first.
    #[inline]
    pub fn abs_diff(self, other: Self) -> Duration {
        Duration::from_nanos(self.nanos.abs_diff(other.nanos))
    }
}

impl Instant<Utc> {
    /// The same physical instant on the TAI scale, given TAI - UTC.
    /// `None` if it falls outside the representable range.
    pub fn to_tai(self, offset: TaiOffset) -> Option<Instant<Tai>> {
        shift(self.nanos, offset.0).map(Instant::from_nanos)
    }
}

impl Instant<Tai> {
    /// The same physical instant on the UTC scale, given TAI - UTC.
    /// `None` if it falls outside the representable range.
    pub fn to_utc(self, offset: TaiOffset) -> Option<Instant<Utc>> {
        shift(self.nanos, offset.0.checked_neg()?).map(Instant::from_nanos)
    }
}

fn shift(nanos: u64, secs: i32) -> Option<u64> {
    let delta = u64::from(secs.unsigned_abs()) * NANOS_PER_SEC;
    if secs >= 0 {
        nanos.checked_add(delta)
    } else {
        nanos.checked_sub(delta)
    }
}

impl<S: Timescale> Instant<S> {
    /// `self - earlier` as a signed [`Offset`], or `None` if it exceeds ±292 years.
    ///
    /// ```
    /// use tempora_core::time::{Instant, Offset, Tai};
    /// let (a, b) = (Instant::<Tai>::from_nanos(5), Instant::<Tai>::from_nanos(8));
    /// assert_eq!(a.offset_from(b), Some(Offset::from_nanos(-3)));
    /// ```
    #[inline]
    pub fn offset_from(self, earlier: Self) -> Option<Offset> {
        let d = i128::from(self.nanos) - i128::from(earlier.nanos);
        i64::try_from(d).ok().map(Offset)
    }

    /// `self + offset` (a negative offset moves back), or `None` outside the
    /// representable range.
    #[inline]
    pub fn checked_add_offset(self, offset: Offset) -> Option<Self> {
        self.nanos
            .checked_add_signed(offset.0)
            .map(Self::from_nanos)
    }

    /// `self + offset`, clamped to `[EPOCH, MAX]`.
    #[inline]
    pub fn saturating_add_offset(self, offset: Offset) -> Self {
        Self::from_nanos(self.nanos.saturating_add_signed(offset.0))
    }
}

/// A signed difference between two instants on one scale, in nanoseconds: a clock's
/// offset from a reference, a correction, a phase error. `i64` reaches ±292 years.
///
/// Arithmetic is checked or saturating, never wrapping.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Offset(i64);

impl Offset {
    /// No offset.
    pub const ZERO: Self = Self(0);
    /// The largest offset.
    pub const MAX: Self = Self(i64::MAX);
    /// The most negative offset.
    pub const MIN: Self = Self(i64::MIN);

    /// An offset of `nanos` nanoseconds.
    #[inline]
    pub const fn from_nanos(nanos: i64) -> Self {
        Self(nanos)
    }

    /// `nanos` as an offset, or `None` beyond ±292 years.
    #[inline]
    pub fn try_from_nanos(nanos: i128) -> Option<Self> {
        i64::try_from(nanos).ok().map(Self)
    }

    /// `nanos` rounded to the nearest nanosecond and clamped to the range; `NaN` is
    /// zero. For estimates that come out of floating-point filters.
    #[inline]
    pub fn from_nanos_f64(nanos: f64) -> Self {
        if nanos.is_nan() {
            return Self::ZERO;
        }
        // `as` saturates at the ends of i64 and rounds toward zero; add half first.
        let rounded = if nanos >= 0.0 {
            nanos + 0.5
        } else {
            nanos - 0.5
        };
        Self(rounded as i64)
    }

    /// A positive offset of `d`, saturating at [`Offset::MAX`].
    #[inline]
    pub fn from_duration(d: Duration) -> Self {
        Self(i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
    }

    /// Nanoseconds.
    #[inline]
    pub const fn as_nanos(self) -> i64 {
        self.0
    }

    /// Nanoseconds as `f64`, for filters and statistics.
    #[inline]
    pub fn as_f64(self) -> f64 {
        self.0 as f64
    }

    /// The magnitude.
    #[inline]
    pub const fn abs(self) -> Duration {
        Duration::from_nanos(self.0.unsigned_abs())
    }

    /// `self + other`, or `None` on overflow.
    #[inline]
    pub const fn checked_add(self, other: Self) -> Option<Self> {
        match self.0.checked_add(other.0) {
            Some(n) => Some(Self(n)),
            None => None,
        }
    }

    /// `self - other`, or `None` on overflow.
    #[inline]
    pub const fn checked_sub(self, other: Self) -> Option<Self> {
        match self.0.checked_sub(other.0) {
            Some(n) => Some(Self(n)),
            None => None,
        }
    }

    /// `self + other`, clamped to the range.
    #[inline]
    pub const fn saturating_add(self, other: Self) -> Self {
        Self(self.0.saturating_add(other.0))
    }

    /// `self - other`, clamped to the range.
    #[inline]
    pub const fn saturating_sub(self, other: Self) -> Self {
        Self(self.0.saturating_sub(other.0))
    }

    /// `-self`, clamped (`-MIN` is `MAX`).
    #[inline]
    pub const fn saturating_neg(self) -> Self {
        Self(self.0.saturating_neg())
    }
}

/// Seconds with nine decimals and a sign, e.g. `+0.000001250s` or `-2.000000000s`: the
/// same unit as a bound, so the two read side by side.
///
/// ```
/// use tempora_core::time::Offset;
/// assert_eq!(Offset::from_nanos(-1_250).to_string(), "-0.000001250s");
/// assert_eq!(Offset::from_nanos(2_000_000_000).to_string(), "+2.000000000s");
/// ```
impl fmt::Display for Offset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { '-' } else { '+' };
        let n = self.0.unsigned_abs();
        write!(f, "{sign}{}.{:09}s", n / NANOS_PER_SEC, n % NANOS_PER_SEC)
    }
}

impl From<TaiOffset> for Offset {
    /// TAI - UTC as a nanosecond offset.
    fn from(o: TaiOffset) -> Self {
        Self(i64::from(o.0) * NANOS_PER_SEC as i64)
    }
}

// Manual impls: derives would demand bounds on the marker that add nothing.
impl<S: Timescale> Clone for Instant<S> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<S: Timescale> Copy for Instant<S> {}
impl<S: Timescale> PartialEq for Instant<S> {
    fn eq(&self, other: &Self) -> bool {
        self.nanos == other.nanos
    }
}
impl<S: Timescale> Eq for Instant<S> {}
impl<S: Timescale> PartialOrd for Instant<S> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<S: Timescale> Ord for Instant<S> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.nanos.cmp(&other.nanos)
    }
}
impl<S: Timescale> Hash for Instant<S> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.nanos.hash(state)
    }
}
impl<S: Timescale> Default for Instant<S> {
    fn default() -> Self {
        Self::EPOCH
    }
}

impl<S: Timescale> fmt::Debug for Instant<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:09} {}", self.secs(), self.subsec_nanos(), S::NAME)
    }
}

/// Prints the civil date and time in the instant's own scale, e.g.
/// `2026-11-26T20:41:03.123456789 UTC`.
///
/// ```
/// use tempora_core::time::{Instant, Utc};
/// let t = Instant::<Utc>::from_secs_nanos(1_700_000_000, 5).unwrap();
/// assert_eq!(t.to_string(), "2023-11-14T22:13:20.000000005 UTC");
/// ```
impl<S: Timescale> fmt::Display for Instant<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_civil(f, self.nanos)?;
        write!(f, " {}", S::NAME)
    }
}

/// `YYYY-MM-DDTHH:MM:SS.NNNNNNNNN`, without the scale.
fn write_civil(f: &mut fmt::Formatter<'_>, nanos: u64) -> fmt::Result {
    let secs = nanos / NANOS_PER_SEC;
    let (y, m, d) = civil_from_days(secs / 86_400);
    let sod = secs % 86_400;
    write!(
        f,
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:09}",
        y,
        m,
        d,
        sod / 3600,
        (sod / 60) % 60,
        sod % 60,
        nanos % NANOS_PER_SEC,
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian (year, month, day).
/// The well-known era-based algorithm (Hinnant, "chrono-Compatible Low-Level Date
/// Algorithms"), on unsigned arithmetic since instants never precede 1970.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

#[cfg(feature = "defmt")]
impl<S: Timescale> defmt::Format for Instant<S> {
    fn format(&self, f: defmt::Formatter) {
        defmt::write!(
            f,
            "{}.{=u32:09} {=str}",
            self.secs(),
            self.subsec_nanos(),
            S::NAME
        )
    }
}

#[cfg(feature = "serde")]
impl<S: Timescale> serde::Serialize for Instant<S> {
    fn serialize<Z: serde::Serializer>(&self, s: Z) -> Result<Z::Ok, Z::Error> {
        s.serialize_u64(self.nanos)
    }
}

#[cfg(feature = "serde")]
impl<'de, S: Timescale> serde::Deserialize<'de> for Instant<S> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        u64::deserialize(d).map(Self::from_nanos)
    }
}

/// A TrueTime-style interval `[earliest, latest]` that contains the true time.
///
/// Built from a [`ClockReading`](crate::clock::ClockReading): the reading's time minus and
/// plus its error bound. Both ends are inclusive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TimeInterval<S: Timescale> {
    /// The true time is at or after this.
    pub earliest: Instant<S>,
    /// The true time is at or before this.
    pub latest: Instant<S>,
}

impl<S: Timescale> TimeInterval<S> {
    /// The interval `[t - bound, t + bound]`, clamped to the representable range.
    pub fn around(t: Instant<S>, bound: Duration) -> Self {
        Self {
            earliest: t.saturating_sub(bound),
            latest: t.saturating_add(bound),
        }
    }

    /// `latest - earliest`.
    pub fn width(&self) -> Duration {
        self.latest.abs_diff(self.earliest)
    }

    /// Whether `t` may be the true time.
    pub fn contains(&self, t: Instant<S>) -> bool {
        self.earliest <= t && t <= self.latest
    }

    /// Whether every instant of `self` is strictly before every instant of `other`:
    /// the test behind commit-wait (an event stamped `self` surely happened first).
    pub fn definitely_before(&self, other: &Self) -> bool {
        self.latest < other.earliest
    }
}

/// Prints `[earliest, latest] SCALE` in civil form, the scale once at the end, e.g.
/// `[2023-11-14T22:13:19.999999950, 2023-11-14T22:13:20.000000050] UTC`.
///
/// ```
/// use core::time::Duration;
/// use tempora_core::time::{Instant, TimeInterval, Utc};
///
/// let t = Instant::<Utc>::from_secs_nanos(1_700_000_000, 0).unwrap();
/// let i = TimeInterval::around(t, Duration::from_nanos(50));
/// assert_eq!(
///     i.to_string(),
///     "[2023-11-14T22:13:19.999999950, 2023-11-14T22:13:20.000000050] UTC"
/// );
/// ```
impl<S: Timescale> fmt::Display for TimeInterval<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[")?;
        write_civil(f, self.earliest.as_nanos())?;
        f.write_str(", ")?;
        write_civil(f, self.latest.as_nanos())?;
        write!(f, "] {}", S::NAME)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(59), (1970, 3, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(20_418), (2025, 11, 26));
    }

    #[test]
    fn scale_conversion_round_trips() {
        let u = Instant::<Utc>::from_secs_nanos(1_000, 1).unwrap();
        let t = u.to_tai(TaiOffset(37)).unwrap();
        assert_eq!(t.secs(), 1_037);
        assert_eq!(t.to_utc(TaiOffset(37)), Some(u));
        assert_eq!(Instant::<Utc>::EPOCH.to_tai(TaiOffset(-1)), None);
    }

    #[test]
    fn arithmetic_saturates_and_checks() {
        let t = Instant::<Tai>::from_nanos(10);
        assert_eq!(t.checked_sub(Duration::from_nanos(11)), None);
        assert_eq!(t.saturating_sub(Duration::from_secs(1)), Instant::EPOCH);
        assert_eq!(
            Instant::<Tai>::MAX.checked_add(Duration::from_nanos(1)),
            None
        );
        assert_eq!(Instant::<Tai>::from_secs_nanos(1, 1_000_000_000), None);
        assert_eq!(Instant::<Tai>::from_secs_nanos(u64::MAX, 0), None);
    }

    #[test]
    fn offsets() {
        let a = Instant::<Tai>::from_nanos(10);
        assert_eq!(
            a.offset_from(Instant::from_nanos(25)),
            Some(Offset::from_nanos(-15))
        );
        assert_eq!(Instant::<Tai>::MAX.offset_from(Instant::EPOCH), None);
        assert_eq!(a.checked_add_offset(Offset::from_nanos(-11)), None);
        assert_eq!(
            a.checked_add_offset(Offset::from_nanos(-10)),
            Some(Instant::EPOCH)
        );
        assert_eq!(a.saturating_add_offset(Offset::MIN), Instant::EPOCH);
        assert_eq!(Offset::from_nanos_f64(f64::NAN), Offset::ZERO);
        assert_eq!(Offset::from_nanos_f64(-1.6), Offset::from_nanos(-2));
        assert_eq!(Offset::from_nanos_f64(1e30), Offset::MAX);
        assert_eq!(Offset::from(TaiOffset(37)).as_nanos(), 37_000_000_000);
        assert_eq!(Offset::MIN.saturating_neg(), Offset::MAX);
        assert_eq!(Offset::MIN.abs(), Duration::from_nanos(1 << 63));
    }

    #[test]
    fn interval_logic() {
        let a = TimeInterval::around(Instant::<Utc>::from_nanos(100), Duration::from_nanos(10));
        let b = TimeInterval::around(Instant::<Utc>::from_nanos(125), Duration::from_nanos(10));
        assert_eq!(a.width(), Duration::from_nanos(20));
        assert!(a.contains(Instant::from_nanos(90)) && !a.contains(Instant::from_nanos(111)));
        assert!(a.definitely_before(&b));
        assert!(!b.definitely_before(&a));
        let c = TimeInterval::around(Instant::<Utc>::from_nanos(115), Duration::from_nanos(10));
        assert!(!a.definitely_before(&c));
    }
}
