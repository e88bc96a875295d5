//! Interleaved gating: the baseline's build and the candidate's run turn about in one
//! job, one fresh run per repetition, in the counterbalanced order A B B A A B …, so
//! that a slow spell of the host (hypervisor steal comes in episodes of minutes) falls
//! on both sides instead of on one whole run. Here: the order, one side's runs
//! combined into one gate input, and the windows of a same-build series that serve as
//! A/A comparisons when the gate's error rates are measured.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::{GateError, gate_error};
use crate::results::interleaving::{Interleaving, Side};
use crate::results::{IntervalLogs, OpResults, Percentiles, Results, SystemResults};

/// The run order of `pairs` pairs: A B, then B A, and so on. Each side runs as often
/// first as second, so a steady drift of the host cancels between them.
pub fn order(pairs: usize) -> Vec<Side> {
    (0..pairs)
        .flat_map(|pair| {
            if pair % 2 == 0 {
                [Side::Baseline, Side::Candidate]
            } else {
                [Side::Candidate, Side::Baseline]
            }
        })
        .collect()
}

/// The order as letters (`ABBAAB…`).
pub fn letters(order: &[Side]) -> String {
    order.iter().map(|s| s.letter()).collect()
}

/// One finished run: its results file, read, and the folder holding its interval logs.
pub struct Run {
    /// The results file.
    pub path: PathBuf,
    /// Its contents.
    pub results: Results,
}

/// Combines one side's runs (each with one repetition per system, in the order they
/// ran) into one results file whose repetition i is run i. Latency is merged from the
/// runs' interval logs, exactly; service time and schedule lag cannot be merged from
/// what a run keeps, so they hold the largest value of each percentile over the runs,
/// as the file's notes say. Storage and the other per-run measures are left out: each
/// run's own results file has them.
pub fn combine(side: Side, order: &str, runs: &[&Run], binary: &str) -> Result<Results, GateError> {
    let Some(first) = runs.first() else {
        return Err(gate_error(
            side.name(),
            "runs".into(),
            "no run to combine".into(),
        ));
    };
    for run in runs {
        check_run(run, &first.results)?;
    }
    let mut combined = first.results.clone();
    combined.finished_at = runs[runs.len() - 1].results.finished_at.clone();
    combined.repeat = runs.len();
    combined.complete = runs.iter().all(|r| r.results.complete);
    combined.environment.cpu_steal_share = runs
        .iter()
        .filter_map(|r| r.results.environment.cpu_steal_share)
        .reduce(f64::max);
    combined.event_log_probe = None;
    combined.notes = vec![format!(
        "the {} side of an interleaved gate: {} fresh runs (order {order}), one repetition each; latency merged from their interval logs; service time and schedule lag are the largest of each percentile over the runs; storage and the other measures are in each run's own results file",
        side.name(),
        runs.len()
    )];
    for (name, system) in combined.systems.iter_mut() {
        *system = combine_system(name, runs)?;
    }
    combined.interleaved = Some(Interleaving {
        side,
        order: order.to_string(),
        runs: runs.iter().map(|r| r.path.display().to_string()).collect(),
        binary: binary.to_string(),
    });
    Ok(combined)
}

/// A run fit to be one repetition: the first run's scenario, one repetition.
fn check_run(run: &Run, first: &Results) -> Result<(), GateError> {
    let file = run.path.display().to_string();
    let r = &run.results;
    if r.scenario.name != first.scenario.name || r.scenario.seed != first.scenario.seed {
        return Err(gate_error(
            &file,
            "scenario".into(),
            format!(
                "scenario `{}` (seed {}) differs from the first run's `{}` (seed {})",
                r.scenario.name, r.scenario.seed, first.scenario.name, first.scenario.seed
            ),
        ));
    }
    if r.systems.keys().ne(first.systems.keys()) {
        return Err(gate_error(
            &file,
            "systems".into(),
            "a different set of systems from the first run's".into(),
        ));
    }
    if let Some((name, s)) = r.systems.iter().find(|(_, s)| s.repetitions.len() != 1) {
        return Err(gate_error(
            &file,
            format!("systems.{name}.repetitions"),
            format!(
                "{} repetitions: an interleaved run has exactly one",
                s.repetitions.len()
            ),
        ));
    }
    Ok(())
}

