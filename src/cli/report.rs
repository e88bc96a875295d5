//! `archbench report`: the approval report from a results file, and the one way every
//! command writes it and prints where it went.

use std::path::{Path, PathBuf};

use crate::report::{Report, ReportInputs};

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
    let report = Report::build(&inputs)?;
    let paths = report.write(folder)?;
    writeln!(out, "report: {}", paths.html.display())?;
    writeln!(
        out,
        "        {} (Markdown), {} (JSON)",
        paths.markdown.display(),
        paths.json.display()
    )?;
    for line in report.headline() {
        writeln!(out, "  {line}")?;
    }
    Ok(())
}
