//! The CI regression gate: compares a current results file with a baseline, per
//! system, op and percentile of corrected latency. With repetitions on both sides it
//! decides with a one-sided Mann-Whitney U test on the per-repetition values, and
//! calls a regression only when the change is also larger than the threshold (so
//! neither noise nor a tiny but consistent shift fails a build). Without repetitions
//! it falls back to the threshold alone and says so.

pub mod changepoint;
mod comment;
pub mod history;
pub mod interleave;
mod output;
pub mod power;
mod propose;
pub mod rates;
pub mod stats;

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

pub use comment::pull_request_comment;
pub use output::{junit, markdown};
pub use power::Detectable;
use power::{Design, Simulation};
pub use propose::{Proposal, ProposedLine, markdown as proposal_markdown, propose};

use crate::results::{OpResults, Percentiles, Results, SystemResults};
use crate::scenario::{GATE_PERCENTILES, GateConfig};

/// Bad gate input: exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {field}: {message}")]
pub struct GateError {
    /// Which file (or `--option`).
    pub file: String,
    /// Which field.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

/// How a comparison was decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    /// Mann-Whitney U on per-repetition values, plus the threshold.
    MannWhitney,
    /// Threshold on the aggregate value (no repetitions).
    Threshold,
}

/// The outcome of one comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Within noise or threshold.
    Pass,
    /// Slower beyond the threshold (and significant, with repetitions).
    Regression,
    /// Faster beyond the threshold: reported, never a failure.
    Improvement,
    /// Too few samples beyond this percentile to estimate it: reported, not gated.
    TooFewSamples,
}

/// Samples that must lie beyond a percentile in every repetition for it to be gated:
/// with fewer, "p99" is just the largest value or two, and one hiccup decides it.
pub const MIN_TAIL_SAMPLES: f64 = 5.0;

fn tail_fraction(pct: &str) -> f64 {
    match pct {
        "p50" => 0.5,
        "p90" => 0.1,
        "p95" => 0.05,
        "p99" => 0.01,
        "p999" => 0.001,
        "max" => 0.0,
        _ => 1.0, // mean
    }
}

/// One system/op/percentile comparison.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    /// System.
    pub system: String,
    /// Op.
    pub op: String,
    /// Percentile name.
    pub percentile: String,
    /// Baseline value, µs (median over repetitions).
    pub baseline_us: f64,
    /// Current value, µs (median over repetitions).
    pub current_us: f64,
    /// Relative change, percent.
    pub change_pct: f64,
    /// Threshold applied, percent.
    pub threshold_pct: f64,
    /// How far a fresh run's level strays, percent (the scenario's `[gate]
    /// run_to_run`); `None` where not measured.
    pub run_to_run_pct: Option<f64>,
    /// The change a regression must exceed, percent: the threshold, or what two runs
    /// of one build differ by with probability alpha, whichever is larger.
    pub required_pct: f64,
    /// One-sided p-value (Mann-Whitney only).
    pub p_value: Option<f64>,
    /// How it was decided.
    pub method: Method,
    /// Result.
    pub verdict: Verdict,
    /// How far a repetition's value strays from its run's level, percent (log-scale
    /// standard deviation pooled over both sides' repetitions).
    pub noise_pct: Option<f64>,
    /// The smallest regression this line would call with 80% probability, given the
    /// noise, the repetitions, alpha and the threshold: a pass rules out no less.
    pub detectable: Detectable,
    /// The test alone cannot see a change as small as the threshold: the threshold
    /// promises more than these repetitions deliver.
    pub threshold_below_detectable: bool,
}

/// The gate's answer.
#[derive(Debug, Clone, Serialize)]
pub struct GateReport {
    /// Baseline file.
    pub baseline: String,
    /// Current file.
    pub current: String,
    /// Settings used.
    pub config: GateConfig,
    /// Repetitions found (baseline, current).
    pub repetitions: (usize, usize),
    /// How decisions were made, in words.
    pub method_note: String,
    /// Every comparison.
    pub comparisons: Vec<Comparison>,
    /// Why the gate fails regardless of the comparisons (an incomplete run).
    pub blocked: Option<String>,
    /// Per system of the current run, its failed ops against the scenario's `[slo]`
    /// (empty when the scenario sets none).
    pub error_budget: Vec<ErrorBudget>,
}

/// One system's failed ops against the scenario's error budget.
#[derive(Debug, Clone, Serialize)]
pub struct ErrorBudget {
    /// System.
    pub system: String,
    /// Failed ops in the measured phases.
    pub errors: u64,
    /// Ops in the measured phases.
    pub ops: u64,
    /// `errors / ops`.
    pub error_rate: f64,
    /// The scenario's `[slo] max_error_rate`.
    pub max_error_rate: f64,
}

