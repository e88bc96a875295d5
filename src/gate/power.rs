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
//!
//! Runs differ from each other by more than their repetitions do: each run starts its
//! own stores, seeds anew and lands on a machine whose neighbours vary, so its level
//! shifts as a whole. Repetitions of one run share that shift and cannot see it; the
//! Mann-Whitney test on them alone called 13% of A/A lines regressions at alpha 0.01.
//! The model therefore has a second component: each run's level is log-normal about
//! the long-run level with spread `between` (measured across fresh A/A runs, the
//! scenario's `[gate] run_to_run`). The gate then also requires the change to exceed
//! what two runs of one build differ by with probability `alpha`, and the simulation
//! draws that shift too, so the detectable regression includes it.

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

/// The two components of the noise of one line, as standard deviations of natural
/// logarithms.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spread {
    /// Of one repetition about its run's level.
    pub within: f64,
    /// Of one run's level about the long-run level (0 when not measured).
    pub between: f64,
}

/// The change, percent, that two fresh runs of one build exceed with probability
/// `alpha` when their levels spread by `between` each (their difference spreads by
/// √2 × `between`). 0 without a between-run spread.
pub fn run_to_run_tolerance(between: f64, alpha: f64) -> f64 {
    let z = stats::normal_quantile(1.0 - alpha);
    ((z * std::f64::consts::SQRT_2 * between.max(0.0)).exp() - 1.0) * 100.0
}

/// A log-scale spread given as a percentage (as `[gate] run_to_run` is written).
pub fn log_spread(percent: f64) -> f64 {
    (1.0 + percent / 100.0).ln()
}

/// Accumulates the between-run spread of several lines (ops) measured in the same
/// fresh runs, pooled: for each line, the variance of the runs' mean log values less
/// the share of it the repetitions' own spread explains (σ²_within / repetitions).
#[derive(Debug, Default, Clone)]
pub struct BetweenRuns {
    excess: f64,
    freedom: usize,
}

impl BetweenRuns {
    /// Adds one line: per run, its per-repetition values. Runs with fewer than two
    /// repetitions, or values that are not positive, leave the line out.
    pub fn add(&mut self, runs: &[Vec<f64>]) {
        if runs.len() < 2
            || runs
                .iter()
                .any(|r| r.len() < 2 || r.iter().any(|v| !(v.is_finite() && *v > 0.0)))
        {
            return;
        }
        let means: Vec<f64> = runs
            .iter()
            .map(|r| r.iter().map(|v| v.ln()).sum::<f64>() / r.len() as f64)
            .collect();
        let grand = means.iter().sum::<f64>() / means.len() as f64;
        let freedom = means.len() - 1;
        let level_variance =
            means.iter().map(|m| (m - grand).powi(2)).sum::<f64>() / freedom as f64;
        let samples: Vec<&[f64]> = runs.iter().map(Vec::as_slice).collect();
        let within = pooled_log_sd(&samples).unwrap_or(0.0);
        let repetitions = runs.iter().map(Vec::len).sum::<usize>() as f64 / runs.len() as f64;
        self.excess += (level_variance - within * within / repetitions) * freedom as f64;
        self.freedom += freedom;
    }

    /// The pooled between-run spread (log sd, at least 0); `None` without a line.
    pub fn spread(&self) -> Option<f64> {
        (self.freedom > 0).then(|| (self.excess / self.freedom as f64).max(0.0).sqrt())
    }
}

