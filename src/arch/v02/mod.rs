//! V0.2 as the decision document describes today's backend. PostgreSQL holds
//! everything and the body is stored five times: `entities.content`, `content_blocks`,
//! every event's JSONB payload, a file copy in the object store, and the read-model /
//! search projection row (body + embedding). Events live in a plain table with b-tree
//! indexes. The API writes entity and event, then sends the event to Inngest, whose
//! functions (blocks, read model, file copy, embedding) do the rest, each step an HTTP
//! call back into the app: Inngest used as a database proxy.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::json;
use uuid::Uuid;

use super::common::{self, int_field, op_of_event, str_field, time_field, uuid_field};
use super::inngest::{ExecutionCounts, FunctionDef, StepHandler, StepRequest};
use super::{
    ActivityBucket, ArchError, BodyUpdate, Entity, EntityId, EntitySummary, Footprint, Harness,
    HistoryEvent, Locations, NewEntity, OpKind, OpResult, Operations, RoundTrips, SearchHit,
    SeedEntity, Store, UserId, embedding,
};
use super::{EventGrowth, Runtime, StoreClients, SystemConfig, V02_NAME};
use crate::stores::Endpoints;

mod portable;

const SCHEMA_SQL: &str = r#"
CREATE SCHEMA IF NOT EXISTS v02;
CREATE TABLE IF NOT EXISTS v02.entities (
    id uuid PRIMARY KEY, user_id bigint NOT NULL, title text NOT NULL, content text NOT NULL,
    version int NOT NULL, created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL);
CREATE INDEX IF NOT EXISTS entities_user ON v02.entities (user_id, updated_at DESC);
CREATE TABLE IF NOT EXISTS v02.content_blocks (
    entity_id uuid NOT NULL, version int NOT NULL, idx int NOT NULL, block text NOT NULL,
    PRIMARY KEY (entity_id, idx));
CREATE TABLE IF NOT EXISTS v02.events (
    id bigserial PRIMARY KEY, aggregate_id uuid NOT NULL, user_id bigint NOT NULL, type text NOT NULL,
    version int NOT NULL, payload jsonb NOT NULL, created_at timestamptz NOT NULL);
