//! V0.3 as a migration's target: a batch is the same rows the write path leaves
//! (entity with its file reference, events referencing the objects, list model,
//! embedding), objects put first under their content-addressed keys; an export reads
//! every version's body back from the object store, so that a corrupted or missing
//! object shows up in parity.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{V03, content_key};
use crate::arch::bulk::{Bulk, get_many};
use crate::arch::common::{copy_field as f, vector_text};
use crate::arch::portable::{
    self, ChecksumSql, EntitySnapshot, ImportMode, ImportSql, Imported, PAGE_FILTER, Portable,
    TableChecksum, VersionSnapshot, micros,
};
use crate::arch::{ArchError, EntityId, OpKind, OpResult, SeedEntity, embedding};

impl V03 {
    /// The batch's rows and objects.
    fn bulk(&self, batch: &[&SeedEntity]) -> Bulk {
        let mut bulk = Bulk::default();
        for se in batch {
            let c = &se.create;
            let (id, user, title) = (c.id, c.user, c.title.as_str());
            let versions = se.versions();
            let mut last_ref = None;
            for (v, body, at) in &versions {
                let (key, hash) = content_key(body.as_bytes());
                let kind = if *v == 1 {
                    "entity.created"
                } else {
                    "entity.updated"
                };
                let meta = self.file_ref(&key, &hash, body.len() as i64);
                bulk.rows("v03.events (time, aggregate_id, user_id, type, version, meta)")
                    .push_str(&format!(
                        "{}\t{id}\t{}\t{kind}\t{v}\t{}\n",
                        at.to_rfc3339(),
                        user.0,
                        f(&meta.to_string())
                    ));
                bulk.objects.push((key.clone(), body.as_bytes().to_vec()));
                last_ref = Some((key, hash, body.len()));
            }
            let (n, last, tn) = *versions.last().expect("version 1 exists");
            let (key, hash, size) = last_ref.expect("version 1 exists");
            let t1 = versions[0].2;
            bulk.rows("v03.entities (id, user_id, title, version, file_key, file_hash, file_size, created_at, updated_at)")
                .push_str(&format!(
                    "{id}\t{}\t{}\t{n}\t{}\t{hash}\t{size}\t{}\t{}\n",
                    user.0,
                    f(title),
                    f(&key),
                    t1.to_rfc3339(),
                    tn.to_rfc3339()
                ));
            bulk.rows("v03.list_model (entity_id, user_id, title, version, updated_at)")
                .push_str(&format!(
                    "{id}\t{}\t{}\t{n}\t{}\n",
                    user.0,
                    f(title),
                    tn.to_rfc3339()
                ));
            bulk.rows("v03.embeddings (entity_id, user_id, version, embedding)")
                .push_str(&format!(
                    "{id}\t{}\t{n}\t{}\n",
                    user.0,
                    vector_text(&embedding::embed(&format!("{title}\n{last}")))
                ));
        }
        bulk
    }

    /// The object key a file reference (`s3://bucket/key`) names.
    fn key_of(&self, url: &str) -> String {
        let prefix = format!("s3://{}/", self.clients.bucket);
        url.strip_prefix(&prefix).unwrap_or(url).to_string()
    }

    /// Snapshots of the entity rows given, bodies read from the object store.
    async fn snapshots(
        &self,
        entities: Vec<(Uuid, i64, String, i32)>,
    ) -> OpResult<Vec<EntitySnapshot>> {
        let op = OpKind::Get;
        let ids: Vec<Uuid> = entities.iter().map(|e| e.0).collect();
        let rows: Vec<(Uuid, i32, DateTime<Utc>, Option<String>)> = sqlx::query_as(
            "SELECT aggregate_id, version, time, meta->>'fileUrl' FROM v03.events WHERE aggregate_id = ANY($1) ORDER BY aggregate_id, version, time",
        )
        .bind(&ids)
        .fetch_all(&self.clients.pool)
        .await
        .map_err(ArchError::pg(op))?;
        let keys: Vec<String> = rows
            .iter()
            .map(|r| self.key_of(r.3.as_deref().unwrap_or_default()))
            .collect();
        let bodies = get_many(&self.clients.s3, &self.clients.bucket, keys.clone(), 16).await;
        let versions = rows
            .into_iter()
            .zip(bodies)
            .zip(keys)
            .map(|(((id, version, at, _), body), key)| {
                // A body that cannot be read is kept as a text no real body can be (bodies
                // are NUL-free), so that parity counts the entity as mismatched.
                let body = match body {
                    Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
                    Err(e) => format!("\0unreadable object {key}: {e}"),
                };
                (id, VersionSnapshot { version, at, body })
            })
            .collect();
        Ok(portable::assemble(entities, versions))
    }
}

