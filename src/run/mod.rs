//! `archbench run` in stages: connect -> seed -> phases -> measure -> assemble, each a
//! module of its own with its inputs and outputs as types. Both systems get the same
//! seed and the same op sequence; with `--repeat N` they alternate A B A B so that
//! comparisons are paired in time. Ctrl-C stops issuing, drains what is in flight and
//! still writes the results, marked incomplete.

mod assemble;
mod connect;
mod measure;
mod phases;
mod progress;
mod seeding;
mod summary;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};

use crate::arch::SystemKind;
use crate::arch::fault::FaultSpec;
use crate::results::Results;
use crate::scenario::{self, Scenario};
use crate::shutdown::{Interrupted, ShutdownWatch};
use crate::stores::{self, ProvisionOptions, StoreMode, Stores};

/// What to run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Scenario file.
    pub scenario: PathBuf,
    /// Systems instead of the scenario's own.
    pub systems: Option<Vec<String>>,
    /// Store mode.
    pub stores: StoreMode,
    /// Store settings.
    pub provision: ProvisionOptions,
    /// Output directory (results.json, interval logs).
    pub out: PathBuf,
    /// Repetitions per system.
    pub repeat: usize,
    /// Injected delays (`--fault v03.create=+20%`), for validating the gate.
    pub faults: Vec<FaultSpec>,
}

/// What `run` produced.
#[derive(Debug)]
pub struct RunSummary {
    /// The results file.
    pub results_path: PathBuf,
    /// The results.
    pub results: Results,
}

/// A run option that cannot be used (exit code 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct OptionError(String);

/// Runs a scenario and writes `out/results.json`; a scenario with `[sweep]` runs once
/// per seed size into `out/users-N/` and writes `out/sweep.json` listing them.
pub async fn run(
    opts: RunOptions,
    out: &mut (impl std::io::Write + Send),
) -> anyhow::Result<RunSummary> {
    let scn = scenario::load(&opts.scenario)?;
    if scn.sweep_users.is_empty() {
        return run_scenario(opts, scn, out).await;
    }
    let mut index = Vec::new();
    let mut last = None;
    for users in scn.sweep_users.clone() {
        let mut s = scn.clone();
        s.seeding.users = users;
        s.name = format!("{}-users-{users}", scn.name);
        let mut o = opts.clone();
        o.out = opts.out.join(format!("users-{users}"));
        writeln!(
            out,
            "sweep: {users} users ({} entities)",
            s.seeded_entities()
        )?;
        let summary = run_scenario(o, s, out).await?;
        index.push(serde_json::json!({ "users": users, "results": summary.results_path, "complete": summary.results.complete }));
        let complete = summary.results.complete;
        last = Some(summary);
        if !complete {
            break;
        }
    }
    let index_path = opts.out.join("sweep.json");
    crate::atomic::write_atomic(&index_path, &serde_json::to_vec_pretty(&index)?, 0o644)?;
    writeln!(out, "sweep index: {}", index_path.display())?;
    Ok(last.expect("sweep has at least one size"))
}

async fn run_scenario(
    options: RunOptions,
    scenario: Scenario,
    out: &mut (impl std::io::Write + Send),
) -> anyhow::Result<RunSummary> {
    let names = options
        .systems
        .clone()
        .unwrap_or_else(|| scenario.systems.clone());
    let kinds: Vec<(String, SystemKind)> = names
        .iter()
        .map(|n| SystemKind::parse(n).map(|k| (n.clone(), k)))
        .collect::<Result<_, _>>()?;
    if let Some(f) = options.faults.iter().find(|f| !names.contains(&f.system)) {
        return Err(OptionError(format!(
            "--fault {}: no system `{}` in this run ({})",
            f.describe(),
            f.system,
            names.join(", ")
        ))
        .into());
    }
    if options.repeat == 0 {
        return Err(OptionError("--repeat must be at least 1".into()).into());
    }
    let needs_stores = kinds.iter().any(|(_, k)| k.uses_stores());
    let watch = ShutdownWatch::install();
    let stores = if needs_stores {
        writeln!(out, "starting stores ({})", options.stores)?;
        Some(tokio::select! {
            s = stores::provision(options.stores, &options.provision) => s?,
            _ = watch.wait() => return Err(Interrupted.into()),
        })
    } else {
        None
    };
    let result = run_stages(&options, &scenario, kinds, stores.as_ref(), &watch, out).await;
    if let Some(s) = stores {
        s.shutdown().await?;
    }
    result
}

/// The stages in order, with a watcher that turns Ctrl-C into a stop flag.
async fn run_stages(
    options: &RunOptions,
    scenario: &Scenario,
    kinds: Vec<(String, SystemKind)>,
    stores: Option<&Stores>,
    watch: &ShutdownWatch,
    out: &mut (impl std::io::Write + Send),
) -> anyhow::Result<RunSummary> {
    let started_at = chrono::Utc::now();
    // Read now: the tree may change while a long run goes on, the binary does not.
    let revision = assemble::git_revision();
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = {
        let (stop, watch) = (stop.clone(), watch.clone());
        tokio::spawn(async move {
            watch.wait().await;
            eprintln!(
                "archbench: stopping — draining in-flight ops, results will be marked incomplete"
            );
            stop.store(true, SeqCst);
        })
    };
    let connected = connect::connect(kinds, &options.faults, stores).await?;
    let systems = &connected.systems;
    let meter = connected.meter.as_ref();
    let space = seeding::seed_systems(systems, scenario, started_at, out).await?;
    let phase_inputs = phases::PhaseInputs {
        scenario,
        space: space.clone(),
        repeat: options.repeat,
        meter,
        stop: &stop,
    };
    let records = phases::run_phases(&phase_inputs, systems, out).await?;
    let interrupted = stop.load(SeqCst);
    let measure_inputs = measure::MeasureInputs {
        scenario,
        space: &space,
        stores,
        meter,
        folder: &options.out,
        started_at,
        stop: &stop,
    };
    let measured = measure::measure_systems(&measure_inputs, systems, records, out).await?;
    watcher.abort();
    if let Some(m) = connected.meter {
        m.close().await;
    }
    let facts = assemble::RunFacts {
        started_at,
        revision,
        interrupted,
    };
    let (results_path, results) =
        assemble::assemble(options, scenario, measured, stores, facts).await?;
    Ok(RunSummary {
        results_path,
        results,
    })
}
