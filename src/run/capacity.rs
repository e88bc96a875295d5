//! `archbench capacity`: the run's stages up to seeding (stores under the instance and
//! network profiles, the same seed), then, per system, steps of the open model at the
//! rates the [`Search`] asks for — each a short warm-up and a measured step judged
//! against the scenario's `[slo]` — until the highest sustainable rate is found.
//! `capacity.json` is written atomically, also when Ctrl-C ends the search early
//! (`complete: false`).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::time::{Duration, Instant};

use serde::Serialize;

use super::connect::{self, System};
use super::{
    OptionError, RunOptions, Started, confine, provision_options, seeding, unconfined_refused,
};
use crate::arch::SystemKind;
use crate::loadgen::executor::run_open;
use crate::loadgen::plan::{KeySpace, Planner};
use crate::loadgen::record::Recorder;
use crate::probes::capacity::{self, Next, Readings, Search, Step, SystemCapacity};
use crate::rig::instance::{Confined, InstanceInfo};
use crate::scenario::{self, Arrival, Scenario, Slo, Workload};
use crate::shutdown::{Interrupted, ShutdownWatch};
use crate::stores;

/// What to search.
#[derive(Debug, Clone)]
pub struct CapacityOptions {
    /// Scenario, systems, stores, instance, network and output folder, as for `run`.
    pub run: RunOptions,
    /// How the rate moves.
    pub search: Search,
    /// Length of each measured step.
    pub step: Duration,
    /// Unrecorded warm-up at the step's rate before each step.
    pub warmup: Duration,
    /// The cost model whose peak-to-average and days per month turn a rate into users
    /// (`None`: no users figure).
    pub model: Option<PathBuf>,
}

/// `capacity.json`.
#[derive(Debug, Clone, Serialize)]
pub struct CapacityReport {
    /// The scenario's name.
    pub scenario: String,
    /// Seeded entities the steps ran against.
    pub seeded_entities: u64,
    /// The service level each step was held to.
    pub slo: Slo,
    /// The search's settings.
    pub search: Search,
    /// Measured step length, seconds.
    pub step_seconds: f64,
    /// The instance PostgreSQL ran under, limits read back from the cgroup.
    pub instance: Option<InstanceInfo>,
    /// The network profile played, if any.
    pub network: Option<String>,
    /// Per system.
    pub systems: Vec<SystemCapacity>,
    /// Per system, the users whose peak load the sustainable rate serves, under the
    /// scenario's `[user_behaviour]` and the cost model's peak-to-average.
    pub users: BTreeMap<String, UsersAtCapacity>,
    /// Wall time of the whole command, seconds.
    pub wall_seconds: f64,
    /// False when Ctrl-C ended it early.
    pub complete: bool,
    /// When it started.
    pub started_at: chrono::DateTime<chrono::Utc>,
}

/// A sustainable rate in users: rate ÷ (peak-to-average × each user's mean ops/s).
#[derive(Debug, Clone, Serialize)]
pub struct UsersAtCapacity {
    /// Users served at the peak.
    pub users: f64,
    /// One user's mean ops per second (reads of active users, writes of all).
    pub ops_per_user_per_s: f64,
    /// The peak-to-average ratio applied.
    pub peak_to_average: f64,
    /// Where the figures come from.
    pub source: String,
}

/// Users at each system's sustainable rate, when the scenario states a behaviour and a
/// cost model is given.
fn users_at_capacity(
    scenario: &Scenario,
    model: Option<&std::path::Path>,
    systems: &[SystemCapacity],
) -> anyhow::Result<BTreeMap<String, UsersAtCapacity>> {
    let Some(path) = model else {
        return Ok(BTreeMap::new());
    };
    let a = crate::cost::CostModel::load(path)?.assumptions;
    let get = |k: &str| {
        scenario
            .user_behaviour
            .get(k)
            .and_then(|v| v.as_float().or_else(|| v.as_integer().map(|i| i as f64)))
    };
    let (Some(active), Some(reads), Some(new), Some(updates)) = (
        get("active_share"),
        get("ops_per_active_user_per_day"),
        get("new_documents_per_user_per_month"),
        get("updates_per_user_per_month"),
    ) else {
        return Ok(BTreeMap::new());
    };
    let day = 86_400.0;
    let per_user = active * reads / day + (new + updates) / (a.days_per_month * day);
    Ok(systems
        .iter()
        .filter_map(|s| {
            let rate = s.sustainable_ops_per_s?;
            Some((
                s.system.clone(),
                UsersAtCapacity {
                    users: rate / (a.peak_to_average * per_user),
                    ops_per_user_per_s: per_user,
                    peak_to_average: a.peak_to_average,
                    source: format!(
                        "scenario [user_behaviour]; peak_to_average and days_per_month from {}",
                        path.display()
                    ),
                },
            ))
        })
        .collect())
}

