//! The gate's error rates, measured: how often it fails a build that did not change
//! (false alarms over A/A pairs of fresh runs of the same build) and how often it
//! catches a delay injected with `--fault` (detection, per op and percentile), next
//! to the detectable regression it predicted for the same lines.

use std::collections::BTreeMap;

use serde::Serialize;

use super::interleave::Run;
use super::{Comparison, GateError, GateOverrides, Verdict, compare, gate_error};
use crate::escape::markdown as escape_md;
use crate::results::Results;
use crate::results::interleaving::Side;

/// Results files, named.
pub type NamedResults = (String, Results);

/// One system, op and percentile across A/A comparisons.
#[derive(Debug, Clone, Serialize)]
pub struct FalseAlarmLine {
    /// System.
    pub system: String,
    /// Op.
    pub op: String,
    /// Percentile.
    pub percentile: String,
    /// Comparisons in which this line was gated.
    pub gated: usize,
    /// Of those, the ones that called a regression.
    pub regressions: usize,
}

/// Detection of one injected delay at one percentile.
#[derive(Debug, Clone, Serialize)]
pub struct DetectionLine {
    /// System.
    pub system: String,
    /// Op.
    pub op: String,
    /// Percentile.
    pub percentile: String,
    /// The injected delay, percent of the op's own time.
    pub injected_pct: f64,
    /// Comparisons (the faulted run against each A/A run as the baseline).
    pub comparisons: usize,
    /// Of those, the ones that called a regression on this line.
    pub detected: usize,
    /// The detectable regression each comparison predicted for this line, median.
    pub predicted_detectable_pct: Option<f64>,
    /// The change the comparisons measured on this line, percent, median: what the
    /// injected delay became (the timed wait's wake-up adds to the share asked for).
    #[serde(default)]
    pub measured_change_pct: Option<f64>,
}

/// The measured error rates.
#[derive(Debug, Clone, Serialize)]
pub struct ErrorRates {
    /// The A/A runs.
    pub aa_runs: Vec<String>,
    /// The faulted runs.
    pub faulted_runs: Vec<String>,
    /// The significance level the gate used.
    pub alpha: f64,
    /// How the A/A comparisons were formed.
    pub method: String,
    /// Ordered A/A pairs compared.
    pub aa_comparisons: usize,
    /// Of those, the ones with at least one regression (a failed build).
    pub aa_failed: usize,
    /// Gated lines over all A/A comparisons.
    pub aa_gated_lines: usize,
    /// Of those, the ones that called a regression.
    pub aa_regression_lines: usize,
    /// Per line.
    pub false_alarms: Vec<FalseAlarmLine>,
    /// How the detection comparisons were formed.
    pub detection_method: String,
    /// Per injected delay and percentile.
    pub detection: Vec<DetectionLine>,
    /// Per percentile, the run-to-run spread over all the A/A runs, percent: what the
    /// scenario's `[gate] run_to_run` should say on this machine.
    pub run_to_run: BTreeMap<String, f64>,
}

type LineKey = (String, String, String);
type DetectionKey = (String, String, String, u64);

impl ErrorRates {
    fn empty(aa_runs: Vec<String>, faulted_runs: Vec<String>, method: String) -> Self {
        ErrorRates {
            aa_runs,
            faulted_runs,
            alpha: 0.0,
            method,
            aa_comparisons: 0,
            aa_failed: 0,
            aa_gated_lines: 0,
            aa_regression_lines: 0,
            false_alarms: Vec::new(),
            detection_method: String::new(),
            detection: Vec::new(),
            run_to_run: BTreeMap::new(),
        }
    }

    /// Counts one A/A comparison: a failed build, and each gated line's call.
    fn count_false_alarms(
        &mut self,
        report: &super::GateReport,
        lines: &mut BTreeMap<LineKey, FalseAlarmLine>,
    ) {
        self.alpha = report.config.alpha;
        self.aa_comparisons += 1;
        self.aa_failed += usize::from(report.regressions().next().is_some());
        for c in gated(&report.comparisons) {
            let line = lines
                .entry((c.system.clone(), c.op.clone(), c.percentile.clone()))
                .or_insert_with(|| FalseAlarmLine {
                    system: c.system.clone(),
                    op: c.op.clone(),
                    percentile: c.percentile.clone(),
                    gated: 0,
                    regressions: 0,
                });
            line.gated += 1;
            self.aa_gated_lines += 1;
            if c.verdict == Verdict::Regression {
                line.regressions += 1;
                self.aa_regression_lines += 1;
            }
        }
    }