impl ErrorBudget {
    /// Whether the system stayed within the budget.
    pub fn within(&self) -> bool {
        self.error_rate <= self.max_error_rate
    }
}

/// The current run's systems against its scenario's `[slo]`.
fn error_budget(c: &Results) -> Vec<ErrorBudget> {
    let Some(slo) = c.scenario.slo else {
        return Vec::new();
    };
    c.systems
        .iter()
        .map(|(system, r)| ErrorBudget {
            system: system.clone(),
            errors: r.ops.values().map(|o| o.errors).sum(),
            ops: r.ops.values().map(|o| o.count).sum(),
            error_rate: r.error_rate(),
            max_error_rate: slo.max_error_rate,
        })
        .collect()
}

impl GateReport {
    /// Whether CI may go on.
    pub fn passed(&self) -> bool {
        self.blocked.is_none()
            && self.error_budget.iter().all(ErrorBudget::within)
            && self
                .comparisons
                .iter()
                .all(|c| c.verdict != Verdict::Regression)
    }

    /// Comparisons that failed.
    pub fn regressions(&self) -> impl Iterator<Item = &Comparison> {
        self.comparisons
            .iter()
            .filter(|c| c.verdict == Verdict::Regression)
    }
}

/// CLI overrides of the scenario's `[gate]` section.
#[derive(Debug, Clone, Default)]
pub struct GateOverrides {
    /// Percentiles.
    pub percentiles: Option<Vec<String>>,
    /// Threshold, percent (applies to every op).
    pub threshold_pct: Option<f64>,
    /// Significance level.
    pub alpha: Option<f64>,
    /// Between-run spreads per percentile, percent (replacing the scenario's).
    pub run_to_run: Option<BTreeMap<String, f64>>,
}

fn percentile_value(p: &Percentiles, name: &str) -> f64 {
    match name {
        "p50" => p.p50 as f64,
        "p90" => p.p90 as f64,
        "p95" => p.p95 as f64,
        "p99" => p.p99 as f64,
        "p999" => p.p999 as f64,
        "max" => p.max as f64,
        _ => p.mean,
    }
}

/// One percentile of one op, per repetition.
fn series(r: &SystemResults, op: &str, pct: &str) -> Vec<f64> {
    r.repetitions
        .iter()
        .filter_map(|rep| rep.get(op))
        .map(|x| percentile_value(&x.latency_us, pct))
        .collect()
}

/// Reads both files and compares them.
pub fn compare_files(
    baseline: &Path,
    current: &Path,
    overrides: &GateOverrides,
) -> anyhow::Result<GateReport> {
    let b = Results::read(baseline)?;
    let c = Results::read(current)?;
    Ok(compare(
        &b,
        &baseline.display().to_string(),
        &c,
        &current.display().to_string(),
        overrides,
    )?)
}

