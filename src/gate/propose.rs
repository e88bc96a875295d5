//! Thresholds proposed from an A/A pair (two runs of the same build), with the noise
//! each line showed and the regression the gate could then detect.

use std::collections::BTreeMap;

use serde::Serialize;

use super::power::{self, Design, Detectable, Simulation};
use super::{series, stats};
use crate::escape::markdown as escape_md;
use crate::results::Results;

/// One system, op and percentile of the A/A pair.
#[derive(Debug, Clone, Serialize)]
pub struct ProposedLine {
    /// System.
    pub system: String,
    /// Op.
    pub op: String,
    /// Percentile.
    pub percentile: String,
    /// Repetition-to-repetition spread, percent (pooled over both runs).
    pub noise_pct: Option<f64>,
    /// Change between the two runs' medians, percent (run-to-run drift).
    pub aa_change_pct: f64,
    /// The threshold proposed for `op.percentile` (the largest over the systems).
    pub threshold_pct: f64,
    /// What the gate could detect here with that threshold.
    pub detectable: Detectable,
    /// The test alone cannot resolve the threshold at these repetitions.
    pub threshold_below_detectable: bool,
}

/// Per percentile, the between-run spread of fresh runs of one build, percent: per
/// system pooled over its ops (each op's runs' level variance less what its
/// repetitions explain), the largest over the systems. Percentiles no system can
/// estimate (fewer than two runs, or runs without repetitions) are left out.
pub fn run_to_run(runs: &[&Results], percentiles: &[String]) -> BTreeMap<String, f64> {
    let mut spreads = BTreeMap::new();
    let Some(first) = runs.first() else {
        return spreads;
    };
    for pct in percentiles {
        for (system, first_system) in &first.systems {
            let mut pooled = power::BetweenRuns::default();
            for op in first_system.ops.keys() {
                let line: Option<Vec<Vec<f64>>> = runs
                    .iter()
                    .map(|r| r.systems.get(system).map(|s| series(s, op, pct)))
                    .collect();
                if let Some(line) = line {
                    pooled.add(&line);
                }
            }
            if let Some(spread) = pooled.spread() {
                let percent = power::noise_percent(spread);
                let entry = spreads.entry(pct.clone()).or_insert(percent);
                *entry = entry.max(percent);
            }
        }
    }
    spreads
}

/// The proposal.
#[derive(Debug, Clone, Serialize)]
pub struct Proposal {
    /// Fewest repetitions of any system in either run.
    pub repetitions: usize,
    /// Proposed significance level.
    pub alpha: f64,
    /// Per system, op and percentile.
    pub lines: Vec<ProposedLine>,
    /// Per percentile, the between-run spread the pair showed, percent.
    pub run_to_run: BTreeMap<String, f64>,
    /// The `[gate]` section to paste into the scenario.
    pub section: String,
}

/// Proposes thresholds from an A/A pair: per op and percentile, twice the change the
/// A/A pair showed between its medians (run-to-run drift), rounded up to 5%, at least
/// 5%. Noise within a run is the Mann-Whitney test's business, not the threshold's.
/// With 5 or more repetitions per side the proposed alpha is 0.01: dozens of
/// comparisons are made per gate, and at 0.05 one of them would fail by chance.
/// Each line then gets its noise and detectable regression; a threshold the test
/// cannot resolve is flagged in the section.
pub fn propose(a: &Results, b: &Results, percentiles: &[String]) -> Proposal {
    let repetitions = a
        .systems
        .values()
        .chain(b.systems.values())
        .map(|s| s.repetitions.len())
        .min()
        .unwrap_or(0);
    let alpha = if repetitions >= 5 { 0.01 } else { 0.05 };
    let mut lines = Vec::new();
    let mut thresholds: BTreeMap<String, f64> = BTreeMap::new();
    for (system, sa) in &a.systems {
        let Some(sb) = b.systems.get(system) else {
            continue;
        };
        for op in sa.ops.keys() {
            for pct in percentiles {
                let (va, vb) = (series(sa, op, pct), series(sb, op, pct));
                if va.is_empty() || vb.is_empty() {
                    continue;
                }
                let (ma, mb) = (stats::median(&va), stats::median(&vb));
                let change = if ma > 0.0 {
                    (mb / ma - 1.0) * 100.0
                } else {
                    0.0
                };
                let t = ((2.0 * change.abs() / 5.0).ceil() * 5.0).clamp(5.0, 200.0);
                let e = thresholds.entry(format!("{op}.{pct}")).or_insert(5.0);
                *e = e.max(t);
                lines.push(ProposedLine {
                    system: system.clone(),
                    op: op.clone(),
                    percentile: pct.clone(),
                    noise_pct: power::pooled_log_sd(&[&va, &vb]).map(power::noise_percent),
                    aa_change_pct: change,
                    threshold_pct: 0.0,
                    detectable: Detectable::Unknown,
                    threshold_below_detectable: false,
                });
            }
        }
    }
    let simulation = (repetitions >= 2).then(|| {
        Simulation::new(Design {
            baseline_repetitions: repetitions,
            current_repetitions: repetitions,
            alpha,
        })
    });
    let run_to_run = run_to_run(&[a, b], percentiles);
    for line in &mut lines {
        line.threshold_pct = thresholds[&format!("{}.{}", line.op, line.percentile)];
        let (Some(sim), Some(noise)) = (&simulation, line.noise_pct) else {
            continue;
        };
        let between = run_to_run
            .get(&line.percentile)
            .map_or(0.0, |p| power::log_spread(*p));
        let spread = power::Spread {
            within: power::log_spread(noise),
            between,
        };
        let tolerance = power::run_to_run_tolerance(between, alpha);
        line.detectable = sim.minimum_detectable(spread, line.threshold_pct.max(tolerance));
        line.threshold_below_detectable = match sim.minimum_detectable(spread, tolerance) {
            Detectable::Percent(p) => line.threshold_pct < p,
            _ => true,
        };
    }
    let section = section(
        &lines,
        &thresholds,
        &run_to_run,
        repetitions,
        alpha,
        percentiles,
    );
    Proposal {
        repetitions,
        alpha,
        lines,
        run_to_run,
        section,
    }
}