    /// False alarms per gated line (the per-comparison rate alpha bounds).
    pub fn per_line_rate(&self) -> f64 {
        self.aa_regression_lines as f64 / self.aa_gated_lines.max(1) as f64
    }

    /// Failed A/A builds per A/A comparison.
    pub fn per_run_rate(&self) -> f64 {
        self.aa_failed as f64 / self.aa_comparisons.max(1) as f64
    }
}

/// Measures the rates: every ordered pair of distinct A/A runs is one A/A comparison;
/// every faulted run is compared against every A/A run as the baseline.
pub fn measure(
    aa: &[NamedResults],
    faulted: &[NamedResults],
    overrides: &GateOverrides,
) -> Result<ErrorRates, GateError> {
    check_inputs(aa, faulted)?;
    let method = if aa.len() >= CROSS_VALIDATED {
        "every ordered pair of distinct fresh A/A runs (each run started its own stores and seeded anew; pairs share runs, so they are not independent); the run-to-run spread of each comparison is measured on the other A/A runs, never on the two compared (held out), and each faulted run is gated with the spread of the A/A runs other than its baseline".into()
    } else {
        "every ordered pair of distinct fresh A/A runs (each run started its own stores and seeded anew; pairs share runs, so they are not independent); fewer than 4 A/A runs: the scenario's own run-to-run spread is used, none held out".into()
    };
    let mut rates = ErrorRates::empty(
        aa.iter().map(|(n, _)| n.clone()).collect(),
        faulted.iter().map(|(n, _)| n.clone()).collect(),
        method,
    );
    let mut lines: BTreeMap<LineKey, FalseAlarmLine> = BTreeMap::new();
    for (i, (bname, b)) in aa.iter().enumerate() {
        for (j, (cname, c)) in aa.iter().enumerate() {
            if i == j {
                continue;
            }
            let report = compare(b, bname, c, cname, &held_out(aa, &[i, j], overrides))?;
            rates.count_false_alarms(&report, &mut lines);
        }
    }
    rates.false_alarms = lines.into_values().collect();
    let all: Vec<&Results> = aa.iter().map(|(_, r)| r).collect();
    let percentiles = overrides
        .percentiles
        .clone()
        .unwrap_or_else(|| aa[0].1.scenario.gate.percentiles.clone());
    rates.run_to_run = super::propose::run_to_run(&all, &percentiles);
    rates.detection = detection(aa, faulted, overrides)?;
    rates.detection_method = format!(
        "{} faulted runs, each against every A/A run as the baseline",
        faulted.len()
    );
    Ok(rates)
}

/// One interleaved job whose candidate side had delays injected: its runs in the
/// order they ran, each with its side.
pub struct InterleavedJob {
    /// The job's folder.
    pub name: String,
    /// The runs.
    pub runs: Vec<(Side, Run)>,
}

