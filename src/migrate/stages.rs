//! The rehearsal's stages in order, each resumable from the checkpoint the one
//! before it left: seed -> baseline -> backfill (under dual-write load) -> repair ->
//! verify -> shadow -> cut-over -> rollback. `migration.json` is written after every
//! stage, marked incomplete until the last.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::time::Instant;

use anyhow::Context;
use chrono::{DateTime, Utc};

use super::backfill::Backfiller;
use super::dual::DualWrite;
use super::load::{drive, write_latency};
use super::shadow::ShadowLog;
use super::state::{Checkpoint, Saved, Stage};
use super::{MigrateOptions, MigrateRefused, network_name, parity};
use crate::arch::v02::V02;
use crate::arch::v03::V03;
use crate::arch::{
    Harness, ImportMode, Operations, Portable, SETTLE_TIMEOUT, SystemConfig, SystemUnderTest,
};
use crate::loadgen::plan::KeySpace;
use crate::loadgen::seed::{SeedPath, SeedProgress, seed};
use crate::results::migration::{
    Cutover, MIGRATION_SCHEMA_VERSION, Migration, MigrationRig, Rollback, StageTime,
};
use crate::run::Load;
use crate::scenario::Scenario;
use crate::shutdown::ShutdownWatch;
use crate::stores::{Endpoints, health};

/// A rehearsal connected to its stores.
pub struct Rehearsal<'a> {
    options: &'a MigrateOptions,
    scenario: &'a Scenario,
    source: Arc<V02>,
    target: Arc<V03>,
    checkpoint: Checkpoint,
    pool: sqlx::PgPool,
    stop: Arc<AtomicBool>,
    watcher: tokio::task::JoinHandle<()>,
}

impl<'a> Rehearsal<'a> {
    /// Connects both systems (through `seen`, the endpoints behind the network's
    /// proxies) and the checkpoint (directly).
    pub async fn connect(
        options: &'a MigrateOptions,
        scenario: &'a Scenario,
        direct: &Endpoints,
        seen: &Endpoints,
        config: &SystemConfig,
        watch: &ShutdownWatch,
    ) -> anyhow::Result<Self> {
        let source = Arc::new(V02::connect(seen, config).await.context("connecting v02")?);
        let target = Arc::new(V03::connect(seen, config).await.context("connecting v03")?);
        source.prepare().await?;
        target.prepare().await?;
        let pool = health::connect(&direct.postgres, 4).await?;
        let checkpoint = Checkpoint::open(pool.clone())
            .await
            .context("creating the checkpoint tables")?;
        let (stop, watcher) = watch.stop_flag(
            "stopping after the page or phase in hand — the checkpoint is saved, --resume continues",
        );
        Ok(Self {
            options,
            scenario,
            source,
            target,
            checkpoint,
            pool,
            stop,
            watcher,
        })
    }

    /// Closes the checkpoint's pool and the signal watcher.
    pub async fn close(self) {
        self.watcher.abort();
        self.pool.close().await;
    }

    fn src(&self) -> Arc<dyn Portable> {
        self.source.clone()
    }

    fn dst(&self) -> Arc<dyn Portable> {
        self.target.clone()
    }

    /// Runs the stages that remain and writes `migration.json`.
    pub async fn run(&self, out: &mut (impl std::io::Write + Send)) -> anyhow::Result<Migration> {
        let mut saved = self.start(out).await?;
        if self.options.verify_only {
            let p = self.verify("check").await?;
            writeln!(out, "{}", parity_line(&p))?;
            saved.results.parity = p;
            return self.write(saved, out);
        }
        if saved.stage == Stage::RolledBack {
            writeln!(
                out,
                "nothing to do: the rehearsal in these stores is complete"
            )?;
            return self.write(saved, out);
        }
        let space = self.keys(&mut saved, out).await?;
        while saved.stage < Stage::RolledBack && !self.stop.load(SeqCst) {
            let started = Instant::now();
            let next = next_stage(saved.stage);
            writeln!(out, "stage {}", next.name())?;
            let done = self.step(next, &mut saved, &space, out).await?;
            saved.results.stages.push(StageTime {
                stage: next.name().to_string(),
                seconds: started.elapsed().as_secs_f64(),
            });
            if !done {
                self.checkpoint.save(&saved).await?;
                break;
            }
            saved.stage = next;
            saved.results.stage = next.name().to_string();
            self.checkpoint.save(&saved).await?;
            self.write(saved.clone(), &mut std::io::sink())?;
        }
        self.write(saved, out)
    }

