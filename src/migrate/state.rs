//! The rehearsal's checkpoint, kept in the target's PostgreSQL beside the data it
//! describes (schema `archbench_migration`): the stage reached, the backfill's cursor,
//! the results so far, and the queue of entities to repair. A batch commits before
//! the cursor moves past it, so a kill between the two makes the resume meet ids the
//! target holds already, which it skips: nothing is lost and nothing is doubled.

use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use uuid::Uuid;

use crate::arch::EntityId;
use crate::results::migration::Migration;

const SCHEMA: &str = "
CREATE SCHEMA IF NOT EXISTS archbench_migration;
CREATE TABLE IF NOT EXISTS archbench_migration.state (
    id int PRIMARY KEY CHECK (id = 1), scenario_hash text NOT NULL, stage text NOT NULL,
    backfill_after uuid, results jsonb NOT NULL, updated_at timestamptz NOT NULL DEFAULT clock_timestamp());
CREATE TABLE IF NOT EXISTS archbench_migration.repairs (
    entity_id uuid PRIMARY KEY, reason text NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp());
";

/// When a repair was queued.
pub type Queued = chrono::DateTime<chrono::Utc>;

/// The stages in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Nothing done yet.
    Start,
    /// The source holds the scenario's seed.
    Seeded,
    /// The source's write latency alone is measured.
    Baseline,
    /// Every entity of the source is in the target; live writes mirrored meanwhile.
    Backfilled,
    /// Writes the target failed or diverged on are copied again.
    Repaired,
    /// Parity checked.
    Verified,
    /// Reads shadowed, the source's answers served.
    Shadowed,
    /// The target serves alone.
    CutOver,
    /// The writes after the cut-over are carried back into the source.
    RolledBack,
}

impl Stage {
    /// As `migration.json` and the checkpoint write it.
    pub fn name(self) -> &'static str {
        match self {
            Stage::Start => "start",
            Stage::Seeded => "seeded",
            Stage::Baseline => "baseline",
            Stage::Backfilled => "backfilled",
            Stage::Repaired => "repaired",
            Stage::Verified => "verified",
            Stage::Shadowed => "shadowed",
            Stage::CutOver => "cut_over",
            Stage::RolledBack => "done",
        }
    }

    fn parse(name: &str) -> Option<Stage> {
        [
            Stage::Start,
            Stage::Seeded,
            Stage::Baseline,
            Stage::Backfilled,
            Stage::Repaired,
            Stage::Verified,
            Stage::Shadowed,
            Stage::CutOver,
            Stage::RolledBack,
        ]
        .into_iter()
        .find(|s| s.name() == name)
    }
}

/// What a checkpoint holds.
#[derive(Debug, Clone)]
pub struct Saved {
    /// SHA-256 of the scenario it was made with.
    pub scenario_hash: String,
    /// The last stage completed.
    pub stage: Stage,
    /// The backfill's cursor: every source id up to it is in the target.
    pub backfill_after: Option<EntityId>,
    /// The results so far.
    pub results: Migration,
}

/// The checkpoint tables.
#[derive(Clone)]
pub struct Checkpoint {
    pool: PgPool,
}

impl Checkpoint {
    /// Creates the tables when missing.
    pub async fn open(pool: PgPool) -> Result<Self, sqlx::Error> {
        sqlx::raw_sql(SCHEMA).execute(&pool).await?;
        Ok(Self { pool })
    }

    /// The checkpoint, when a rehearsal left one.
    pub async fn load(&self) -> Result<Option<Saved>, sqlx::Error> {
        let row: Option<(String, String, Option<Uuid>, serde_json::Value)> = sqlx::query_as(
            "SELECT scenario_hash, stage, backfill_after, results FROM archbench_migration.state WHERE id = 1",
        )
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.and_then(|(scenario_hash, stage, after, results)| {
            Some(Saved {
                scenario_hash,
                stage: Stage::parse(&stage)?,
                backfill_after: after.map(EntityId),
                results: serde_json::from_value(results).ok()?,
            })
        }))
    }

    /// Records the stage reached, the cursor and the results so far.
    pub async fn save(&self, saved: &Saved) -> Result<(), sqlx::Error> {
        let results = serde_json::to_value(&saved.results).expect("migration results serialise");
        sqlx::query(
            "INSERT INTO archbench_migration.state (id, scenario_hash, stage, backfill_after, results, updated_at)
             VALUES (1, $1, $2, $3, $4, now())
             ON CONFLICT (id) DO UPDATE SET scenario_hash = EXCLUDED.scenario_hash, stage = EXCLUDED.stage,
                 backfill_after = EXCLUDED.backfill_after, results = EXCLUDED.results, updated_at = now()",
        )
        .bind(&saved.scenario_hash)
        .bind(saved.stage.name())
        .bind(saved.backfill_after.map(|i| i.0))
        .bind(results)
        .execute(&self.pool)
        .await
        .map(|_| ())
    }

    /// Forgets an earlier rehearsal (`--fresh`).
    pub async fn clear(&self) -> Result<(), sqlx::Error> {
        sqlx::raw_sql("TRUNCATE archbench_migration.state, archbench_migration.repairs")
            .execute(&self.pool)
            .await
            .map(|_| ())
    }

    /// Queues an entity for repair (kept across a kill).
    pub async fn queue_repair(&self, id: EntityId, reason: &str) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO archbench_migration.repairs (entity_id, reason) VALUES ($1, $2)
             ON CONFLICT (entity_id) DO UPDATE SET reason = EXCLUDED.reason, at = clock_timestamp()",
        )
        .bind(id.0)
        .bind(reason)
        .execute(&self.pool)
        .await
        .map(|_| ())
    }

    /// The queued repairs, each with the time it was (last) queued.
    pub async fn repairs(&self) -> Result<Vec<(EntityId, Queued)>, sqlx::Error> {
        let rows: Vec<(Uuid, Queued)> = sqlx::query_as(
            "SELECT entity_id, at FROM archbench_migration.repairs ORDER BY entity_id",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(id, at)| (EntityId(id), at))
            .collect())
    }

    /// Removes a repaired entity from the queue, unless it was queued again after
    /// `queued` (a write that failed while the repair ran).
    pub async fn repaired(&self, id: EntityId, queued: Queued) -> Result<(), sqlx::Error> {
        sqlx::query("DELETE FROM archbench_migration.repairs WHERE entity_id = $1 AND at <= $2")
            .bind(id.0)
            .bind(queued)
            .execute(&self.pool)
            .await
            .map(|_| ())
    }
}