/// Measures the interleaved gate's rates: A/A comparisons from the windows of one
/// series of runs of the same build ([`super::interleave::same_build_windows`]), and
/// detection from interleaved jobs with delays injected into the candidate side: each
/// window of `per_side` consecutive pairs of a job is one comparison
/// ([`super::interleave::job_windows`]), so a job of more pairs than the CI job's
/// gives a detection rate rather than one call.
pub fn measure_interleaved(
    series: &[Run],
    per_side: usize,
    jobs: &[InterleavedJob],
    overrides: &GateOverrides,
) -> Result<ErrorRates, GateError> {
    if per_side < 2 || series.len() < 2 * per_side {
        return Err(gate_error(
            "--interleaved-aa",
            "runs".into(),
            format!(
                "{} runs of one build for windows of {per_side} per side: A/A windows need at least {} runs and 2 per side (20 runs give 22 comparisons at 5 per side)",
                series.len(),
                (2 * per_side).max(4)
            ),
        ));
    }
    let binary = "same build";
    let windows = super::interleave::same_build_windows(series, per_side, binary)?;
    let mut rates = ErrorRates::empty(
        series
            .iter()
            .map(|r| r.path.display().to_string())
            .collect(),
        jobs.iter().map(|j| j.name.clone()).collect(),
        format!(
            "interleaved: every window of {} consecutive fresh runs of one build (each started its own stores and seeded anew), labelled A B B A … and mirrored; {} windows, which overlap and so share runs",
            2 * per_side,
            windows.len() / 2
        ),
    );
    let mut lines: BTreeMap<LineKey, FalseAlarmLine> = BTreeMap::new();
    for (baseline, candidate) in &windows {
        let (bname, cname) = (window_name(baseline), window_name(candidate));
        let report = compare(baseline, &bname, candidate, &cname, overrides)?;
        rates.count_false_alarms(&report, &mut lines);
    }
    rates.false_alarms = lines.into_values().collect();
    let mut found = BTreeMap::new();
    let mut windows_per_job = Vec::new();
    for job in jobs {
        check_job(job, &series[0].results)?;
        let windows = super::interleave::job_windows(&job.runs, per_side, "the job's builds")?;
        if windows.is_empty() {
            return Err(gate_error(
                &job.name,
                "runs".into(),
                format!(
                    "{} runs: a detection job needs at least --pairs {per_side} pairs",
                    job.runs.len()
                ),
            ));
        }
        for (i, (baseline, candidate)) in windows.iter().enumerate() {
            let report = compare(
                baseline,
                &format!("{} window {}/baseline", job.name, i + 1),
                candidate,
                &format!("{} window {}/candidate", job.name, i + 1),
                overrides,
            )?;
            rates.alpha = report.config.alpha;
            count_detection(&report, &candidate.injected_delays, &mut found);
        }
        windows_per_job.push(format!("{} runs give {}", job.runs.len(), windows.len()));
    }
    rates.detection = detection_lines(found);
    rates.detection_method = format!(
        "{} interleaved jobs, runs without delays against runs with them, A B B A …; every window of {per_side} consecutive pairs of a job is one comparison ({}), and a job's windows overlap",
        jobs.len(),
        windows_per_job.join("; ")
    );
    Ok(rates)
}

fn window_name(side: &Results) -> String {
    side.interleaved.as_ref().map_or_else(String::new, |i| {
        format!("{} of {}", i.side.name(), i.runs.join(", "))
    })
}

/// A job of the series' scenario, with delays on the candidate side only.
fn check_job(job: &InterleavedJob, first: &Results) -> Result<(), GateError> {
    for (side, run) in &job.runs {
        let r = &run.results;
        let file = run.path.display().to_string();
        if r.scenario.name != first.scenario.name || r.scenario.seed != first.scenario.seed {
            return Err(gate_error(
                &file,
                "scenario".into(),
                format!(
                    "scenario `{}` differs from the A/A series' `{}`: rates are measured on one scenario",
                    r.scenario.name, first.scenario.name
                ),
            ));
        }
        if (*side == Side::Candidate) == r.injected_delays.is_empty() {
            return Err(gate_error(
                &file,
                "injected_delays".into(),
                "a detection job injects delays into its candidate side only (gate interleave --candidate-fault SYSTEM.OP=+20%)".into(),
            ));
        }
    }
    Ok(())
}

/// A/A runs from which a held-out run-to-run spread is measured: two compared, at
/// least two left to measure on.
const CROSS_VALIDATED: usize = 4;

/// The overrides with the run-to-run spread measured on the A/A runs other than
/// `excluded` (when at least two remain), so that no comparison is judged with a
/// spread measured on its own runs.
fn held_out(aa: &[NamedResults], excluded: &[usize], overrides: &GateOverrides) -> GateOverrides {
    let others: Vec<&Results> = aa
        .iter()
        .enumerate()
        .filter(|(i, _)| !excluded.contains(i))
        .map(|(_, (_, r))| r)
        .collect();
    let mut held = overrides.clone();
    if aa.len() >= CROSS_VALIDATED && others.len() >= 2 {
        let percentiles = overrides
            .percentiles
            .clone()
            .unwrap_or_else(|| aa[0].1.scenario.gate.percentiles.clone());
        held.run_to_run = Some(super::propose::run_to_run(&others, &percentiles));
    }
    held
}

