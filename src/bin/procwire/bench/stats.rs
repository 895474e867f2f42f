//! Medians, spreads and percentiles over repeats.

use serde::Serialize;

/// A summary of repeated measurements of one figure.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Summary {
    pub median: f64,
    pub min: f64,
    pub max: f64,
    /// (max - min) / median: how far the repeats disagree.
    pub spread: f64,
    pub samples: Vec<f64>,
}

impl Summary {
    /// Summarises `samples`; `None` when there are none.
    pub fn of(samples: &[f64]) -> Option<Summary> {
        if samples.is_empty() {
            return None;
        }
        let median = percentile(samples, 50.0);
        let min = samples.iter().copied().fold(f64::INFINITY, f64::min);
        let max = samples.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let spread = if median > 0.0 {
            (max - min) / median
        } else {
            0.0
        };
        Some(Summary {
            median,
            min,
            max,
            spread,
            samples: samples.to_vec(),
        })
    }
}

/// The `p`th percentile (0..=100) by linear interpolation between closest ranks.
pub fn percentile(samples: &[f64], p: f64) -> f64 {
    let mut v = samples.to_vec();
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        return f64::NAN;
    }
    let rank = (p / 100.0) * (v.len() - 1) as f64;
    let lo = rank.floor() as usize;
    let hi = rank.ceil() as usize;
    v[lo] + (v[hi] - v[lo]) * (rank - lo as f64)
}

/// The interquartile range (25th and 75th percentiles) of `ratios`, and whether it leaves
/// 1.0 out. When the middle half of the samples straddles 1.0, a median of 0.97 or 1.16 is not
/// a finding: as many samples lean the other way as not. The rule is distribution-free and
/// conservative (a small but steady difference under large noise is called unclear).
pub fn ratio_noise(ratios: &[f64]) -> ((f64, f64), bool) {
    let iqr = (percentile(ratios, 25.0), percentile(ratios, 75.0));
    (iqr, iqr.0 > 1.0 || iqr.1 < 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(percentile(&[3.0, 1.0, 2.0], 50.0), 2.0);
        assert_eq!(percentile(&[4.0, 1.0, 2.0, 3.0], 50.0), 2.5);
    }

    #[test]
    fn p99_and_extremes() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert!((percentile(&v, 99.0) - 99.01).abs() < 1e-9);
        assert_eq!(percentile(&v, 0.0), 1.0);
        assert_eq!(percentile(&v, 100.0), 100.0);
    }

    #[test]
    fn ratios_whose_middle_half_straddles_one_are_not_clear() {
        let ((lo, hi), clear) = ratio_noise(&[0.9, 0.95, 1.02, 1.05, 1.3]);
        assert_eq!((lo, hi), (0.95, 1.05));
        assert!(!clear);
        assert!(ratio_noise(&[0.9, 0.92, 0.93, 0.95, 1.01]).1);
        assert!(ratio_noise(&[1.01, 1.02, 1.03]).1);
    }

    #[test]
    fn summary_spread() {
        let s = Summary::of(&[9.0, 10.0, 11.0]).unwrap();
        assert_eq!((s.median, s.min, s.max), (10.0, 9.0, 11.0));
        assert!((s.spread - 0.2).abs() < 1e-12);
        assert!(Summary::of(&[]).is_none());
    }
}
