//! Stage 4, measure: after the phases, per system, the counters (round trips,
//! executions, dead letters), database time and storage growth since the first
//! measured phase, then storage, copies and projection lag from the stores, the
//! event-log growth probe, and the interval log beside the results.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use super::connect::System;
use super::phases::PhaseRecords;
use super::summary::summarise;
use crate::arch::{Footprint, OpKind, UserId};
use crate::loadgen::plan::KeySpace;
use crate::loadgen::record::{Recorder, histogram, write_interval_log};
use crate::measure::dbtime::{self, DbTime};
use crate::measure::{copies, growth, lag};
use crate::probes::search_quality;
use crate::results::event_log::EventLogProbe;
use crate::results::{
    FaultAction, FaultResult, FaultTarget, FootprintResults, LagReport, RunStage, StorageGrowth,
    StoredBytes, SystemResults,
};
use crate::scenario::Scenario;
use crate::shutdown::ShutdownWatch;
use crate::stores::{Stores, health, s3};

/// Database time and stored bytes of one system at one moment; either is `None` when
/// it cannot be read (no stores, no `pg_stat_statements`), and the results say absent.
pub(super) struct UsageSnapshot {
    db_time: Option<DbTime>,
    stored: Option<Footprint>,
}

impl UsageSnapshot {
    /// Reads both through the harness's pool.
    pub(super) async fn read(s: &System, meter: Option<&sqlx::PgPool>) -> UsageSnapshot {
        let Some(pool) = meter.filter(|_| s.uses_stores) else {
            return UsageSnapshot {
                db_time: None,
                stored: None,
            };
        };
        UsageSnapshot {
            db_time: dbtime::read(pool, s.sut.locations().schema)
                .await
                .ok()
                .flatten(),
            stored: s.sut.footprint().await.ok(),
        }
    }
}

/// What the measurements need besides the systems.
pub(super) struct MeasureInputs<'a> {
    /// The scenario.
    pub scenario: &'a Scenario,
    /// Keys seeded.
    pub space: &'a KeySpace,
    /// Stores, when any system uses them.
    pub stores: Option<&'a Stores>,
    /// The harness's pool.
    pub meter: Option<&'a sqlx::PgPool>,
    /// Output folder (interval logs).
    pub folder: &'a Path,
    /// Start of the run, the interval logs' base time.
    pub started_at: chrono::DateTime<chrono::Utc>,
    /// An agent's key for its interval logs (`None`: a run of one process).
    pub log_key: Option<crate::loadgen::agent::LogKey>,
    /// Ctrl-C: what the stores are asked is given up, what is in memory is kept.
    pub watch: &'a ShutdownWatch,
    /// The stage an earlier Ctrl-C stopped the run in.
    pub stopped_in: Option<RunStage>,
}

/// Every system's results, and what went wrong on the way.
pub(super) struct Measured {
    /// Per system.
    pub systems: BTreeMap<String, SystemResults>,
    /// False when a measurement failed.
    pub complete: bool,
    /// What failed, for the results' notes.
    pub notes: Vec<String>,
    /// The stage a Ctrl-C stopped the run in.
    pub stopped_in: Option<RunStage>,
    /// The event-log probe (`[event_log]`), both designs at once.
    pub event_log_probe: Option<EventLogProbe>,
}

impl Measured {
    /// Nothing measured: the run stopped in `stage`, before any phase.
    pub(super) fn stopped(stage: RunStage) -> Measured {
        Measured {
            systems: BTreeMap::new(),
            complete: false,
            notes: Vec::new(),
            stopped_in: Some(stage),
            event_log_probe: None,
        }
    }
}