    /// The checkpoint to go on from: a new one, or the one in the target (`--resume`).
    async fn start(&self, out: &mut (impl std::io::Write + Send)) -> anyhow::Result<Saved> {
        if self.options.fresh {
            self.checkpoint.clear().await?;
        }
        let saved = self.checkpoint.load().await?;
        let held = self.entities(self.target.locations().schema).await? > 0;
        let (resume, verify) = (self.options.resume, self.options.verify_only);
        match saved {
            Some(mut s) if resume || verify => {
                if s.scenario_hash != self.scenario.hash {
                    return Err(MigrateRefused(format!(
                        "the stores hold a rehearsal of another scenario ({}); resume it with that file, or --fresh to start over",
                        s.results.scenario
                    ))
                    .into());
                }
                if resume && s.stage < Stage::RolledBack {
                    s.results.backfill.resumes += 1;
                    let previous = std::mem::replace(&mut s.results.last_start, Utc::now().to_rfc3339());
                    if (Stage::Baseline..Stage::CutOver).contains(&s.stage) {
                        s.results.dual_write.requeued_on_resume += self.requeue_in_flight(&previous).await?;
                        s.results.dual_write.repaired += self.repair().await?;
                    }
                    writeln!(out, "resuming after stage {} (backfill cursor {:?})", s.stage.name(), s.backfill_after.map(|i| i.to_string()))?;
                }
                Ok(s)
            }
            Some(s) => Err(MigrateRefused(format!(
                "the stores hold a rehearsal at stage `{}` (started {}): --resume continues it, --fresh starts over (both systems emptied)",
                s.stage.name(),
                s.results.started_at
            ))
            .into()),
            None if held && !resume && !verify => Err(MigrateRefused(
                "v03 already holds data no rehearsal wrote: --resume migrates into it (ids it holds are kept, and parity compares them), --fresh empties it first".into(),
            )
            .into()),
            None => Ok(self.fresh()),
        }
    }

    fn fresh(&self) -> Saved {
        let now = Utc::now().to_rfc3339();
        Saved {
            scenario_hash: self.scenario.hash.clone(),
            stage: Stage::Start,
            backfill_after: None,
            results: Migration {
                schema_version: MIGRATION_SCHEMA_VERSION,
                started_at: now.clone(),
                last_start: now.clone(),
                history_end: now,
                scenario: self.scenario.name.clone(),
                scenario_hash: self.scenario.hash.clone(),
                from: self.source.name().to_string(),
                to: self.target.name().to_string(),
                rig: MigrationRig {
                    stores: self.options.stores.to_string(),
                    network: network_name(self.options),
                    instance: self.options.instance.as_ref().map(|p| p.name.clone()),
                },
                seeded_entities: self.scenario.seeded_entities(),
                stage: Stage::Start.name().to_string(),
                shadow_reads: crate::results::migration::ShadowReads {
                    sample: self.options.shadow_sample,
                    min_recall: self.options.min_recall,
                    ..Default::default()
                },
                ..Migration::default()
            },
        }
    }

    /// Seeds the source (first time) or derives the seed's keys (a resume).
    async fn keys(
        &self,
        saved: &mut Saved,
        out: &mut (impl std::io::Write + Send),
    ) -> anyhow::Result<Arc<KeySpace>> {
        let history_end: DateTime<Utc> = DateTime::parse_from_rfc3339(&saved.results.history_end)
            .context("the checkpoint's history_end")?
            .with_timezone(&Utc);
        let source: Arc<dyn SystemUnderTest> = self.source.clone();
        let path = if saved.stage >= Stage::Seeded {
            SeedPath::KeysOnly
        } else {
            self.source.reset().await?;
            // Migrating into a target that holds data (`--resume` without a
            // checkpoint) keeps it: parity then shows what differs.
            if !self.options.resume {
                self.target.reset().await?;
            }
            writeln!(
                out,
                "v02: seeding {} entities",
                self.scenario.seeded_entities()
            )?;
            SeedPath::Auto
        };
        let started = Instant::now();
        let keys = seed(
            source,
            self.scenario,
            history_end,
            Arc::new(SeedProgress::default()),
            path,
        )
        .await
        .context("seeding v02")?;
        if saved.stage < Stage::Seeded {
            saved.stage = Stage::Seeded;
            saved.results.stage = Stage::Seeded.name().to_string();
            saved.results.stages.push(StageTime {
                stage: Stage::Seeded.name().to_string(),
                seconds: started.elapsed().as_secs_f64(),
            });
            self.checkpoint.save(saved).await?;
        }
        Ok(Arc::new(keys))
    }

