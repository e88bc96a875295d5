//! `archbench gate interleave`: the baseline's and the candidate's builds run the gate
//! scenario turn about in one job (A B B A A B …), one fresh run per repetition, then
//! each side's runs are combined and gated. A slow spell of the host then falls on
//! both sides, which a baseline measured at another time cannot offer. Runs already
//! finished in the output folder are kept, so an interrupted job resumes.

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::UsageError;
use super::gate::{GateOutputs, gate};
use crate::gate::GateOverrides;
use crate::gate::interleave::{Run, combine, letters, order};
use crate::results::Results;
use crate::results::interleaving::Side;
use crate::shutdown::{Interrupted, ShutdownWatch};

/// `archbench gate interleave` arguments.
#[derive(Debug, clap::Args)]
pub struct InterleaveArgs {
    /// Scenario file (the gate scenario): both builds run this file.
    pub scenario: PathBuf,
    /// The baseline's archbench binary (e.g. built from the target branch).
    #[arg(long)]
    pub baseline_bin: PathBuf,
    /// The candidate's binary (default: this one).
    #[arg(long)]
    pub candidate_bin: Option<PathBuf>,
    /// Runs per side: each run is one repetition (5 is the least at which the test
    /// can reject at alpha 0.01).
    #[arg(long, default_value_t = 5)]
    pub pairs: usize,
    #[command(flatten)]
    pub stores: super::StoreArgs,
    /// Inject a delay into the candidate's runs only (`run --fault`, repeatable): to
    /// check that the gate catches it.
    #[arg(long = "candidate-fault")]
    pub candidate_faults: Vec<String>,
    /// Output folder: runs/NN-side/ per run, baseline.json and candidate.json.
    #[arg(long, default_value = "reports/out/interleave")]
    pub out: PathBuf,
    /// Discard the runs a previous job left in the output folder.
    #[arg(long)]
    pub fresh: bool,
    /// Also write the Markdown summary here (appended; e.g. $GITHUB_STEP_SUMMARY).
    #[arg(long)]
    pub markdown: Option<PathBuf>,
    /// Write JUnit XML here.
    #[arg(long)]
    pub junit: Option<PathBuf>,
    /// Write a pull-request comment here.
    #[arg(long)]
    pub comment: Option<PathBuf>,
    /// Print JSON instead of Markdown.
    #[arg(long)]
    pub json: bool,
    /// Significance level (default: the scenario's [gate]).
    #[arg(long)]
    pub alpha: Option<f64>,
    /// Further `archbench run` options for every run, after `--` (e.g. `-- --network same-region`).
    #[arg(last = true)]
    pub run_args: Vec<String>,
}

/// What a job is: kept in the output folder so that a resumed job is the same job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Plan {
    scenario: String,
    order: String,
    baseline_bin: String,
    candidate_bin: String,
    baseline_version: String,
    candidate_version: String,
    run_args: Vec<String>,
    candidate_faults: Vec<String>,
}

const PLAN_FILE: &str = "interleave.json";