/// Searches each system's capacity and writes `OUT/capacity.json`.
pub async fn capacity(
    options: CapacityOptions,
    out: &mut (impl std::io::Write + Send),
) -> anyhow::Result<(PathBuf, CapacityReport)> {
    let wall = Instant::now();
    let run = &options.run;
    let scenario = scenario::load(&run.scenario)?;
    let slo = scenario
        .slo
        .filter(|s| s.p99_ms.is_some())
        .ok_or_else(|| {
            OptionError(format!(
                "{}: capacity needs `[slo] p99_ms` (each op's p99 limit, ms) and `max_error_rate` in the scenario",
                run.scenario.display()
            ))
        })?;
    let kinds = super::system_kinds(run, &scenario)?;
    let needs_stores = kinds.iter().any(|(_, k)| k.uses_stores());
    let watch = ShutdownWatch::install();
    let confined = confine(run, &scenario, needs_stores)?;
    let mut started = Started::now(run.network.as_ref());
    started.instance = confined.clone();
    let stores = if needs_stores {
        writeln!(out, "starting stores ({})", run.stores)?;
        let provision_options = provision_options(run, confined.as_deref(), out)?;
        let provision = stores::provision(run.stores, &provision_options);
        let Some(s) = watch.unless_signalled(provision).await else {
            return Err(Interrupted.into());
        };
        Some(unconfined_refused(s?, confined.is_some()).await?)
    } else {
        None
    };
    let result = search_systems(
        &options,
        &scenario,
        slo,
        kinds,
        stores.as_ref(),
        &watch,
        &started,
        out,
    )
    .await;
    if let Some(s) = stores {
        s.shutdown().await?;
    }
    drop(confined);
    let (systems, complete) = result?;
    let users = users_at_capacity(&scenario, options.model.as_deref(), &systems)?;
    let report = CapacityReport {
        scenario: scenario.name.clone(),
        seeded_entities: scenario.seeded_entities(),
        slo,
        search: options.search,
        step_seconds: options.step.as_secs_f64(),
        instance: started.instance.as_ref().map(|c| c.info()),
        network: run.network.as_ref().map(|n| n.name.clone()),
        systems,
        users,
        wall_seconds: wall.elapsed().as_secs_f64(),
        complete,
        started_at: started.at,
    };
    std::fs::create_dir_all(&run.out)?;
    let path = run.out.join("capacity.json");
    crate::atomic::write_atomic(&path, &serde_json::to_vec_pretty(&report)?, 0o644)?;
    Ok((path, report))
}

/// Connects, seeds, then searches each system in turn; `false` when stopped early.
#[allow(clippy::too_many_arguments)]
async fn search_systems(
    options: &CapacityOptions,
    scenario: &Scenario,
    slo: Slo,
    kinds: Vec<(String, SystemKind)>,
    stores: Option<&stores::Stores>,
    watch: &ShutdownWatch,
    started: &Started,
    out: &mut (impl std::io::Write + Send),
) -> anyhow::Result<(Vec<SystemCapacity>, bool)> {
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = {
        let (stop, watch) = (stop.clone(), watch.clone());
        tokio::spawn(async move {
            watch.wait().await;
            eprintln!("archbench: stopping the search — capacity.json will be marked incomplete");
            stop.store(true, SeqCst);
        })
    };
    let connect = connect::connect(kinds, &[], stores, started.network.as_ref());
    let Some(connected) = watch.unless_signalled(connect).await.transpose()? else {
        return Err(Interrupted.into());
    };
    let seed = seeding::seed_systems(&connected.systems, scenario, started.at, out);
    let Some(space) = watch.unless_signalled(seed).await.transpose()? else {
        return Err(Interrupted.into());
    };
    let probe = Probe {
        options,
        scenario,
        slo,
        space,
        meter: connected.meter.as_ref(),
        instance: started.instance.as_deref(),
        stop: &stop,
    };
    let mut found = Vec::new();
    for system in &connected.systems {
        found.push(probe.search(system, out).await?);
        if stop.load(SeqCst) {
            break;
        }
    }
    watcher.abort();
    if let Some(m) = connected.meter {
        m.close().await;
    }
    Ok((found, !stop.load(SeqCst)))
}