fn gated(comparisons: &[Comparison]) -> impl Iterator<Item = &Comparison> {
    comparisons
        .iter()
        .filter(|c| c.verdict != Verdict::TooFewSamples)
}

/// Every faulted run against every A/A run, per injected delay and percentile.
fn detection(
    aa: &[NamedResults],
    faulted: &[NamedResults],
    overrides: &GateOverrides,
) -> Result<Vec<DetectionLine>, GateError> {
    let mut found: BTreeMap<DetectionKey, (DetectionLine, Vec<f64>, Vec<f64>)> = BTreeMap::new();
    for (fname, f) in faulted {
        for (i, (bname, b)) in aa.iter().enumerate() {
            let report = compare(b, bname, f, fname, &held_out(aa, &[i], overrides))?;
            count_detection(&report, &f.injected_delays, &mut found);
        }
    }
    Ok(detection_lines(found))
}

/// Per delay injected into the current side, the call of each of its op's lines.
fn count_detection(
    report: &super::GateReport,
    delays: &[crate::results::InjectedDelay],
    found: &mut BTreeMap<DetectionKey, (DetectionLine, Vec<f64>, Vec<f64>)>,
) {
    for delay in delays {
        let injected = delay.percent.unwrap_or(0.0);
        for c in report
            .comparisons
            .iter()
            .filter(|c| c.system == delay.system && c.op == delay.op)
        {
            let key = (
                c.system.clone(),
                c.op.clone(),
                c.percentile.clone(),
                (injected * 1000.0) as u64,
            );
            let (line, predicted, changes) = found.entry(key).or_insert_with(|| {
                (
                    DetectionLine {
                        system: c.system.clone(),
                        op: c.op.clone(),
                        percentile: c.percentile.clone(),
                        injected_pct: injected,
                        comparisons: 0,
                        detected: 0,
                        predicted_detectable_pct: None,
                        measured_change_pct: None,
                    },
                    Vec::new(),
                    Vec::new(),
                )
            });
            line.comparisons += 1;
            line.detected += usize::from(c.verdict == Verdict::Regression);
            predicted.extend(c.detectable.percent());
            changes.push(c.change_pct);
        }
    }
}

/// The detection lines, each with the median of its predicted detectable regressions.
fn detection_lines(
    found: BTreeMap<DetectionKey, (DetectionLine, Vec<f64>, Vec<f64>)>,
) -> Vec<DetectionLine> {
    found
        .into_values()
        .map(|(mut line, predicted, changes)| {
            line.predicted_detectable_pct =
                (!predicted.is_empty()).then(|| super::stats::median(&predicted));
            line.measured_change_pct =
                (!changes.is_empty()).then(|| super::stats::median(&changes));
            line
        })
        .collect()
}

/// Same scenario everywhere, at least two A/A runs, delays only where they belong.
fn check_inputs(aa: &[NamedResults], faulted: &[NamedResults]) -> Result<(), GateError> {
    if aa.len() < 2 {
        return Err(gate_error(
            "--aa",
            "runs".into(),
            format!(
                "{} A/A run(s) given: false alarms need at least two runs of the same build (20 or more ordered pairs need 5 runs)",
                aa.len()
            ),
        ));
    }
    let (first_name, first) = &aa[0];
    for (name, r) in aa.iter().chain(faulted) {
        if r.scenario.name != first.scenario.name || r.scenario.seed != first.scenario.seed {
            return Err(gate_error(
                name,
                "scenario".into(),
                format!(
                    "scenario `{}` (seed {}) differs from {first_name}'s `{}` (seed {}): rates are measured on one scenario",
                    r.scenario.name, r.scenario.seed, first.scenario.name, first.scenario.seed
                ),
            ));
        }
    }
    if let Some((name, _)) = aa.iter().find(|(_, r)| !r.injected_delays.is_empty()) {
        return Err(gate_error(
            name,
            "injected_delays".into(),
            "this run has injected delays: give it with --faulted, not as an A/A run".into(),
        ));
    }
    if let Some((name, _)) = faulted.iter().find(|(_, r)| r.injected_delays.is_empty()) {
        return Err(gate_error(
            name,
            "injected_delays".into(),
            "no delay was injected into this run (archbench run --fault SYSTEM.OP=+20%)".into(),
        ));
    }
    Ok(())
}

