//! V0.2 as a migration's source and a rollback's target: a batch is the rows its
//! write path and projectors leave (entity with content, one event per version with
//! the body in its payload, content blocks, read model with embedding, a file copy per
//! version); an export reads every version's body from the event payloads, V0.2's
//! record of history.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{V02, payload};
use crate::arch::bulk::Bulk;
use crate::arch::common::{self, copy_field as f, vector_text};
use crate::arch::portable::{
    self, ChecksumSql, EntitySnapshot, ImportMode, ImportSql, Imported, PAGE_FILTER, Portable,
    TableChecksum, VersionSnapshot, micros,
};
use crate::arch::{ArchError, EntityId, OpKind, OpResult, SeedEntity, embedding};

/// The batch's rows and objects.
fn bulk(batch: &[&SeedEntity]) -> Bulk {
    let mut bulk = Bulk::default();
    for se in batch {
        let c = &se.create;
        let (id, user, title) = (c.id, c.user, c.title.as_str());
        let versions = se.versions();
        let (n, last, tn) = *versions.last().expect("version 1 exists");
        let t1 = versions[0].2;
        bulk.rows("v02.entities (id, user_id, title, content, version, created_at, updated_at)")
            .push_str(&format!(
                "{id}\t{}\t{}\t{}\t{n}\t{}\t{}\n",
                user.0,
                f(title),
                f(last),
                t1.to_rfc3339(),
                tn.to_rfc3339()
            ));
        for (v, body, at) in &versions {
            let kind = if *v == 1 {
                "entity.created"
            } else {
                "entity.updated"
            };
            let data = payload(id, user, title, body, *v, *at);
            bulk.rows("v02.events (aggregate_id, user_id, type, version, payload, created_at)")
                .push_str(&format!(
                    "{id}\t{}\t{kind}\t{v}\t{}\t{}\n",
                    user.0,
                    f(&data.to_string()),
                    at.to_rfc3339()
                ));
            bulk.objects
                .push((format!("v02/files/{id}/v{v}.md"), body.as_bytes().to_vec()));
        }
        let blocks = bulk.rows("v02.content_blocks (entity_id, version, idx, block)");
        for (i, b) in common::split_blocks(last).iter().enumerate() {
            blocks.push_str(&format!("{id}\t{n}\t{i}\t{}\n", f(b)));
        }
        let emb = vector_text(&embedding::embed(&format!("{title}\n{last}")));
        bulk.rows("v02.read_model (entity_id, user_id, title, content, version, updated_at, embedding, embedded_version)")
            .push_str(&format!(
                "{id}\t{}\t{}\t{}\t{n}\t{}\t{emb}\t{n}\n",
                user.0,
                f(title),
                f(last),
                tn.to_rfc3339()
            ));
    }
    bulk
}

impl V02 {
    /// Snapshots of the entity rows given, bodies from the event payloads; the
    /// caller's transaction makes rows and events one snapshot.
    async fn snapshots(
        &self,
        tx: &mut sqlx::PgConnection,
        entities: Vec<(Uuid, i64, String, i32)>,
    ) -> OpResult<Vec<EntitySnapshot>> {
        let ids: Vec<Uuid> = entities.iter().map(|e| e.0).collect();
        let rows: Vec<(Uuid, i32, Option<String>, DateTime<Utc>)> = sqlx::query_as(
            "SELECT aggregate_id, version, payload->>'content', created_at FROM v02.events WHERE aggregate_id = ANY($1) ORDER BY aggregate_id, version, id",
        )
        .bind(&ids)
        .fetch_all(&mut *tx)
        .await
        .map_err(ArchError::pg(OpKind::Get))?;
        let versions = rows
            .into_iter()
            .map(|(id, version, body, at)| {
                let body = body.unwrap_or_else(|| "\0payload without content".into());
                (id, VersionSnapshot { version, at, body })
            })
            .collect();
        Ok(portable::assemble(entities, versions))
    }

    /// A read-only repeatable-read transaction: entity rows and their events as one
    /// snapshot while writes go on.
    async fn snapshot_transaction(&self) -> OpResult<sqlx::Transaction<'static, sqlx::Postgres>> {
        let pg = || ArchError::pg(OpKind::Get);
        let mut tx = self.clients.pool.begin().await.map_err(pg())?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .execute(&mut *tx)
            .await
            .map_err(pg())?;
        Ok(tx)
    }
}