/// Measures every system in turn.
pub(super) async fn measure_systems(
    inputs: &MeasureInputs<'_>,
    systems: &[System],
    mut records: PhaseRecords,
    out: &mut (impl std::io::Write + Send),
) -> anyhow::Result<Measured> {
    let mut measured = Measured {
        systems: BTreeMap::new(),
        complete: true,
        notes: Vec::new(),
        stopped_in: inputs.stopped_in,
        event_log_probe: None,
    };
    let watch = inputs.watch;
    for s in systems {
        // After a stop, only what is in memory: the recorders and the counters.
        if measured.stopped_in.is_none() {
            let settle = s.sut.settle(Duration::from_secs(120));
            if watch.unless_signalled(settle).await.is_none() {
                measured.stopped_in = Some(RunStage::Measuring);
            }
        }
        let recorders = records.recorders.remove(&s.name).unwrap_or_default();
        let mut results = summarise(&recorders);
        results.faults = records.faults.remove(&s.name).unwrap_or_default();
        read_counters(s, &mut results);
        if let Some(before) = records.before.get(&s.name)
            && measured.stopped_in.is_none()
        {
            let after = UsageSnapshot::read(s, inputs.meter);
            match watch.unless_signalled(after).await {
                Some(after) => add_usage_since(&mut results, before, &after),
                None => measured.stopped_in = Some(RunStage::Measuring),
            }
        }
        // A crash loses pg_stat_statements' counters (they are saved only at a clean
        // shutdown): database time across a kill would count half the run.
        let killed = |f: &FaultResult| {
            f.events.target == FaultTarget::Postgres
                && f.events.action == FaultAction::Kill
                && f.events.injected_ms.is_some()
        };
        if results.db_time.is_some() && results.faults.iter().any(killed) {
            results.db_time = None;
            measured.notes.push(format!(
                "{}: database time not measured — PostgreSQL was killed mid-run and its statement counters restarted",
                s.name
            ));
        }
        if let Some(stores) = inputs.stores.filter(|_| s.uses_stores)
            && measured.stopped_in.is_none()
        {
            measure_in_stores(inputs, s, stores, &mut results, &mut measured, out).await?;
        }
        results.interval_log = Some(write_log(inputs, s, &recorders)?);
        measured.systems.insert(s.name.clone(), results);
    }
    if inputs.stores.is_some() {
        super::event_log::probe(inputs, &mut measured, out).await?;
    }
    Ok(measured)
}

/// Counters first: the storage and lag measurements run ops of their own.
fn read_counters(s: &System, results: &mut SystemResults) {
    if s.external {
        results.not_measured = crate::results::NOT_MEASURED_EXTERNALLY
            .iter()
            .map(|f| f.to_string())
            .collect();
        return;
    }
    let round_trips = s.sut.round_trips().snapshot();
    results.round_trips = round_trips
        .per_op
        .into_iter()
        .map(|(op, r)| (op.name().to_string(), r))
        .collect();
    results.inngest_executions = s.sut.inngest();
    results.dead_letters = s.sut.dead_letters();
}

fn add_usage_since(results: &mut SystemResults, before: &UsageSnapshot, after: &UsageSnapshot) {
    results.db_time = after.db_time.zip(before.db_time).map(|(a, b)| a.since(&b));
    let writes = [OpKind::Create, OpKind::Update]
        .iter()
        .filter_map(|op| results.round_trips.get(op.name()))
        .map(|r| r.ops)
        .sum();
    results.storage_growth = after
        .stored
        .as_ref()
        .zip(before.stored.as_ref())
        .map(|(a, b)| StorageGrowth {
            writes,
            postgres_bytes: a.postgres_bytes as i64 - b.postgres_bytes as i64,
            object_bytes: a.object_bytes as i64 - b.object_bytes as i64,
            objects: a.object_count as i64 - b.object_count as i64,
        });
}