/// What every step runs on.
struct Probe<'a> {
    options: &'a CapacityOptions,
    scenario: &'a Scenario,
    slo: Slo,
    space: Arc<KeySpace>,
    meter: Option<&'a sqlx::PgPool>,
    instance: Option<&'a Confined>,
    stop: &'a Arc<AtomicBool>,
}

impl Probe<'_> {
    /// The search for one system.
    async fn search(
        &self,
        system: &System,
        out: &mut (impl std::io::Write + Send),
    ) -> anyhow::Result<SystemCapacity> {
        let mut steps: Vec<Step> = Vec::new();
        let sustainable = loop {
            let rate = match self.options.search.next(&steps) {
                Next::Try(rate) => rate,
                Next::Done(found) => break found,
            };
            if self.stop.load(SeqCst) {
                break steps
                    .iter()
                    .filter(|s| s.pass)
                    .map(|s| s.rate)
                    .reduce(f64::max);
            }
            let index = steps.len() as u64;
            let step = self.step(system, rate, index).await?;
            writeln!(
                out,
                "{} step {}: {rate:.0} ops/s — {} ({} ops, {} errors; limit {:?})",
                system.name,
                index + 1,
                if step.pass {
                    "within the SLO".to_string()
                } else {
                    step.broke.clone().unwrap_or_default()
                },
                step.ops,
                step.errors,
                step.limit
            )?;
            steps.push(step);
        };
        let result = SystemCapacity::of(&system.name, steps, sustainable);
        writeln!(
            out,
            "{}: {} ops/s sustainable within the SLO",
            system.name,
            result
                .sustainable_ops_per_s
                .map_or("no rate tried is".into(), |r| format!("{r:.0}"))
        )?;
        Ok(result)
    }

    /// A warm-up and a measured step at `rate`, judged and read.
    async fn step(&self, system: &System, rate: f64, index: u64) -> anyhow::Result<Step> {
        let arrival = self
            .scenario
            .phases
            .iter()
            .find_map(|p| match p.workload {
                Workload::Open { arrival, .. } => Some(arrival),
                Workload::Closed { .. } => None,
            })
            .unwrap_or(Arrival::Constant);
        let workload = Workload::Open {
            rate,
            ramp_to: rate,
            arrival,
        };
        let stream = 0xCA9A_0000 | index << 1;
        let warmup = Arc::new(Recorder::new(self.scenario.run.late_after));
        self.offer(system, &workload, self.options.warmup, stream, &warmup)
            .await;
        let before = self.read().await;
        let sampler = LockSampler::start(self.meter);
        let recorder = Arc::new(Recorder::new(self.scenario.run.late_after));
        let began = Instant::now();
        self.offer(system, &workload, self.options.step, stream | 1, &recorder)
            .await;
        let elapsed = began.elapsed();
        let lock_wait_share = sampler.finish().await;
        let after = self.read().await;
        let (records, _) = recorder.snapshot();
        let mut step = capacity::judge(rate, &records, &self.slo);
        step.readings = Readings {
            cpu_ns: delta(before.cpu_ns, after.cpu_ns),
            throttled_ns: delta(before.throttled_ns, after.throttled_ns),
            vcpu: self.instance.map(|c| c.info().cgroup.vcpu()),
            read_wait_ms: before
                .read_wait_ms
                .zip(after.read_wait_ms)
                .map(|(b, a)| (a - b).max(0.0)),
            lock_wait_share,
        };
        step.limit = capacity::limit(&step.readings, elapsed);
        Ok(step)
    }

    async fn offer(
        &self,
        system: &System,
        workload: &Workload,
        duration: Duration,
        stream: u64,
        recorder: &Arc<Recorder>,
    ) {
        let mut planner = Planner::new(self.scenario, self.space.clone(), stream);
        let schedule = planner.schedule(workload, duration);
        run_open(
            system.sut.clone(),
            schedule,
            || planner.next_op(),
            &self.scenario.run,
            recorder.clone(),
            self.stop,
        )
        .await;
    }

    /// The cgroup's counters and the database's read wait, now.
    async fn read(&self) -> Readings {
        let usage = self.instance.and_then(|c| c.cgroup().usage().ok());
        let read_wait_ms = match self.meter {
            Some(pool) => sqlx::query_scalar::<_, f64>(
                "SELECT blk_read_time FROM pg_stat_database WHERE datname = current_database()",
            )
            .fetch_one(pool)
            .await
            .ok(),
            None => None,
        };
        Readings {
            cpu_ns: usage.map(|u| u.cpu_ns),
            throttled_ns: usage.map(|u| u.throttled_ns),
            vcpu: None,
            read_wait_ms,
            lock_wait_share: None,
        }
    }
}

