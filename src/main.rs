//! The `archbench` command line: parses arguments, calls the library, maps errors to
//! exit codes (2 usage, 3 environment, 130 interrupted, 1 anything else).

use std::path::PathBuf;
use std::process::ExitCode;

use archbench::stores::{self, LocalOptions, ProvisionOptions, StoreMode};
use clap::{Args, Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "archbench",
    version,
    about = "Benchmarks V0.2 against V0.3 on real stores and checks the decision document"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start, check and stop the stores (PostgreSQL + TimescaleDB + pgvector, S3).
    Stores {
        #[command(subcommand)]
        command: StoresCommand,
    },
    /// Run a scenario against the systems and write DIR/results.json.
    Run {
        /// Scenario file (scenarios/*.toml).
        scenario: PathBuf,
        /// Systems to run, comma-separated: v02, v03, synthetic[:key=value,...].
        #[arg(long)]
        systems: Option<String>,
        #[command(flatten)]
        stores: StoreArgs,
        /// Output directory.
        #[arg(long, default_value = "reports/out")]
        out: PathBuf,
        /// Repetitions per system, alternated A B A B.
        #[arg(long, default_value_t = 1)]
        repeat: usize,
        /// Inject a delay to validate the gate: SYSTEM.OP=+20% or SYSTEM.OP=+2ms (repeatable).
        #[arg(long = "fault", value_parser = parse_fault)]
        faults: Vec<archbench::arch::fault::FaultSpec>,
        /// Do not write the approval report after the run.
        #[arg(long)]
        no_report: bool,
        #[command(flatten)]
        report: ReportArgs,
    },
    /// Write the approval report (report.html, report.md, report.json) from a results file.
    Report {
        /// results.json of a run with both v02 and v03.
        results: PathBuf,
        /// Output directory (default: beside the results file).
        #[arg(long)]
        out: Option<PathBuf>,
        #[command(flatten)]
        report: ReportArgs,
    },
    /// Compare a results file with a baseline and fail on a latency regression.
    #[command(args_conflicts_with_subcommands = true)]
    Gate {
        #[command(subcommand)]
        command: Option<GateCommand>,
        /// Baseline results.json.
        #[arg(long)]
        baseline: Option<PathBuf>,
        /// Current results.json.
        #[arg(long)]
        current: Option<PathBuf>,
        /// Also write the Markdown summary here (appended; e.g. $GITHUB_STEP_SUMMARY).
        #[arg(long)]
        markdown: Option<PathBuf>,
        /// Write JUnit XML here.
        #[arg(long)]
        junit: Option<PathBuf>,
        /// Print JSON instead of Markdown.
        #[arg(long)]
        json: bool,
        /// Percentiles to compare (default: the scenario's [gate], else p50,p95,p99).
        #[arg(long, value_delimiter = ',')]
        percentiles: Option<Vec<String>>,
        /// Regression threshold in percent for every op (default: the scenario's [gate]).
        #[arg(long)]
        threshold: Option<f64>,
        /// Significance level of the Mann-Whitney U test.
        #[arg(long)]
        alpha: Option<f64>,
    },
    /// Merge HdrHistogram interval logs (runs or agents) and print percentiles per op.
    Merge {
        /// Interval log files (.hlog).
        #[arg(required = true)]
        logs: Vec<PathBuf>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum GateCommand {
    /// Propose a [gate] section from two results files of the same build (an A/A pair).
    Propose {
        /// First results.json.
        a: PathBuf,
        /// Second results.json.
        b: PathBuf,
        /// Percentiles to calibrate.
        #[arg(long, value_delimiter = ',', default_value = "p50,p95,p99")]
        percentiles: Vec<String>,
    },
    /// Run the scenario twice (A/A) and propose thresholds from the measured spread.
    Calibrate {
        /// Scenario file.
        scenario: PathBuf,
        /// Repetitions per run (2 or more).
        #[arg(long, default_value_t = 5)]
        repeat: usize,
        /// Systems instead of the scenario's own.
        #[arg(long)]
        systems: Option<String>,
        #[command(flatten)]
        stores: StoreArgs,
        /// Output directory (A and B results go to DIR/a and DIR/b).
        #[arg(long, default_value = "reports/out/calibrate")]
        out: PathBuf,
        /// Percentiles to calibrate.
        #[arg(long, value_delimiter = ',', default_value = "p50,p95,p99")]
        percentiles: Vec<String>,
    },
}

#[derive(Subcommand)]
enum StoresCommand {
    /// Start the stores and keep them running until Ctrl-C or `stores down`.
    Up {
        #[command(flatten)]
        stores: StoreArgs,
        /// Keep the run directory (data, logs) after stopping.
        #[arg(long)]
        keep: bool,
        /// PostgreSQL port (default: a free one).
        #[arg(long)]
        pg_port: Option<u16>,
        /// S3 port (default: a free one).
        #[arg(long)]
        s3_port: Option<u16>,
        /// Print the connection details as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Stop every running `stores up` instance.
    Down {
        #[command(flatten)]
        stores: StoreArgs,
    },
    /// Health and versions of the stores (starts temporary ones when none run).
    Status {
        #[command(flatten)]
        stores: StoreArgs,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args)]
struct StoreArgs {
    /// Where the stores come from.
    #[arg(long, value_enum, default_value_t = StoreMode::Auto, env = "ARCHBENCH_STORES")]
    stores: StoreMode,
    /// Directory for local run directories (default: $TMPDIR/archbench-<uid>).
    #[arg(long, env = "ARCHBENCH_RUN_ROOT")]
    run_root: Option<PathBuf>,
}

impl StoreArgs {
    fn run_options(
        &self,
        scenario: PathBuf,
        systems: Option<String>,
        out: PathBuf,
        repeat: usize,
        faults: Vec<archbench::arch::fault::FaultSpec>,
    ) -> archbench::run::RunOptions {
        archbench::run::RunOptions {
            scenario,
            systems: systems.as_deref().map(archbench::run::split_systems),
            stores: self.stores,
            provision: self.options(),
            out,
            repeat,
            faults,
        }
    }

    fn options(&self) -> ProvisionOptions {
        ProvisionOptions {
            local: LocalOptions {
                run_root: self.run_root.clone(),
                ..LocalOptions::default()
            },
            ..ProvisionOptions::default()
        }
    }
}

/// Where the report's inputs live.
#[derive(clap::Args)]
struct ReportArgs {
    /// Price catalogue directory.
    #[arg(long, default_value = "pricing")]
    pricing: PathBuf,
    /// Cost model: assumptions and deployment profiles.
    #[arg(long, default_value = "deployments/decision-doc.toml")]
    model: PathBuf,
    /// The decision document's figures, claims and go/no-go criteria.
    #[arg(long, default_value = "targets/decision-doc.toml")]
    targets: PathBuf,
}

impl ReportArgs {
    fn inputs(&self, results: PathBuf) -> archbench::report::ReportInputs {
        archbench::report::ReportInputs {
            results,
            pricing: self.pricing.clone(),
            model: self.model.clone(),
            targets: self.targets.clone(),
        }
    }
}

/// Builds and writes the report, then prints where it is and the headline verdicts.
fn write_report(
    inputs: archbench::report::ReportInputs,
    out: &std::path::Path,
) -> anyhow::Result<()> {
    let report = archbench::report::Report::build(&inputs)?;
    let paths = report.write(out)?;
    println!("report: {}", paths.html.display());
    println!(
        "        {} (Markdown), {} (JSON)",
        paths.markdown.display(),
        paths.json.display()
    );
    for line in report.headline() {
        println!("  {line}");
    }
    Ok(())
}

fn parse_fault(s: &str) -> Result<archbench::arch::fault::FaultSpec, String> {
    archbench::arch::fault::FaultSpec::parse(s)
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let mut out = std::io::stdout();
    match cli.command {
        Command::Run {
            scenario,
            systems,
            stores: a,
            out: dir,
            repeat,
            faults,
            no_report,
            report,
        } => {
            let opts = a.run_options(scenario, systems, dir.clone(), repeat, faults);
            let summary = archbench::run::run(opts, &mut out).await?;
            println!(
                "results: {}{}",
                summary.results_path.display(),
                if summary.results.complete {
                    ""
                } else {
                    " (incomplete)"
                }
            );
            if !summary.results.complete {
                anyhow::bail!(
                    "the run is incomplete: {}",
                    summary.results.notes.join("; ")
                );
            }
            let r = &summary.results;
            let comparable = ["v02", "v03"].iter().all(|s| r.systems.contains_key(*s))
                && !r.scenario.user_behaviour.is_empty();
            if no_report {
            } else if comparable {
                let dir = summary.results_path.parent().unwrap_or(&dir).to_path_buf();
                write_report(report.inputs(summary.results_path.clone()), &dir)?;
            } else {
                println!(
                    "report: skipped (it needs v02 and v03 and the scenario's [user_behaviour]); `archbench report` makes one later"
                );
            }
            Ok(())
        }
        Command::Report {
            results,
            out: dir,
            report,
        } => {
            let dir = dir.unwrap_or_else(|| {
                results
                    .parent()
                    .map(|p| p.to_path_buf())
                    .unwrap_or_else(|| ".".into())
            });
            write_report(report.inputs(results), &dir)
        }
        Command::Gate {
            command: Some(GateCommand::Propose { a, b, percentiles }),
            ..
        } => {
            let ra = archbench::report::results::Results::read(&a)?;
            let rb = archbench::report::results::Results::read(&b)?;
            let (_, section) = archbench::gate::propose(&ra, &rb, &percentiles);
            print!("{section}");
            Ok(())
        }
        Command::Gate {
            command:
                Some(GateCommand::Calibrate {
                    scenario,
                    repeat,
                    systems,
                    stores: a,
                    out: dir,
                    percentiles,
                }),
            ..
        } => {
            let opts = a.run_options(scenario, systems, dir, repeat, Vec::new());
            archbench::gate::calibrate(opts, &percentiles, &mut out)
                .await
                .map(drop)
        }
        Command::Gate {
            command: None,
            baseline,
            current,
            markdown,
            junit,
            json,
            percentiles,
            threshold,
            alpha,
        } => {
            let (Some(baseline), Some(current)) = (baseline, current) else {
                return Err(archbench::run::UsageError(
                    "gate needs --baseline FILE and --current FILE (or the `calibrate` subcommand)"
                        .into(),
                )
                .into());
            };
            let overrides = archbench::gate::GateOverrides {
                percentiles,
                threshold_pct: threshold,
                alpha,
            };
            let outs = archbench::gate::GateOutputs {
                markdown,
                junit,
                json,
            };
            archbench::gate::gate_command(&baseline, &current, &overrides, &outs, &mut out)
                .map(drop)
        }
        Command::Merge { logs, json } => {
            archbench::loadgen::record::merge_command(&logs, json, &mut out)
        }
        Command::Stores { command } => match command {
            StoresCommand::Up {
                stores: a,
                keep,
                pg_port,
                s3_port,
                json,
            } => {
                let mut opts = a.options();
                opts.local.keep = keep;
                opts.local.pg_port = pg_port;
                opts.local.s3_port = s3_port;
                stores::commands::up(a.stores, &opts, json, &mut out).await
            }
            StoresCommand::Down { stores: a } => stores::commands::down(&a.options(), &mut out)
                .await
                .map(|_| ()),
            StoresCommand::Status { stores: a, json } => {
                stores::commands::status(a.stores, &a.options(), json, &mut out).await
            }
        },
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("ARCHBENCH_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("archbench: cannot start the async runtime: {e}");
            return ExitCode::from(3);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("archbench: {}", archbench::error_message(&e));
            ExitCode::from(archbench::exit_code(&e))
        }
    }
}