/// One system over every run: the repetitions in run order, the ops summed and merged.
fn combine_system(name: &str, runs: &[&Run]) -> Result<SystemResults, GateError> {
    let mut system = runs[0].results.systems[name].clone();
    system.repetitions = runs
        .iter()
        .flat_map(|r| r.results.systems[name].repetitions.clone())
        .collect();
    let logs: Vec<IntervalLogs> = runs
        .iter()
        .map(|r| {
            let folder = r.path.parent().unwrap_or(std::path::Path::new("."));
            IntervalLogs::read(&r.results, folder, &[name])
        })
        .collect();
    for (op, combined) in system.ops.iter_mut() {
        let mut latency = crate::loadgen::record::histogram();
        for (run, log) in runs.iter().zip(&logs) {
            let Some(h) = log.histogram(name, op) else {
                return Err(gate_error(
                    &run.path.display().to_string(),
                    format!("systems.{name}.interval_log"),
                    format!(
                        "no latency of `{op}` in the run's interval log: the runs' .hlog files must stay beside their results.json"
                    ),
                ));
            };
            latency.add(h).map_err(|e| {
                gate_error(
                    &run.path.display().to_string(),
                    format!("systems.{name}.interval_log"),
                    format!("{e:?}"),
                )
            })?;
        }
        let each: Vec<&OpResults> = runs
            .iter()
            .filter_map(|r| r.results.systems[name].ops.get(op))
            .collect();
        *combined = sum_ops(&each, Percentiles::of(&latency));
    }
    system.footprint = None;
    system.round_trips.clear();
    system.storage_growth = None;
    system.event_growth = None;
    system.search_quality = None;
    system.db_time = None;
    system.projection_lag_ms = None;
    system.interval_log = None;
    Ok(system)
}

/// The counts summed, the latency given, the other distributions at their largest.
fn sum_ops(each: &[&OpResults], latency_us: Percentiles) -> OpResults {
    let mut errors_by_kind: BTreeMap<String, u64> = BTreeMap::new();
    for o in each {
        for (kind, n) in &o.errors_by_kind {
            *errors_by_kind.entry(kind.clone()).or_default() += n;
        }
    }
    OpResults {
        count: each.iter().map(|o| o.count).sum(),
        errors: each.iter().map(|o| o.errors).sum(),
        errors_by_kind,
        late: each.iter().map(|o| o.late).sum(),
        latency_us,
        service_time_us: largest(each.iter().map(|o| &o.service_time_us)),
        schedule_lag_us: largest(each.iter().map(|o| &o.schedule_lag_us)),
    }
}

fn largest<'a>(all: impl Iterator<Item = &'a Percentiles>) -> Percentiles {
    all.fold(Percentiles::default(), |a, b| Percentiles {
        p50: a.p50.max(b.p50),
        p90: a.p90.max(b.p90),
        p95: a.p95.max(b.p95),
        p99: a.p99.max(b.p99),
        p999: a.p999.max(b.p999),
        max: a.max.max(b.max),
        mean: a.mean.max(b.mean),
    })
}

/// A/A comparisons from one series of runs of the same build, in the order they ran:
/// every window of `2 × per_side` consecutive runs, its runs labelled by [`order`] and,
/// mirrored, with the labels swapped. Windows overlap, so the comparisons share runs
/// and are not independent; each is what one interleaved CI job of that build against
/// itself would have judged.
pub fn same_build_windows(
    series: &[Run],
    per_side: usize,
    binary: &str,
) -> Result<Vec<(Results, Results)>, GateError> {
    let width = 2 * per_side;
    let labels = order(per_side);
    let mut comparisons = Vec::new();
    if series.len() < width {
        return Ok(comparisons);
    }
    for start in 0..=series.len() - width {
        let window = &series[start..start + width];
        for mirrored in [false, true] {
            let side_of = |i: usize| match (labels[i], mirrored) {
                (Side::Baseline, false) | (Side::Candidate, true) => Side::Baseline,
                _ => Side::Candidate,
            };
            let sides: Vec<Side> = (0..width).map(side_of).collect();
            let runs: Vec<&Run> = window.iter().collect();
            comparisons.push(compare_window(&runs, &sides, binary)?);
        }
    }
    Ok(comparisons)
}

