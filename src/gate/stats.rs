//! The Mann-Whitney U test, one-sided: are the current values larger than the
//! baseline's? Exact for small samples (the usual 3 to 10 repetitions), normal
//! approximation with continuity correction beyond.

/// p-value of H1 "current tends to be larger than baseline".
pub fn mann_whitney_greater(baseline: &[f64], current: &[f64]) -> f64 {
    let (m, n) = (current.len(), baseline.len());
    if m == 0 || n == 0 {
        return 1.0;
    }
    upper_tail(m, n, u_statistic(baseline, current))
}

/// U: the pairs where the current value is the larger, ties counting a half.
pub fn u_statistic(baseline: &[f64], current: &[f64]) -> f64 {
    current
        .iter()
        .map(|c| {
            baseline
                .iter()
                .map(|b| {
                    if c > b {
                        1.0
                    } else if c == b {
                        0.5
                    } else {
                        0.0
                    }
                })
                .sum::<f64>()
        })
        .sum()
}

/// P(U >= u) under H0 for `m` current and `n` baseline values: exact for small
/// samples, the normal approximation with continuity correction beyond.
fn upper_tail(m: usize, n: usize, u: f64) -> f64 {
    if m * n <= 400 {
        exact_upper_tail(m, n, u)
    } else {
        let mean = (m * n) as f64 / 2.0;
        let sd = ((m * n * (m + n + 1)) as f64 / 12.0).sqrt();
        let z = (u - 0.5 - mean) / sd;
        1.0 - normal_cdf(z)
    }
}

/// The smallest whole U at which the test rejects at `alpha` (p < alpha) with `n`
/// baseline and `m` current values; `None` when no U can (too few values).
pub fn critical_u(n: usize, m: usize, alpha: f64) -> Option<f64> {
    if m == 0 || n == 0 {
        return None;
    }
    if m * n <= 400 {
        // One distribution, summed from the top: the first tail that reaches alpha
        // marks the last U that does not reject.
        let counts = exact_distribution(m, n);
        let total: f64 = counts.iter().sum();
        let mut tail = 0.0;
        let mut critical = None;
        for (u, count) in counts.iter().enumerate().rev() {
            tail += count;
            if tail / total >= alpha {
                break;
            }
            critical = Some(u as f64);
        }
        critical
    } else {
        (0..=m * n)
            .map(|u| u as f64)
            .find(|&u| upper_tail(m, n, u) < alpha)
    }
}

/// P(U >= u) under H0 for sample sizes m and n (no ties), by counting arrangements.
fn exact_upper_tail(m: usize, n: usize, u: f64) -> f64 {
    let dist = exact_distribution(m, n);
    let total: f64 = dist.iter().sum();
    let threshold = u.ceil() as usize;
    dist.iter().skip(threshold).sum::<f64>() / total
}

/// The number of arrangements of m current and n baseline values giving each U.
fn exact_distribution(m: usize, n: usize) -> Vec<f64> {
    let max_u = m * n;
    // counts[i][j][k]: arrangements of i current and j baseline values with U = k.
    let mut prev: Vec<Vec<f64>> = vec![vec![0.0; max_u + 1]; n + 1];
    for row in prev.iter_mut() {
        row[0] = 1.0;
    }
    for i in 1..=m {
        let mut cur: Vec<Vec<f64>> = vec![vec![0.0; max_u + 1]; n + 1];
        cur[0][0] = 1.0;
        for j in 1..=n {
            for k in 0..=i * j {
                // The largest value is a current one (it beats all j baseline values)
                // or a baseline one (it adds nothing).
                let from_current = if k >= j { prev[j][k - j] } else { 0.0 };
                cur[j][k] = from_current + cur[j - 1][k];
            }
        }
        prev = cur;
    }
    prev.swap_remove(n)
}

