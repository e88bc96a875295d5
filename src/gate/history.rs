//! `archbench gate history`: change points over a series of results files (nightly
//! runs of main, say), per system, op and percentile, with the revision at which each
//! change appeared, its size and the confidence of the permutation test.

use std::collections::BTreeMap;

use serde::Serialize;

use super::changepoint::{self, MIN_POINTS};
use super::{GateError, gate_error, percentile_value, series};
use crate::escape::markdown as escape_md;
use crate::results::Results;

/// One results file of the history.
#[derive(Debug, Clone, Serialize)]
pub struct HistoryPoint {
    /// File.
    pub file: String,
    /// When the run started (RFC 3339).
    pub started_at: String,
    /// The revision it ran, when recorded.
    pub revision: Option<String>,
}

/// A change point of one system, op and percentile.
#[derive(Debug, Clone, Serialize)]
pub struct HistoryChange {
    /// System.
    pub system: String,
    /// Op.
    pub op: String,
    /// Percentile.
    pub percentile: String,
    /// The first point at the new level (index into `points`).
    pub index: usize,
    /// Its revision.
    pub revision: Option<String>,
    /// The revision before it (the change lies in between).
    pub previous_revision: Option<String>,
    /// Mean of the segment before, µs.
    pub before_us: f64,
    /// Mean of the segment after, µs.
    pub after_us: f64,
    /// Relative change, percent (positive: slower).
    pub magnitude_pct: f64,
    /// 1 - the permutation test's p-value.
    pub confidence: f64,
}

/// The answer.
#[derive(Debug, Clone, Serialize)]
pub struct HistoryReport {
    /// Scenario.
    pub scenario: String,
    /// The files, oldest first.
    pub points: Vec<HistoryPoint>,
    /// Significance level of the permutation test.
    pub alpha: f64,
    /// How the change points were found.
    pub method: String,
    /// Series examined (system/op/percentile).
    pub series: usize,
    /// Series left out because some files lack them (fewer points than the method needs).
    pub skipped: Vec<String>,
    /// Every change point, by system, op, percentile, then index.
    pub changes: Vec<HistoryChange>,
}

/// Finds change points over `files` (name and contents), sorted by start time.
pub fn history(
    mut files: Vec<(String, Results)>,
    percentiles: &[String],
    alpha: f64,
) -> Result<HistoryReport, GateError> {
    if !(alpha > 0.0 && alpha < 0.5) {
        return Err(gate_error(
            "--alpha",
            "alpha".into(),
            format!("must be in (0, 0.5), got {alpha}"),
        ));
    }
    check_points(&files)?;
    files.sort_by(|a, b| a.1.started_at.cmp(&b.1.started_at));
    let points: Vec<HistoryPoint> = files
        .iter()
        .map(|(file, r)| HistoryPoint {
            file: file.clone(),
            started_at: r.started_at.clone(),
            revision: r.environment.git_revision.clone(),
        })
        .collect();
    let mut report = HistoryReport {
        scenario: files[0].1.scenario.name.clone(),
        points,
        alpha,
        method: format!(
            "E-Divisive, energy statistic (Matteson & James 2014), {} points a side at least, permutation test ({} shuffles, seeded) at alpha {alpha}; a point is the median over the run's repetitions",
            changepoint::MIN_SEGMENT,
            changepoint::PERMUTATIONS
        ),
        series: 0,
        skipped: Vec::new(),
        changes: Vec::new(),
    };
    for (key, values) in collect_series(&files, percentiles) {
        let (system, op, percentile) = key;
        let name = format!("{system} {op} {percentile}");
        let Some(values) = values else {
            report.skipped.push(name);
            continue;
        };
        report.series += 1;
        for c in changepoint::e_divisive(&values, alpha) {
            report.changes.push(HistoryChange {
                system: system.clone(),
                op: op.clone(),
                percentile: percentile.clone(),
                index: c.index,
                revision: report.points[c.index].revision.clone(),
                previous_revision: report.points[c.index - 1].revision.clone(),
                before_us: c.mean_before,
                after_us: c.mean_after,
                magnitude_pct: c.magnitude_pct,
                confidence: c.confidence,
            });
        }
    }
    Ok(report)
}

