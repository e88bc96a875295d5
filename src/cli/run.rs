//! `archbench run`: the run, then the approval report when the results allow one.

use std::path::PathBuf;

use crate::arch::{V02_NAME, V03_NAME};
use crate::report::ReportInputs;
use crate::results::Results;
use crate::run::RunOptions;

/// What to do around the run.
#[derive(Debug, Clone)]
pub struct AfterRun {
    /// Print the estimate and stop before anything starts.
    pub dry_run: bool,
    /// Skip the approval report.
    pub no_report: bool,
    /// The report's inputs; `results` is replaced by the run's results file.
    pub report: ReportInputs,
}

/// A report compares V0.2 with V0.3 under a stated user behaviour.
pub fn report_possible(results: &Results) -> bool {
    [V02_NAME, V03_NAME]
        .iter()
        .all(|s| results.systems.contains_key(*s))
        && !results.scenario.user_behaviour.is_empty()
}

/// Runs the scenario, prints where the results are, fails when they are incomplete,
/// and writes the report beside them when it can be made.
pub async fn run(
    options: RunOptions,
    after: AfterRun,
    out: &mut (impl std::io::Write + Send),
) -> anyhow::Result<()> {
    if after.dry_run {
        writeln!(out, "{}", crate::run::estimate(&options)?)?;
        return Ok(());
    }
    let folder = options.out.clone();
    let summary = crate::run::run(options, out).await?;
    writeln!(
        out,
        "results: {}{}",
        summary.results_path.display(),
        if summary.results.complete {
            ""
        } else {
            " (incomplete)"
        }
    )?;
    if !summary.results.complete {
        anyhow::bail!(
            "the run is incomplete: {}",
            summary.results.notes.join("; ")
        );
    }
    if after.no_report {
        return Ok(());
    }
    if !report_possible(&summary.results) {
        writeln!(
            out,
            "report: skipped (it needs v02 and v03 and the scenario's [user_behaviour]); `archbench report` makes one later"
        )?;
        return Ok(());
    }
    let report_folder: PathBuf = summary
        .results_path
        .parent()
        .unwrap_or(&folder)
        .to_path_buf();
    let inputs = ReportInputs {
        results: summary.results_path.clone(),
        ..after.report
    };
    super::report::write_report_unless_interrupted(inputs, &report_folder, out).await
}