/// Runs the job (progress on stderr) and gates it: [`super::gate::GateFailed`] on a regression.
pub async fn interleave(args: InterleaveArgs, out: &mut impl std::io::Write) -> anyhow::Result<()> {
    if args.pairs < 2 {
        return Err(UsageError(format!(
            "--pairs {}: the test needs at least 2 runs per side (5 to reject at alpha 0.01)",
            args.pairs
        ))
        .into());
    }
    let candidate_bin = match &args.candidate_bin {
        Some(p) => p.clone(),
        None => std::env::current_exe()?,
    };
    let plan = Plan {
        scenario: args.scenario.display().to_string(),
        order: letters(&order(args.pairs)),
        baseline_version: version(&args.baseline_bin, "--baseline-bin").await?,
        candidate_version: version(&candidate_bin, "--candidate-bin").await?,
        baseline_bin: args.baseline_bin.display().to_string(),
        candidate_bin: candidate_bin.display().to_string(),
        run_args: args.run_args.clone(),
        candidate_faults: args.candidate_faults.clone(),
    };
    prepare(&args.out, &plan, args.fresh)?;
    let watch = ShutdownWatch::install();
    let mut runs: Vec<(Side, Run)> = Vec::new();
    for (i, side) in order(args.pairs).into_iter().enumerate() {
        let folder = args
            .out
            .join("runs")
            .join(format!("{:02}-{}", i + 1, side.name()));
        let results = folder.join("results.json");
        // Progress goes to stderr: stdout carries the gate's answer (`--json`).
        if !finished(&results) {
            let started = Instant::now();
            eprintln!(
                "interleave: run {}/{} ({}, {})",
                i + 1,
                2 * args.pairs,
                side.letter(),
                side.name()
            );
            run_once(&args, &plan, side, &folder, &watch).await?;
            eprintln!(
                "interleave:   done in {:.0} s",
                started.elapsed().as_secs_f64()
            );
        } else {
            eprintln!(
                "interleave: run {}/{} kept: {}",
                i + 1,
                2 * args.pairs,
                results.display()
            );
        }
        runs.push((
            side,
            Run {
                results: Results::read(&results)?,
                path: results,
            },
        ));
    }
    let paths = write_sides(&args.out, &plan, &runs)?;
    let outputs = GateOutputs {
        markdown: args.markdown.clone(),
        junit: args.junit.clone(),
        comment: args.comment.clone(),
        json: args.json,
    };
    let overrides = GateOverrides {
        alpha: args.alpha,
        ..Default::default()
    };
    gate(Some(&paths.0), Some(&paths.1), &overrides, &outputs, out).map(drop)
}

/// The binary's `--version`: it must run, and the plan records which build it was.
async fn version(binary: &Path, option: &str) -> anyhow::Result<String> {
    let output = tokio::process::Command::new(binary)
        .arg("--version")
        .output()
        .await
        .map_err(|e| UsageError(format!("{option} {}: cannot run it: {e}", binary.display())))?;
    if !output.status.success() {
        return Err(UsageError(format!(
            "{option} {}: `--version` exited with {}: not an archbench binary?",
            binary.display(),
            output.status
        ))
        .into());
    }
    // The version names a release, not a build: the binary's time tells two builds
    // of one version apart, so a resumed job never mixes them.
    let built = std::fs::metadata(binary)
        .and_then(|m| m.modified())
        .map(|t| chrono::DateTime::<chrono::Utc>::from(t).to_rfc3339())
        .unwrap_or_else(|_| "unknown".into());
    Ok(format!(
        "{}, built {built}",
        String::from_utf8_lossy(&output.stdout).trim()
    ))
}

/// Creates the output folder, or checks that the job it holds is this one.
fn prepare(folder: &Path, plan: &Plan, fresh: bool) -> anyhow::Result<()> {
    let file = folder.join(PLAN_FILE);
    if fresh && folder.join("runs").exists() {
        std::fs::remove_dir_all(folder.join("runs"))?;
    }
    if !fresh && let Ok(bytes) = std::fs::read(&file) {
        let earlier: Plan = serde_json::from_slice(&bytes)
            .map_err(|e| UsageError(format!("{}: {e}", file.display())))?;
        if earlier != *plan {
            return Err(UsageError(format!(
                "{} holds another job's runs (its {} differ from this one's): give another --out, or --fresh to discard them",
                folder.display(),
                differences(&earlier, plan).join(", ")
            ))
            .into());
        }
    }
    std::fs::create_dir_all(folder.join("runs"))?;
    let json = serde_json::to_vec_pretty(plan)?;
    crate::atomic::write_atomic(&file, &json, 0o644)?;
    Ok(())
}

