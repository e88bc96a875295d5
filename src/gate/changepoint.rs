//! Change points in a series, by E-Divisive with the energy statistic (α = 1), as in
//! Matteson & James, "A Nonparametric Approach for Multiple Change Point Analysis of
//! Multivariate Data", JASA 109(505), 2014 — the method MongoDB uses on its nightly
//! performance results (Daly et al., "Change Point Detection in Software Performance
//! Testing", ICPE 2020) and Apache Otava (formerly Hunter; Fleming et al., ICPE 2023)
//! builds on.
//!
//! Divisive: the split that most separates the two sides (largest Q̂) is tested with a
//! permutation test (the series shuffled, its best split's Q̂ recomputed, seeded);
//! a significant split divides its segment and the search goes on inside the parts,
//! one change point per round, until the best candidate left is not significant.
//! No maintained Rust crate implements it; this is written from the paper.

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use serde::Serialize;

/// Points each side of a split must have.
pub const MIN_SEGMENT: usize = 3;

/// Points a series needs: two segments, and enough arrangements for the permutation
/// test to reach p < 0.01 on a clean step (10 points split 5 and 5 in 252 ways; the
/// clean split and its mirror are 1 in 126; 8 points give only 1 in 35).
pub const MIN_POINTS: usize = 10;

/// Shuffles per permutation test: the smallest p it can give is 1/1000.
pub const PERMUTATIONS: usize = 999;

/// One change point.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ChangePoint {
    /// Index of the first point after the change.
    pub index: usize,
    /// Mean of the segment before, up to the previous change point.
    pub mean_before: f64,
    /// Mean of the segment after, up to the next change point.
    pub mean_after: f64,
    /// `mean_after / mean_before - 1`, percent.
    pub magnitude_pct: f64,
    /// Permutation-test p-value of the split when it was found.
    pub p_value: f64,
    /// `1 - p_value`.
    pub confidence: f64,
}

/// Change points of `series` significant at `alpha`, in index order. The series must
/// have [`MIN_POINTS`] points or more (callers check, with a message).
pub fn e_divisive(series: &[f64], alpha: f64) -> Vec<ChangePoint> {
    let mut rng = StdRng::seed_from_u64(0x6564_6976);
    let mut cuts: Vec<(usize, f64)> = Vec::new();
    loop {
        // The best split inside every current segment; the strongest one is tested.
        let mut bounds: Vec<usize> = cuts.iter().map(|c| c.0).collect();
        bounds.push(0);
        bounds.push(series.len());
        bounds.sort_unstable();
        let best = bounds
            .windows(2)
            .filter_map(|w| best_split(&series[w[0]..w[1]]).map(|(at, q)| (w[0], w[1], at, q)))
            .max_by(|a, b| a.3.total_cmp(&b.3));
        let Some((start, end, at, q)) = best else {
            break;
        };
        let p = permutation_p(&series[start..end], q, &mut rng);
        if p >= alpha {
            break;
        }
        cuts.push((start + at, p));
    }
    cuts.sort_by_key(|c| c.0);
    describe(series, &cuts)
}

/// Means either side of each cut, between its neighbours.
fn describe(series: &[f64], cuts: &[(usize, f64)]) -> Vec<ChangePoint> {
    let mean = |s: &[f64]| s.iter().sum::<f64>() / s.len() as f64;
    cuts.iter()
        .enumerate()
        .map(|(i, &(index, p_value))| {
            let start = if i == 0 { 0 } else { cuts[i - 1].0 };
            let end = cuts.get(i + 1).map_or(series.len(), |c| c.0);
            let (before, after) = (mean(&series[start..index]), mean(&series[index..end]));
            ChangePoint {
                index,
                mean_before: before,
                mean_after: after,
                magnitude_pct: if before != 0.0 {
                    (after / before - 1.0) * 100.0
                } else {
                    0.0
                },
                p_value,
                confidence: 1.0 - p_value,
            }
        })
        .collect()
}