    /// Runs one stage; `false` when a stop cut it short.
    async fn step(
        &self,
        stage: Stage,
        saved: &mut Saved,
        space: &Arc<KeySpace>,
        out: &mut (impl std::io::Write + Send),
    ) -> anyhow::Result<bool> {
        let load = Load {
            scenario: self.scenario,
            space: space.clone(),
            agent: None,
            stop: &self.stop,
        };
        // Each stage's ops (and the ids it creates) are its own, and a resumed stage's
        // differ from the first try's.
        let stream = (stage as u64) << 8 | saved.results.backfill.resumes;
        let r = &mut saved.results;
        match stage {
            Stage::Baseline => {
                let rec = drive(&load, self.source.clone(), stream, "v02 alone", out).await?;
                r.dual_write_overhead.source_alone = write_latency(&rec);
            }
            Stage::Backfilled => return self.backfill(&load, stream, saved, out).await,
            Stage::Repaired => {
                let started = Instant::now();
                self.settle().await?;
                let settled = started.elapsed().as_secs_f64();
                let repaired = self.repair().await?;
                r.dual_write.repaired += repaired;
                writeln!(
                    out,
                    "repair: projections settled in {settled:.1} s; {repaired} entities copied again in {:.1} s",
                    started.elapsed().as_secs_f64() - settled
                )?;
            }
            Stage::Verified => {
                r.parity = self.verify("after_backfill").await?;
                writeln!(out, "{}", parity_line(&r.parity))?;
                r.resume.lost = r.parity.missing_versions;
                r.resume.duplicated = r.parity.duplicated_versions;
            }
            Stage::Shadowed => {
                let log = Arc::new(ShadowLog::new(
                    self.options.shadow_sample,
                    self.options.min_recall,
                ));
                let dual = Arc::new(self.dual(Some(log.clone())));
                let rec = drive(&load, dual.clone(), stream, "dual-write + shadow", out).await?;
                dual.finish_experiments().await;
                r.dual_write_overhead.dual_write = write_latency(&rec);
                merge_dual(r, &dual);
                r.shadow_reads = log.summary();
                r.dual_write.repaired += self.repair().await?;
                let o = &mut r.dual_write_overhead;
                o.p50_ms = o.dual_write.p50_ms - o.source_alone.p50_ms;
                o.p99_ms = o.dual_write.p99_ms - o.source_alone.p99_ms;
                writeln!(
                    out,
                    "shadow reads: {} compared, {} mismatched; writes +{:.1} ms p50, +{:.1} ms p99 over v02 alone",
                    r.shadow_reads.compared, r.shadow_reads.mismatched, o.p50_ms, o.p99_ms
                )?;
            }
            Stage::CutOver => return self.cut_over(&load, stream, saved, out).await,
            Stage::RolledBack => {
                r.rollback = Some(self.rollback(r).await?);
                project(self.options, self.scenario, r);
            }
            Stage::Start | Stage::Seeded => {}
        }
        Ok(!self.stop.load(SeqCst))
    }

    /// The target serves alone. The cut-over time is saved before the first write, so
    /// that a resumed stage keeps it and the rollback misses none of its writes.
    async fn cut_over(
        &self,
        load: &Load<'_>,
        stream: u64,
        saved: &mut Saved,
        out: &mut (impl std::io::Write + Send),
    ) -> anyhow::Result<bool> {
        if saved.results.cutover.is_none() {
            saved.results.cutover = Some(Cutover {
                at: Utc::now().to_rfc3339(),
                writes_after: 0,
                write_latency: Default::default(),
            });
            self.checkpoint.save(saved).await?;
        }
        let rec = drive(load, self.target.clone(), stream, "v03 after cut-over", out).await?;
        let latency = write_latency(&rec);
        if let Some(c) = &mut saved.results.cutover {
            c.writes_after += latency.count;
            c.write_latency = latency;
        }
        Ok(!self.stop.load(SeqCst))
    }