fn delta(before: Option<u64>, after: Option<u64>) -> Option<u64> {
    Some(after?.saturating_sub(before?))
}

/// Samples, every 250 ms, the share of the database's active backends that wait on a
/// lock.
struct LockSampler {
    done: Arc<AtomicBool>,
    task: Option<tokio::task::JoinHandle<Option<f64>>>,
}

impl LockSampler {
    fn start(meter: Option<&sqlx::PgPool>) -> Self {
        let done = Arc::new(AtomicBool::new(false));
        let task = meter.cloned().map(|pool| {
            let done = done.clone();
            tokio::spawn(async move {
                let mut shares = Vec::new();
                while !done.load(SeqCst) {
                    let row: Result<(f64, f64), _> = sqlx::query_as(
                        "SELECT count(*) FILTER (WHERE wait_event_type = 'Lock')::float8, \
                                count(*) FILTER (WHERE state = 'active')::float8 \
                         FROM pg_stat_activity \
                         WHERE datname = current_database() AND pid <> pg_backend_pid()",
                    )
                    .fetch_one(&pool)
                    .await;
                    if let Ok((waiting, active)) = row
                        && active > 0.0
                    {
                        shares.push(waiting / active);
                    }
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
                (!shares.is_empty()).then(|| shares.iter().sum::<f64>() / shares.len() as f64)
            })
        });
        Self { done, task }
    }

    async fn finish(self) -> Option<f64> {
        self.done.store(true, SeqCst);
        self.task?.await.ok().flatten()
    }
}

/// The steps as a Markdown table per system.
pub fn markdown(report: &CapacityReport) -> String {
    let mut md = format!(
        "## Capacity: {} ({} entities seeded)\n\nSLO: each op's p99 ≤ {} ms, failed ops ≤ {:.2}%; steps of {:.0} s (rate {} from the start rate until a step fails, then bisection to within {:.0}%).{}{}\n\n",
        report.scenario,
        report.seeded_entities,
        report.slo.p99_ms.unwrap_or(f64::NAN),
        report.slo.max_error_rate * 100.0,
        report.step_seconds,
        "doubling",
        (report.search.precision - 1.0) * 100.0,
        report.instance.as_ref().map_or(String::new(), |i| format!(
            " Instance `{}`: {} MiB, {:.2} vCPU (read back from the cgroup).",
            i.profile.name,
            i.cgroup.memory_limit_bytes >> 20,
            i.cgroup.vcpu()
        )),
        report
            .network
            .as_ref()
            .map_or(String::new(), |n| format!(" Network `{n}`."))
    );
    md.push_str("| system | sustainable ops/s | users at the peak | CPU ms per op | limited by | first failing step | steps |\n|---|---:|---:|---:|---|---|---:|\n");
    for s in &report.systems {
        md.push_str(&format!(
            "| {} | {} | {} | {} | {:?} | {} | {} |\n",
            s.system,
            s.sustainable_ops_per_s
                .map_or("—".into(), |r| format!("{r:.0}")),
            report
                .users
                .get(&s.system)
                .map_or("—".into(), |u| format!("{:.0}", u.users)),
            s.cpu_ms_per_op.map_or("—".into(), |c| format!("{c:.2}")),
            s.limit,
            s.broke.as_deref().unwrap_or("—"),
            s.steps.len()
        ));
    }
    let mut rows = BTreeMap::new();
    for s in &report.systems {
        for (i, step) in s.steps.iter().enumerate() {
            rows.insert((s.system.clone(), i), step);
        }
    }
    md.push_str("\n| system | step | ops/s | pass | worst p99 ms | errors |\n|---|---:|---:|---|---:|---:|\n");
    for ((system, i), step) in rows {
        let worst = step.p99_ms.values().cloned().fold(0.0, f64::max);
        md.push_str(&format!(
            "| {system} | {} | {:.0} | {} | {worst:.1} | {} |\n",
            i + 1,
            step.rate,
            if step.pass { "yes" } else { "no" },
            step.errors
        ));
    }
    md.push_str(&format!("\nWall time: {:.0} s.\n", report.wall_seconds));
    md
}
