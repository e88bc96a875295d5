//! `archbench report`: the approval report from a results file, and the one way every
//! command writes it and prints where it went.

use std::path::{Path, PathBuf};

use crate::report::{Report, ReportInputs, ReportPaths};
use crate::shutdown::{Interrupted, ShutdownWatch};

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
