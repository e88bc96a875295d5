//! V0.3 as the decision document proposes. The body is stored once, in the object
//! store, under a content-addressed key; PostgreSQL keeps metadata and the file
//! reference (key, hash, size). Events live in a TimescaleDB hypertable and reference
//! the aggregate and the file, never copy the body. Embeddings are in pgvector with an
//! HNSW index. Hybrid projections: the list read model is updated in the write's own
//! transaction; only embedding and indexing go through Inngest (1 run + 2 steps).

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::json;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::common::{self, int_field, op_of_event, str_field, uuid_field};
use super::inngest::{ExecutionCounts, FunctionDef, StepHandler, StepRequest};
use super::{
    ActivityBucket, ArchError, BodyUpdate, Entity, EntityId, EntitySummary, Footprint, Harness,
    HistoryEvent, Locations, NewEntity, OpKind, OpResult, Operations, RoundTrips, SearchHit,
    SeedEntity, Store, UserId, embedding,
};
use super::{EventGrowth, Runtime, StoreClients, SystemConfig, V03_NAME};
use crate::stores::Endpoints;

mod portable;

const SCHEMA_SQL: &str = r#"
CREATE SCHEMA IF NOT EXISTS v03;
CREATE TABLE IF NOT EXISTS v03.entities (
    id uuid PRIMARY KEY, user_id bigint NOT NULL, title text NOT NULL, version int NOT NULL,
    file_key text NOT NULL, file_hash text NOT NULL, file_size bigint NOT NULL,
    created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL);
CREATE TABLE IF NOT EXISTS v03.events (
    time timestamptz NOT NULL, aggregate_id uuid NOT NULL, user_id bigint NOT NULL,
    type text NOT NULL, version int NOT NULL, meta jsonb NOT NULL);
SELECT create_hypertable('v03.events', by_range('time', INTERVAL '1 day'), if_not_exists => TRUE);
CREATE INDEX IF NOT EXISTS events_aggregate ON v03.events (aggregate_id, time);
CREATE INDEX IF NOT EXISTS events_user_time ON v03.events (user_id, time DESC);
CREATE TABLE IF NOT EXISTS v03.list_model (
    entity_id uuid PRIMARY KEY, user_id bigint NOT NULL, title text NOT NULL, version int NOT NULL,
    updated_at timestamptz NOT NULL);
CREATE INDEX IF NOT EXISTS list_model_user ON v03.list_model (user_id, updated_at DESC);
CREATE TABLE IF NOT EXISTS v03.embeddings (
    entity_id uuid PRIMARY KEY, user_id bigint NOT NULL, version int NOT NULL, embedding vector(384) NOT NULL);
CREATE INDEX IF NOT EXISTS embeddings_hnsw ON v03.embeddings USING hnsw (embedding vector_cosine_ops);
"#;

const CREATED: &str = "v03/entity.created";
const UPDATED: &str = "v03/entity.updated";

/// The one function V0.3 keeps in Inngest: 1 run + 2 steps = 3 executions per write.
pub fn functions() -> Vec<FunctionDef> {
    vec![FunctionDef {
        id: "v03-embed-and-index",
        triggers: &[CREATED, UPDATED],
        steps: &["embed", "index"],
    }]
}

/// Content-addressed key: identical bodies share one object; a new version is a new key.
pub fn content_key(body: &[u8]) -> (String, String) {
    let hash = hex::encode(Sha256::digest(body));
    (format!("v03/content/{}/{hash}.md", &hash[..2]), hash)
}

/// The V0.3 reference system.
pub struct V03 {
    clients: Arc<StoreClients>,
    runtime: Runtime,
}

/// Executes V03's projector steps for the emulator.
struct Steps(Arc<StoreClients>);

impl std::ops::Deref for Steps {
    type Target = StoreClients;
    fn deref(&self) -> &StoreClients {
        &self.0
    }
}

impl V03 {
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

    async fn store_body(&self, op: OpKind, body: &str) -> OpResult<(String, String, i64)> {
        let (key, hash) = content_key(body.as_bytes());
        self.clients.round_trips.add(op, Store::S3, 1);
        self.clients.round_trips.s3_write(op, 1);
        common::put_object(
            &self.clients.s3,
            &self.clients.bucket,
            &key,
            body.as_bytes().to_vec(),
            op,
        )
        .await?;
        Ok((key, hash, body.len() as i64))
    }

    fn file_ref(&self, key: &str, hash: &str, size: i64) -> serde_json::Value {
        json!({ "fileUrl": format!("s3://{}/{key}", self.clients.bucket), "hash": hash, "size": size })
    }
}

