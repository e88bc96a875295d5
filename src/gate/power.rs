//! The gate's power: from the spread of per-repetition values, the smallest regression
//! the gate would call with a stated probability.
//!
//! Noise model: the per-repetition values of one system, op and percentile are
//! log-normal around their run's level, with the same spread on both sides (`sd` of
//! the natural logarithms, pooled over the baseline's and the current's repetitions,
//! each side about its own mean so that a regression does not count as noise). A
//! regression of δ multiplies the current's level by 1 + δ.
//!
//! The gate calls a regression when the one-sided Mann-Whitney U test rejects at
//! `alpha` *and* the median change exceeds the threshold. The probability of that is
//! simulated (fixed seed, common random numbers, so it rises with δ and a bisection is
//! exact on its own draws); the minimum detectable regression is the δ at which it
//! reaches [`DETECTION_POWER`]. With few repetitions the exact test may be unable to
//! reject at `alpha` at all (3 against 3 cannot go below p = 0.05): then no regression
//! of any size is detectable, and the gate says so instead of passing silently.

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand_distr::{Distribution, StandardNormal};
use serde::Serialize;

use super::stats;

/// The probability of detection at which a regression counts as detectable: the
/// usual 80% of power analyses (Cohen, 1988).
pub const DETECTION_POWER: f64 = 0.8;

/// Simulated gate decisions per candidate δ: the power is then known to about ±1%.
const TRIALS: usize = 2000;

/// The largest regression searched for: ×20 the baseline.
const LARGEST_RATIO: f64 = 20.0;

/// What the gate can see at one system, op and percentile.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Detectable {
    /// Regressions of this many percent or more are called with [`DETECTION_POWER`].
    Percent(f64),
    /// The test cannot reject at `alpha` with these repetitions, whatever the change.
    Never,
    /// No spread to estimate from (fewer than two repetitions on both sides).
    Unknown,
    /// The percentile is not gated (too few samples beyond it).
    NotGated,
}

impl Detectable {
    /// How it reads in a table cell: `≥ 23%`, `never`, `–`.
    pub fn cell(&self) -> String {
        match self {
            Detectable::Percent(p) => format!("≥ {p:.0}%"),
            Detectable::Never => "never".into(),
            Detectable::Unknown => "–".into(),
            Detectable::NotGated => "not gated".into(),
        }
    }

    /// The percentage, when there is one.
    pub fn percent(&self) -> Option<f64> {
        match self {
            Detectable::Percent(p) => Some(*p),
            _ => None,
        }
    }
}

/// The gate's sample sizes and significance level (the threshold varies by line).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Design {
    /// Repetitions in the baseline.
    pub baseline_repetitions: usize,
    /// Repetitions in the current run.
    pub current_repetitions: usize,
    /// Significance level of the Mann-Whitney U test.
    pub alpha: f64,
}

/// The spread of per-repetition values as the standard deviation of their natural
/// logarithms, pooled over the samples given, each about its own mean. `None` without
/// a degree of freedom or with a value that is not positive.
pub fn pooled_log_sd(samples: &[&[f64]]) -> Option<f64> {
    let mut squares = 0.0;
    let mut freedom = 0usize;
    for sample in samples {
        if sample.iter().any(|v| !(v.is_finite() && *v > 0.0)) {
            return None;
        }
        if sample.len() < 2 {
            continue;
        }
        let logs: Vec<f64> = sample.iter().map(|v| v.ln()).collect();
        let mean = logs.iter().sum::<f64>() / logs.len() as f64;
        squares += logs.iter().map(|l| (l - mean).powi(2)).sum::<f64>();
        freedom += logs.len() - 1;
    }
    (freedom > 0).then(|| (squares / freedom as f64).sqrt())
}

/// A log-scale spread as the percentage a typical repetition strays from the level.
pub fn noise_percent(log_sd: f64) -> f64 {
    (log_sd.exp() - 1.0) * 100.0
}

/// Draws shared by every candidate δ and every line of one gate: standard normal
/// deviates, one row per simulated gate decision.
pub struct Simulation {
    baseline: Vec<Vec<f64>>,
    current: Vec<Vec<f64>>,
    critical_u: Option<f64>,
    design: Design,
}

