//! The few statistics the PTP tests report and assert on.

/// Root mean square of `values`; `None` when there are none.
///
/// ```
/// use tempora_ptp_sim::stats;
///
/// assert_eq!(stats::rms([3.0, -3.0, 3.0, -3.0]), Some(3.0));
/// assert_eq!(stats::rms([]), None);
/// ```
pub fn rms(values: impl IntoIterator<Item = f64>) -> Option<f64> {
    let (n, sum) = values
        .into_iter()
        .fold((0u64, 0.0), |(n, sum), v| (n + 1, sum + v * v));
    (n > 0).then(|| (sum / n as f64).sqrt())
}

/// The largest magnitude among `values`; `None` when there are none (NaN counts as
/// the largest, so that it cannot hide).
///
/// ```
/// use tempora_ptp_sim::stats;
///
/// assert_eq!(stats::max_abs([1.0, -7.5, 2.0]), Some(7.5));
/// ```
pub fn max_abs(values: impl IntoIterator<Item = f64>) -> Option<f64> {
    values
        .into_iter()
        .map(f64::abs)
        .max_by(|a, b| a.total_cmp(b))
}

/// The `pct`-th percentile of `values` by nearest rank (the smallest value with at
/// least `pct` % of them at or below it); `None` when there are none. `pct` is clamped
/// to 0..=100; 0 gives the smallest value.
///
/// ```
/// use tempora_ptp_sim::stats;
///
/// let v = [15.0, 20.0, 35.0, 40.0, 50.0];
/// assert_eq!(stats::percentile(v, 30.0), Some(20.0));
/// assert_eq!(stats::percentile(v, 100.0), Some(50.0));
/// ```
pub fn percentile(values: impl IntoIterator<Item = f64>, pct: f64) -> Option<f64> {
    let mut v: Vec<f64> = values.into_iter().collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let rank = (pct.clamp(0.0, 100.0) / 100.0 * v.len() as f64).ceil() as usize;
    Some(v[rank.saturating_sub(1)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rms_of_a_constant_is_its_magnitude() {
        assert_eq!(rms(std::iter::repeat_n(-4.0, 9)), Some(4.0));
        let r = rms([1.0, 2.0, 3.0]).unwrap();
        assert!((r - (14.0f64 / 3.0).sqrt()).abs() < 1e-12);
    }

    #[test]
    fn max_abs_sees_negatives_and_nan() {
        assert_eq!(max_abs([-2.0, 1.0]), Some(2.0));
        assert!(max_abs([1.0, f64::NAN]).unwrap().is_nan());
        assert_eq!(max_abs(std::iter::empty()), None);
    }

    #[test]
    fn percentiles_by_nearest_rank() {
        let v: Vec<f64> = (1..=100).rev().map(f64::from).collect();
        assert_eq!(percentile(v.iter().copied(), 50.0), Some(50.0));
        assert_eq!(percentile(v.iter().copied(), 99.0), Some(99.0));
        assert_eq!(percentile(v.iter().copied(), 99.5), Some(100.0));
        assert_eq!(percentile(v.iter().copied(), 0.0), Some(1.0));
        assert_eq!(percentile(v.iter().copied(), 250.0), Some(100.0));
        assert_eq!(percentile([7.0], 50.0), Some(7.0));
        assert_eq!(percentile([], 50.0), None);
    }
}
