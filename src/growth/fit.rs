//! A power law fitted by least squares on log–log axes, `y = a · x^b`: the exponent
//! says how a metric grows with dataset size (0 flat, 1 linear), and its confidence
//! interval says whether the sweep's few sizes can tell growth from noise at all.

use serde::Serialize;

/// Two-sided 95% quantiles of Student's t for 1 to 30 degrees of freedom.
const T_975: [f64; 30] = [
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
    2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
    2.052, 2.048, 2.045, 2.042,
];

/// A point further than this from the fitted curve (as a fraction of it) means the
/// metric does not follow a power law over these sizes.
pub const POOR_FIT: f64 = 0.25;

fn t_975(degrees_of_freedom: usize) -> f64 {
    T_975
        .get(degrees_of_freedom.saturating_sub(1))
        .copied()
        .unwrap_or(1.96)
}

/// What a fit says about growth.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Trend {
    /// The exponent's 95% interval lies above zero.
    Grows,
    /// The exponent's 95% interval lies below zero.
    Shrinks,
    /// The interval holds zero: no growth the sizes can tell from noise.
    Flat,
    /// Two sizes: a line through both, with no residual to judge it by.
    Undetermined,
}

impl Trend {
    /// As a report says it.
    pub fn label(self) -> &'static str {
        match self {
            Trend::Grows => "grows",
            Trend::Shrinks => "shrinks",
            Trend::Flat => "flat within noise",
            Trend::Undetermined => "two sizes: undetermined",
        }
    }
}

/// `y = coefficient · x^exponent`, fitted to measured points.
#[derive(Debug, Clone, Serialize)]
pub struct PowerFit {
    /// `a`.
    pub coefficient: f64,
    /// `b`.
    pub exponent: f64,
    /// Half-width of the exponent's 95% interval; absent with two points.
    pub exponent_margin: Option<f64>,
    /// Per measured point: (x, measured ÷ fitted − 1).
    pub residuals: Vec<(f64, f64)>,
    /// The measured range of x.
    pub x_range: (f64, f64),
}

impl PowerFit {
    /// Fits `points` (x, y); `None` unless there are two distinct x and every value
    /// is positive and finite (a power law cannot pass through zero).
    pub fn fit(points: &[(f64, f64)]) -> Option<PowerFit> {
        let usable = points
            .iter()
            .all(|(x, y)| x.is_finite() && y.is_finite() && *x > 0.0 && *y > 0.0);
        if !usable || points.len() < 2 {
            return None;
        }
        let logs: Vec<(f64, f64)> = points.iter().map(|(x, y)| (x.ln(), y.ln())).collect();
        let n = logs.len() as f64;
        let mean_x = logs.iter().map(|(x, _)| x).sum::<f64>() / n;
        let mean_y = logs.iter().map(|(_, y)| y).sum::<f64>() / n;
        let sxx: f64 = logs.iter().map(|(x, _)| (x - mean_x).powi(2)).sum();
        if sxx <= f64::EPSILON {
            return None;
        }
        let sxy: f64 = logs.iter().map(|(x, y)| (x - mean_x) * (y - mean_y)).sum();
        let exponent = sxy / sxx;
        let intercept = mean_y - exponent * mean_x;
        let fitted = |lx: f64| intercept + exponent * lx;
        let ssr: f64 = logs.iter().map(|(x, y)| (y - fitted(*x)).powi(2)).sum();
        let dof = logs.len() - 2;
        // Repeats of one size are not more sizes: a line through two sizes has no
        // residual to judge it by, however many points sit on them.
        let mut sizes: Vec<f64> = points.iter().map(|(x, _)| *x).collect();
        sizes.sort_by(f64::total_cmp);
        sizes.dedup();
        let exponent_margin =
            (sizes.len() > 2).then(|| t_975(dof) * (ssr / dof as f64 / sxx).sqrt());
        let xs = points.iter().map(|(x, _)| *x);
        Some(PowerFit {
            coefficient: intercept.exp(),
            exponent,
            exponent_margin,
            residuals: logs
                .iter()
                .zip(points)
                .map(|((lx, ly), (x, _))| (*x, (ly - fitted(*lx)).exp() - 1.0))
                .collect(),
            x_range: (
                xs.clone().fold(f64::MAX, f64::min),
                xs.fold(f64::MIN, f64::max),
            ),
        })
    }

    /// The curve at `x`.
    pub fn at(&self, x: f64) -> f64 {
        self.coefficient * x.powf(self.exponent)
    }

    /// Growth, shrinkage or neither, at 95%.
    pub fn trend(&self) -> Trend {
        match self.exponent_margin {
            None => Trend::Undetermined,
            Some(m) if self.exponent - m > 0.0 => Trend::Grows,
            Some(m) if self.exponent + m < 0.0 => Trend::Shrinks,
            Some(_) => Trend::Flat,
        }
    }