CREATE INDEX IF NOT EXISTS events_aggregate ON v02.events (aggregate_id, id);
CREATE INDEX IF NOT EXISTS events_user_time ON v02.events (user_id, created_at);
CREATE TABLE IF NOT EXISTS v02.read_model (
    entity_id uuid PRIMARY KEY, user_id bigint NOT NULL, title text NOT NULL, content text NOT NULL,
    version int NOT NULL, updated_at timestamptz NOT NULL,
    embedding vector(384), embedded_version int NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS read_model_user ON v02.read_model (user_id, updated_at DESC);
"#;

const CREATED: &str = "v02/entity.created";
const UPDATED: &str = "v02/entity.updated";
const TRIGGERS: &[&str] = &[CREATED, UPDATED];

/// The four projector functions V0.2 runs through Inngest for every write:
/// 4 runs + 6 steps = 10 executions per create or update.
pub fn functions() -> Vec<FunctionDef> {
    vec![
        FunctionDef {
            id: "v02-project-blocks",
            triggers: TRIGGERS,
            steps: &["split-blocks", "write-blocks"],
        },
        FunctionDef {
            id: "v02-project-read-model",
            triggers: TRIGGERS,
            steps: &["write-read-model"],
        },
        FunctionDef {
            id: "v02-copy-file",
            triggers: TRIGGERS,
            steps: &["put-file"],
        },
        FunctionDef {
            id: "v02-embed",
            triggers: TRIGGERS,
            steps: &["compute-embedding", "write-embedding"],
        },
    ]
}

/// The V0.2 reference system.
pub struct V02 {
    clients: Arc<StoreClients>,
    runtime: Runtime,
}

/// Executes V02's projector steps for the emulator.
struct Steps(Arc<StoreClients>);

impl std::ops::Deref for Steps {
    type Target = StoreClients;
    fn deref(&self) -> &StoreClients {
        &self.0
    }
}

impl V02 {
    /// Connects to the stores and starts its app endpoint and Inngest emulator.
    pub async fn connect(endpoints: &Endpoints, cfg: &SystemConfig) -> OpResult<Self> {
        let runtime = Runtime::start(endpoints, cfg, functions(), Steps).await?;
        Ok(Self {
            clients: runtime.clients().clone(),
            runtime,
        })
    }

    /// The runtime: fault knob, dead letters, executions.
    pub fn runtime(&self) -> &Runtime {
        &self.runtime
    }
}

fn payload(
    id: EntityId,
    user: UserId,
    title: &str,
    body: &str,
    version: i32,
    at: DateTime<Utc>,
) -> serde_json::Value {
    json!({ "id": id.0, "userId": user.0, "title": title, "content": body, "version": version, "at": at })
}

#[async_trait::async_trait]
impl Operations for V02 {
    fn name(&self) -> &'static str {
        V02_NAME
    }

    async fn create(&self, e: NewEntity) -> OpResult<EntityId> {
        let op = OpKind::Create;
        let at = e.at.unwrap_or_else(Utc::now);
        let data = payload(e.id, e.user, &e.title, &e.body, 1, at);
        let round_trips = &self.clients.round_trips;
        let mut tx = self.clients.pool.begin().await.map_err(ArchError::pg(op))?;
        sqlx::query("INSERT INTO v02.entities (id, user_id, title, content, version, created_at, updated_at) VALUES ($1, $2, $3, $4, 1, $5, $5)")
            .bind(e.id.0).bind(e.user.0).bind(&e.title).bind(&e.body).bind(at)
            .execute(&mut *tx).await.map_err(ArchError::pg(op))?;
        sqlx::query("INSERT INTO v02.events (aggregate_id, user_id, type, version, payload, created_at) VALUES ($1, $2, 'entity.created', 1, $3, $4)")
            .bind(e.id.0).bind(e.user.0).bind(&data).bind(at)
            .execute(&mut *tx).await.map_err(ArchError::pg(op))?;
        tx.commit().await.map_err(ArchError::pg(op))?;
        round_trips.add(op, Store::Postgres, 4);
        self.runtime.send_event(op, CREATED, data).await?;
        round_trips.op_done(op);
        Ok(e.id)
    }

    async fn update(&self, u: BodyUpdate) -> OpResult<i32> {
        let op = OpKind::Update;
        let at = u.at.unwrap_or_else(Utc::now);
        let round_trips = &self.clients.round_trips;
        let mut tx = self.clients.pool.begin().await.map_err(ArchError::pg(op))?;
        let row: Option<(i32, i64, String)> = sqlx::query_as(
            "UPDATE v02.entities SET content = $2, version = version + 1, updated_at = $3 WHERE id = $1 RETURNING version, user_id, title",
        )
        .bind(u.id.0).bind(&u.body).bind(at)
        .fetch_optional(&mut *tx).await.map_err(ArchError::pg(op))?;
        let Some((version, user, title)) = row else {
            round_trips.add(op, Store::Postgres, 3);
            return Err(ArchError::NotFound { op, id: u.id });
        };
        let data = payload(u.id, UserId(user), &title, &u.body, version, at);
        sqlx::query("INSERT INTO v02.events (aggregate_id, user_id, type, version, payload, created_at) VALUES ($1, $2, 'entity.updated', $3, $4, $5)")
            .bind(u.id.0).bind(user).bind(version).bind(&data).bind(at)
            .execute(&mut *tx).await.map_err(ArchError::pg(op))?;
        tx.commit().await.map_err(ArchError::pg(op))?;
        round_trips.add(op, Store::Postgres, 4);
        self.runtime.send_event(op, UPDATED, data).await?;
        round_trips.op_done(op);
        Ok(version)
    }

    async fn get(&self, id: EntityId) -> OpResult<Entity> {
        let op = OpKind::Get;
        let row: Option<(i64, String, String, i32)> = sqlx::query_as(
            "SELECT user_id, title, content, version FROM v02.entities WHERE id = $1",
        )
        .bind(id.0)
        .fetch_optional(&self.clients.pool)
        .await
        .map_err(ArchError::pg(op))?;
        self.clients.round_trips.add(op, Store::Postgres, 1);
        let (user, title, body, version) = row.ok_or(ArchError::NotFound { op, id })?;
        self.clients.round_trips.op_done(op);
        Ok(Entity {
            id,
            user: UserId(user),
            title,
            body,
            version,
        })
    }

    async fn list(&self, user: UserId, limit: i64) -> OpResult<Vec<EntitySummary>> {
        let op = OpKind::List;
        let rows: Vec<(Uuid, String, i32)> = sqlx::query_as(
            "SELECT entity_id, title, version FROM v02.read_model WHERE user_id = $1 AND version > 0 ORDER BY updated_at DESC, entity_id LIMIT $2",
        )
        .bind(user.0).bind(limit).fetch_all(&self.clients.pool).await.map_err(ArchError::pg(op))?;
        self.clients.round_trips.add(op, Store::Postgres, 1);
        self.clients.round_trips.op_done(op);
        Ok(rows
            .into_iter()
            .map(|(id, title, version)| EntitySummary {
                id: EntityId(id),
                title,
                version,
            })
            .collect())
    }

    async fn search(&self, user: UserId, query: &str, k: i64) -> OpResult<Vec<SearchHit>> {
        let op = OpKind::Search;
        let q = pgvector::Vector::from(embedding::embed(query));
        // No vector index: today's projection is searched by a scan.
        let rows: Vec<(Uuid, f32)> = sqlx::query_as(
            "SELECT entity_id, (1 - (embedding <=> $1))::real FROM v02.read_model WHERE user_id = $2 AND embedding IS NOT NULL ORDER BY embedding <=> $1, entity_id LIMIT $3",
        )
        .bind(q).bind(user.0).bind(k).fetch_all(&self.clients.pool).await.map_err(ArchError::pg(op))?;
        self.clients.round_trips.add(op, Store::Postgres, 1);
        self.clients.round_trips.op_done(op);
        Ok(rows
            .into_iter()
            .map(|(id, score)| SearchHit {
                id: EntityId(id),
                score,
            })
            .collect())
    }

    async fn history(&self, id: EntityId) -> OpResult<Vec<HistoryEvent>> {
        let op = OpKind::History;
        let rows: Vec<(String, i32, DateTime<Utc>)> = sqlx::query_as(
            "SELECT type, version, created_at FROM v02.events WHERE aggregate_id = $1 ORDER BY id",
        )
        .bind(id.0)
        .fetch_all(&self.clients.pool)
        .await
        .map_err(ArchError::pg(op))?;
        self.clients.round_trips.add(op, Store::Postgres, 1);
        self.clients.round_trips.op_done(op);
        Ok(rows
            .into_iter()
            .map(|(event_type, version, at)| HistoryEvent {
                event_type,
                version,
                at,
            })
            .collect())
    }

    async fn activity(
        &self,
        user: UserId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> OpResult<Vec<ActivityBucket>> {
        let op = OpKind::Activity;
        let rows: Vec<(DateTime<Utc>, i64)> = sqlx::query_as(
            "SELECT date_trunc('hour', created_at) AS h, count(*) FROM v02.events WHERE user_id = $1 AND created_at >= $2 AND created_at < $3 GROUP BY h ORDER BY h",
        )
        .bind(user.0).bind(from).bind(to).fetch_all(&self.clients.pool).await.map_err(ArchError::pg(op))?;
        self.clients.round_trips.add(op, Store::Postgres, 1);
        self.clients.round_trips.op_done(op);
        Ok(rows
            .into_iter()
            .map(|(hour, events)| ActivityBucket { hour, events })
            .collect())
    }
}

#[async_trait::async_trait]
impl Harness for V02 {
    async fn prepare(&self) -> OpResult<()> {
        sqlx::raw_sql(SCHEMA_SQL)
            .execute(&self.clients.pool)
            .await
            .map(|_| ())
            .map_err(|e| ArchError::Setup(format!("v02 schema: {e}")))
    }

    async fn reset(&self) -> OpResult<()> {
        self.runtime
            .reset(
                "TRUNCATE v02.entities, v02.content_blocks, v02.events, v02.read_model",
                &self.locations(),
            )
            .await
    }

    fn bulk_seed_supported(&self) -> bool {
        true
    }

    async fn seed_bulk(&self, batch: &[SeedEntity]) -> OpResult<()> {
        use super::portable::{ImportMode, Portable};
        self.import(batch, ImportMode::SkipExisting)
            .await
            .map(|_| ())
    }

    async fn settle(&self, timeout: Duration) -> OpResult<()> {
        self.runtime.settle(timeout).await
    }

    fn clear_counters(&self) {
        self.runtime.clear_counters();
    }

    fn round_trips(&self) -> &RoundTrips {
        &self.clients.round_trips
    }

    fn inngest(&self) -> ExecutionCounts {
        self.runtime.executions()
    }

    fn dead_letters(&self) -> Vec<super::inngest::DeadLetter> {
        self.runtime.dead_letters()
    }

    fn emulator(&self) -> Option<std::sync::Arc<super::inngest::EmulatorControl>> {
        Some(self.runtime.emulator())
    }

    async fn grow_events(&self, g: &EventGrowth) -> OpResult<u64> {
        // Probe payloads are 256 characters: real V0.2 payloads are TOASTed out of line,
        // which leaves a heap tuple of about this size for the time-window scan to read.
        common::grow_events(
            &self.clients.pool,
            "INSERT INTO v02.events (aggregate_id, user_id, type, version, payload, created_at)
             SELECT gen_random_uuid(), $1 + (g % $2), 'entity.updated', 2,
                    jsonb_build_object('title', 'growth probe', 'content', repeat(md5(g::text), 8)),
                    $3::timestamptz + ($4::timestamptz - $3::timestamptz) * ((g * 0.6180339887) % 1.0)
               FROM generate_series($5::bigint, $6::bigint) AS g",
            "v02.events",
            g,
        )
        .await
    }

    async fn footprint(&self) -> OpResult<Footprint> {
        self.runtime
            .footprint(
                &self.locations(),
                "SELECT sum(octet_length(content))::bigint FROM v02.entities",
            )
            .await
    }

    fn locations(&self) -> Locations {
        Locations {
            schema: V02_NAME, // the schema is named after the system
            prefix: "v02/",
        }
    }
    fn vector_search(&self) -> Option<super::VectorSearch> {
        Some(super::VectorSearch {
            pool: self.clients.pool.clone(),
            table: "v02.read_model",
            id_column: "entity_id",
            user_column: "user_id",
            embedding_column: "embedding",
            index: "v02.read_model_user",
            design: crate::results::search_quality::SearchDesign::ExactPerUser,
            ef_search: None,
        })
    }
}

impl Steps {
    /// The blocks projector's write: idempotent and order-proof, an older version
    /// never overwrites a newer one.
    async fn write_blocks(
        &self,
        req: &StepRequest,
        op: OpKind,
        id: Uuid,
        version: i32,
    ) -> Result<serde_json::Value, String> {
        let pg = |e: sqlx::Error| e.to_string();
        let blocks: Vec<String> = serde_json::from_value(
            req.previous
                .get("split-blocks")
                .and_then(|v| v.get("blocks"))
                .cloned()
                .ok_or("split-blocks output missing")?,
        )
        .map_err(|e| e.to_string())?;
        let mut tx = self.pool.begin().await.map_err(pg)?;
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1::text))")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(pg)?;
        let have: Option<i32> =
            sqlx::query_scalar("SELECT max(version) FROM v02.content_blocks WHERE entity_id = $1")
                .bind(id)
                .fetch_one(&mut *tx)
                .await
                .map_err(pg)?;
        let mut trips = 5;
        if have.is_none_or(|h| h < version) {
            sqlx::query("DELETE FROM v02.content_blocks WHERE entity_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(pg)?;
            let idx: Vec<i32> = (0..blocks.len() as i32).collect();
            sqlx::query("INSERT INTO v02.content_blocks (entity_id, version, idx, block) SELECT $1, $2, i, b FROM unnest($3::int[], $4::text[]) AS t(i, b)")
                .bind(id).bind(version).bind(&idx).bind(&blocks)
                .execute(&mut *tx).await.map_err(pg)?;
            trips += 2;
        }
        tx.commit().await.map_err(pg)?;
        self.round_trips.add_background(op, Store::Postgres, trips);
        Ok(json!({ "blocks": blocks.len() }))
    }
}

