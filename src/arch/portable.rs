//! The seam a migration needs on a system: its entities out with every version, the
//! bodies read from wherever the system keeps them (so that a corrupted object shows
//! up); entities in, one transaction per batch, existing ids skipped or replaced; the
//! entities changed since a time (what a rollback carries back); and checksums of its
//! tables in a logical form both systems share.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{BodyUpdate, EntityId, Harness, NewEntity, OpResult, SeedEntity, UserId};

/// One version of an entity's body as a system holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionSnapshot {
    /// Version number, 1 for the create.
    pub version: i32,
    /// Event time.
    pub at: DateTime<Utc>,
    /// The body as read back from the store.
    pub body: String,
}

/// An entity with every version, as read from one system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntitySnapshot {
    /// Id.
    pub id: EntityId,
    /// Owner.
    pub user: UserId,
    /// Title.
    pub title: String,
    /// The version the entity row says is current.
    pub version: i32,
    /// Every version its event log holds, oldest first.
    pub versions: Vec<VersionSnapshot>,
}

impl EntitySnapshot {
    /// The entity as a batch to import: version 1 as the create, the rest as updates.
    /// `None` when the log holds no version (nothing to import).
    pub fn to_seed(&self) -> Option<SeedEntity> {
        let (first, rest) = self.versions.split_first()?;
        Some(SeedEntity {
            create: NewEntity {
                user: self.user,
                id: self.id,
                title: self.title.clone(),
                body: first.body.clone(),
                at: Some(first.at),
            },
            updates: rest
                .iter()
                .map(|v| BodyUpdate {
                    id: self.id,
                    body: v.body.clone(),
                    at: Some(v.at),
                })
                .collect(),
        })
    }

    /// Bytes of every version's body.
    pub fn body_bytes(&self) -> u64 {
        self.versions.iter().map(|v| v.body.len() as u64).sum()
    }
}

/// What to do with an imported id the system already holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportMode {
    /// Keep what is there (a backfill that resumes, or meets an entity the dual-write
    /// already created).
    SkipExisting,
    /// Delete it first and write the import (a repair, a rollback).
    Replace,
}

/// What an import wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Imported {
    /// Entities written.
    pub written: u64,
    /// Entities skipped because the system held them already.
    pub skipped: u64,
    /// Versions written.
    pub versions: u64,
    /// Body bytes written, every version.
    pub bytes: u64,
}

impl Imported {
    /// What writing `written` (skipping `skipped`) amounts to.
    pub fn of(written: &[&SeedEntity], skipped: u64) -> Self {
        Imported {
            written: written.len() as u64,
            skipped,
            versions: written.iter().map(|s| 1 + s.updates.len() as u64).sum(),
            bytes: written
                .iter()
                .map(|s| {
                    s.create.body.len() as u64
                        + s.updates.iter().map(|u| u.body.len() as u64).sum::<u64>()
                })
                .sum(),
        }
    }
}

/// A checksum over one logical table, computed in the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TableChecksum {
    /// The logical table: `entities`, `events`, `list` or `embeddings`, the same name
    /// on both systems.
    pub table: &'static str,
    /// The system's relation it was computed on.
    pub relation: &'static str,
    /// Rows.
    pub rows: u64,
    /// MD5 of the rows' logical columns in id order.
    pub md5: String,
}

/// A system a migration can read from and write into.
#[async_trait::async_trait]
pub trait Portable: Harness {
    /// Entities with ids after `after` (all when `None`) and at most `through`, in id
    /// order, at most `limit` of them.
    async fn export_page(
        &self,
        after: Option<EntityId>,
        through: Option<EntityId>,
        limit: i64,
    ) -> OpResult<Vec<EntitySnapshot>>;
    /// The named entities (those it holds), in id order.
    async fn export(&self, ids: &[EntityId]) -> OpResult<Vec<EntitySnapshot>>;
    /// Writes a batch in one transaction.
    async fn import(&self, batch: &[SeedEntity], mode: ImportMode) -> OpResult<Imported>;
    /// Entities with an event at or after `at`.
    async fn changed_since(&self, at: DateTime<Utc>) -> OpResult<Vec<EntityId>>;
    /// Checksums of the logical tables.
    async fn table_checksums(&self) -> OpResult<Vec<TableChecksum>>;
    /// The prefix under which it keeps bodies as objects.
    fn object_base(&self) -> &'static str;
    /// The key one version's body is kept under.
    fn object_key(&self, id: EntityId, version: i32, body: &str) -> String;
    /// Keys and sizes of the objects under [`Portable::object_base`].
    async fn objects(&self) -> OpResult<Vec<(String, u64)>>;
}

/// Groups exported rows into snapshots: `entities` as (id, user, title, version) in id
/// order, `versions` as (id, version snapshot) in (id, version) order.
pub(super) fn assemble(
    entities: Vec<(uuid::Uuid, i64, String, i32)>,
    versions: Vec<(uuid::Uuid, VersionSnapshot)>,
) -> Vec<EntitySnapshot> {
    let mut by_id: std::collections::BTreeMap<uuid::Uuid, Vec<VersionSnapshot>> =
        std::collections::BTreeMap::new();
    for (id, v) in versions {
        by_id.entry(id).or_default().push(v);
    }
    entities
        .into_iter()
        .map(|(id, user, title, version)| EntitySnapshot {
            id: EntityId(id),
            user: UserId(user),
            title,
            version,
            versions: by_id.remove(&id).unwrap_or_default(),
        })
        .collect()
}

