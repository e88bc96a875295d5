//! `archbench run`: stores -> systems -> seed -> phases -> measurements -> results.json.
//! Both systems get the same seed and the same op sequence; with `--repeat N` they
//! alternate A B A B so that comparisons are paired in time. Ctrl-C stops issuing,
//! drains what is in flight and still writes the results, marked incomplete.

mod progress;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::time::Duration;

use anyhow::Context;

use crate::arch::synthetic::{Synthetic, SyntheticSpec};
use crate::arch::v02::V02;
use crate::arch::v03::V03;
use crate::arch::{OpKind, SystemConfig, SystemUnderTest, UserId};
use crate::loadgen::executor::{PhaseOutcome, run_closed, run_open};
use crate::loadgen::plan::{KeySpace, Planner};
use crate::loadgen::record::{OpRecord, Percentiles, Recorder, histogram, write_interval_log};
use crate::loadgen::seed::{SeedPath, SeedProgress, seed};
use crate::measure::dbtime::{self, DbTime};
use crate::measure::{copies, lag};
use crate::report::results::*;
use crate::scenario::{self, Scenario, Workload};
use crate::stores::commands::ShutdownWatch;
use crate::stores::{self, Endpoints, ProvisionOptions, StoreMode, Stores, health};

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
    pub faults: Vec<crate::arch::fault::FaultSpec>,
}

/// What `run` produced.
#[derive(Debug)]
pub struct RunSummary {
    /// The results file.
    pub results_path: PathBuf,
    /// The results.
    pub results: Results,
}

enum Kind {
    V02,
    V03,
    Synthetic(SyntheticSpec),
}

fn parse_system(name: &str) -> anyhow::Result<Kind> {
    match name {
        "v02" => Ok(Kind::V02),
        "v03" => Ok(Kind::V03),
        s if s.starts_with("synthetic") => Ok(Kind::Synthetic(
            SyntheticSpec::parse(s).map_err(|e| UsageError(format!("--systems: {e}")))?,
        )),
        other => Err(UsageError(format!(
            "--systems: unknown system `{other}`; allowed: v02, v03, synthetic[:key=value,...]"
        ))
        .into()),
    }
}

/// Splits `--systems v02,v03,synthetic:service=1ms,servers=4` into systems: a token
/// with `=` that names no system continues the synthetic spec before it.
pub fn split_systems(arg: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for tok in arg.split(',').map(str::trim).filter(|t| !t.is_empty()) {
        match out.last_mut() {
            Some(prev)
                if tok.contains('=') && !tok.contains(':') && prev.starts_with("synthetic") =>
            {
                prev.push(',');
                prev.push_str(tok);
            }
            _ => out.push(tok.to_string()),
        }
    }
    out
}

/// Bad arguments to `run` (exit code 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

struct System {
    name: String,
    sut: Arc<dyn SystemUnderTest>,
    stored: bool,
}

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
    opts: RunOptions,
    scn: Scenario,
    out: &mut (impl std::io::Write + Send),
) -> anyhow::Result<RunSummary> {
    let names = opts.systems.clone().unwrap_or_else(|| scn.systems.clone());
    let kinds: Vec<(String, Kind)> = names
        .iter()
        .map(|n| parse_system(n).map(|k| (n.clone(), k)))
        .collect::<anyhow::Result<_>>()?;
    if let Some(f) = opts.faults.iter().find(|f| !names.contains(&f.system)) {
        return Err(UsageError(format!(
            "--fault {}: no system `{}` in this run ({})",
            f.describe(),
            f.system,
            names.join(", ")
        ))
        .into());
    }
    if opts.repeat == 0 {
        return Err(UsageError("--repeat must be at least 1".into()).into());
    }
    let needs_stores = kinds.iter().any(|(_, k)| !matches!(k, Kind::Synthetic(_)));
    let watch = ShutdownWatch::install();
    let stores = if needs_stores {
        writeln!(out, "starting stores ({})", opts.stores)?;
        Some(tokio::select! {
            s = stores::provision(opts.stores, &opts.provision) => s?,
            _ = watch.wait() => return Err(stores::commands::Interrupted.into()),
        })
    } else {
        None
    };
    let result = run_with(&opts, &scn, kinds, stores.as_ref(), &watch, out).await;
    if let Some(s) = stores {
        s.shutdown().await?;
    }
    result
}