/// One scenario and enough points.
fn check_points(files: &[(String, Results)]) -> Result<(), GateError> {
    if files.len() < MIN_POINTS {
        return Err(gate_error(
            "history",
            "files".into(),
            format!(
                "{} results file(s) given; change points need {MIN_POINTS} or more (runs each side of a change, and enough arrangements for the permutation test to reach significance)",
                files.len()
            ),
        ));
    }
    let (first_name, first) = &files[0];
    for (name, r) in files {
        if r.scenario.name != first.scenario.name || r.scenario.seed != first.scenario.seed {
            return Err(gate_error(
                name,
                "scenario".into(),
                format!(
                    "scenario `{}` (seed {}) differs from {first_name}'s `{}` (seed {}): a history follows one scenario",
                    r.scenario.name, r.scenario.seed, first.scenario.name, first.scenario.seed
                ),
            ));
        }
    }
    Ok(())
}

type SeriesKey = (String, String, String);

/// Per system, op and percentile, one value per file (the median over repetitions,
/// or the run's own percentile without them); `None` when a file lacks the op.
fn collect_series(
    files: &[(String, Results)],
    percentiles: &[String],
) -> BTreeMap<SeriesKey, Option<Vec<f64>>> {
    let mut keys: Vec<SeriesKey> = Vec::new();
    for (_, r) in files {
        for (system, s) in &r.systems {
            for op in s.ops.keys() {
                for pct in percentiles {
                    let key = (system.clone(), op.clone(), pct.clone());
                    if !keys.contains(&key) {
                        keys.push(key);
                    }
                }
            }
        }
    }
    keys.into_iter()
        .map(|key| {
            let values: Option<Vec<f64>> = files
                .iter()
                .map(|(_, r)| {
                    let s = r.systems.get(&key.0)?;
                    let whole = s.ops.get(&key.1)?;
                    let per_repetition = series(s, &key.1, &key.2);
                    Some(if per_repetition.is_empty() {
                        percentile_value(&whole.latency_us, &key.2)
                    } else {
                        super::stats::median(&per_repetition)
                    })
                })
                .collect();
            (key, values)
        })
        .collect()
}

/// The change points as Markdown.
pub fn markdown(r: &HistoryReport) -> String {
    let mut s = format!(
        "## archbench gate history: `{}`, {} runs\n\n{}.\n\n",
        escape_md(&r.scenario),
        r.points.len(),
        escape_md(&r.method)
    );
    if r.changes.is_empty() {
        s.push_str(&format!(
            "No change point in {} series (system × op × percentile).\n",
            r.series
        ));
    } else {
        s.push_str(&format!(
            "{} change point(s) in {} series.\n\n",
            r.changes.len(),
            r.series
        ));
        s.push_str("| system | op | percentile | run | revision | before | after | change | confidence |\n");
        s.push_str("|---|---|---|---:|---|---:|---:|---:|---:|\n");
        for c in &r.changes {
            s.push_str(&format!(
                "| {} | {} | {} | {} ({}) | {} | {:.2} ms | {:.2} ms | {:+.1}% | {:.3} |\n",
                escape_md(&c.system),
                escape_md(&c.op),
                c.percentile,
                c.index + 1,
                escape_md(&r.points[c.index].started_at),
                revision_range(c),
                c.before_us / 1e3,
                c.after_us / 1e3,
                c.magnitude_pct,
                c.confidence
            ));
        }
    }
    if !r.skipped.is_empty() {
        s.push_str(&format!(
            "\nNot examined (missing from some runs): {}.\n",
            escape_md(&r.skipped.join(", "))
        ));
    }
    s
}

fn revision_range(c: &HistoryChange) -> String {
    let short = |r: &Option<String>| {
        r.as_deref()
            .map_or("?".to_string(), |r| r.chars().take(10).collect())
    };
    if c.revision.is_none() && c.previous_revision.is_none() {
        return "not recorded".into();
    }
    format!("`{}..{}`", short(&c.previous_revision), short(&c.revision))
}