/// Footprint, copies and lag, then the search-quality probe, then the growth probe
/// (last: it leaves its synthetic events in the event store). A failure marks the run
/// incomplete and is noted.
async fn measure_in_stores(
    inputs: &MeasureInputs<'_>,
    s: &System,
    stores: &Stores,
    results: &mut SystemResults,
    measured: &mut Measured,
    out: &mut (impl std::io::Write + Send),
) -> anyhow::Result<()> {
    let stored = measure_stored(s, stores, inputs.space, inputs.scenario);
    match inputs.watch.unless_signalled(stored).await {
        None => {
            measured.stopped_in = Some(RunStage::Measuring);
            return Ok(());
        }
        Some(Ok((footprint, lag))) => {
            results.footprint = Some(footprint);
            results.projection_lag_ms = Some(lag);
        }
        Some(Err(e)) => {
            measured.complete = false;
            measured
                .notes
                .push(format!("{}: storage/lag measurement failed: {e:#}", s.name));
        }
    }
    search_quality_probe(inputs, s, results, measured, out).await?;
    if measured.stopped_in.is_none() {
        growth_probe(inputs, s, results, measured, out).await?;
    }
    Ok(())
}

/// The search-quality probe on the system's vectors (`[search_quality]`); it adds
/// nothing to the system's tables (the other designs run on a scratch copy).
async fn search_quality_probe(
    inputs: &MeasureInputs<'_>,
    s: &System,
    results: &mut SystemResults,
    measured: &mut Measured,
    out: &mut (impl std::io::Write + Send),
) -> anyhow::Result<()> {
    let scenario = inputs.scenario;
    let (Some(probe), Some(vectors)) = (scenario.search_quality.as_ref(), s.sut.vector_search())
    else {
        return Ok(());
    };
    let k = probe
        .k
        .unwrap_or(scenario.run.search_k.clamp(1, 1_000) as u32);
    writeln!(
        out,
        "{}: search-quality probe: {} queries, recall@{k}, ef_search {:?}",
        s.name, probe.queries, probe.ef_search
    )?;
    let users: Vec<i64> = inputs.space.users.iter().map(|u| u.0).collect();
    let found = search_quality::probe(&vectors, &users, scenario.rng_seed, k, probe);
    let Some(found) = inputs.watch.unless_signalled(found).await else {
        measured.stopped_in = Some(RunStage::SearchQualityProbe);
        return Ok(());
    };
    match found {
        Ok(quality) => {
            for d in &quality.designs {
                writeln!(
                    out,
                    "{}:   {}: plan {}",
                    s.name,
                    d.design.describe(),
                    d.plan
                )?;
                for p in &d.frontier {
                    writeln!(
                        out,
                        "{}:   {}{}: recall {:.3}, p50 {:.2} ms, p99 {:.2} ms",
                        s.name,
                        d.design.describe(),
                        p.ef_search
                            .map_or(String::new(), |e| format!(", ef_search {e}")),
                        p.recall,
                        p.p50_ms,
                        p.p99_ms
                    )?;
                }
            }
            results.search_quality = Some(quality);
        }
        Err(e) => {
            measured.complete = false;
            measured.notes.push(format!("{}: {e}", s.name));
        }
    }
    Ok(())
}

/// The event-log growth probe (last: it leaves its synthetic events in the event
/// store).
async fn growth_probe(
    inputs: &MeasureInputs<'_>,
    s: &System,
    results: &mut SystemResults,
    measured: &mut Measured,
    out: &mut (impl std::io::Write + Send),
) -> anyhow::Result<()> {
    let scenario = inputs.scenario;
    let Some(probe) = scenario.growth.as_ref() else {
        return Ok(());
    };
    writeln!(
        out,
        "{}: event-log growth probe ×{:?}, {} time-window queries per size",
        s.name, probe.factors, probe.samples
    )?;
    let points = growth::probe(
        s.sut.as_ref(),
        inputs.space,
        scenario.run.activity_window,
        scenario.seeding.history_days,
        probe,
    );
    let Some(points) = inputs.watch.unless_signalled(points).await else {
        measured.stopped_in = Some(RunStage::GrowthProbe);
        return Ok(());
    };
    match points {
        Ok(points) => {
            for p in &points {
                writeln!(
                    out,
                    "{}:   {} events: activity p50 {:.2} ms, p95 {:.2} ms",
                    s.name, p.events, p.p50_ms, p.p95_ms
                )?;
            }
            results.event_growth = Some(points);
        }
        Err(e) => {
            measured.complete = false;
            measured
                .notes
                .push(format!("{}: growth probe failed: {e}", s.name));
        }
    }
    Ok(())
}