/// The standard normal quantile: the z with Φ(z) = p, by bisection on [`normal_cdf`]
/// (its error, 1.5e-7 in p, is far below what a significance level needs).
pub fn normal_quantile(p: f64) -> f64 {
    let p = p.clamp(1e-12, 1.0 - 1e-12);
    let (mut low, mut high) = (-10.0_f64, 10.0_f64);
    for _ in 0..80 {
        let middle = (low + high) / 2.0;
        if normal_cdf(middle) < p {
            low = middle;
        } else {
            high = middle;
        }
    }
    (low + high) / 2.0
}

fn normal_cdf(z: f64) -> f64 {
    0.5 * (1.0 + erf(z / std::f64::consts::SQRT_2))
}

/// Abramowitz-Stegun 7.1.26 (|error| < 1.5e-7), enough for a p-value.
fn erf(x: f64) -> f64 {
    let t = 1.0 / (1.0 + 0.327_591_1 * x.abs());
    let y = 1.0
        - (((((1.061_405_429 * t - 1.453_152_027) * t) + 1.421_413_741) * t - 0.284_496_736) * t
            + 0.254_829_592)
            * t
            * (-x * x).exp();
    if x >= 0.0 { y } else { -y }
}

/// Median of a sample (mean of the middle two for an even count).
pub fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    if n == 0 {
        return 0.0;
    }
    if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_p_values_match_the_tables() {
        // 3 vs 3, every current value above every baseline value: 1 of C(6,3) = 20.
        assert!((mann_whitney_greater(&[1.0, 2.0, 3.0], &[4.0, 5.0, 6.0]) - 0.05).abs() < 1e-12);
        // 5 vs 5, complete separation: 1 / 252.
        let p = mann_whitney_greater(&[1.0, 2.0, 3.0, 4.0, 5.0], &[6.0, 7.0, 8.0, 9.0, 10.0]);
        assert!((p - 1.0 / 252.0).abs() < 1e-12, "{p}");
        // The other direction is not significant at all.
        assert!((mann_whitney_greater(&[4.0, 5.0, 6.0], &[1.0, 2.0, 3.0]) - 1.0).abs() < 1e-12);
        // Interleaved samples: p near one half.
        let p = mann_whitney_greater(&[1.0, 3.0, 5.0, 7.0], &[2.0, 4.0, 6.0, 8.0]);
        assert!(p > 0.2 && p < 0.6, "{p}");
    }

    #[test]
    fn normal_approximation_agrees_for_large_samples() {
        let b: Vec<f64> = (0..30).map(|i| i as f64).collect();
        let c: Vec<f64> = (0..30).map(|i| i as f64 + 10.0).collect();
        let p = mann_whitney_greater(&b, &c);
        assert!(p < 0.001, "{p}");
        let same = mann_whitney_greater(&b, &b);
        assert!((same - 0.5).abs() < 0.1, "{same}");
    }

    #[test]
    fn critical_values_match_the_exact_tails() {
        // 5 vs 5: P(U >= 25) = 1/252, P(U >= 24) = 2/252, P(U >= 23) = 4/252.
        assert_eq!(critical_u(5, 5, 0.01), Some(24.0));
        assert_eq!(critical_u(5, 5, 0.005), Some(25.0));
        assert_eq!(critical_u(5, 5, 0.001), None);
        // 3 vs 3 cannot go below 1/20.
        assert_eq!(critical_u(3, 3, 0.05), None);
        assert_eq!(critical_u(3, 3, 0.051), Some(9.0));
        // Large samples: the normal approximation's critical value rejects, one less does not.
        let u = critical_u(30, 30, 0.01).unwrap();
        assert!(upper_tail(30, 30, u) < 0.01 && upper_tail(30, 30, u - 1.0) >= 0.01);
    }

    #[test]
    fn normal_quantiles_match_the_tables() {
        assert!(normal_quantile(0.5).abs() < 1e-6);
        assert!((normal_quantile(0.99) - 2.326_348).abs() < 1e-4);
        assert!((normal_quantile(0.95) - 1.644_854).abs() < 1e-4);
        assert!((normal_quantile(0.01) + 2.326_348).abs() < 1e-4);
    }

    #[test]
    fn medians() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
    }
}