async fn run_with(
    opts: &RunOptions,
    scn: &Scenario,
    kinds: Vec<(String, Kind)>,
    stores: Option<&Stores>,
    watch: &ShutdownWatch,
    out: &mut (impl std::io::Write + Send),
) -> anyhow::Result<RunSummary> {
    let started_at = chrono::Utc::now();
    // Read now: the tree may change while a long run goes on, the binary does not.
    let revision = git_revision();
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
    let cfg = SystemConfig::default();
    let mut systems = Vec::new();
    for (name, kind) in kinds {
        let sut: Arc<dyn SystemUnderTest> = match kind {
            Kind::V02 => {
                Arc::new(V02::connect(&stores.expect("stores provisioned").endpoints, &cfg).await?)
            }
            Kind::V03 => {
                Arc::new(V03::connect(&stores.expect("stores provisioned").endpoints, &cfg).await?)
            }
            Kind::Synthetic(spec) => Arc::new(Synthetic::new(spec)),
        };
        let stored = !name.starts_with("synthetic");
        let mut sut = sut;
        for f in opts.faults.iter().filter(|f| f.system == name) {
            sut = Arc::new(crate::arch::fault::Faulty::new(sut, f.clone()));
        }
        systems.push(System { name, sut, stored });
    }

    // Database time and storage are read before the first and after the last measured
    // phase, through a small pool of the harness's own.
    let meter = match stores {
        Some(st) => Some(health::connect(&st.endpoints.postgres, 2).await?),
        None => None,
    };
    let mut baselines: BTreeMap<String, Baseline> = BTreeMap::new();

    // Seed every system with the same data and the same history end.
    let history_end = started_at;
    let mut space: Option<Arc<KeySpace>> = None;
    for s in &systems {
        s.sut
            .prepare()
            .await
            .with_context(|| format!("{}: preparing the schema", s.name))?;
        s.sut
            .reset()
            .await
            .with_context(|| format!("{}: clearing earlier data", s.name))?;
        writeln!(
            out,
            "{}: seeding {} entities",
            s.name,
            scn.seeded_entities()
        )?;
        let progress = Arc::new(SeedProgress::default());
        let ticker = progress::seed_ticker(s.name.clone(), progress.clone(), scn.seeded_entities());
        let ks = seed(s.sut.clone(), scn, history_end, progress, SeedPath::Auto)
            .await
            .with_context(|| format!("{}: seeding", s.name));
        ticker.abort();
        let ks = ks?;
        s.sut.clear_counters();
        space.get_or_insert_with(|| Arc::new(ks));
    }
    let space = space.expect("at least one system");

    // Phases: per repetition, each system in turn, the same op sequence.
    let mut totals: BTreeMap<String, Vec<Arc<Recorder>>> = BTreeMap::new();
    let mut recorded_phases: BTreeMap<String, Vec<PhaseOutcome>> = BTreeMap::new();
    'reps: for rep in 0..opts.repeat {
        for s in &systems {
            let rec = Arc::new(Recorder::new(scn.run.late_after));
            for (i, phase) in scn.phases.iter().enumerate() {
                if stop.load(SeqCst) {
                    break 'reps;
                }
                // Database time and stored bytes count from the first measured phase on,
                // as the round-trip counters do (they were cleared after seeding/warm-up).
                if phase.record && !baselines.contains_key(&s.name) {
                    baselines.insert(s.name.clone(), Baseline::read(s, meter.as_ref()).await);
                }
                let target_rec = if phase.record {
                    rec.clone()
                } else {
                    Arc::new(Recorder::new(scn.run.late_after))
                };
                let before = target_rec.progress();
                let ticker = progress::phase_ticker(
                    format!("{} rep {}/{} {}", s.name, rep + 1, opts.repeat, phase.name),
                    target_rec.clone(),
                );
                let stream = (rep as u64) << 16 | i as u64;
                let outcome = match &phase.workload {
                    Workload::Open { .. } => {
                        let mut planner = Planner::new(scn, space.clone(), stream);
                        let offsets = planner.schedule(&phase.workload, phase.duration);
                        let schedule = offsets
                            .into_iter()
                            .map(|o| (o, planner.next_op()))
                            .collect();
                        run_open(s.sut.clone(), schedule, &scn.run, target_rec.clone(), &stop).await
                    }
                    Workload::Closed {
                        concurrency,
                        think_time,
                    } => {
                        let planners = (0..*concurrency as u64)
                            .map(|u| Planner::new(scn, space.clone(), stream << 20 | u))
                            .collect();
                        run_closed(
                            s.sut.clone(),
                            planners,
                            *think_time,
                            phase.duration,
                            &scn.run,
                            target_rec.clone(),
                            stop.clone(),
                        )
                        .await
                    }
                };
                ticker.abort();
                let (done, failed) = target_rec.progress();
                let (done, failed) = (done - before.0, failed - before.1);
                writeln!(
                    out,
                    "{} rep {}/{} phase {}: {} ops, {} errors, p99 so far {:.1} ms",
                    s.name,
                    rep + 1,
                    opts.repeat,
                    phase.name,
                    done,
                    failed,
                    target_rec.p99_so_far() as f64 / 1e3
                )?;
                if phase.record {
                    recorded_phases
                        .entry(s.name.clone())
                        .or_default()
                        .push(outcome);
                } else if rep == 0 && !recorded_phases.contains_key(&s.name) {
                    // Warm-up ops stay out of the counters, as they stay out of the histograms.
                    s.sut.clear_counters();
                }
            }
            totals.entry(s.name.clone()).or_default().push(rec);
        }
    }
    let interrupted = stop.load(SeqCst);

    // Measurements, from the stores.
    let mut results_systems = BTreeMap::new();
    let mut complete = !interrupted;
    let mut notes = Vec::new();
    for s in &systems {
        let _ = s.sut.settle(Duration::from_secs(120)).await;
        let recs = totals.remove(&s.name).unwrap_or_default();
        let mut sys = summarise(&recs);
        // Counters first: the storage and lag measurements below run ops of their own.
        let rt = s.sut.round_trips().snapshot();
        sys.round_trips = rt
            .per_op
            .into_iter()
            .map(|(op, r)| (op.name().to_string(), r))
            .collect();
        sys.inngest_executions = s.sut.inngest();
        sys.dead_letters = s.sut.dead_letters();
        if let Some(b) = baselines.get(&s.name) {
            let after = Baseline::read(s, meter.as_ref()).await;
            sys.db_time = after.db_time.zip(b.db_time).map(|(a, b)| a.since(&b));
            let writes = [OpKind::Create, OpKind::Update]
                .iter()
                .filter_map(|op| sys.round_trips.get(op.name()))
                .map(|r| r.ops)
                .sum();
            sys.storage_growth = after
                .stored
                .zip(b.stored.as_ref())
                .map(|(a, b)| StorageGrowth {
                    writes,
                    postgres_bytes: a.postgres_bytes as i64 - b.postgres_bytes as i64,
                    object_bytes: a.object_bytes as i64 - b.object_bytes as i64,
                    objects: a.object_count as i64 - b.object_count as i64,
                });
        }
        if let Some(st) = stores.filter(|_| s.stored) {
            match measure_stored(s, st, &space, scn).await {
                Ok((fp, lag)) => {
                    sys.footprint = Some(fp);
                    sys.projection_lag_ms = Some(lag);
                }
                Err(e) => {
                    complete = false;
                    notes.push(format!("{}: storage/lag measurement failed: {e:#}", s.name));
                }
            }
            // Last: the probe leaves its synthetic events in the event store.
            if let Some(g) = scn.growth.as_ref().filter(|_| !stop.load(SeqCst)) {
                writeln!(
                    out,
                    "{}: event-log growth probe ×{:?}, {} time-window queries per size",
                    s.name, g.factors, g.samples
                )?;
                match crate::measure::growth::probe(
                    s.sut.as_ref(),
                    &space,
                    scn.run.activity_window,
                    scn.seeding.history_days,
                    g,
                )
                .await
                {
                    Ok(points) => {
                        for p in &points {
                            writeln!(
                                out,
                                "{}:   {} events: activity p50 {:.2} ms, p95 {:.2} ms",
                                s.name, p.events, p.p50_ms, p.p95_ms
                            )?;
                        }
                        sys.event_growth = Some(points);
                    }
                    Err(e) => {
                        complete = false;
                        notes.push(format!("{}: growth probe failed: {e}", s.name));
                    }
                }
            }
        }
        let log_name = format!("{}.hlog", s.name.replace([':', ',', '=', '/'], "_"));
        let mut merged = BTreeMap::new();
        for r in &recs {
            for (sec, per_op) in r.snapshot().2 {
                let e: &mut BTreeMap<OpKind, hdrhistogram::Histogram<u64>> =
                    merged.entry(sec).or_default();
                for (op, h) in per_op {
                    let _ = e.entry(op).or_insert_with(histogram).add(&h);
                }
            }
        }
        let mut buf = Vec::new();
        write_interval_log(
            &merged,
            started_at.timestamp_millis() as f64 / 1e3,
            &mut buf,
        )?;
        std::fs::create_dir_all(&opts.out)
            .with_context(|| format!("creating {}", opts.out.display()))?;
        let log_path = opts.out.join(&log_name);
        crate::atomic::write_atomic(&log_path, &buf, 0o644)
            .with_context(|| format!("writing {}", log_path.display()))?;
        sys.interval_log = Some(log_name);
        results_systems.insert(s.name.clone(), sys);
    }
    watcher.abort();
    if let Some(m) = meter {
        m.close().await;
    }

    let stores_info = match stores {
        Some(st) => {
            let h = health::check(&st.endpoints).await;
            if h.postgres.timescaledb_license.as_deref() == Some("apache") {
                notes.push("TimescaleDB is the Apache-licensed edition here: no compression, no continuous aggregates; V0.3's event storage is measured uncompressed.".into());
            }
            Some(StoresInfo {
                mode: st.endpoints.mode.to_string(),
                postgres_version: h.postgres.server_version,
                timescaledb: h.postgres.timescaledb,
                timescaledb_license: h.postgres.timescaledb_license,
                vector: h.postgres.vector,
                s3_endpoint: st.endpoints.s3.endpoint.clone(),
            })
        }
        None => None,
    };
    notes.push("Inngest is emulated (its execution model: runs, steps over HTTP, retries), on loopback; production adds network distance per step.".into());
    for f in &opts.faults {
        notes.push(format!("fault injected: {}", f.describe()));
    }
    if interrupted {
        notes.push("interrupted: the results cover the ops that ran before the stop".into());
    }
    let results = Results {
        schema_version: SCHEMA_VERSION,
        complete,
        started_at: started_at.to_rfc3339(),
        finished_at: chrono::Utc::now().to_rfc3339(),
        scenario: ScenarioInfo {
            name: scn.name.clone(),
            hash: scn.hash.clone(),
            seed: scn.rng_seed,
            path: opts.scenario.display().to_string(),
            seeded_entities: scn.seeded_entities(),
            user_behaviour: scn.user_behaviour.clone(),
            gate: scn.gate.clone(),
        },
        environment: environment(stores_info, revision),
        phases: scn
            .phases
            .iter()
            .map(|p| PhaseInfo {
                name: p.name.clone(),
                model: match p.workload {
                    Workload::Open { .. } => "open".into(),
                    Workload::Closed { .. } => "closed".into(),
                },
                duration_s: p.duration.as_secs_f64(),
                recorded: p.record,
            })
            .collect(),
        repeat: opts.repeat,
        systems: results_systems,
        notes,
    };
    let path = opts.out.join("results.json");
    results.write_atomic(&path)?;
    Ok(RunSummary {
        results_path: path,
        results,
    })
}

