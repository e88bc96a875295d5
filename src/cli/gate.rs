//! `archbench gate`: compare a results file with a baseline and fail on a regression;
//! `gate propose` and `gate calibrate` suggest thresholds from an A/A pair.

use std::path::{Path, PathBuf};

use super::UsageError;
use crate::gate::{
    GateOverrides, GateReport, compare, compare_files, history, junit, markdown, proposal_markdown,
    propose, pull_request_comment, rates,
};
use crate::results::Results;
use crate::results::interleaving::Side;
use crate::run::RunOptions;

/// The gate found a regression or an incomplete run (exit code 1).
#[derive(Debug, thiserror::Error)]
#[error("gate failed: {0}")]
pub struct GateFailed(pub String);

/// Where `archbench gate` writes.
#[derive(Debug, Clone, Default)]
pub struct GateOutputs {
    /// Markdown summary file (e.g. `$GITHUB_STEP_SUMMARY`), appended to.
    pub markdown: Option<PathBuf>,
    /// JUnit XML file.
    pub junit: Option<PathBuf>,
    /// Pull-request comment file (Markdown), replaced.
    pub comment: Option<PathBuf>,
    /// Print JSON instead of Markdown on stdout.
    pub json: bool,
}

/// `archbench gate`: compares, writes the outputs, fails with [`GateFailed`] on a regression.
pub fn gate(
    baseline: Option<&Path>,
    current: Option<&Path>,
    overrides: &GateOverrides,
    outputs: &GateOutputs,
    out: &mut impl std::io::Write,
) -> anyhow::Result<GateReport> {
    let (Some(baseline), Some(current)) = (baseline, current) else {
        return Err(UsageError(
            "gate needs --baseline FILE and --current FILE (or the `calibrate` subcommand)".into(),
        )
        .into());
    };
    let report = compare_files(baseline, current, overrides)?;
    write_outputs(&report, outputs, out)?;
    if !report.passed() {
        let regressions: Vec<String> = report
            .regressions()
            .map(|c| {
                format!(
                    "{} {} {} {:+.1}%",
                    c.system, c.op, c.percentile, c.change_pct
                )
            })
            .collect();
        let over_budget: Vec<String> = report
            .error_budget
            .iter()
            .filter(|b| !b.within())
            .map(|b| {
                format!(
                    "{} failed {:.2}% of its ops, above the SLO of {:.2}%",
                    b.system,
                    b.error_rate * 100.0,
                    b.max_error_rate * 100.0
                )
            })
            .collect();
        let regressed =
            (!regressions.is_empty()).then(|| format!("regression in {}", regressions.join(", ")));
        let why: Vec<String> = report
            .blocked
            .iter()
            .cloned()
            .chain(regressed)
            .chain(over_budget)
            .collect();
        let why = why.join("; ");
        return Err(GateFailed(why).into());
    }
    Ok(report)
}

fn write_outputs(
    report: &GateReport,
    outputs: &GateOutputs,
    out: &mut impl std::io::Write,
) -> anyhow::Result<()> {
    let md = markdown(report);
    if outputs.json {
        serde_json::to_writer_pretty(&mut *out, report)?;
        writeln!(out)?;
    } else {
        write!(out, "{md}")?;
    }
    if let Some(p) = &outputs.markdown {
        // Appending suits $GITHUB_STEP_SUMMARY, which other steps write too.
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(p)?;
        f.write_all(md.as_bytes())?;
    }
    if let Some(p) = &outputs.junit {
        write_file(p, &junit(report))?;
    }
    if let Some(p) = &outputs.comment {
        write_file(p, &pull_request_comment(report))?;
    }
    Ok(())
}