#[async_trait::async_trait]
impl StepHandler for Steps {
    async fn run_step(&self, req: StepRequest) -> Result<serde_json::Value, String> {
        if self.take_injected_failure() {
            return Err(format!("injected failure of {}/{}", req.function, req.step));
        }
        let op = op_of_event(&req.event.name);
        let d = &req.event.data;
        let id = uuid_field(d, "id")?;
        let user = int_field(d, "userId")?;
        let version = int_field(d, "version")? as i32;
        let title = str_field(d, "title")?;
        let body = str_field(d, "content")?;
        let at = time_field(d, "at")?;
        let pg = |e: sqlx::Error| e.to_string();
        match (req.function.as_str(), req.step.as_str()) {
            ("v02-project-blocks", "split-blocks") => {
                Ok(json!({ "blocks": common::split_blocks(body) }))
            }
            ("v02-project-blocks", "write-blocks") => {
                self.write_blocks(&req, op, id, version).await
            }
            ("v02-project-read-model", "write-read-model") => {
                sqlx::query(
                    "INSERT INTO v02.read_model (entity_id, user_id, title, content, version, updated_at) VALUES ($1, $2, $3, $4, $5, $6)
                     ON CONFLICT (entity_id) DO UPDATE SET title = EXCLUDED.title, content = EXCLUDED.content,
                         version = EXCLUDED.version, updated_at = EXCLUDED.updated_at
                     WHERE v02.read_model.version < EXCLUDED.version",
                )
                .bind(id).bind(user).bind(title).bind(body).bind(version).bind(at)
                .execute(&self.pool).await.map_err(pg)?;
                self.round_trips.add_background(op, Store::Postgres, 1);
                Ok(json!({}))
            }
            ("v02-copy-file", "put-file") => {
                let key = format!("v02/files/{id}/v{version}.md");
                self.round_trips.add_background(op, Store::S3, 1);
                self.round_trips.s3_write(op, 1);
                common::put_object(&self.s3, &self.bucket, &key, body.as_bytes().to_vec(), op)
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(json!({ "key": key }))
            }
            ("v02-embed", "compute-embedding") => {
                Ok(json!({ "embedding": embedding::embed(&format!("{title}\n{body}")) }))
            }
            ("v02-embed", "write-embedding") => {
                let v: Vec<f32> = serde_json::from_value(
                    req.previous
                        .get("compute-embedding")
                        .and_then(|v| v.get("embedding"))
                        .cloned()
                        .ok_or("compute-embedding output missing")?,
                )
                .map_err(|e| e.to_string())?;
                // The row may not exist yet (read model not projected): insert it with
                // version 0, which `list` hides until the read-model projector runs.
                sqlx::query(
                    "INSERT INTO v02.read_model (entity_id, user_id, title, content, version, updated_at, embedding, embedded_version)
                     VALUES ($1, $2, $3, $4, 0, $5, $6, $7)
                     ON CONFLICT (entity_id) DO UPDATE SET embedding = EXCLUDED.embedding, embedded_version = EXCLUDED.embedded_version
                     WHERE v02.read_model.embedded_version < EXCLUDED.embedded_version",
                )
                .bind(id).bind(user).bind(title).bind(body).bind(at).bind(pgvector::Vector::from(v)).bind(version)
                .execute(&self.pool).await.map_err(pg)?;
                self.round_trips.add_background(op, Store::Postgres, 1);
                Ok(json!({}))
            }
            (f, s) => Err(format!("unknown step {f}/{s}")),
        }
    }
}