/// Database time and stored bytes of one system at one moment; either is `None` when
/// it cannot be read (no stores, no `pg_stat_statements`), and the results say absent.
struct Baseline {
    db_time: Option<DbTime>,
    stored: Option<crate::arch::Footprint>,
}

impl Baseline {
    async fn read(s: &System, meter: Option<&sqlx::PgPool>) -> Baseline {
        let Some(pool) = meter.filter(|_| s.stored) else {
            return Baseline {
                db_time: None,
                stored: None,
            };
        };
        Baseline {
            db_time: dbtime::read(pool, s.sut.locations().schema)
                .await
                .ok()
                .flatten(),
            stored: s.sut.footprint().await.ok(),
        }
    }
}

fn op_results(r: &OpRecord) -> OpResults {
    OpResults {
        count: r.count,
        errors: r.errors.values().sum(),
        errors_by_kind: r.errors.clone(),
        late: r.late,
        latency_us: Percentiles::of(&r.latency),
        service_time_us: Percentiles::of(&r.service),
        schedule_lag_us: Percentiles::of(&r.schedule_lag),
    }
}

fn summarise(recs: &[Arc<Recorder>]) -> SystemResults {
    let mut total: BTreeMap<OpKind, OpRecord> = BTreeMap::new();
    let mut repetitions = Vec::new();
    let mut error_samples = Vec::new();
    for r in recs {
        let (ops, samples, _) = r.snapshot();
        repetitions.push(
            ops.iter()
                .map(|(op, rec)| {
                    (
                        op.name().to_string(),
                        RepetitionOp {
                            count: rec.count,
                            latency_us: Percentiles::of(&rec.latency),
                        },
                    )
                })
                .collect(),
        );
        error_samples.extend(samples);
        for (op, rec) in ops {
            let t = total.entry(op).or_default();
            let _ = t.latency.add(&rec.latency);
            let _ = t.service.add(&rec.service);
            let _ = t.schedule_lag.add(&rec.schedule_lag);
            t.count += rec.count;
            t.late += rec.late;
            for (k, n) in rec.errors {
                *t.errors.entry(k).or_insert(0) += n;
            }
        }
    }
    SystemResults {
        ops: total
            .iter()
            .map(|(op, r)| (op.name().to_string(), op_results(r)))
            .collect(),
        repetitions,
        error_samples,
        footprint: None,
        round_trips: BTreeMap::new(),
        inngest_executions: Default::default(),
        dead_letters: Vec::new(),
        projection_lag_ms: None,
        interval_log: None,
        db_time: None,
        storage_growth: None,
        event_growth: None,
    }
}