fn differences(a: &Plan, b: &Plan) -> Vec<&'static str> {
    let mut d = Vec::new();
    let mut check = |same: bool, name| {
        if !same {
            d.push(name);
        }
    };
    check(a.scenario == b.scenario, "scenario");
    check(a.order == b.order, "order (--pairs)");
    check(
        a.baseline_bin == b.baseline_bin && a.baseline_version == b.baseline_version,
        "baseline binary",
    );
    check(
        a.candidate_bin == b.candidate_bin && a.candidate_version == b.candidate_version,
        "candidate binary",
    );
    check(a.run_args == b.run_args, "run options");
    check(a.candidate_faults == b.candidate_faults, "injected delays");
    d
}

/// A run counts as finished when its results file reads and is complete.
fn finished(results: &Path) -> bool {
    Results::read(results).is_ok_and(|r| r.complete)
}

/// One run of one side's binary, its output in a log beside its folder. Ctrl-C is
/// passed on to the run, which saves what it has; the job then stops with exit 130.
async fn run_once(
    args: &InterleaveArgs,
    plan: &Plan,
    side: Side,
    folder: &Path,
    watch: &ShutdownWatch,
) -> anyhow::Result<()> {
    if folder.exists() {
        std::fs::remove_dir_all(folder)?;
    }
    std::fs::create_dir_all(folder)?;
    let (binary, faults) = match side {
        Side::Baseline => (&plan.baseline_bin, &[][..]),
        Side::Candidate => (&plan.candidate_bin, &plan.candidate_faults[..]),
    };
    let log_path = folder.with_extension("log");
    let log = std::fs::File::create(&log_path)?;
    let mut command = tokio::process::Command::new(binary);
    command
        .arg("run")
        .arg(&args.scenario)
        .args(["--repeat", "1", "--no-report", "--stores"])
        .arg(store_mode(&args.stores))
        .arg("--out")
        .arg(folder);
    if let Some(root) = &args.stores.run_root {
        command.arg("--run-root").arg(root);
    }
    for fault in faults {
        command.arg("--fault").arg(fault);
    }
    command
        .args(&plan.run_args)
        .stdout(log.try_clone()?)
        .stderr(log)
        .kill_on_drop(true);
    let mut child = command.spawn()?;
    let status = tokio::select! {
        status = child.wait() => status?,
        _ = watch.wait() => {
            if let Some(pid) = child.id() {
                // SAFETY: kill(2) on the child's pid; no memory is touched.
                unsafe { libc::kill(pid as i32, libc::SIGINT) };
            }
            child.wait().await?;
            eprintln!(
                "interleave: stopped; finished runs are kept in {}: run the same command again to resume",
                args.out.display()
            );
            return Err(Interrupted.into());
        }
    };
    if !status.success() {
        let tail = last_lines(&log_path, 5);
        return Err(anyhow::anyhow!(
            "{} run for the {} side exited with {status} (log {}):\n{tail}",
            binary,
            side.name(),
            log_path.display()
        ));
    }
    Ok(())
}

fn store_mode(stores: &super::StoreArgs) -> String {
    use clap::ValueEnum;
    stores
        .stores
        .to_possible_value()
        .map_or_else(|| "auto".into(), |v| v.get_name().to_string())
}

fn last_lines(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Combines each side's runs and writes `baseline.json` and `candidate.json`.
fn write_sides(
    folder: &Path,
    plan: &Plan,
    runs: &[(Side, Run)],
) -> anyhow::Result<(PathBuf, PathBuf)> {
    let mut paths = Vec::new();
    for side in [Side::Baseline, Side::Candidate] {
        let mine: Vec<&Run> = runs
            .iter()
            .filter(|(s, _)| *s == side)
            .map(|(_, r)| r)
            .collect();
        let binary = match side {
            Side::Baseline => format!("{} ({})", plan.baseline_bin, plan.baseline_version),
            Side::Candidate => format!("{} ({})", plan.candidate_bin, plan.candidate_version),
        };
        let combined = combine(side, &plan.order, &mine, &binary)?;
        let path = folder.join(format!("{}.json", side.name()));
        combined.write_atomic(&path)?;
        paths.push(path);
    }
    let candidate = paths.pop().expect("two sides");
    let baseline = paths.pop().expect("two sides");
    Ok((baseline, candidate))
}