/// A system's import in SQL: the query finding the ids it holds (binding the id array
/// as `$1`), and the deletes that clear them.
pub(super) struct ImportSql {
    /// `SELECT id ... WHERE id = ANY($1)`.
    pub existing: &'static str,
    /// One `DELETE ... = ANY($1)` per table.
    pub deletes: &'static [&'static str],
}

/// One import: in a transaction, the batch's ids cleared or skipped per `mode`, then
/// the rows and objects `bulk` makes of what remains.
pub(super) async fn import_batch(
    clients: &super::StoreClients,
    batch: &[SeedEntity],
    mode: ImportMode,
    sql: &ImportSql,
    bulk: impl FnOnce(&[&SeedEntity]) -> super::bulk::Bulk,
) -> OpResult<Imported> {
    let pg = || super::ArchError::pg(super::OpKind::Create);
    let mut tx = clients.pool.begin().await.map_err(pg())?;
    let (keep, skipped) = clear_or_skip(&mut tx, batch, mode, sql.existing, sql.deletes)
        .await
        .map_err(pg())?;
    let imported = Imported::of(&keep, skipped);
    bulk(&keep)
        .write(&clients.s3, &clients.bucket, &mut tx)
        .await?;
    tx.commit().await.map_err(pg())?;
    Ok(imported)
}

/// The entities with an event at or after `at`, by `sql` (binding `at` as `$1`).
pub(super) async fn changed_since(
    pool: &sqlx::PgPool,
    sql: &'static str,
    at: DateTime<Utc>,
) -> OpResult<Vec<EntityId>> {
    let ids: Vec<uuid::Uuid> = sqlx::query_scalar(sql)
        .bind(at)
        .fetch_all(pool)
        .await
        .map_err(super::ArchError::pg(super::OpKind::History))?;
    Ok(ids.into_iter().map(EntityId).collect())
}

/// Where one logical table's checksum is computed: the relation it is named by, the
/// SQL text of a row's logical columns, their order, and the relation with its filter.
pub(super) struct ChecksumSql {
    /// Logical table.
    pub table: &'static str,
    /// Relation named in the results.
    pub relation: &'static str,
    /// One row's logical columns as text.
    pub row: String,
    /// The order rows are aggregated in.
    pub order: &'static str,
    /// `FROM` clause: relation and filter.
    pub from: &'static str,
}

/// The checksums of `tables`, in order.
pub(super) async fn checksums(
    pool: &sqlx::PgPool,
    tables: Vec<ChecksumSql>,
) -> OpResult<Vec<TableChecksum>> {
    let mut out = Vec::with_capacity(tables.len());
    for t in tables {
        out.push(
            checksum(pool, t.table, t.relation, &t.row, t.order, t.from)
                .await
                .map_err(super::ArchError::pg(super::OpKind::List))?,
        );
    }
    Ok(out)
}

/// Starts an import's transaction: with [`ImportMode::Replace`] the batch's ids are
/// deleted by `deletes` (each binds the id array as `$1`); with
/// [`ImportMode::SkipExisting`] the ids `existing` (binding `$1`) finds are left out.
/// Returns the entities to write and how many were skipped.
async fn clear_or_skip<'a>(
    tx: &mut sqlx::PgConnection,
    batch: &'a [SeedEntity],
    mode: ImportMode,
    existing: &'static str,
    deletes: &[&'static str],
) -> Result<(Vec<&'a SeedEntity>, u64), sqlx::Error> {
    let ids: Vec<uuid::Uuid> = batch.iter().map(|s| s.create.id.0).collect();
    match mode {
        ImportMode::Replace => {
            for sql in deletes {
                sqlx::query(*sql).bind(&ids).execute(&mut *tx).await?;
            }
            Ok((batch.iter().collect(), 0))
        }
        ImportMode::SkipExisting => {
            let held: std::collections::HashSet<uuid::Uuid> = sqlx::query_scalar(existing)
                .bind(&ids)
                .fetch_all(&mut *tx)
                .await?
                .into_iter()
                .collect();
            let keep: Vec<&SeedEntity> = batch
                .iter()
                .filter(|s| !held.contains(&s.create.id.0))
                .collect();
            let skipped = (batch.len() - keep.len()) as u64;
            Ok((keep, skipped))
        }
    }
}

/// A page of entity rows: ids after `after`, at most `through`, in id order.
pub(super) const PAGE_FILTER: &str =
    "($1::uuid IS NULL OR id > $1) AND ($2::uuid IS NULL OR id <= $2) ORDER BY id LIMIT $3";

/// The checksum of one logical table: `row` is the SQL text of one row's logical
/// columns, `order` the order they are aggregated in, `from` the relation and filter.
async fn checksum(
    pool: &sqlx::PgPool,
    table: &'static str,
    relation: &'static str,
    row: &str,
    order: &str,
    from: &str,
) -> Result<TableChecksum, sqlx::Error> {
    let sql = format!(
        "SELECT count(*), coalesce(md5(string_agg({row}, E'\\n' ORDER BY {order})), '') FROM {from}"
    );
    let (rows, md5): (i64, String) = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .fetch_one(pool)
        .await?;
    Ok(TableChecksum {
        table,
        relation,
        rows: rows as u64,
        md5,
    })
}

/// A timestamp as integer microseconds in SQL, so that checksums do not depend on the
/// session's time zone or text format.
pub(super) fn micros(column: &str) -> String {
    format!("(extract(epoch from {column}) * 1000000)::bigint::text")
}