    /// After a kill, the writes in flight may have reached the source and not the
    /// target (or the repair queue): every entity the source changed since the killed
    /// process started is queued for repair. Returns how many.
    async fn requeue_in_flight(&self, since: &str) -> anyhow::Result<u64> {
        let since = DateTime::parse_from_rfc3339(since)?.with_timezone(&Utc);
        let changed = self.source.changed_since(since).await?;
        for id in &changed {
            self.checkpoint
                .queue_repair(*id, "in_flight_at_stop")
                .await?;
        }
        Ok(changed.len() as u64)
    }

    fn dual(&self, shadow: Option<Arc<ShadowLog>>) -> DualWrite {
        DualWrite::new(
            self.src(),
            Some(self.dst()),
            self.checkpoint.clone(),
            shadow,
            self.scenario.rng_seed,
        )
    }

    /// The backfill beside the dual-write load; done when both are.
    async fn backfill(
        &self,
        load: &Load<'_>,
        stream: u64,
        saved: &mut Saved,
        out: &mut (impl std::io::Write + Send),
    ) -> anyhow::Result<bool> {
        let dual = Arc::new(self.dual(None));
        let backfiller = Backfiller {
            source: self.source.as_ref(),
            target: self.target.as_ref(),
            checkpoint: &self.checkpoint,
            batch: self.options.batch,
            expected: self.entities(self.source.locations().schema).await?,
            stop: &self.stop,
        };
        let mut load_log = Vec::new();
        let (recorded, finished) = tokio::join!(
            drive(
                load,
                dual.clone(),
                stream,
                "dual-write + backfill",
                &mut load_log
            ),
            backfiller.run(saved, out),
        );
        out.write_all(&load_log)?;
        let (recorded, finished) = (recorded?, finished?);
        let r = &mut saved.results;
        r.dual_write_overhead.during_backfill = write_latency(&recorded);
        merge_dual(r, &dual);
        let b = &r.backfill;
        writeln!(
            out,
            "backfill: {} entities copied, {} held already, {:.0} entities/s, {:.2} MB/s",
            b.entities, b.skipped, b.entities_per_s, b.mb_per_s
        )?;
        Ok(finished && !self.stop.load(SeqCst))
    }

    /// Entities the system with PostgreSQL schema `schema` holds now (a count, not an
    /// export: nothing is read from the object store).
    async fn entities(&self, schema: &str) -> anyhow::Result<u64> {
        let table = format!("{schema}.entities");
        let n: i64 =
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
                .fetch_one(&self.pool)
                .await?;
        Ok(n as u64)
    }

    async fn settle(&self) -> anyhow::Result<()> {
        self.source.settle(SETTLE_TIMEOUT).await?;
        self.target.settle(SETTLE_TIMEOUT).await?;
        Ok(())
    }

    /// Copies every queued entity again; returns how many were written.
    async fn repair(&self) -> anyhow::Result<u64> {
        let dual = self.dual(None);
        let mut repaired = 0;
        let queue = self.checkpoint.repairs().await?;
        for chunk in queue.chunks(self.options.batch as usize) {
            let ids: Vec<_> = chunk.iter().map(|(id, _)| *id).collect();
            repaired += dual
                .repair(&ids)
                .await
                .with_context(|| format!("repairing {} entities from {}", ids.len(), ids[0]))?;
            for (id, queued) in chunk {
                self.checkpoint.repaired(*id, *queued).await?;
            }
        }
        Ok(repaired)
    }

    async fn verify(&self, checked: &str) -> anyhow::Result<crate::results::migration::Parity> {
        self.settle().await?;
        Ok(parity::check(
            self.source.as_ref(),
            self.target.as_ref(),
            checked,
            self.options.batch.max(100),
        )
        .await?)
    }

