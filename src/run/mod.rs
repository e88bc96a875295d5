//! `archbench run` in stages: connect -> seed -> phases -> measure -> assemble, each a
//! module of its own with its inputs and outputs as types. Both systems get the same
//! seed and the same op sequence; with `--repeat N` they alternate A B A B so that
//! comparisons are paired in time. Ctrl-C stops issuing, drains what is in flight and
//! still writes the results, marked incomplete.

mod assemble;
pub mod capacity;
mod connect;
mod estimate;
mod event_log;
mod faults;
mod machine;
mod measure;
mod phases;
mod progress;
mod seeding;
mod summary;
mod upload;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering::SeqCst;

use crate::arch::SystemKind;
use crate::arch::fault::FaultSpec;
use crate::results::{Results, RunStage};
use crate::rig::instance::{Confined, InstanceProfile};
use crate::rig::network::{Network, NetworkProfile};
use crate::scenario::{self, Scenario};
use crate::shutdown::ShutdownWatch;
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
    /// Memory and disk the run may use at most, beyond what the machine has.
    pub limits: Limits,
    /// Store faults besides the scenario's (`--fault-at postgres:kill@20s+5s`).
    pub fault_at: Vec<crate::rig::faults::Fault>,
    /// The network between the systems and the stores (`--network`); `None`: loopback.
    pub network: Option<NetworkProfile>,
    /// The instance PostgreSQL runs on (`--instance`), a cgroup around the local
    /// server; `None`: this machine, unlimited.
    pub instance: Option<InstanceProfile>,
    /// This process's share of a run spread over agents (`--agent I/N --start-at`);
    /// `None`: the whole schedule, at once.
    pub agent: Option<crate::loadgen::agent::AgentRun>,
    /// The systems already hold the scenario's seed (`--seeded`: an external target
    /// another agent or an earlier run seeded); only the keys are derived.
    pub seeded: bool,
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

pub use connect::at_a_distance;
pub use estimate::{Estimate, Limits};
pub use phases::{Load, drive_phase};

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
        // Relative to the index, so that the sweep's folder can be moved whole.
        index.push(crate::growth::SweepEntry {
            users,
            results: PathBuf::from(format!("users-{users}")).join("results.json"),
            complete: summary.results.complete,
        });
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
    mut scenario: Scenario,
    out: &mut (impl std::io::Write + Send),
) -> anyhow::Result<RunSummary> {
    faults::check_fault_at(&scenario, &options.fault_at)?;
    scenario.faults.extend(options.fault_at.iter().copied());
    let kinds = system_kinds(&options, &scenario)?;
    let names: Vec<String> = kinds.iter().map(|(n, _)| n.clone()).collect();
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
    if options.seeded && kinds.iter().any(|(_, k)| !k.external()) {
        return Err(OptionError(
            "--seeded: only external targets (http:NAME=URL) can already hold the seed; the systems archbench runs are seeded by it"
                .into(),
        )
        .into());
    }
    let needs_stores = kinds.iter().any(|(_, k)| k.uses_stores());
    let stored = kinds.iter().filter(|(_, k)| k.uses_stores()).count();
    let estimate = Estimate::of(&scenario, kinds.len(), stored, options.repeat);
    estimate.check(options.limits, data_dir(&options, needs_stores).as_deref())?;
    let watch = ShutdownWatch::install();
    let confined = confine(&options.store_setup(), &scenario, needs_stores)?;
    let mut started = Started::now(options.network.as_ref());
    started.instance = confined.clone();
    let stores = if needs_stores {
        writeln!(out, "starting stores ({})", options.stores)?;
        let provision_options =
            provision_options(&options.store_setup(), confined.as_deref(), out)?;
        let provision = stores::provision(options.stores, &provision_options);
        match watch.unless_signalled(provision).await {
            Some(s) => Some(unconfined_refused(s?, confined.is_some()).await?),
            None => {
                let measured = measure::Measured::stopped(RunStage::StartingStores);
                return write_results(&options, &scenario, measured, None, started).await;
            }
        }
    } else {
        None
    };
    // A second signal does not wait for the clean stop: the servers are killed and
    // their directory removed at once.
    let immediate = stores.as_ref().map(|s| {
        let (pids, dir, watch) = (s.child_pids(), s.run_dir(), watch.clone());
        tokio::spawn(async move {
            watch.wait_for(2).await;
            eprintln!("archbench: second interrupt — stopping the stores now");
            stores::kill_now(&pids, dir.as_deref());
            std::process::exit(130);
        })
    });
    let result = run_stages(
        &options,
        &scenario,
        kinds,
        stores.as_ref(),
        &watch,
        started,
        out,
    )
    .await;
    if let Some(s) = stores {
        s.shutdown().await?;
    }
    if let Some(task) = immediate {
        task.abort();
    }
    // The cgroup goes once its server has stopped.
    drop(confined);
    result
}

