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

use super::connect::{self, System};
use super::machine::CpuTimes;
use super::{
    OptionError, RunOptions, Started, confine, provision_options, seeding, unconfined_refused,
};
use crate::arch::SystemKind;
use crate::loadgen::executor::run_open;
use crate::loadgen::plan::{KeySpace, Planner};
use crate::loadgen::record::Recorder;
use crate::probes::capacity::{self, Next, Readings, Search, Step, SystemCapacity};
use crate::probes::capacity_file::{CapacityReport, UsersAtCapacity};
use crate::rig::instance::Confined;
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
    /// The scale sweep: the dataset sizes (entities) to search at, each on fresh
    /// stores, with the scenario's entities per user (empty: the scenario's own size).
    pub sweep: Vec<u64>,
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

/// Searches each system's capacity and writes `OUT/capacity.json` — or, for a scale
/// sweep, `OUT/capacity-<entities>.json` per size, smallest first. Ctrl-C ends the
/// sweep after writing the size it stopped in (marked incomplete).
pub async fn capacity(
    options: CapacityOptions,
    out: &mut (impl std::io::Write + Send),
) -> anyhow::Result<Vec<(PathBuf, CapacityReport)>> {
    let scenario = scenario::load(&options.run.scenario)?;
    let slo = scenario
        .slo
        .filter(|s| s.p99_ms.is_some())
        .ok_or_else(|| {
            OptionError(format!(
                "{}: capacity needs `[slo] p99_ms` (each op's p99 limit, ms) and `max_error_rate` in the scenario",
                options.run.scenario.display()
            ))
        })?;
    std::fs::create_dir_all(&options.run.out)?;
    if options.sweep.is_empty() {
        let report = capacity_at(&options, &scenario, slo, out).await?;
        let path = options.run.out.join("capacity.json");
        crate::atomic::write_atomic(&path, &serde_json::to_vec_pretty(&report)?, 0o644)?;
        return Ok(vec![(path, report)]);
    }
    let mut sizes = options.sweep.clone();
    sizes.sort_unstable();
    sizes.dedup();
    let mut written = Vec::new();
    for entities in sizes {
        let mut at_size = scenario.clone();
        let per_user = at_size.seeding.entities_per_user.max(1);
        at_size.seeding.users = entities.div_ceil(per_user).max(1);
        writeln!(
            out,
            "scale sweep: {} entities ({} users × {per_user})",
            at_size.seeded_entities(),
            at_size.seeding.users
        )?;
        let report = capacity_at(&options, &at_size, slo, out).await?;
        let path = options
            .run
            .out
            .join(format!("capacity-{}.json", report.seeded_entities));
        crate::atomic::write_atomic(&path, &serde_json::to_vec_pretty(&report)?, 0o644)?;
        let complete = report.complete;
        written.push((path, report));
        if !complete {
            break;
        }
    }
    Ok(written)
}

/// One search at the scenario's dataset size, on stores of its own.
async fn capacity_at(
    options: &CapacityOptions,
    scenario: &Scenario,
    slo: Slo,
    out: &mut (impl std::io::Write + Send),
) -> anyhow::Result<CapacityReport> {
    let wall = Instant::now();
    let run = &options.run;
    let kinds = super::system_kinds(run, scenario)?;
    let needs_stores = kinds.iter().any(|(_, k)| k.uses_stores());
    let watch = ShutdownWatch::install();
    let confined = confine(&run.store_setup(), scenario, needs_stores)?;
    let mut started = Started::now(run.network.as_ref());
    started.instance = confined.clone();
    let stores = if needs_stores {
        writeln!(out, "starting stores ({})", run.stores)?;
        let provision_options = provision_options(&run.store_setup(), confined.as_deref(), out)?;
        let provision = stores::provision(run.stores, &provision_options);
        let Some(s) = watch.unless_signalled(provision).await else {
            return Err(Interrupted.into());
        };
        Some(unconfined_refused(s?, confined.is_some()).await?)
    } else {
        None
    };
    let result = search_systems(
        options,
        scenario,
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
    let users = users_at_capacity(scenario, options.model.as_deref(), &systems)?;
    Ok(CapacityReport {
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
    })
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
    let (stop, watcher) =
        watch.stop_flag("stopping the search — capacity.json will be marked incomplete");
    let http = scenario.http.as_ref();
    let connect = connect::connect(kinds, &[], stores, started.network.as_ref(), http);
    let Some(connected) = watch.unless_signalled(connect).await.transpose()? else {
        return Err(Interrupted.into());
    };
    let seed = seeding::seed_systems(
        &connected.systems,
        scenario,
        started.at,
        seeding::SeedPath::Auto,
        out,
    );
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
        let machine_before = CpuTimes::now();
        let sampler = LockSampler::start(self.meter);
        let recorder = Arc::new(Recorder::new(self.scenario.run.late_after));
        let began = Instant::now();
        self.offer(system, &workload, self.options.step, stream | 1, &recorder)
            .await;
        let elapsed = began.elapsed();
        let lock_wait_share = sampler.finish().await;
        let after = self.read().await;
        let machine_busy_share = machine_before
            .zip(CpuTimes::now())
            .and_then(|(b, a)| b.busy_share_until(&a));
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
            machine_busy_share,
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
            machine_busy_share: None,
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