    /// Carries the entities written since the cut-over back into the source.
    async fn rollback(&self, r: &Migration) -> anyhow::Result<Rollback> {
        let started = Instant::now();
        let at = r
            .cutover
            .as_ref()
            .map(|c| c.at.clone())
            .context("rollback without a cut-over time")?;
        let at = DateTime::parse_from_rfc3339(&at)?.with_timezone(&Utc);
        self.target.settle(SETTLE_TIMEOUT).await?;
        let changed = self.target.changed_since(at).await?;
        let mut carried = 0;
        for ids in changed.chunks(self.options.batch as usize) {
            let batch: Vec<_> = self
                .target
                .export(ids)
                .await?
                .iter()
                .filter_map(|s| s.to_seed())
                .collect();
            carried += self
                .source
                .import(&batch, ImportMode::Replace)
                .await?
                .written;
        }
        let seconds = started.elapsed().as_secs_f64();
        let parity = self.verify("after_rollback").await?;
        Ok(Rollback {
            carried_back: carried,
            seconds,
            parity,
        })
    }

    /// Writes `migration.json`.
    fn write(&self, mut saved: Saved, out: &mut impl std::io::Write) -> anyhow::Result<Migration> {
        let m = &mut saved.results;
        m.finished_at = Utc::now().to_rfc3339();
        m.complete = saved.stage == Stage::RolledBack;
        std::fs::create_dir_all(&self.options.out)?;
        let path = self.options.out.join("migration.json");
        m.write_atomic(&path)?;
        writeln!(out, "migration results: {}", path.display())?;
        Ok(saved.results)
    }
}

fn next_stage(stage: Stage) -> Stage {
    match stage {
        Stage::Start => Stage::Seeded,
        Stage::Seeded => Stage::Baseline,
        Stage::Baseline => Stage::Backfilled,
        Stage::Backfilled => Stage::Repaired,
        Stage::Repaired => Stage::Verified,
        Stage::Verified => Stage::Shadowed,
        Stage::Shadowed => Stage::CutOver,
        Stage::CutOver | Stage::RolledBack => Stage::RolledBack,
    }
}

fn merge_dual(r: &mut Migration, dual: &DualWrite) {
    r.dual_write.writes += dual.writes();
    for (reason, n) in dual.failures() {
        *r.dual_write.target_failures.entry(reason).or_default() += n;
    }
}

fn parity_line(p: &crate::results::migration::Parity) -> String {
    format!(
        "parity ({}): {} entities, {} missing, {} extra, {} mismatched; {} versions lost, {} doubled; tables {}; objects: {} missing, {} unreferenced ({:.1} s)",
        p.checked,
        p.entities,
        p.missing,
        p.extra,
        p.mismatched,
        p.missing_versions,
        p.duplicated_versions,
        if p.tables.iter().all(|t| t.matches) {
            "match".to_string()
        } else {
            p.tables
                .iter()
                .filter(|t| !t.matches)
                .map(|t| t.table.clone())
                .collect::<Vec<_>>()
                .join(", ")
                + " differ"
        },
        p.objects.missing,
        p.objects.unreferenced,
        p.seconds
    )
}

/// The size-dependent stages at the production size: measured rates here, times the
/// production's entities.
fn project(options: &MigrateOptions, scenario: &Scenario, m: &mut Migration) {
    let per_user = scenario.seeding.entities_per_user;
    let entities = options.production_users * per_user;
    let mut hours = std::collections::BTreeMap::new();
    if m.backfill.entities_per_s > 0.0 {
        hours.insert(
            "backfill".to_string(),
            entities as f64 / m.backfill.entities_per_s / 3600.0,
        );
    }
    if m.parity.seconds > 0.0 && m.parity.entities > 0 {
        let rate = m.parity.entities as f64 / m.parity.seconds;
        hours.insert("parity".to_string(), entities as f64 / rate / 3600.0);
    }
    m.projected_hours = hours.values().sum();
    m.projection = crate::results::migration::Projection {
        users: options.production_users,
        entities_per_user: per_user,
        entities,
        basis: format!(
            "{} users (--production-users) × {per_user} entities per user (the scenario's seeding)",
            options.production_users
        ),
        hours,
        method: format!(
            "projected: the backfill's and the parity check's rates measured here ({} stores{}), times the production's entities; linear, which holds while the target's indexes fit in memory",
            options.stores,
            network_name(options)
                .map(|n| format!(", network {n}"))
                .unwrap_or_default()
                + &options
                    .instance
                    .as_ref()
                    .map(|p| format!(", instance {}", p.name))
                    .unwrap_or_default()
        ),
    };
}