/// Waits until the agents' common start; `false` when a signal came first.
async fn wait_for_start(
    agent: &crate::loadgen::agent::AgentRun,
    watch: &ShutdownWatch,
    out: &mut (impl std::io::Write + Send),
) -> anyhow::Result<bool> {
    let ahead = agent.start_at - chrono::Utc::now();
    let (index, count) = (agent.agent.index, agent.agent.count);
    match ahead.to_std() {
        Ok(wait) => {
            writeln!(
                out,
                "agent {index}/{count}: starting at {} (in {:.1} s)",
                agent.start_at.to_rfc3339(),
                wait.as_secs_f64()
            )?;
            Ok(watch
                .unless_signalled(tokio::time::sleep(wait))
                .await
                .is_some())
        }
        Err(_) => {
            // Seeding took longer than the start allowed: the agents are not aligned.
            writeln!(
                out,
                "agent {index}/{count}: WARNING: {:.1} s past the common start {}; starting now — give --start-at more room",
                -ahead.as_seconds_f64(),
                agent.start_at.to_rfc3339()
            )?;
            Ok(true)
        }
    }
}

/// The systems the run names (`--systems`, else the scenario's), parsed.
fn system_kinds(
    options: &RunOptions,
    scenario: &Scenario,
) -> anyhow::Result<Vec<(String, SystemKind)>> {
    let names = options
        .systems
        .clone()
        .unwrap_or_else(|| scenario.systems.clone());
    Ok(names
        .into_iter()
        .map(|n| SystemKind::parse(&n).map(|k| (k.result_name(&n), k)))
        .collect::<Result<_, _>>()?)
}

/// What starting the stores depends on: the mode, the settings, the instance.
pub struct StoreSetup<'a> {
    /// Store mode.
    pub stores: StoreMode,
    /// Store settings.
    pub provision: &'a ProvisionOptions,
    /// The instance PostgreSQL runs on (`None`: this machine, unlimited).
    pub instance: Option<&'a InstanceProfile>,
}

impl RunOptions {
    /// The store setup these options ask for.
    fn store_setup(&self) -> StoreSetup<'_> {
        StoreSetup {
            stores: self.stores,
            provision: &self.provision,
            instance: self.instance.as_ref(),
        }
    }
}

/// The instance's cgroup, made before the stores start: only local stores can be
/// confined (`auto` is checked once it has chosen).
pub fn confine(
    options: &StoreSetup,
    scenario: &Scenario,
    needs_stores: bool,
) -> anyhow::Result<Option<Arc<Confined>>> {
    let Some(profile) = options.instance else {
        return Ok(None);
    };
    if !needs_stores {
        return Ok(None);
    }
    if matches!(options.stores, StoreMode::Docker | StoreMode::External) {
        return Err(OptionError(format!(
            "--instance {}: instance profiles confine the PostgreSQL archbench starts; use --stores local (got {})",
            profile.name, options.stores
        ))
        .into());
    }
    crate::rig::cgroup::remove_stale();
    Ok(Some(Arc::new(Confined::start(profile, &scenario.name)?)))
}

/// The store settings with the instance's cgroup and PostgreSQL settings, if any.
pub fn provision_options(
    options: &StoreSetup,
    confined: Option<&Confined>,
    out: &mut impl std::io::Write,
) -> anyhow::Result<ProvisionOptions> {
    let mut provision = options.provision.clone();
    if let Some(c) = confined {
        writeln!(out, "confining PostgreSQL: {}", c.confinement().describe)?;
        provision.local.confine = Some(c.confinement());
        provision.local.pg_settings.extend(c.postgres_settings());
    }
    Ok(provision)
}

/// Stores `auto` chose other than local cannot run under an instance profile: never
/// run unlimited when a limit was asked for.
pub async fn unconfined_refused(stores: Stores, confined: bool) -> anyhow::Result<Stores> {
    if confined && stores.endpoints.mode != StoreMode::Local {
        let mode = stores.endpoints.mode;
        stores.shutdown().await?;
        return Err(OptionError(format!(
            "--instance: `auto` chose {mode} stores, which archbench cannot confine; use --stores local"
        ))
        .into());
    }
    Ok(stores)
}

/// What `options` would do, before anything starts (`run --dry-run`): for a sweep, the
/// largest seed size.
pub fn estimate(options: &RunOptions) -> anyhow::Result<Estimate> {
    let mut scenario = scenario::load(&options.scenario)?;
    if let Some(&users) = scenario.sweep_users.iter().max() {
        scenario.seeding.users = users;
    }
    let names = options
        .systems
        .clone()
        .unwrap_or_else(|| scenario.systems.clone());
    let mut stored = 0;
    for name in &names {
        stored += usize::from(SystemKind::parse(name)?.uses_stores());
    }
    Ok(Estimate::of(
        &scenario,
        names.len(),
        stored,
        options.repeat.max(1),
    ))
}

/// Where local stores keep their data (their disk is the one checked).
fn data_dir(options: &RunOptions, needs_stores: bool) -> Option<PathBuf> {
    (needs_stores && matches!(options.stores, StoreMode::Local | StoreMode::Auto))
        .then(|| stores::run_root(&options.provision.local))
}