/// The windows of one interleaved job that a CI job of `per_side` pairs would have
/// judged: `per_side` consecutive pairs, starting at a pair so that each side has
/// `per_side` runs, as index ranges into the job's runs. A job of exactly `per_side`
/// pairs is one window, itself.
pub fn pair_windows(runs: usize, per_side: usize) -> Vec<std::ops::Range<usize>> {
    let width = 2 * per_side;
    if per_side == 0 || runs < width {
        return Vec::new();
    }
    (0..=runs - width)
        .step_by(2)
        .map(|start| start..start + width)
        .collect()
}

/// An interleaved job's comparisons at `per_side` runs a side, one per window of
/// [`pair_windows`], each side combined from the window's runs of that side (the sides
/// as the job ran them).
pub fn job_windows(
    runs: &[(Side, Run)],
    per_side: usize,
    binary: &str,
) -> Result<Vec<(Results, Results)>, GateError> {
    let mut comparisons = Vec::new();
    for range in pair_windows(runs.len(), per_side) {
        let window = &runs[range];
        let sides: Vec<Side> = window.iter().map(|(side, _)| *side).collect();
        let baseline = sides.iter().filter(|s| **s == Side::Baseline).count();
        if baseline != per_side || sides.len() - baseline != per_side {
            return Err(gate_error(
                &window[0].1.path.display().to_string(),
                "runs".into(),
                format!(
                    "the job's runs are not in pairs (order {}): a window of {per_side} pairs needs {per_side} runs a side",
                    letters(&sides)
                ),
            ));
        }
        let window_runs: Vec<&Run> = window.iter().map(|(_, run)| run).collect();
        comparisons.push(compare_window(&window_runs, &sides, binary)?);
    }
    Ok(comparisons)
}

/// One comparison: each side combined from the window's runs labelled with it, the
/// labels' order written into both results.
fn compare_window(
    window: &[&Run],
    sides: &[Side],
    binary: &str,
) -> Result<(Results, Results), GateError> {
    let pick = |side: Side| -> Vec<&Run> {
        window
            .iter()
            .zip(sides)
            .filter(|(_, s)| **s == side)
            .map(|(run, _)| *run)
            .collect()
    };
    let order = letters(sides);
    Ok((
        combine(Side::Baseline, &order, &pick(Side::Baseline), binary)?,
        combine(Side::Candidate, &order, &pick(Side::Candidate), binary)?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_order_is_counterbalanced() {
        assert_eq!(letters(&order(5)), "ABBAABBAAB");
        for pairs in 1..12 {
            let o = order(pairs);
            let baseline = o.iter().filter(|s| **s == Side::Baseline).count();
            assert_eq!(baseline, pairs);
            // Each side is first in half the pairs (one more when odd).
            let first = o.chunks(2).filter(|c| c[0] == Side::Baseline).count();
            assert_eq!(first, pairs.div_ceil(2));
        }
    }

    #[test]
    fn a_job_is_cut_into_windows_of_whole_pairs() {
        // 10 pairs judged 5 at a time: 6 windows, each starting at a pair.
        let windows = pair_windows(20, 5);
        assert_eq!(windows.len(), 6);
        assert_eq!(windows[0], 0..10);
        assert_eq!(windows[5], 10..20);
        let sides = order(10);
        for w in &windows {
            let candidate = sides[w.clone()]
                .iter()
                .filter(|s| **s == Side::Candidate)
                .count();
            assert_eq!(candidate, 5, "{w:?}");
        }
        // A job of exactly the CI job's pairs is one window; a shorter one none.
        let whole = pair_windows(10, 5);
        assert_eq!(whole.len(), 1);
        assert_eq!(whole[0], 0..10);
        assert!(pair_windows(8, 5).is_empty());
        assert!(pair_windows(8, 0).is_empty());
    }
}