#[async_trait::async_trait]
impl Operations for V03 {
    fn name(&self) -> &'static str {
        V03_NAME
    }

    async fn create(&self, e: NewEntity) -> OpResult<EntityId> {
        let op = OpKind::Create;
        let at = e.at.unwrap_or_else(Utc::now);
        // Object first: a crash between the two leaves an orphan object, never an
        // entity pointing at nothing.
        let (key, hash, size) = self.store_body(op, &e.body).await?;
        let meta = self.file_ref(&key, &hash, size);
        let mut tx = self.clients.pool.begin().await.map_err(ArchError::pg(op))?;
        sqlx::query("INSERT INTO v03.entities (id, user_id, title, version, file_key, file_hash, file_size, created_at, updated_at) VALUES ($1, $2, $3, 1, $4, $5, $6, $7, $7)")
            .bind(e.id.0).bind(e.user.0).bind(&e.title).bind(&key).bind(&hash).bind(size).bind(at)
            .execute(&mut *tx).await.map_err(ArchError::pg(op))?;
        sqlx::query("INSERT INTO v03.events (time, aggregate_id, user_id, type, version, meta) VALUES ($1, $2, $3, 'entity.created', 1, $4)")
            .bind(at).bind(e.id.0).bind(e.user.0).bind(&meta)
            .execute(&mut *tx).await.map_err(ArchError::pg(op))?;
        sqlx::query("INSERT INTO v03.list_model (entity_id, user_id, title, version, updated_at) VALUES ($1, $2, $3, 1, $4)")
            .bind(e.id.0).bind(e.user.0).bind(&e.title).bind(at)
            .execute(&mut *tx).await.map_err(ArchError::pg(op))?;
        tx.commit().await.map_err(ArchError::pg(op))?;
        self.clients.round_trips.add(op, Store::Postgres, 5);
        self.runtime.send_event(op, CREATED, json!({ "id": e.id.0, "userId": e.user.0, "version": 1, "fileKey": key, "title": e.title })).await?;
        self.clients.round_trips.op_done(op);
        Ok(e.id)
    }

    async fn update(&self, u: BodyUpdate) -> OpResult<i32> {
        let op = OpKind::Update;
        let at = u.at.unwrap_or_else(Utc::now);
        let (key, hash, size) = self.store_body(op, &u.body).await?;
        let round_trips = &self.clients.round_trips;
        let mut tx = self.clients.pool.begin().await.map_err(ArchError::pg(op))?;
        let row: Option<(i32, i64, String)> = sqlx::query_as(
            "UPDATE v03.entities SET version = version + 1, file_key = $2, file_hash = $3, file_size = $4, updated_at = $5 WHERE id = $1 RETURNING version, user_id, title",
        )
        .bind(u.id.0).bind(&key).bind(&hash).bind(size).bind(at)
        .fetch_optional(&mut *tx).await.map_err(ArchError::pg(op))?;
        let Some((version, user, title)) = row else {
            round_trips.add(op, Store::Postgres, 3);
            return Err(ArchError::NotFound { op, id: u.id });
        };
        sqlx::query("INSERT INTO v03.events (time, aggregate_id, user_id, type, version, meta) VALUES ($1, $2, $3, 'entity.updated', $4, $5)")
            .bind(at).bind(u.id.0).bind(user).bind(version).bind(self.file_ref(&key, &hash, size))
            .execute(&mut *tx).await.map_err(ArchError::pg(op))?;
        sqlx::query("UPDATE v03.list_model SET version = $2, updated_at = $3 WHERE entity_id = $1")
            .bind(u.id.0)
            .bind(version)
            .bind(at)
            .execute(&mut *tx)
            .await
            .map_err(ArchError::pg(op))?;
        tx.commit().await.map_err(ArchError::pg(op))?;
        round_trips.add(op, Store::Postgres, 5);
        self.runtime.send_event(op, UPDATED, json!({ "id": u.id.0, "userId": user, "version": version, "fileKey": key, "title": title })).await?;
        round_trips.op_done(op);
        Ok(version)
    }

    async fn get(&self, id: EntityId) -> OpResult<Entity> {
        let op = OpKind::Get;
        let row: Option<(i64, String, i32, String, i64)> = sqlx::query_as(
            "SELECT user_id, title, version, file_key, file_size FROM v03.entities WHERE id = $1",
        )
        .bind(id.0)
        .fetch_optional(&self.clients.pool)
        .await
        .map_err(ArchError::pg(op))?;
        self.clients.round_trips.add(op, Store::Postgres, 1);
        let (user, title, version, key, size) = row.ok_or(ArchError::NotFound { op, id })?;
        self.clients.round_trips.add(op, Store::S3, 1);
        let bytes = common::get_object(&self.clients.s3, &self.clients.bucket, &key, op).await?;
        if bytes.len() as i64 != size {
            return Err(ArchError::Inconsistent {
                op,
                detail: format!("{key} holds {} bytes, entity says {size}", bytes.len()),
            });
        }
        let body = String::from_utf8(bytes).map_err(|e| ArchError::Inconsistent {
            op,
            detail: format!("{key}: {e}"),
        })?;
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
            "SELECT entity_id, title, version FROM v03.list_model WHERE user_id = $1 ORDER BY updated_at DESC, entity_id LIMIT $2",
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
        let rows: Vec<(Uuid, f32)> = sqlx::query_as(
            "SELECT entity_id, (1 - (embedding <=> $1))::real FROM v03.embeddings WHERE user_id = $2 ORDER BY embedding <=> $1 LIMIT $3",
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
        let rows: Vec<(String, i32, DateTime<Utc>)> =
            sqlx::query_as("SELECT type, version, time FROM v03.events WHERE aggregate_id = $1 ORDER BY time, version")
                .bind(id.0).fetch_all(&self.clients.pool).await.map_err(ArchError::pg(op))?;
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
            "SELECT time_bucket('1 hour', time) AS h, count(*) FROM v03.events WHERE user_id = $1 AND time >= $2 AND time < $3 GROUP BY h ORDER BY h",
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
impl Harness for V03 {
    async fn prepare(&self) -> OpResult<()> {
        sqlx::raw_sql(SCHEMA_SQL)
            .execute(&self.clients.pool)
            .await
            .map(|_| ())
            .map_err(|e| ArchError::Setup(format!("v03 schema: {e}")))
    }

    async fn reset(&self) -> OpResult<()> {
        self.runtime
            .reset(
                "TRUNCATE v03.entities, v03.events, v03.list_model, v03.embeddings",
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
        common::grow_events(
            &self.clients.pool,
            "INSERT INTO v03.events (time, aggregate_id, user_id, type, version, meta)
             SELECT $3::timestamptz + ($4::timestamptz - $3::timestamptz) * ((g * 0.6180339887) % 1.0),
                    gen_random_uuid(), $1 + (g % $2), 'entity.updated', 2,
                    jsonb_build_object('fileUrl', 'probe/' || g)
               FROM generate_series($5::bigint, $6::bigint) AS g",
            "v03.events",
            g,
        )
        .await
    }

    async fn footprint(&self) -> OpResult<Footprint> {
        self.runtime
            .footprint(
                &self.locations(),
                "SELECT sum(file_size)::bigint FROM v03.entities",
            )
            .await
    }

    fn locations(&self) -> Locations {
        Locations {
            schema: V03_NAME, // the schema is named after the system
            prefix: "v03/",
        }
    }
    fn vector_search(&self) -> Option<super::VectorSearch> {
        Some(super::VectorSearch {
            pool: self.clients.pool.clone(),
            table: "v03.embeddings",
            id_column: "entity_id",
            user_column: "user_id",
            embedding_column: "embedding",
            index: "v03.embeddings_hnsw",
            design: crate::results::search_quality::SearchDesign::GlobalHnswFiltered,
            ef_search: Some(super::EF_SEARCH),
        })
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
        let version = int_field(d, "version")? as i32;
        match (req.function.as_str(), req.step.as_str()) {
            ("v03-embed-and-index", "embed") => {
                let key = str_field(d, "fileKey")?;
                let title = str_field(d, "title")?;
                self.round_trips.add_background(op, Store::S3, 1);
                let bytes = common::get_object(&self.s3, &self.bucket, key, op)
                    .await
                    .map_err(|e| e.to_string())?;
                let body = String::from_utf8_lossy(&bytes);
                Ok(json!({ "embedding": embedding::embed(&format!("{title}\n{body}")) }))
            }
            ("v03-embed-and-index", "index") => {
                let user = int_field(d, "userId")?;
                let v: Vec<f32> = serde_json::from_value(
                    req.previous
                        .get("embed")
                        .and_then(|v| v.get("embedding"))
                        .cloned()
                        .ok_or("embed output missing")?,
                )
                .map_err(|e| e.to_string())?;
                sqlx::query(
                    "INSERT INTO v03.embeddings (entity_id, user_id, version, embedding) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (entity_id) DO UPDATE SET version = EXCLUDED.version, embedding = EXCLUDED.embedding
                     WHERE v03.embeddings.version < EXCLUDED.version",
                )
                .bind(id).bind(user).bind(version).bind(pgvector::Vector::from(v))
                .execute(&self.pool).await.map_err(|e| e.to_string())?;
                self.round_trips.add_background(op, Store::Postgres, 1);
                Ok(json!({}))
            }
            (f, s) => Err(format!("unknown step {f}/{s}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_keys_are_addressed_by_hash() {
        let (k1, h1) = content_key(b"hello");
        let (k2, _) = content_key(b"hello");
        let (k3, _) = content_key(b"hello!");
        assert_eq!(k1, k2);
        assert_ne!(k1, k3);
        assert_eq!(
            h1,
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
        );
        assert_eq!(k1, format!("v03/content/2c/{h1}.md"));
    }
}