/// Sampled entities for copies per item.
const COPY_SAMPLE: usize = 20;
/// Writes timed for projection lag.
const LAG_SAMPLES: usize = 5;

async fn measure_stored(
    s: &System,
    st: &Stores,
    space: &KeySpace,
    scn: &Scenario,
) -> anyhow::Result<(FootprintResults, lag::LagReport)> {
    let fp = s.sut.footprint().await?;
    let ep: &Endpoints = &st.endpoints;
    let pool = health::connect(&ep.postgres, 2).await?;
    let client = stores::s3::client(&ep.s3);
    let step = (space.entities.len() / COPY_SAMPLE).max(1);
    let sample: Vec<_> = space
        .entities
        .iter()
        .step_by(step)
        .take(COPY_SAMPLE)
        .map(|(_, id)| *id)
        .collect();
    let c = copies::measure(s.sut.as_ref(), &pool, &client, &ep.s3.bucket, &sample).await;
    pool.close().await;
    let c = c?;
    // Lag is measured with a user outside the seeded ones, after the counters are read.
    let lag_user = UserId(scn.seeding.users as i64 + 1_000_000);
    let lag = lag::measure(
        s.sut.as_ref(),
        lag_user,
        LAG_SAMPLES,
        scn.rng_seed,
        Duration::from_secs(60),
    )
    .await?;
    Ok((
        FootprintResults {
            logical_body_bytes: fp.logical_body_bytes,
            stored_bytes: StoredBytes {
                postgres: fp.postgres_bytes,
                object_store: fp.object_bytes,
            },
            amplification: fp.amplification(),
            copies_per_item: c.copies_per_item,
            copies: c,
            postgres_relations: fp.postgres_relations,
            object_count: fp.object_count,
        },
        lag,
    ))
}