impl Simulation {
    /// Draws for `design`'s sample sizes (seeded: the same inputs give the same answer).
    pub fn new(design: Design) -> Self {
        let mut rng = StdRng::seed_from_u64(0x6761_7465);
        let mut rows = |n: usize| -> Vec<Vec<f64>> {
            (0..TRIALS)
                .map(|_| (0..n).map(|_| StandardNormal.sample(&mut rng)).collect())
                .collect()
        };
        let baseline = rows(design.baseline_repetitions);
        let current = rows(design.current_repetitions);
        Self {
            baseline,
            current,
            critical_u: stats::critical_u(
                design.baseline_repetitions,
                design.current_repetitions,
                design.alpha,
            ),
            design,
        }
    }

    /// The share of simulated gates that call a regression of `ratio` (current level /
    /// baseline level) with spread `log_sd` and threshold `threshold_pct`.
    pub fn power(&self, log_sd: f64, ratio: f64, threshold_pct: f64) -> f64 {
        let Some(critical) = self.critical_u else {
            return 0.0;
        };
        let shift = ratio.ln();
        let needed = (1.0 + threshold_pct / 100.0).ln();
        let mut called = 0usize;
        let mut current = vec![0.0; self.design.current_repetitions];
        let mut baseline = vec![0.0; self.design.baseline_repetitions];
        for (b_row, c_row) in self.baseline.iter().zip(&self.current) {
            for (slot, z) in baseline.iter_mut().zip(b_row) {
                *slot = z * log_sd;
            }
            for (slot, z) in current.iter_mut().zip(c_row) {
                *slot = shift + z * log_sd;
            }
            let median_change = sorted_median(&mut current) - sorted_median(&mut baseline);
            if median_change > needed && stats::u_statistic(&baseline, &current) >= critical {
                called += 1;
            }
        }
        called as f64 / TRIALS as f64
    }

    /// The smallest regression, percent, called with [`DETECTION_POWER`] under
    /// spread `log_sd` and threshold `threshold_pct` (0 for the test alone).
    pub fn minimum_detectable(&self, log_sd: f64, threshold_pct: f64) -> Detectable {
        if self.critical_u.is_none() || !log_sd.is_finite() {
            return Detectable::Never;
        }
        if self.power(log_sd, LARGEST_RATIO, threshold_pct) < DETECTION_POWER {
            return Detectable::Never;
        }
        // Bisection on the log-ratio; the power rises with it on common draws. 24
        // halvings of ln 20 leave under a millionth of a percent.
        let (mut low, mut high) = (0.0_f64, LARGEST_RATIO.ln());
        for _ in 0..24 {
            let middle = (low + high) / 2.0;
            if self.power(log_sd, middle.exp(), threshold_pct) >= DETECTION_POWER {
                high = middle;
            } else {
                low = middle;
            }
        }
        Detectable::Percent((high.exp() - 1.0) * 100.0)
    }
}

