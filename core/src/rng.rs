//! A tiny seedable random number generator (splitmix64) for simulations, tests and
//! benchmarks: the same seed gives the same run on every target, so a failing seed
//! replays exactly. Not for anything that needs unpredictability.

/// splitmix64 (Steele, Lea, Flood 2014): 64 bits of state, passes BigCrush.
///
/// ```
/// use tempora_core::rng::SplitMix64;
/// let (mut a, mut b) = (SplitMix64::new(7), SplitMix64::new(7));
/// assert_eq!(a.next_u64(), b.next_u64());
/// assert!((-5..=5).contains(&a.jitter(5)));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator from `seed`.
    pub const fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64().checked_rem(n).unwrap_or(0)
    }

    /// True with a probability of `percent` %.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// Uniform in `[-a, a]`.
    pub fn jitter(&mut self, a: u64) -> i64 {
        let a = a.min(i64::MAX as u64 / 2);
        (self.below(2 * a + 1) as i64) - a as i64
    }
}