/// The rates as Markdown: the false-alarm summary, then the detection table.
pub fn markdown(r: &ErrorRates) -> String {
    let mut s = String::from("## archbench gate: measured error rates\n\n");
    s.push_str(&format!(
        "**False alarms** ({} A/A runs, {}): {} of {} gated lines called a regression ({:.2}% per line, alpha {}); {} of {} A/A comparisons would have failed the build ({:.0}% per run).\n\n",
        r.aa_runs.len(),
        escape_md(&r.method),
        r.aa_regression_lines,
        r.aa_gated_lines,
        r.per_line_rate() * 100.0,
        r.alpha,
        r.aa_failed,
        r.aa_comparisons,
        r.per_run_rate() * 100.0
    ));
    let noisy: Vec<&FalseAlarmLine> = r
        .false_alarms
        .iter()
        .filter(|l| l.regressions > 0)
        .collect();
    if !noisy.is_empty() {
        s.push_str("| system | op | percentile | false alarms |\n|---|---|---|---:|\n");
        for l in noisy {
            s.push_str(&format!(
                "| {} | {} | {} | {} of {} |\n",
                escape_md(&l.system),
                escape_md(&l.op),
                l.percentile,
                l.regressions,
                l.gated
            ));
        }
        s.push('\n');
    }
    if !r.run_to_run.is_empty() {
        let spreads: Vec<String> = r
            .run_to_run
            .iter()
            .map(|(pct, spread)| format!("{pct} = {spread:.1}"))
            .collect();
        s.push_str(&format!(
            "**Run-to-run spread** over all {} A/A runs (for the scenario's `[gate]`): `run_to_run = {{ {} }}`\n\n",
            r.aa_runs.len(),
            spreads.join(", ")
        ));
    }
    if r.detection.is_empty() {
        return s;
    }
    s.push_str(&format!(
        "**Detection** ({}): the share of comparisons that called the injected delay a regression, the change they measured (median), and the detectable regression the gate predicted for that line (median over the comparisons).\n\n",
        escape_md(&r.detection_method)
    ));
    s.push_str(&detection_table(&r.detection));
    s
}

/// One row per system, op and percentile; one column pair per injected size.
fn detection_table(lines: &[DetectionLine]) -> String {
    let mut sizes: Vec<f64> = lines.iter().map(|l| l.injected_pct).collect();
    sizes.sort_by(f64::total_cmp);
    sizes.dedup();
    let mut s = String::from("| system | op | percentile |");
    for size in &sizes {
        s.push_str(&format!(" +{size:.0}% |"));
    }
    s.push_str(" predicted detectable |\n|---|---|---|");
    s.push_str(&"---:|".repeat(sizes.len() + 1));
    s.push('\n');
    let mut rows: BTreeMap<(&str, &str, &str), Vec<&DetectionLine>> = BTreeMap::new();
    for l in lines {
        rows.entry((&l.system, &l.op, &l.percentile))
            .or_default()
            .push(l);
    }
    for ((system, op, percentile), cells) in rows {
        s.push_str(&format!(
            "| {} | {} | {percentile} |",
            escape_md(system),
            escape_md(op)
        ));
        for size in &sizes {
            match cells.iter().find(|l| l.injected_pct == *size) {
                Some(l) => s.push_str(&format!(
                    " {:.0}% ({}/{}){} |",
                    l.detected as f64 * 100.0 / l.comparisons.max(1) as f64,
                    l.detected,
                    l.comparisons,
                    l.measured_change_pct
                        .map_or(String::new(), |c| format!(", measured {c:+.0}%"))
                )),
                None => s.push_str(" – |"),
            }
        }
        let predicted: Vec<f64> = cells
            .iter()
            .filter_map(|l| l.predicted_detectable_pct)
            .collect();
        if predicted.is_empty() {
            s.push_str(" – |\n");
        } else {
            s.push_str(&format!(" ≥ {:.0}% |\n", super::stats::median(&predicted)));
        }
    }
    s
}