/// Compares two results.
pub fn compare(
    b: &Results,
    bname: &str,
    c: &Results,
    cname: &str,
    o: &GateOverrides,
) -> Result<GateReport, GateError> {
    if b.scenario.name != c.scenario.name || b.scenario.seed != c.scenario.seed {
        return Err(gate_error(
            cname,
            "scenario".into(),
            format!(
                "scenario `{}` (seed {}) cannot be compared with the baseline's `{}` (seed {}) in {bname}",
                c.scenario.name, c.scenario.seed, b.scenario.name, b.scenario.seed
            ),
        ));
    }
    let mut config = settings(c, cname, o)?;
    let interleaved = b.interleaved.is_some() && c.interleaved.is_some();
    if interleaved {
        // Each repetition is a fresh run beside one of the other side's: the spread
        // between runs is inside the repetitions, not beyond them.
        config.run_to_run.clear();
    }
    let reps = (fewest_repetitions(b), fewest_repetitions(c));
    let statistical = reps.0 >= 2 && reps.1 >= 2;
    let mut comparisons = Vec::new();
    let mut simulations = Simulations::new(config.alpha);
    for (sys, bs) in &b.systems {
        let cs = c.systems.get(sys).ok_or_else(|| {
            gate_error(
                cname,
                format!("systems.{sys}"),
                "missing: the baseline has this system".into(),
            )
        })?;
        for (op, bo) in &bs.ops {
            let co = cs.ops.get(op).ok_or_else(|| {
                gate_error(
                    cname,
                    format!("systems.{sys}.ops.{op}"),
                    "missing: the baseline has this op".into(),
                )
            })?;
            let pair = OpPair {
                system: sys,
                op,
                baseline: (bs, bo),
                current: (cs, co),
                statistical,
            };
            for pct in &config.percentiles {
                let mut comparison = compare_op(&pair, pct, &config);
                simulations.power_of(&mut comparison, &pair);
                comparisons.push(comparison);
            }
        }
    }
    let method_note = if statistical && interleaved {
        format!(
            "{} vs {} fresh runs interleaved ({}): regression = one-sided Mann-Whitney U p < {} and median change above the threshold; every repetition is a run of its own, alternating with the other side's, so a slow spell of the host falls on both sides and the spread between runs is inside the test (no run-to-run allowance); a percentile with fewer than {MIN_TAIL_SAMPLES} samples beyond it per run is not gated; *detectable* = the smallest regression called with {:.0}% probability, simulated from the spread of these runs",
            reps.0,
            reps.1,
            c.interleaved.as_ref().map_or("", |i| i.order.as_str()),
            config.alpha,
            power::DETECTION_POWER * 100.0,
        )
    } else if statistical {
        format!(
            "{} vs {} repetitions: regression = one-sided Mann-Whitney U p < {} and median change above the threshold{}; a percentile with fewer than {MIN_TAIL_SAMPLES} samples beyond it per repetition is not gated; *detectable* = the smallest regression called with {:.0}% probability, simulated from the spread of these repetitions (log-normal, same spread both sides){}",
            reps.0,
            reps.1,
            config.alpha,
            if config.run_to_run.is_empty() {
                ""
            } else {
                " and above what two fresh runs of one build differ by with probability alpha (`[gate] run_to_run`)"
            },
            power::DETECTION_POWER * 100.0,
            if config.run_to_run.is_empty() {
                "; no run-to-run spread is configured, so level shifts between runs are not allowed for (`archbench gate propose` measures them)"
            } else {
                " and the run-to-run spread"
            }
        )
    } else {
        "no repetitions on both sides (run with --repeat N): falling back to a percentage threshold on the aggregate values".into()
    };
    let method_note = format!("{method_note}{}", steal_warning(b, c));
    let blocked = (!c.complete).then(|| {
        format!(
            "{cname} is marked incomplete ({}); an incomplete run never passes",
            c.notes.join("; ")
        )
    });
    Ok(GateReport {
        baseline: bname.into(),
        current: cname.into(),
        config,
        repetitions: reps,
        method_note,
        comparisons,
        blocked,
        error_budget: error_budget(c),
    })
}

/// Said when the hypervisor took a noticeable share of the CPU in either run: the
/// repetitions then underestimate how much runs at different times differ.
fn steal_warning(baseline: &Results, current: &Results) -> String {
    let (b, c) = (
        baseline.environment.cpu_steal_share,
        current.environment.cpu_steal_share,
    );
    if ![b, c].iter().flatten().any(|s| *s > 0.02) {
        return String::new();
    }
    let show = |s: Option<f64>| s.map_or("not recorded".into(), |s| format!("{:.1}%", s * 100.0));
    format!(
        "; ⚠ CPU steal (the hypervisor's share of this machine's CPU): baseline {}, current {} — on such a host runs at different times differ by more than their repetitions show, so a regression may be the host's (measured: `scripts/gate-power`)",
        show(b),
        show(c)
    )
}

fn gate_error(file: &str, field: String, message: String) -> GateError {
    GateError {
        file: file.into(),
        field,
        message,
    }
}

/// The current file's `[gate]` with the command line's overrides, checked.
fn settings(c: &Results, cname: &str, o: &GateOverrides) -> Result<GateConfig, GateError> {
    let err = gate_error;
    let mut config = c.scenario.gate.clone();
    if let Some(p) = &o.percentiles {
        config.percentiles = p.clone();
    }
    if let Some(t) = o.threshold_pct {
        if !(t.is_finite() && t > 0.0) {
            return Err(err(
                "--threshold",
                "threshold".into(),
                format!("must be > 0 percent, got {t}"),
            ));
        }
        config.threshold_pct = t;
        config.thresholds.clear();
    }
    if let Some(a) = o.alpha {
        if !(a > 0.0 && a < 0.5) {
            return Err(err(
                "--alpha",
                "alpha".into(),
                format!("must be in (0, 0.5), got {a}"),
            ));
        }
        config.alpha = a;
    }
    if let Some(spreads) = &o.run_to_run {
        config.run_to_run = spreads.clone();
    }
    if let Some(bad) = config
        .percentiles
        .iter()
        .find(|p| !GATE_PERCENTILES.contains(&p.as_str()))
    {
        return Err(err(
            cname,
            "scenario.gate.percentiles".into(),
            format!(
                "percentile `{bad}` is not recorded; recorded: {}",
                GATE_PERCENTILES.join(", ")
            ),
        ));
    }
    Ok(config)
}

/// The fewest repetitions any system of `r` has.
fn fewest_repetitions(r: &Results) -> usize {
    r.systems
        .values()
        .map(|s| s.repetitions.len())
        .min()
        .unwrap_or(0)
}