/// Draws shared by every candidate δ and every line of one gate: standard normal
/// deviates, one row per simulated gate decision, and one more per decision for the
/// difference between the two runs' levels.
pub struct Simulation {
    baseline: Vec<Vec<f64>>,
    current: Vec<Vec<f64>>,
    levels: Vec<f64>,
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
        let levels = (0..TRIALS)
            .map(|_| StandardNormal.sample(&mut rng))
            .collect();
        Self {
            baseline,
            current,
            levels,
            critical_u: stats::critical_u(
                design.baseline_repetitions,
                design.current_repetitions,
                design.alpha,
            ),
            design,
        }
    }

    /// The share of simulated gates that call a regression of `ratio` (current level /
    /// baseline level) under `spread` when the change must exceed `required_pct`.
    pub fn power(&self, spread: Spread, ratio: f64, required_pct: f64) -> f64 {
        let Some(critical) = self.critical_u else {
            return 0.0;
        };
        let needed = (1.0 + required_pct / 100.0).ln();
        let level_spread = std::f64::consts::SQRT_2 * spread.between;
        let mut called = 0usize;
        let mut current = vec![0.0; self.design.current_repetitions];
        let mut baseline = vec![0.0; self.design.baseline_repetitions];
        for ((b_row, c_row), level) in self.baseline.iter().zip(&self.current).zip(&self.levels) {
            let shift = ratio.ln() + level * level_spread;
            for (slot, z) in baseline.iter_mut().zip(b_row) {
                *slot = z * spread.within;
            }
            for (slot, z) in current.iter_mut().zip(c_row) {
                *slot = shift + z * spread.within;
            }
            let median_change = sorted_median(&mut current) - sorted_median(&mut baseline);
            if median_change > needed && stats::u_statistic(&baseline, &current) >= critical {
                called += 1;
            }
        }
        called as f64 / TRIALS as f64
    }

    /// The smallest regression, percent, called with [`DETECTION_POWER`] under
    /// `spread` when the change must exceed `required_pct` (0 for the test alone).
    pub fn minimum_detectable(&self, spread: Spread, required_pct: f64) -> Detectable {
        if self.critical_u.is_none() || !(spread.within.is_finite() && spread.between.is_finite()) {
            return Detectable::Never;
        }
        if self.power(spread, LARGEST_RATIO, required_pct) < DETECTION_POWER {
            return Detectable::Never;
        }
        // Bisection on the log-ratio; the power rises with it on common draws. 24
        // halvings of ln 20 leave under a millionth of a percent.
        let (mut low, mut high) = (0.0_f64, LARGEST_RATIO.ln());
        for _ in 0..24 {
            let middle = (low + high) / 2.0;
            if self.power(spread, middle.exp(), required_pct) >= DETECTION_POWER {
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

    fn within(sd: f64) -> Spread {
        Spread {
            within: sd,
            between: 0.0,
        }
    }

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
        let Detectable::Percent(p) = s.minimum_detectable(within(0.0), 10.0) else {
            panic!("detectable")
        };
        assert!((p - 10.0).abs() < 0.01, "{p}");
    }

    #[test]
    fn an_alpha_below_the_smallest_exact_p_detects_nothing() {
        // 3 against 3: the smallest one-sided p is 1/20 = 0.05.
        let s = Simulation::new(rule(3, 0.01));
        assert_eq!(s.minimum_detectable(within(0.05), 5.0), Detectable::Never);
        let s = Simulation::new(rule(3, 0.06));
        assert!(matches!(
            s.minimum_detectable(within(0.05), 5.0),
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
        let Detectable::Percent(p) = s.minimum_detectable(within(sd), 0.0) else {
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
        let Detectable::Percent(p) = s.minimum_detectable(within(sd), threshold) else {
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
        let at = |s: &Simulation, sd| s.minimum_detectable(within(sd), 0.0).percent().unwrap();
        assert!(at(&five, 0.2) > at(&five, 0.1));
        assert!(at(&ten, 0.1) < at(&five, 0.1));
    }

    /// Fresh runs of a two-level model: each run's level log-normal with `between`,
    /// its `n` repetitions log-normal about it with `within`.
    fn run(rng: &mut StdRng, spread: Spread, n: usize, ratio: f64) -> Vec<f64> {
        let level: f64 = StandardNormal.sample(rng);
        let level = ratio * (level * spread.between).exp();
        (0..n)
            .map(|_| {
                let z: f64 = StandardNormal.sample(rng);
                1000.0 * level * (z * spread.within).exp()
            })
            .collect()
    }

    #[test]
    fn the_between_run_spread_is_recovered_from_fresh_runs() {
        let spread = Spread {
            within: 0.05,
            between: 0.08,
        };
        let mut rng = StdRng::seed_from_u64(11);
        let mut pooled = BetweenRuns::default();
        // 7 ops x 5 runs x 5 repetitions, as the gate's calibration has.
        for _ in 0..7 {
            let runs: Vec<Vec<f64>> = (0..5).map(|_| run(&mut rng, spread, 5, 1.0)).collect();
            pooled.add(&runs);
        }
        let estimated = pooled.spread().unwrap();
        assert!((estimated - 0.08).abs() < 0.025, "{estimated}");
        // Without level shifts the repetitions explain the runs' spread: about 0.
        let mut none = BetweenRuns::default();
        for _ in 0..7 {
            let runs: Vec<Vec<f64>> = (0..5)
                .map(|_| run(&mut rng, within(0.05), 5, 1.0))
                .collect();
            none.add(&runs);
        }
        assert!(none.spread().unwrap() < 0.02, "{:?}", none.spread());
        assert_eq!(BetweenRuns::default().spread(), None);
    }

    #[test]
    fn with_level_shifts_the_tolerance_holds_false_alarms_to_alpha() {
        let (n, alpha, threshold) = (5, 0.01, 5.0);
        let spread = Spread {
            within: 0.03,
            between: 0.06,
        };
        let tolerance = run_to_run_tolerance(spread.between, alpha);
        // z(0.99) · √2 · 0.06 = 0.1974 on the log scale: 21.8%.
        assert!((tolerance - 21.82).abs() < 0.05, "{tolerance}");
        let required = tolerance.max(threshold);
        let mut rng = StdRng::seed_from_u64(21);
        let mut gate = |ratio: f64, required: f64, trials: usize| -> f64 {
            let called = (0..trials)
                .filter(|_| {
                    let base = run(&mut rng, spread, n, 1.0);
                    let cur = run(&mut rng, spread, n, ratio);
                    let change = (stats::median(&cur) / stats::median(&base) - 1.0) * 100.0;
                    change > required && stats::mann_whitney_greater(&base, &cur) < alpha
                })
                .count();
            called as f64 / trials as f64
        };
        // Repetitions alone call the level shifts regressions, far above alpha.
        assert!(gate(1.0, threshold, 4000) > 0.1);
        // With the tolerance, at most alpha (±0.003 of sampling error at 4,000).
        assert!(gate(1.0, required, 4000) <= alpha + 0.003);
        // The detectable regression, simulated with both components, is caught four
        // times in five by fresh runs.
        let s = Simulation::new(rule(n, alpha));
        let Detectable::Percent(p) = s.minimum_detectable(spread, required) else {
            panic!("detectable")
        };
        assert!(p > tolerance, "{p}");
        let caught = gate(1.0 + p / 100.0, required, 4000);
        assert!(
            (caught - DETECTION_POWER).abs() < 0.04,
            "{p}%: caught {caught}"
        );
    }
}
