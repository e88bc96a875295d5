//! The `archbench` command line: clap definitions, a dispatch to `archbench::cli`, and
//! the exit code (2 usage, 3 environment, 130 interrupted, 1 otherwise) of an error.

use std::path::PathBuf;
use std::process::ExitCode;

use archbench::arch::fault::FaultSpec;
use archbench::cli::{self, StoreArgs};
use archbench::gate::GateOverrides;
use archbench::rig::faults::Fault;
use archbench::run::Limits;
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

// One value per process, parsed once: its variants' sizes do not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Command {
    /// Serve a reference system over HTTP (schema/openapi.yaml) on its stores, until
    /// Ctrl-C; drive it with `run --systems http:NAME=URL`.
    Serve {
        /// v02 or v03, or synthetic:... (no stores: a no-op or stalling server).
        system: String,
        #[command(flatten)]
        stores: StoreArgs,
        /// Address to listen on (port 0: any free one, printed).
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: std::net::SocketAddr,
    },
    /// Start, check and stop the stores (PostgreSQL + TimescaleDB + pgvector, S3).
    Stores {
        #[command(subcommand)]
        command: cli::stores::StoresCommand,
    },
    /// The highest open-model rate each system sustains within the scenario's [slo]
    /// (p99 per op, failed share): doubling ramp, then bisection; writes capacity.json.
    Capacity {
        /// Scenario file with `[slo] p99_ms` and `max_error_rate`.
        scenario: PathBuf,
        /// Systems to search, comma-separated (default: the scenario's).
        #[arg(long)]
        systems: Option<String>,
        #[command(flatten)]
        stores: StoreArgs,
        #[command(flatten)]
        rig: RigArgs,
        /// Output directory.
        #[arg(long, default_value = "reports/out/capacity")]
        out: PathBuf,
        /// Length of each measured step.
        #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
        step: std::time::Duration,
        /// Unrecorded warm-up before each step, at its rate.
        #[arg(long, default_value = "3s", value_parser = humantime::parse_duration)]
        warmup: std::time::Duration,
        /// First rate tried, ops/s.
        #[arg(long, default_value_t = 25.0)]
        start_rate: f64,
        /// Highest rate tried, ops/s.
        #[arg(long, default_value_t = 50_000.0)]
        max_rate: f64,
        /// Stop bisecting when the failing rate is within this factor of the passing one.
        #[arg(long, default_value_t = 1.1)]
        precision: f64,
        /// At most this many steps per system.
        #[arg(long, default_value_t = 16)]
        max_steps: usize,
        /// Cost model whose peak-to-average turns the rate into users.
        #[arg(long, default_value = "deployments/decision-doc.toml")]
        model: PathBuf,
        /// Scale sweep: entities per size, e.g. 10000,50000; writes capacity-N.json each.
        #[arg(long, value_delimiter = ',')]
        sweep: Vec<u64>,
    },
    /// Rehearse the move from V0.2 to V0.3: backfill under dual-write load, shadow
    /// reads, parity, cut-over and rollback; resumable. Writes DIR/migration.json.
    Migrate(cli::migrate::MigrateArgs),
    /// Run a scenario against the systems and write DIR/results.json.
    Run {
        /// Scenario file (scenarios/*.toml).
        scenario: PathBuf,
        /// Systems to run, comma-separated: v02, v03, synthetic[:key=value,...],
        /// http:NAME=BASE_URL (a deployment, as the scenario's [http] maps the ops).
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
        faults: Vec<FaultSpec>,
        /// Kill or pause a store mid-run, then restart or continue it (repeatable), as a
        /// `[[fault]]` would: TARGET:ACTION@AT+FOR, e.g. postgres:kill@20s+5s. Targets:
        /// postgres, object_store, emulator; actions: kill, pause; AT counts from the
        /// first measured phase of each system.
        #[arg(long = "fault-at", value_parser = Fault::parse)]
        fault_at: Vec<Fault>,
        #[command(flatten)]
        rig: RigArgs,
        /// Do not write the approval report after the run.
        #[arg(long)]
        no_report: bool,
        /// Print what the run would do and need (ops, disk, memory), then stop.
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        limits: LimitArgs,
        #[command(flatten)]
        report: cli::report::ReportArgs,
        #[command(flatten)]
        agent: cli::run::AgentArgs,
        /// The target already holds the scenario's seed (an external target that
        /// another agent or an earlier run seeded): derive the keys, write nothing.
        #[arg(long)]
        seeded: bool,
    },
    /// Write the approval report (report.html, report.md, report.json) from a results file.
    Report {
        /// results.json of a run with both v02 and v03.
        results: PathBuf,
        /// Output directory (default: beside the results file).
        #[arg(long)]
        out: Option<PathBuf>,
        #[command(flatten)]
        report: cli::report::ReportArgs,
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
        /// Write a pull-request comment here (Markdown: the verdict in one line, the
        /// regressions, the detectable regressions, details folded).
        #[arg(long)]
        comment: Option<PathBuf>,
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
    /// Change points over a series of results files (e.g. nightly runs of main), per
    /// system, op and percentile: E-Divisive with a permutation test.
    History {
        /// results.json files of one scenario (10 or more), in any order: they are
        /// sorted by start time.
        #[arg(required = true)]
        results: Vec<PathBuf>,
        /// Percentiles to follow.
        #[arg(long, value_delimiter = ',', default_value = "p50,p95,p99")]
        percentiles: Vec<String>,
        /// Significance level of the permutation test (0.01: at 0.05 a 30-run history
        /// of noise shows a false change point in about one series of five).
        #[arg(long, default_value_t = 0.01)]
        alpha: f64,
        /// Print JSON instead of Markdown.
        #[arg(long)]
        json: bool,
    },
    /// Measure the gate's error rates: false alarms over every ordered pair of A/A
    /// runs, detection of delays injected with `run --fault` against each A/A run; or,
    /// with --interleaved-aa, of the interleaved gate (`gate interleave` jobs).
    Rates {
        /// results.json of fresh runs of the same build (2 or more; 5 give 20 pairs).
        #[arg(long, num_args = 1.., required_unless_present = "interleaved_aa")]
        aa: Vec<PathBuf>,
        /// results.json of runs with `--fault SYSTEM.OP=+N%`.
        #[arg(long, num_args = 1..)]
        faulted: Vec<PathBuf>,
        /// Folder of a `gate interleave` job of one build against itself (20 runs give
        /// 22 windows at --pairs 5).
        #[arg(long, conflicts_with_all = ["aa", "faulted"])]
        interleaved_aa: Option<PathBuf>,
        /// Folders of `gate interleave` jobs with --candidate-fault.
        #[arg(long, num_args = 1.., requires = "interleaved_aa")]
        interleaved_faulted: Vec<PathBuf>,
        /// Runs per side in an A/A window (the CI job's --pairs).
        #[arg(long, default_value_t = 5)]
        pairs: usize,
        /// Significance level (default: the scenario's [gate]).
        #[arg(long)]
        alpha: Option<f64>,
        /// Print JSON instead of Markdown.
        #[arg(long)]
        json: bool,
    },
    /// Run the baseline's and the candidate's builds turn about (A B B A …), one fresh
    /// run per repetition, and gate the candidate against the baseline.
    Interleave(cli::interleave::InterleaveArgs),
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

/// What the stores run under: the network and the instance size.
#[derive(Args)]
struct RigArgs {
    /// Network profile between the systems and the stores (deployments/networks.toml):
    /// loopback, same-region, cross-cloud. Played by a userspace delay proxy.
    #[arg(long)]
    network: Option<String>,
    /// Network profiles file.
    #[arg(long, default_value = archbench::rig::network::NETWORKS_FILE)]
    networks: PathBuf,
    /// Instance profile PostgreSQL runs under (deployments/instances.toml): 0.25cu,
    /// 1cu, 2cu, 4cu. A cgroup with the size's CPU quota and memory limit (page
    /// cache included) around the local server, and the size's settings.
    #[arg(long)]
    instance: Option<String>,
    /// Instance profiles file.
    #[arg(long, default_value = archbench::rig::instance::INSTANCES_FILE)]
    instances: PathBuf,
}

impl RigArgs {
    /// The profiles named by the flags, else by the scenario's `[network]` and
    /// `[instance]` (the flags win).
    fn apply(self, options: &mut archbench::run::RunOptions) -> anyhow::Result<()> {
        let named = archbench::scenario::load(&options.scenario)?;
        let network = self.network.or(named.network);
        let instance = self.instance.or(named.instance);
        options.network = cli::network_profile(network.as_deref(), &self.networks)?;
        options.instance = cli::instance_profile(instance.as_deref(), &self.instances)?;
        Ok(())
    }
}

/// Resource ceilings of a run, beyond what the machine has.
#[derive(Args)]
struct LimitArgs {
    /// Refuse a scenario whose estimated memory exceeds this (e.g. 4G).
    #[arg(long, value_parser = cli::parse_size)]
    max_memory: Option<u64>,
    /// Refuse a scenario whose estimated disk for the stores exceeds this (e.g. 20G).
    #[arg(long, value_parser = cli::parse_size)]
    max_disk: Option<u64>,
}

impl LimitArgs {
    fn limits(&self) -> Limits {
        Limits {
            max_memory: self.max_memory,
            max_disk: self.max_disk,
        }
    }
}

fn parse_fault(s: &str) -> Result<FaultSpec, String> {
    FaultSpec::parse(s)
}

async fn dispatch(command: Command) -> anyhow::Result<()> {
    let out = &mut std::io::stdout();
    match command {
        Command::Run {
            scenario,
            systems,
            stores,
            out: folder,
            repeat,
            faults,
            fault_at,
            rig,
            no_report,
            dry_run,
            limits,
            report,
            agent,
            seeded,
        } => {
            let mut options = stores.choice().run_options(
                scenario,
                systems.as_deref(),
                folder,
                repeat,
                faults,
                limits.limits(),
            );
            options.fault_at = fault_at;
            options.agent = agent.agent_run()?;
            options.seeded = seeded;
            rig.apply(&mut options)?;
            let after = cli::run::AfterRun {
                dry_run,
                no_report,
                report: report.inputs(PathBuf::new()),
            };
            cli::run::run(options, after, out).await
        }
        Command::Capacity {
            scenario,
            systems,
            stores,
            rig,
            out: folder,
            step,
            warmup,
            start_rate,
            max_rate,
            precision,
            max_steps,
            model,
            sweep,
        } => {
            let mut run = stores.choice().run_options(
                scenario,
                systems.as_deref(),
                folder,
                1,
                Vec::new(),
                Default::default(),
            );
            rig.apply(&mut run)?;
            let search = cli::capacity::search(start_rate, max_rate, precision, max_steps)?;
            let sweep = cli::capacity::sweep(sweep)?;
            let options = archbench::run::capacity::CapacityOptions {
                run,
                search,
                step,
                warmup,
                model: Some(model),
                sweep,
            };
            cli::capacity::capacity(options, out).await
        }
        Command::Report {
            results,
            out: folder,
            report,
        } => cli::report::report(report.inputs(results), folder, out),
        Command::Gate {
            command: Some(GateCommand::Propose { a, b, percentiles }),
            ..
        } => cli::gate::propose_from_files(&a, &b, &percentiles, out),
        Command::Gate {
            command:
                Some(GateCommand::Calibrate {
                    scenario,
                    repeat,
                    systems,
                    stores,
                    out: folder,
                    percentiles,
                }),
            ..
        } => {
            let options = stores.choice().run_options(
                scenario,
                systems.as_deref(),
                folder,
                repeat,
                Vec::new(),
                Limits::default(),
            );
            cli::gate::calibrate(options, &percentiles, out)
                .await
                .map(drop)
        }
        Command::Gate {
            command:
                Some(GateCommand::History {
                    results,
                    percentiles,
                    alpha,
                    json,
                }),
            ..
        } => cli::gate::history(&results, &percentiles, alpha, json, out).map(drop),
        Command::Gate {
            command:
                Some(GateCommand::Rates {
                    aa,
                    faulted,
                    interleaved_aa,
                    interleaved_faulted,
                    pairs,
                    alpha,
                    json,
                }),
            ..
        } => {
            let overrides = GateOverrides {
                alpha,
                ..Default::default()
            };
            let input = match interleaved_aa {
                Some(aa) => cli::gate::RatesInput::Interleaved {
                    aa,
                    faulted: interleaved_faulted,
                    pairs,
                },
                None => cli::gate::RatesInput::Separate { aa, faulted },
            };
            cli::gate::rates(&input, &overrides, json, out).map(drop)
        }
        Command::Gate {
            command: Some(GateCommand::Interleave(args)),
            ..
        } => cli::interleave::interleave(args, out).await,
        Command::Gate {
            command: None,
            baseline,
            current,
            markdown,
            junit,
            comment,
            json,
            percentiles,
            threshold,
            alpha,
        } => {
            let overrides = GateOverrides {
                percentiles,
                threshold_pct: threshold,
                alpha,
                ..Default::default()
            };
            let outputs = cli::gate::GateOutputs {
                markdown,
                junit,
                comment,
                json,
            };
            cli::gate::gate(
                baseline.as_deref(),
                current.as_deref(),
                &overrides,
                &outputs,
                out,
            )
            .map(drop)
        }
        Command::Migrate(args) => cli::migrate::migrate(args, out).await,
        Command::Merge { logs, json } => cli::merge::merge(&logs, json, out),
        Command::Stores { command } => cli::stores::dispatch(command, out).await,
        Command::Serve {
            system,
            stores,
            listen,
        } => cli::serve::serve(&system, &stores.choice(), listen, out).await,
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
    match runtime.block_on(dispatch(cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("archbench: {}", cli::error_message(&e));
            ExitCode::from(cli::exit_code(&e))
        }
    }
}