#[async_trait::async_trait]
impl Portable for V02 {
    async fn export_page(
        &self,
        after: Option<EntityId>,
        through: Option<EntityId>,
        limit: i64,
    ) -> OpResult<Vec<EntitySnapshot>> {
        let pg = || ArchError::pg(OpKind::Get);
        let mut tx = self.snapshot_transaction().await?;
        let entities = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT id, user_id, title, version FROM v02.entities WHERE {PAGE_FILTER}"
        )))
        .bind(after.map(|i| i.0))
        .bind(through.map(|i| i.0))
        .bind(limit)
        .fetch_all(&mut *tx)
        .await
        .map_err(pg())?;
        let out = self.snapshots(&mut tx, entities).await?;
        tx.commit().await.map_err(pg())?;
        Ok(out)
    }

    async fn export(&self, ids: &[EntityId]) -> OpResult<Vec<EntitySnapshot>> {
        let ids: Vec<Uuid> = ids.iter().map(|i| i.0).collect();
        let pg = || ArchError::pg(OpKind::Get);
        let mut tx = self.snapshot_transaction().await?;
        let entities = sqlx::query_as(
            "SELECT id, user_id, title, version FROM v02.entities WHERE id = ANY($1) ORDER BY id",
        )
        .bind(&ids)
        .fetch_all(&mut *tx)
        .await
        .map_err(pg())?;
        let out = self.snapshots(&mut tx, entities).await?;
        tx.commit().await.map_err(pg())?;
        Ok(out)
    }

    async fn import(&self, batch: &[SeedEntity], mode: ImportMode) -> OpResult<Imported> {
        const SQL: ImportSql = ImportSql {
            existing: "SELECT id FROM v02.entities WHERE id = ANY($1)",
            deletes: &[
                "DELETE FROM v02.entities WHERE id = ANY($1)",
                "DELETE FROM v02.events WHERE aggregate_id = ANY($1)",
                "DELETE FROM v02.content_blocks WHERE entity_id = ANY($1)",
                "DELETE FROM v02.read_model WHERE entity_id = ANY($1)",
            ],
        };
        portable::import_batch(&self.clients, batch, mode, &SQL, bulk).await
    }

    async fn changed_since(&self, at: DateTime<Utc>) -> OpResult<Vec<EntityId>> {
        portable::changed_since(
            &self.clients.pool,
            "SELECT DISTINCT aggregate_id FROM v02.events WHERE created_at >= $1 ORDER BY aggregate_id",
            at,
        )
        .await
    }

    async fn table_checksums(&self) -> OpResult<Vec<TableChecksum>> {
        let (time, updated) = (micros("created_at"), micros("updated_at"));
        let tables = vec![
            ChecksumSql {
                table: "entities",
                relation: "v02.entities",
                row: "id::text || '|' || user_id || '|' || title || '|' || version".into(),
                order: "id",
                from: "v02.entities",
            },
            ChecksumSql {
                table: "events",
                relation: "v02.events",
                row: format!(
                    "aggregate_id::text || '|' || version || '|' || type || '|' || {time}"
                ),
                order: "aggregate_id, version",
                from: "v02.events",
            },
            ChecksumSql {
                table: "list",
                relation: "v02.read_model",
                row: format!(
                    "entity_id::text || '|' || user_id || '|' || title || '|' || version || '|' || {updated}"
                ),
                order: "entity_id",
                from: "v02.read_model WHERE version > 0",
            },
            ChecksumSql {
                table: "embeddings",
                relation: "v02.read_model",
                row: "entity_id::text || '|' || embedded_version".into(),
                order: "entity_id",
                from: "v02.read_model WHERE embedding IS NOT NULL",
            },
        ];
        portable::checksums(&self.clients.pool, tables).await
    }

    fn object_base(&self) -> &'static str {
        "v02/files/"
    }

    fn object_key(&self, id: EntityId, version: i32, _body: &str) -> String {
        format!("v02/files/{id}/v{version}.md")
    }

    async fn objects(&self) -> OpResult<Vec<(String, u64)>> {
        crate::arch::list_objects(
            &self.clients.s3,
            &self.clients.bucket,
            self.object_base(),
            OpKind::Get,
        )
        .await
    }
}