/// The split of `segment` with the largest Q̂ (index of the first point after it).
fn best_split(segment: &[f64]) -> Option<(usize, f64)> {
    let n = segment.len();
    if n < 2 * MIN_SEGMENT {
        return None;
    }
    let distance = |i: usize, j: usize| (segment[i] - segment[j]).abs();
    // Sums of distances within the left part, within the right part and across, kept
    // as the split moves right one point at a time: O(n²) for the whole scan.
    let mut within_left = 0.0;
    let mut within_right: f64 = (0..n)
        .flat_map(|i| (i + 1..n).map(move |j| (i, j)))
        .map(|(i, j)| distance(i, j))
        .sum();
    let mut across = 0.0;
    let mut best: Option<(usize, f64)> = None;
    for tau in 1..n {
        // Point tau - 1 moves from the right part to the left.
        let moved = tau - 1;
        let to_left: f64 = (0..moved).map(|i| distance(i, moved)).sum();
        let to_right: f64 = (tau..n).map(|j| distance(moved, j)).sum();
        within_left += to_left;
        within_right -= to_right;
        across += to_right - to_left;
        let (m, k) = (tau as f64, (n - tau) as f64);
        if tau < MIN_SEGMENT || n - tau < MIN_SEGMENT {
            continue;
        }
        let pairs = |c: f64| c * (c - 1.0) / 2.0;
        let q = m * k / (m + k)
            * (2.0 * across / (m * k)
                - within_left / pairs(m).max(1.0)
                - within_right / pairs(k).max(1.0));
        if best.is_none_or(|b| q > b.1) {
            best = Some((tau, q));
        }
    }
    best
}

/// The share of shuffles of `segment` whose best split is at least as strong as `q`.
fn permutation_p(segment: &[f64], q: f64, rng: &mut StdRng) -> f64 {
    let mut shuffled = segment.to_vec();
    let mut as_strong = 0usize;
    for _ in 0..PERMUTATIONS {
        shuffled.shuffle(rng);
        if best_split(&shuffled).is_some_and(|(_, qs)| qs >= q) {
            as_strong += 1;
        }
    }
    (as_strong + 1) as f64 / (PERMUTATIONS + 1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_distr::{Distribution, Normal};

    fn noisy(levels: &[(usize, f64)], sd: f64, seed: u64) -> Vec<f64> {
        let mut rng = StdRng::seed_from_u64(seed);
        let noise = Normal::new(0.0, sd).unwrap();
        levels
            .iter()
            .flat_map(|&(n, level)| std::iter::repeat_n(level, n))
            .map(|level| level + noise.sample(&mut rng))
            .collect()
    }

    #[test]
    fn a_step_is_found_within_one_point() {
        for seed in 0..5 {
            let series = noisy(&[(15, 100.0), (15, 120.0)], 4.0, seed);
            let found = e_divisive(&series, 0.01);
            assert_eq!(found.len(), 1, "seed {seed}: {found:?}");
            let c = found[0];
            assert!(c.index.abs_diff(15) <= 1, "seed {seed}: {c:?}");
            assert!((c.magnitude_pct - 20.0).abs() < 6.0, "{c:?}");
            assert!(c.confidence >= 0.99, "{c:?}");
        }
    }

    #[test]
    fn no_step_no_change_point() {
        for seed in 0..5 {
            let series = noisy(&[(30, 100.0)], 4.0, 100 + seed);
            assert_eq!(e_divisive(&series, 0.01), vec![], "seed {seed}");
        }
    }

    #[test]
    fn two_steps_are_both_found() {
        let series = noisy(&[(12, 100.0), (12, 150.0), (12, 90.0)], 4.0, 7);
        let at: Vec<usize> = e_divisive(&series, 0.01).iter().map(|c| c.index).collect();
        assert_eq!(at.len(), 2, "{at:?}");
        assert!(at[0].abs_diff(12) <= 1 && at[1].abs_diff(24) <= 1, "{at:?}");
    }

    #[test]
    fn the_incremental_sums_match_the_definition() {
        let series = [3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0];
        let (at, q) = best_split(&series).unwrap();
        let direct = |tau: usize| {
            let (x, y) = series.split_at(tau);
            let (m, n) = (x.len() as f64, y.len() as f64);
            let across: f64 = x
                .iter()
                .flat_map(|a| y.iter().map(move |b| (a - b).abs()))
                .sum();
            let within = |s: &[f64]| {
                let mut t = 0.0;
                for i in 0..s.len() {
                    for j in i + 1..s.len() {
                        t += (s[i] - s[j]).abs();
                    }
                }
                t / (s.len() as f64 * (s.len() as f64 - 1.0) / 2.0)
            };
            m * n / (m + n) * (2.0 * across / (m * n) - within(x) - within(y))
        };
        let best = (MIN_SEGMENT..=series.len() - MIN_SEGMENT)
            .map(|t| (t, direct(t)))
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .unwrap();
        assert_eq!(at, best.0);
        assert!((q - best.1).abs() < 1e-9);
    }
}