    /// The largest residual by magnitude, as a fraction.
    pub fn worst_residual(&self) -> f64 {
        self.residuals
            .iter()
            .map(|(_, r)| r.abs())
            .fold(0.0, f64::max)
    }

    /// Whether the power law follows the points: no point further than
    /// [`POOR_FIT`] from the curve. A knee (a plan that changes at some size) shows
    /// as one point far off a curve drawn through the rest.
    pub fn follows(&self) -> bool {
        self.worst_residual() <= POOR_FIT
    }

    /// The point furthest from the curve: (x, measured ÷ fitted − 1).
    pub fn worst_point(&self) -> Option<(f64, f64)> {
        self.residuals
            .iter()
            .copied()
            .max_by(|a, b| a.1.abs().total_cmp(&b.1.abs()))
    }

    /// The exponent with its interval: "0.52 ± 0.08", or "0.52 (2 sizes)"; three
    /// decimals below 0.1, where two would print a real but small slope as zero.
    pub fn exponent_text(&self) -> String {
        let digits = if self.exponent.abs() < 0.1 { 3 } else { 2 };
        match self.exponent_margin {
            Some(m) => format!("{:.digits$} ± {:.digits$}", self.exponent, m),
            None => format!("{:.digits$} (2 sizes)", self.exponent),
        }
    }

    /// How far beyond the largest measured size `x` lies (1 or less: inside).
    pub fn extrapolation(&self, x: f64) -> f64 {
        x / self.x_range.1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_exact_power_law_is_recovered_with_no_residual() {
        let points: Vec<(f64, f64)> = [1e3_f64, 4e3, 1.6e4, 6.4e4]
            .iter()
            .map(|x| (*x, 0.5 * x.powf(0.5)))
            .collect();
        let f = PowerFit::fit(&points).unwrap();
        assert!((f.exponent - 0.5).abs() < 1e-9, "{}", f.exponent);
        assert!((f.coefficient - 0.5).abs() < 1e-9);
        assert!(f.worst_residual() < 1e-9 && f.follows());
        assert_eq!(f.trend(), Trend::Grows);
        assert!((f.at(2.56e5) - 0.5 * 2.56e5_f64.sqrt()).abs() < 1e-6);
        assert!((f.extrapolation(6.4e5) - 10.0).abs() < 1e-9);
    }

    #[test]
    fn noise_around_a_constant_is_flat_and_its_residuals_are_the_noise() {
        let f = PowerFit::fit(&[(100.0, 1.0), (400.0, 1.1), (1600.0, 0.95)]).unwrap();
        assert_eq!(f.trend(), Trend::Flat, "{}", f.exponent_text());
        assert!(f.worst_residual() > 0.01 && f.worst_residual() < 0.1);
        assert_eq!(f.residuals.len(), 3);
    }

    #[test]
    fn two_sizes_fit_a_line_with_no_interval() {
        let f = PowerFit::fit(&[(10.0, 2.0), (100.0, 20.0)]).unwrap();
        assert!((f.exponent - 1.0).abs() < 1e-9);
        assert_eq!(f.trend(), Trend::Undetermined);
        let repeated = PowerFit::fit(&[(10.0, 2.0), (10.0, 2.0), (100.0, 20.0)]).unwrap();
        assert_eq!(repeated.trend(), Trend::Undetermined);
        assert!(f.exponent_text().contains("2 sizes"));
    }

    #[test]
    fn a_steady_fall_shrinks() {
        let f = PowerFit::fit(&[(1.0, 8.0), (2.0, 4.1), (4.0, 2.0), (8.0, 1.0)]).unwrap();
        assert_eq!(f.trend(), Trend::Shrinks);
    }

    #[test]
    fn zeros_one_size_and_non_finite_values_do_not_fit() {
        assert!(PowerFit::fit(&[(1.0, 0.0), (2.0, 1.0)]).is_none());
        assert!(PowerFit::fit(&[(5.0, 1.0), (5.0, 2.0)]).is_none());
        assert!(PowerFit::fit(&[(1.0, f64::NAN), (2.0, 1.0)]).is_none());
        assert!(PowerFit::fit(&[(1.0, 1.0)]).is_none());
    }

    #[test]
    fn a_knee_at_the_largest_size_is_a_poor_fit_named_by_its_point() {
        // Flat, then six times higher at the last size: no power law follows it.
        let f = PowerFit::fit(&[
            (2_500.0, 0.8),
            (5_000.0, 0.9),
            (10_000.0, 0.85),
            (20_000.0, 1.0),
            (40_000.0, 6.0),
        ])
        .unwrap();
        assert!(!f.follows(), "{:?}", f.residuals);
        assert_eq!(f.worst_point().unwrap().0, 40_000.0);
        assert_eq!(f.exponent_text().matches('.').count(), 2);
        let small = PowerFit::fit(&[(1.0, 1.0), (2.0, 1.0 + 1e-3), (4.0, 1.0 + 2e-3)]).unwrap();
        assert!(
            small.exponent_text().starts_with("0.00"),
            "{}",
            small.exponent_text()
        );
    }
}