/// Writes the system's interval log (every repetition merged per second) beside the
/// results and returns its file name.
fn write_log(
    inputs: &MeasureInputs<'_>,
    s: &System,
    recorders: &[Arc<Recorder>],
) -> anyhow::Result<String> {
    let system = s.name.replace([':', ',', '=', '/'], "_");
    // Agents' logs land in one folder or bucket: each name says whose it is.
    let name = match &inputs.log_key {
        Some(k) => format!(
            "{system}.agent-{}-of-{}.attempt-{}.hlog",
            k.agent, k.agents, k.attempt
        ),
        None => format!("{system}.hlog"),
    };
    let key = inputs.log_key.as_ref().map(|k| k.comment());
    // Second by second, repetitions merged: one second's histograms in memory at a time.
    let seconds: std::collections::BTreeSet<u64> = recorders
        .iter()
        .flat_map(|r| r.interval_seconds())
        .collect();
    let merged = seconds.into_iter().map(|second| {
        let mut per_op: BTreeMap<OpKind, hdrhistogram::Histogram<u64>> = BTreeMap::new();
        for r in recorders {
            for (op, h) in r.interval(second) {
                let _ = per_op.entry(op).or_insert_with(histogram).add(&h);
            }
        }
        (second, per_op)
    });
    let mut bytes = Vec::new();
    write_interval_log(
        merged,
        inputs.started_at.timestamp_millis() as f64 / 1e3,
        key.as_deref(),
        &mut bytes,
    )?;
    let folder = inputs.folder;
    std::fs::create_dir_all(folder).with_context(|| format!("creating {}", folder.display()))?;
    let path = folder.join(&name);
    crate::atomic::write_atomic(&path, &bytes, 0o644)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(name)
}

/// Sampled entities for copies per item.
const COPY_SAMPLE: usize = 20;

async fn measure_stored(
    s: &System,
    stores: &Stores,
    space: &KeySpace,
    scenario: &Scenario,
) -> anyhow::Result<(FootprintResults, LagReport)> {
    let footprint = s.sut.footprint().await?;
    let endpoints = &stores.endpoints;
    let pool = health::connect(&endpoints.postgres, 2).await?;
    let client = s3::client(&endpoints.s3);
    let step = (space.entities.len() / COPY_SAMPLE).max(1);
    let sample: Vec<_> = space
        .entities
        .iter()
        .step_by(step)
        .take(COPY_SAMPLE)
        .map(|(_, id)| *id)
        .collect();
    let found = copies::measure(
        s.sut.as_ref(),
        &pool,
        &client,
        &endpoints.s3.bucket,
        &sample,
    )
    .await;
    pool.close().await;
    let found = found?;
    // Lag is measured with a user outside the seeded ones, after the counters are read.
    let lag_user = UserId(scenario.seeding.users as i64 + 1_000_000);
    let lag = lag::measure(
        s.sut.as_ref(),
        lag_user,
        scenario.run.lag_writes,
        scenario.rng_seed,
        Duration::from_secs(60),
    )
    .await?;
    Ok((
        FootprintResults {
            logical_body_bytes: footprint.logical_body_bytes,
            stored_bytes: StoredBytes {
                postgres: footprint.postgres_bytes,
                object_store: footprint.object_bytes,
            },
            amplification: footprint.amplification(),
            copies_per_item: found.copies_per_item,
            copies: found,
            postgres_relations: footprint.postgres_relations,
            object_count: footprint.object_count,
        },
        lag,
    ))
}