/// The median of `values`, sorting them in place (the hot loop reuses its buffers).
fn sorted_median(values: &mut [f64]) -> f64 {
    values.sort_unstable_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(n: usize, alpha: f64) -> Design {
        Design {
            baseline_repetitions: n,
            current_repetitions: n,
            alpha,
        }
    }

    #[test]
    fn the_pooled_spread_is_the_log_standard_deviation() {
        // ln values 0, ln 2 about their mean: sd = ln 2 / sqrt 2.
        let sd = pooled_log_sd(&[&[1.0, 2.0]]).unwrap();
        assert!((sd - 2f64.ln() / 2f64.sqrt()).abs() < 1e-12);
        // Each side about its own mean: a level shift between them adds nothing.
        let a = [10.0, 11.0, 12.0];
        let b: Vec<f64> = a.iter().map(|v| v * 3.0).collect();
        let one = pooled_log_sd(&[&a]).unwrap();
        let both = pooled_log_sd(&[&a, &b]).unwrap();
        assert!((one - both).abs() < 1e-12);
        assert_eq!(pooled_log_sd(&[&[5.0], &[6.0]]), None);
        assert_eq!(pooled_log_sd(&[&[5.0, 0.0]]), None);
    }

    #[test]
    fn without_noise_the_threshold_is_what_is_detectable() {
        let s = Simulation::new(rule(5, 0.01));
        let Detectable::Percent(p) = s.minimum_detectable(0.0, 10.0) else {
            panic!("detectable")
        };
        assert!((p - 10.0).abs() < 0.01, "{p}");
    }

    #[test]
    fn an_alpha_below_the_smallest_exact_p_detects_nothing() {
        // 3 against 3: the smallest one-sided p is 1/20 = 0.05.
        let s = Simulation::new(rule(3, 0.01));
        assert_eq!(s.minimum_detectable(0.05, 5.0), Detectable::Never);
        let s = Simulation::new(rule(3, 0.06));
        assert!(matches!(
            s.minimum_detectable(0.05, 5.0),
            Detectable::Percent(_)
        ));
    }

    #[test]
    fn large_samples_agree_with_the_normal_approximation() {
        // With 30 a side and no threshold, the Mann-Whitney test has an asymptotic
        // relative efficiency of 3/π against the t test on normal data, so the
        // detectable shift in sd units is (z(1-α) + z(power)) · sqrt(2/n) / sqrt(3/π).
        let n = 30;
        let s = Simulation::new(rule(n, 0.01));
        let sd = 0.1;
        let expected_shift =
            (2.326_348 + 0.841_621) * (2.0 / n as f64).sqrt() / (3.0 / std::f64::consts::PI).sqrt();
        let Detectable::Percent(p) = s.minimum_detectable(sd, 0.0) else {
            panic!("detectable")
        };
        let shift = (1.0 + p / 100.0).ln() / sd;
        assert!(
            (shift - expected_shift).abs() / expected_shift < 0.08,
            "{shift} vs {expected_shift}"
        );
    }

    /// Independent of the simulation's own draws: fresh log-normal repetitions, the
    /// gate's rule applied as `compare` applies it (Mann-Whitney p-value, median change).
    fn detection_rate(
        sd: f64,
        ratio: f64,
        (n, gates): (usize, usize),
        alpha: f64,
        threshold_pct: f64,
    ) -> f64 {
        let mut rng = StdRng::seed_from_u64(99);
        let noise = rand_distr::LogNormal::new(0.0, sd).unwrap();
        let called = (0..gates)
            .filter(|_| {
                let base: Vec<f64> = (0..n).map(|_| 1000.0 * noise.sample(&mut rng)).collect();
                let cur: Vec<f64> = (0..n)
                    .map(|_| 1000.0 * ratio * noise.sample(&mut rng))
                    .collect();
                let change = (stats::median(&cur) / stats::median(&base) - 1.0) * 100.0;
                change > threshold_pct && stats::mann_whitney_greater(&base, &cur) < alpha
            })
            .count();
        called as f64 / gates as f64
    }

    #[test]
    fn a_regression_of_the_detectable_size_is_caught_four_times_in_five() {
        // Synthetic noise: 15% log-normal spread, 5 repetitions a side, alpha 0.01, 10%.
        let (sd, n, alpha, threshold) = (0.15, 5, 0.01, 10.0);
        let mut rng = StdRng::seed_from_u64(5);
        let noise = rand_distr::LogNormal::new(0.0, sd).unwrap();
        // The spread is recovered from repetitions (40 of them here).
        let reps: Vec<f64> = (0..40).map(|_| 200.0 * noise.sample(&mut rng)).collect();
        let estimated = pooled_log_sd(&[&reps[..20], &reps[20..]]).unwrap();
        assert!((estimated - sd).abs() < 0.04, "{estimated}");
        let s = Simulation::new(rule(n, alpha));
        let Detectable::Percent(p) = s.minimum_detectable(sd, threshold) else {
            panic!("detectable")
        };
        // 5 against 5 at 0.01 needs U >= 24 of 25: about 2.6 spreads apart.
        assert!(p > 30.0 && p < 80.0, "{p}");
        let at = detection_rate(sd, 1.0 + p / 100.0, (n, 1000), alpha, threshold);
        assert!((at - DETECTION_POWER).abs() < 0.05, "{p}%: caught {at}");
        let half = detection_rate(sd, 1.0 + p / 200.0, (n, 1000), alpha, threshold);
        assert!(half < 0.4, "{p}/2: caught {half}");
        // An A/A pair calls almost nothing: at most alpha (5 against 5 rejects at
        // 0.01 with probability 2/252 = 0.0079 before the threshold; 20,000 gates put
        // the sampling error at ±0.0006, so the bound is not at the mercy of the draw).
        let false_alarms = detection_rate(sd, 1.0, (n, 20_000), alpha, threshold);
        assert!(false_alarms <= alpha, "{false_alarms}");
    }

    #[test]
    fn the_detectable_regression_grows_with_noise_and_shrinks_with_repetitions() {
        let five = Simulation::new(rule(5, 0.01));
        let ten = Simulation::new(rule(10, 0.01));
        let at = |s: &Simulation, sd| s.minimum_detectable(sd, 0.0).percent().unwrap();
        assert!(at(&five, 0.2) > at(&five, 0.1));
        assert!(at(&ten, 0.1) < at(&five, 0.1));
    }
}
