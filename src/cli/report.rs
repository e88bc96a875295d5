//! `archbench report`: the approval report from a results file, and the one way every
//! command writes it and prints where it went.

use std::path::{Path, PathBuf};

use crate::report::{Report, ReportInputs, ReportPaths};
use crate::shutdown::{Interrupted, ShutdownWatch};

/// Where the report's inputs live (`archbench report` and `run`'s report).
#[derive(clap::Args)]
pub struct ReportArgs {
    /// Price catalogue directory.
    #[arg(long, default_value = "pricing")]
    pricing: PathBuf,
    /// Cost model: assumptions and deployment profiles.
    #[arg(long, default_value = "deployments/decision-doc.toml")]
    model: PathBuf,
    /// The decision document's figures, claims and go/no-go criteria.
    #[arg(long, default_value = "targets/decision-doc.toml")]
    targets: PathBuf,
    /// What production's bill and dashboards say for one month (TOML; see
    /// deployments/actuals-example.toml): the model is calibrated against it.
    #[arg(long)]
    actuals: Option<PathBuf>,
    /// capacity.json files (repeatable): compute sized from measured capacity per vCPU,
    /// the scalability claim projected from their dataset sizes.
    #[arg(long)]
    capacity: Vec<PathBuf>,
    /// migration.json of `archbench migrate`: decision #5 (the pace), the rollback plan
    /// and the risk lines rest on the rehearsal.
    #[arg(long)]
    migration: Option<PathBuf>,
    /// results.json of another run (repeatable, e.g. scenarios/probes-full.toml's):
    /// its event-log and search-quality probes replace this run's in the report; a
    /// later file's event-log sizes join the first given file's (same instance and
    /// probe design), so a size measured in a run of its own stands beside the others.
    #[arg(long)]
    with: Vec<PathBuf>,
    /// sweep.json of a scale sweep (`run scenarios/scale-sweep.toml`): growth fitted
    /// per metric against dataset size, and each cost tier scaled along the fits.
    #[arg(long)]
    sweep: Option<PathBuf>,
}

impl ReportArgs {
    /// The inputs for `results`.
    pub fn inputs(self, results: PathBuf) -> ReportInputs {
        ReportInputs {
            results,
            pricing: self.pricing,
            model: self.model,
            targets: self.targets,
            actuals: self.actuals,
            capacity: self.capacity,
            migration: self.migration,
            with: self.with,
            sweep: self.sweep,
        }
    }
}

/// The output folder when none is given: beside the results file.
pub fn default_folder(results: &Path) -> PathBuf {
    results
        .parent()
        .map(|p| p.to_path_buf())
        .unwrap_or_else(|| ".".into())
}

/// `archbench report`: builds the report into `folder` (default: beside the results).
pub fn report(
    inputs: ReportInputs,
    folder: Option<PathBuf>,
    out: &mut impl std::io::Write,
) -> anyhow::Result<()> {
    let folder = folder.unwrap_or_else(|| default_folder(&inputs.results));
    write_report(inputs, &folder, out)
}

/// Builds and writes the report, then prints where it is and the headline verdicts.
pub fn write_report(
    inputs: ReportInputs,
    folder: &Path,
    out: &mut impl std::io::Write,
) -> anyhow::Result<()> {
    let (paths, headline) = build_and_write(&inputs, folder)?;
    print_written(&paths, &headline, out)
}

/// As [`write_report`], given up at a Ctrl-C (the results it reads are already whole
/// on disk; a report written half is never seen, each file being written atomically).
pub async fn write_report_unless_interrupted(
    inputs: ReportInputs,
    folder: &Path,
    out: &mut impl std::io::Write,
) -> anyhow::Result<()> {
    let watch = ShutdownWatch::install();
    let target = folder.to_path_buf();
    let work = tokio::task::spawn_blocking(move || build_and_write(&inputs, &target));
    let Some(done) = watch.unless_signalled(work).await else {
        return Err(Interrupted.into());
    };
    let (paths, headline) = done??;
    print_written(&paths, &headline, out)
}

fn build_and_write(
    inputs: &ReportInputs,
    folder: &Path,
) -> anyhow::Result<(ReportPaths, Vec<String>)> {
    let report = Report::build(inputs)?;
    let paths = report.write(folder)?;
    Ok((paths, report.headline()))
}

fn print_written(
    paths: &ReportPaths,
    headline: &[String],
    out: &mut impl std::io::Write,
) -> anyhow::Result<()> {
    writeln!(out, "report: {}", paths.html.display())?;
    writeln!(
        out,
        "        {} (Markdown), {} (JSON)",
        paths.markdown.display(),
        paths.json.display()
    )?;
    for line in headline {
        writeln!(out, "  {line}")?;
    }
    Ok(())
}