/// The `[gate]` section, each threshold the test cannot resolve commented.
fn section(
    lines: &[ProposedLine],
    thresholds: &BTreeMap<String, f64>,
    run_to_run: &BTreeMap<String, f64>,
    repetitions: usize,
    alpha: f64,
    percentiles: &[String],
) -> String {
    let mut toml = String::from(
        "# Proposed by `archbench gate` from an A/A pair: thresholds are twice the drift seen\n",
    );
    toml.push_str(&format!(
        "# between the two runs' medians; {repetitions} repetitions per side.\n[gate]\n"
    ));
    let quoted: Vec<String> = percentiles.iter().map(|p| format!("\"{p}\"")).collect();
    toml.push_str(&format!("percentiles = [{}]\n", quoted.join(", ")));
    toml.push_str(&format!("threshold_pct = 10\nalpha = {alpha}\n"));
    if !run_to_run.is_empty() {
        // Two runs give one level difference per op: a rough spread. More fresh runs
        // (`archbench gate rates`, `scripts/gate-power`) measure it better.
        let spreads: Vec<String> = run_to_run
            .iter()
            .map(|(pct, spread)| format!("{pct} = {:.1}", spread.max(0.1)))
            .collect();
        toml.push_str(&format!(
            "# How far one fresh run's level strays (percent), from this pair.\nrun_to_run = {{ {} }}\n",
            spreads.join(", ")
        ));
    }
    toml.push_str("\n[gate.thresholds]\n");
    for (key, value) in thresholds {
        let unresolved: Vec<String> = lines
            .iter()
            .filter(|l| format!("{}.{}", l.op, l.percentile) == *key)
            .filter(|l| l.threshold_below_detectable)
            .map(|l| format!("{} detects {}", l.system, l.detectable.cell()))
            .collect();
        toml.push_str(&format!("\"{key}\" = {value}"));
        if !unresolved.is_empty() {
            toml.push_str(&format!(
                "  # below what the test resolves: {}",
                unresolved.join(", ")
            ));
        }
        toml.push('\n');
    }
    toml
}

/// The noise and power table of a proposal, Markdown.
pub fn markdown(p: &Proposal) -> String {
    let spreads: Vec<String> = p
        .run_to_run
        .iter()
        .map(|(pct, spread)| format!("{pct} ±{spread:.1}%"))
        .collect();
    let mut s = format!(
        "Noise and power: {} repetitions a side, alpha {}; run-to-run spread {}; *detectable* = the smallest regression called with {:.0}% probability at the proposed threshold and run-to-run spread.\n\n",
        p.repetitions,
        p.alpha,
        if spreads.is_empty() {
            "not measured".to_string()
        } else {
            spreads.join(", ")
        },
        power::DETECTION_POWER * 100.0
    );
    s.push_str("| system | op | percentile | noise | A/A change | threshold | detectable |\n");
    s.push_str("|---|---|---|---:|---:|---:|---:|\n");
    for l in &p.lines {
        s.push_str(&format!(
            "| {} | {} | {} | {} | {:+.1}% | {:.0}%{} | {} |\n",
            escape_md(&l.system),
            escape_md(&l.op),
            l.percentile,
            l.noise_pct.map_or("–".into(), |n| format!("±{n:.0}%")),
            l.aa_change_pct,
            l.threshold_pct,
            if l.threshold_below_detectable {
                " ⚠"
            } else {
                ""
            },
            l.detectable.cell()
        ));
    }
    if p.lines.iter().any(|l| l.threshold_below_detectable) {
        s.push_str("\n⚠ the test cannot resolve this threshold with these repetitions: add repetitions (`--repeat`) or accept the detectable size.\n");
    }
    s
}