fn write_file(path: &Path, text: &str) -> anyhow::Result<()> {
    crate::atomic::write_atomic(path, text.as_bytes(), 0o644)
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

fn read_all(files: &[PathBuf]) -> anyhow::Result<Vec<(String, Results)>> {
    files
        .iter()
        .map(|f| Ok((f.display().to_string(), Results::read(f)?)))
        .collect()
}

/// `archbench gate history RESULTS...`: change points per system, op and percentile.
pub fn history(
    files: &[PathBuf],
    percentiles: &[String],
    alpha: f64,
    json: bool,
    out: &mut impl std::io::Write,
) -> anyhow::Result<history::HistoryReport> {
    let report = history::history(read_all(files)?, percentiles, alpha)?;
    if json {
        serde_json::to_writer_pretty(&mut *out, &report)?;
        writeln!(out)?;
    } else {
        write!(out, "{}", history::markdown(&report))?;
    }
    Ok(report)
}

/// Where `archbench gate rates` reads its runs.
#[derive(Debug, Clone)]
pub enum RatesInput {
    /// Separate runs with repetitions: A/A runs and faulted runs.
    Separate {
        /// Fresh runs of one build.
        aa: Vec<PathBuf>,
        /// Runs with `--fault`.
        faulted: Vec<PathBuf>,
    },
    /// Interleaved jobs (`gate interleave`): one job of the same build on both sides,
    /// cut into windows, and jobs with delays on the candidate side.
    Interleaved {
        /// The same-build job's folder.
        aa: PathBuf,
        /// Jobs with `--candidate-fault`.
        faulted: Vec<PathBuf>,
        /// Runs per side in a window (the CI job's `--pairs`).
        pairs: usize,
    },
}

/// `archbench gate rates`: false alarms and detection, measured.
pub fn rates(
    input: &RatesInput,
    overrides: &GateOverrides,
    json: bool,
    out: &mut impl std::io::Write,
) -> anyhow::Result<rates::ErrorRates> {
    let measured = match input {
        RatesInput::Separate { aa, faulted } => {
            rates::measure(&read_all(aa)?, &read_all(faulted)?, overrides)?
        }
        RatesInput::Interleaved { aa, faulted, pairs } => {
            let jobs = faulted
                .iter()
                .map(|folder| {
                    Ok(rates::InterleavedJob {
                        name: folder.display().to_string(),
                        runs: job_runs(folder)?,
                    })
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            rates::measure_interleaved(&series(aa)?, *pairs, &jobs, overrides)?
        }
    };
    if json {
        serde_json::to_writer_pretty(&mut *out, &measured)?;
        writeln!(out)?;
    } else {
        write!(out, "{}", rates::markdown(&measured))?;
    }
    Ok(measured)
}

/// The runs of an interleaved job's folder, in the order they ran.
fn series(folder: &Path) -> anyhow::Result<Vec<crate::gate::interleave::Run>> {
    Ok(job_runs(folder)?.into_iter().map(|(_, run)| run).collect())
}

/// The runs of an interleaved job's folder in the order they ran, each with the side
/// its folder names (`runs/NN-baseline/`, `runs/NN-candidate/`).
fn job_runs(folder: &Path) -> anyhow::Result<Vec<(Side, crate::gate::interleave::Run)>> {
    let runs = folder.join("runs");
    let mut folders: Vec<PathBuf> = std::fs::read_dir(&runs)
        .map_err(|e| {
            UsageError(format!(
                "{}: {e}: not a `gate interleave` folder",
                runs.display()
            ))
        })?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    folders.sort();
    folders
        .into_iter()
        .map(|f| {
            let name = f.file_name().unwrap_or_default().to_string_lossy();
            let side = [Side::Baseline, Side::Candidate]
                .into_iter()
                .find(|s| name.ends_with(&format!("-{}", s.name())))
                .ok_or_else(|| {
                    UsageError(format!(
                        "{}: not a run of `gate interleave` (runs/NN-baseline or runs/NN-candidate)",
                        f.display()
                    ))
                })?;
            let path = f.join("results.json");
            Ok((
                side,
                crate::gate::interleave::Run {
                    results: Results::read(&path)?,
                    path,
                },
            ))
        })
        .collect()
}

/// `archbench gate propose A B`: prints a `[gate]` section from an A/A pair of files.
pub fn propose_from_files(
    a: &Path,
    b: &Path,
    percentiles: &[String],
    out: &mut impl std::io::Write,
) -> anyhow::Result<()> {
    let (ra, rb) = (Results::read(a)?, Results::read(b)?);
    let proposal = propose(&ra, &rb, percentiles);
    write!(
        out,
        "{}\n{}",
        proposal_markdown(&proposal),
        proposal.section
    )?;
    Ok(())
}

/// `archbench gate calibrate`: runs the same build twice (A/A), gates B against A,
/// and proposes thresholds from the measured spread.
pub async fn calibrate(
    options: RunOptions,
    percentiles: &[String],
    out: &mut (impl std::io::Write + Send),
) -> anyhow::Result<String> {
    if options.repeat < 2 {
        return Err(UsageError(
            "gate calibrate needs --repeat 2 or more (the noise and the test work on per-repetition values; 5 is the usual)"
                .into(),
        )
        .into());
    }
    let base = options.out.clone();
    let mut a = options.clone();
    a.out = base.join("a");
    let mut b = options;
    b.out = base.join("b");
    writeln!(out, "calibrate: run A")?;
    let ra = crate::run::run(a, out).await?;
    writeln!(out, "calibrate: run B")?;
    let rb = crate::run::run(b, out).await?;
    let report = compare(
        &ra.results,
        &ra.results_path.display().to_string(),
        &rb.results,
        &rb.results_path.display().to_string(),
        &GateOverrides {
            percentiles: Some(percentiles.to_vec()),
            ..Default::default()
        },
    )?;
    write!(
        out,
        "\nA/A with the scenario's current thresholds:\n\n{}",
        markdown(&report)
    )?;
    let proposal = propose(&ra.results, &rb.results, percentiles);
    writeln!(
        out,
        "\n{}\nProposed gate section (paste into the scenario):\n\n{}",
        proposal_markdown(&proposal),
        proposal.section
    )?;
    Ok(proposal.section)
}