fn environment(stores: Option<StoresInfo>, git_revision: Option<String>) -> Environment {
    let read = |p: &str| {
        std::fs::read_to_string(p)
            .map(|s| s.trim().to_string())
            .unwrap_or_default()
    };
    let memory_bytes = read("/proc/meminfo")
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024);
    Environment {
        git_revision,
        archbench_version: env!("CARGO_PKG_VERSION").into(),
        machine: Machine {
            hostname: read("/proc/sys/kernel/hostname"),
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            kernel: read("/proc/sys/kernel/osrelease"),
            memory_bytes,
        },
        stores,
    }
}

/// `git rev-parse HEAD`, with `-dirty` when tracked source files differ from it: a
/// result must not claim a revision whose code it did not run. The revision of the
/// working directory, which is the repository when run as the README says.
fn git_revision() -> Option<String> {
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let head = git(&["rev-parse", "HEAD"])?;
    let dirty = git(&[
        "status",
        "--porcelain",
        "--untracked-files=no",
        "--",
        "src",
        "Cargo.toml",
        "Cargo.lock",
    ])
    .is_some_and(|s| !s.is_empty());
    Some(if dirty { format!("{head}-dirty") } else { head })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn systems_split_on_commas_but_keep_synthetic_specs_whole() {
        assert_eq!(split_systems("v02,v03"), ["v02", "v03"]);
        assert_eq!(
            split_systems("v02, synthetic:service=1ms,servers=4,delay.get=2ms ,v03"),
            [
                "v02",
                "synthetic:service=1ms,servers=4,delay.get=2ms",
                "v03"
            ]
        );
        assert_eq!(split_systems("synthetic"), ["synthetic"]);
    }
}