/// One op of one system on both sides.
struct OpPair<'a> {
    system: &'a str,
    op: &'a str,
    baseline: (&'a SystemResults, &'a OpResults),
    current: (&'a SystemResults, &'a OpResults),
    statistical: bool,
}

/// Compares one percentile of one op.
fn compare_op(pair: &OpPair, pct: &String, config: &GateConfig) -> Comparison {
    let (op, statistical) = (pair.op, pair.statistical);
    let ((bs, bo), (cs, co)) = (pair.baseline, pair.current);
    let threshold = config
        .thresholds
        .get(&format!("{op}.{pct}"))
        .or_else(|| config.thresholds.get(op))
        .copied()
        .unwrap_or(config.threshold_pct);
    let run_to_run_pct = config.run_to_run.get(pct).copied();
    let required = run_to_run_pct.map_or(threshold, |spread| {
        threshold.max(power::run_to_run_tolerance(
            power::log_spread(spread),
            config.alpha,
        ))
    });
    let (bv, cv) = (series(bs, op, pct), series(cs, op, pct));
    // The smallest sample count behind any value compared.
    let counts = |r: &SystemResults, whole: u64| -> u64 {
        if statistical {
            r.repetitions
                .iter()
                .filter_map(|rep| rep.get(op))
                .map(|x| x.count)
                .min()
                .unwrap_or(0)
        } else {
            whole
        }
    };
    let fewest = counts(bs, bo.count).min(counts(cs, co.count));
    let estimable = fewest as f64 * tail_fraction(pct) >= MIN_TAIL_SAMPLES;
    let (base, cur, p_value, method) = if statistical && bv.len() >= 2 && cv.len() >= 2 {
        (
            stats::median(&bv),
            stats::median(&cv),
            Some(stats::mann_whitney_greater(&bv, &cv)),
            Method::MannWhitney,
        )
    } else {
        (
            percentile_value(&bo.latency_us, pct),
            percentile_value(&co.latency_us, pct),
            None,
            Method::Threshold,
        )
    };
    let change_pct = if base > 0.0 {
        (cur / base - 1.0) * 100.0
    } else {
        0.0
    };
    let verdict = if !estimable {
        Verdict::TooFewSamples
    } else if change_pct > required && p_value.is_none_or(|p| p < config.alpha) {
        Verdict::Regression
    } else if change_pct < -threshold {
        Verdict::Improvement
    } else {
        Verdict::Pass
    };
    Comparison {
        system: pair.system.to_string(),
        op: op.to_string(),
        percentile: pct.clone(),
        baseline_us: base,
        current_us: cur,
        change_pct,
        threshold_pct: threshold,
        run_to_run_pct,
        required_pct: required,
        p_value,
        method,
        verdict,
        noise_pct: None,
        detectable: if verdict == Verdict::TooFewSamples {
            Detectable::NotGated
        } else {
            Detectable::Unknown
        },
        threshold_below_detectable: false,
    }
}

/// Power simulations of one gate, one per pair of sample sizes.
struct Simulations {
    alpha: f64,
    by_size: BTreeMap<(usize, usize), Simulation>,
}

impl Simulations {
    fn new(alpha: f64) -> Self {
        Self {
            alpha,
            by_size: BTreeMap::new(),
        }
    }

    /// Fills in the noise and the detectable regression of a gated statistical line.
    fn power_of(&mut self, c: &mut Comparison, pair: &OpPair) {
        if c.method != Method::MannWhitney || c.verdict == Verdict::TooFewSamples {
            return;
        }
        let (b, cur) = (
            series(pair.baseline.0, pair.op, &c.percentile),
            series(pair.current.0, pair.op, &c.percentile),
        );
        let Some(sd) = power::pooled_log_sd(&[&b, &cur]) else {
            return;
        };
        let alpha = self.alpha;
        let simulation = self.by_size.entry((b.len(), cur.len())).or_insert_with(|| {
            Simulation::new(Design {
                baseline_repetitions: b.len(),
                current_repetitions: cur.len(),
                alpha,
            })
        });
        let spread = power::Spread {
            within: sd,
            between: c.run_to_run_pct.map_or(0.0, power::log_spread),
        };
        let tolerance = power::run_to_run_tolerance(spread.between, self.alpha);
        c.noise_pct = Some(power::noise_percent(sd));
        c.detectable = simulation.minimum_detectable(spread, c.required_pct);
        // What the test and the run-to-run tolerance resolve without the threshold.
        c.threshold_below_detectable = match simulation.minimum_detectable(spread, tolerance) {
            Detectable::Percent(test_alone) => c.threshold_pct < test_alone,
            _ => true,
        };
    }
}