/// When the run started, the revision it runs and the network it plays (whose
/// proxies live as long as the run).
#[derive(Clone)]
struct Started {
    at: chrono::DateTime<chrono::Utc>,
    revision: Option<String>,
    network: Option<Arc<Network>>,
    instance: Option<Arc<Confined>>,
    cpu: Option<machine::CpuTimes>,
}

impl Started {
    fn now(network: Option<&NetworkProfile>) -> Started {
        Started {
            at: chrono::Utc::now(),
            // Read now: the tree may change while a long run goes on, the binary does not.
            revision: assemble::git_revision(),
            network: network
                .filter(|p| !p.is_loopback())
                .map(|p| Network::new(p.clone())),
            instance: None,
            cpu: machine::CpuTimes::now(),
        }
    }
}

/// The stages in order. A first Ctrl-C stops the stage that runs, skips the slow ones
/// after it, and still writes the results, marked incomplete with the stage.
async fn run_stages(
    options: &RunOptions,
    scenario: &Scenario,
    kinds: Vec<(String, SystemKind)>,
    stores: Option<&Stores>,
    watch: &ShutdownWatch,
    started: Started,
    out: &mut (impl std::io::Write + Send),
) -> anyhow::Result<RunSummary> {
    let (stop, watcher) = watch
        .stop_flag("stopping — results will be marked incomplete (Ctrl-C again stops at once)");
    let connect = connect::connect(
        kinds,
        &options.faults,
        stores,
        started.network.as_ref(),
        scenario.http.as_ref(),
    );
    let Some(connected) = watch.unless_signalled(connect).await.transpose()? else {
        let measured = measure::Measured::stopped(RunStage::Connecting);
        return write_results(options, scenario, measured, stores, started).await;
    };
    let systems = &connected.systems;
    let meter = connected.meter.as_ref();
    let fault_plans = faults::plans(&scenario.faults, stores, systems)?;
    let path = if options.seeded {
        seeding::SeedPath::KeysOnly
    } else {
        seeding::SeedPath::Auto
    };
    let seed = seeding::seed_systems(systems, scenario, started.at, path, out);
    let Some(space) = watch.unless_signalled(seed).await.transpose()? else {
        close(connected.meter).await;
        let measured = measure::Measured::stopped(RunStage::Seeding);
        return write_results(options, scenario, measured, stores, started).await;
    };
    if let Some(agent) = &options.agent
        && !wait_for_start(agent, watch, out).await?
    {
        close(connected.meter).await;
        let measured = measure::Measured::stopped(RunStage::Seeding);
        return write_results(options, scenario, measured, stores, started).await;
    }
    let phase_inputs = phases::PhaseInputs {
        scenario,
        space: space.clone(),
        repeat: options.repeat,
        meter,
        stop: &stop,
        faults: &fault_plans,
        agent: options.agent.as_ref().map(|a| a.agent),
    };
    let records = phases::run_phases(&phase_inputs, systems, out).await?;
    let measure_inputs = measure::MeasureInputs {
        scenario,
        space: &space,
        stores,
        meter,
        folder: &options.out,
        // Agents' logs share one clock, the common start, so that they align.
        started_at: options.agent.as_ref().map_or(started.at, |a| a.start_at),
        watch,
        stopped_in: stop.load(SeqCst).then_some(RunStage::Phases),
        log_key: options
            .agent
            .as_ref()
            .map(|a| crate::loadgen::agent::LogKey::of(a, &scenario.hash)),
    };
    let measured = measure::measure_systems(&measure_inputs, systems, records, out).await?;
    watcher.abort();
    close(connected.meter).await;
    let summary = write_results(options, scenario, measured, stores, started).await?;
    if let Some(bucket) = options.agent.as_ref().and_then(|a| a.logs_to.as_ref()) {
        let names: Vec<String> = summary
            .results
            .systems
            .values()
            .filter_map(|s| s.interval_log.clone())
            .collect();
        for key in upload::upload_logs(bucket, &options.out, &names).await? {
            writeln!(out, "interval log put to s3://{}/{key}", bucket.bucket)?;
        }
    }
    Ok(summary)
}

async fn close(meter: Option<sqlx::PgPool>) {
    if let Some(m) = meter {
        m.close().await;
    }
}

async fn write_results(
    options: &RunOptions,
    scenario: &Scenario,
    measured: measure::Measured,
    stores: Option<&Stores>,
    started: Started,
) -> anyhow::Result<RunSummary> {
    let facts = assemble::RunFacts {
        started_at: started.at,
        revision: started.revision,
        network: started.network.map(|n| n.info()),
        instance: started.instance.map(|c| c.info()),
        cpu_steal_share: started
            .cpu
            .zip(machine::CpuTimes::now())
            .and_then(|(a, b)| a.steal_share_until(&b)),
    };
    let (results_path, results) =
        assemble::assemble(options, scenario, measured, stores, facts).await?;
    Ok(RunSummary {
        results_path,
        results,
    })
}