#[async_trait::async_trait]
impl Portable for V03 {
    async fn export_page(
        &self,
        after: Option<EntityId>,
        through: Option<EntityId>,
        limit: i64,
    ) -> OpResult<Vec<EntitySnapshot>> {
        let entities: Vec<(Uuid, i64, String, i32)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT id, user_id, title, version FROM v03.entities WHERE {PAGE_FILTER}"
        )))
        .bind(after.map(|i| i.0))
        .bind(through.map(|i| i.0))
        .bind(limit)
        .fetch_all(&self.clients.pool)
        .await
        .map_err(ArchError::pg(OpKind::Get))?;
        self.snapshots(entities).await
    }

    async fn export(&self, ids: &[EntityId]) -> OpResult<Vec<EntitySnapshot>> {
        let ids: Vec<Uuid> = ids.iter().map(|i| i.0).collect();
        let entities: Vec<(Uuid, i64, String, i32)> = sqlx::query_as(
            "SELECT id, user_id, title, version FROM v03.entities WHERE id = ANY($1) ORDER BY id",
        )
        .bind(&ids)
        .fetch_all(&self.clients.pool)
        .await
        .map_err(ArchError::pg(OpKind::Get))?;
        self.snapshots(entities).await
    }

    async fn import(&self, batch: &[SeedEntity], mode: ImportMode) -> OpResult<Imported> {
        const SQL: ImportSql = ImportSql {
            existing: "SELECT id FROM v03.entities WHERE id = ANY($1)",
            deletes: &[
                "DELETE FROM v03.entities WHERE id = ANY($1)",
                "DELETE FROM v03.events WHERE aggregate_id = ANY($1)",
                "DELETE FROM v03.list_model WHERE entity_id = ANY($1)",
                "DELETE FROM v03.embeddings WHERE entity_id = ANY($1)",
            ],
        };
        portable::import_batch(&self.clients, batch, mode, &SQL, |keep| self.bulk(keep)).await
    }

    async fn changed_since(&self, at: DateTime<Utc>) -> OpResult<Vec<EntityId>> {
        portable::changed_since(
            &self.clients.pool,
            "SELECT DISTINCT aggregate_id FROM v03.events WHERE time >= $1 ORDER BY aggregate_id",
            at,
        )
        .await
    }

    async fn table_checksums(&self) -> OpResult<Vec<TableChecksum>> {
        let (time, updated) = (micros("time"), micros("updated_at"));
        let tables = vec![
            ChecksumSql {
                table: "entities",
                relation: "v03.entities",
                row: "id::text || '|' || user_id || '|' || title || '|' || version".into(),
                order: "id",
                from: "v03.entities",
            },
            ChecksumSql {
                table: "events",
                relation: "v03.events",
                row: format!(
                    "aggregate_id::text || '|' || version || '|' || type || '|' || {time}"
                ),
                order: "aggregate_id, version",
                from: "v03.events",
            },
            ChecksumSql {
                table: "list",
                relation: "v03.list_model",
                row: format!(
                    "entity_id::text || '|' || user_id || '|' || title || '|' || version || '|' || {updated}"
                ),
                order: "entity_id",
                from: "v03.list_model",
            },
            ChecksumSql {
                table: "embeddings",
                relation: "v03.embeddings",
                row: "entity_id::text || '|' || version".into(),
                order: "entity_id",
                from: "v03.embeddings",
            },
        ];
        portable::checksums(&self.clients.pool, tables).await
    }

    fn object_base(&self) -> &'static str {
        "v03/content/"
    }

    fn object_key(&self, _id: EntityId, _version: i32, body: &str) -> String {
        content_key(body.as_bytes()).0
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
