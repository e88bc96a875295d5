//! Copies per item: for sampled entities, the number of distinct places (a table
//! column, an object-store prefix) whose contents hold the entity's current body,
//! found by searching every text and JSON column of the system's schema and every
//! object under its prefix for the body's unique marker.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use sqlx::PgPool;

use crate::arch::{ArchError, EntityId, OpKind, SystemUnderTest};
use crate::loadgen::content::find_marker;

/// Where the sampled bodies were found.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CopiesReport {
    /// Entities sampled.
    pub sampled: usize,
    /// Mean number of places holding a sampled body.
    pub copies_per_item: f64,
    /// Fewest places for one sampled entity.
    pub min: usize,
    /// Most places for one sampled entity.
    pub max: usize,
    /// For each place, how many sampled entities it held.
    pub places: BTreeMap<String, usize>,
    /// Rows or objects holding a sampled body, all places together (one place may hold
    /// several, e.g. an event payload per version).
    pub holders: u64,
}

fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// Measures copies per item for `sample` entities of `sut`, looking in the
/// PostgreSQL schema and object prefix the system owns.
pub async fn measure(
    sut: &dyn SystemUnderTest,
    pool: &PgPool,
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    sample: &[EntityId],
) -> Result<CopiesReport, ArchError> {
    let op = OpKind::Get;
    let loc = sut.locations();
    // The current body of each sampled entity, and its marker.
    let mut markers: BTreeMap<String, EntityId> = BTreeMap::new();
    for &id in sample {
        let e = sut.get(id).await?;
        let m = find_marker(&e.body).ok_or_else(|| ArchError::Inconsistent {
            op,
            detail: format!("entity {id} has no archbench marker in its body; copies can only be counted on generated bodies"),
        })?;
        markers.insert(m.to_string(), id);
    }
    let marker_list: Vec<String> = markers.keys().cloned().collect();
    let mut found = Found::default();
    scan_postgres(pool, loc.schema, &markers, &marker_list, &mut found).await?;
    scan_objects(s3, bucket, loc.prefix, &markers, &marker_list, &mut found).await?;
    let per_item: Vec<usize> = markers
        .values()
        .map(|id| found.places.get(id).map_or(0, |s| s.len()))
        .collect();
    let mut places: BTreeMap<String, usize> = BTreeMap::new();
    for set in found.places.values() {
        for p in set {
            *places.entry(p.clone()).or_insert(0) += 1;
        }
    }
    Ok(CopiesReport {
        sampled: per_item.len(),
        copies_per_item: if per_item.is_empty() {
            0.0
        } else {
            per_item.iter().sum::<usize>() as f64 / per_item.len() as f64
        },
        min: per_item.iter().copied().min().unwrap_or(0),
        max: per_item.iter().copied().max().unwrap_or(0),
        places,
        holders: found.holders,
    })
}

/// Where each sampled entity's body was found, and how many holders in all.
#[derive(Default)]
struct Found {
    places: BTreeMap<EntityId, BTreeSet<String>>,
    holders: u64,
}

impl Found {
    fn add(&mut self, entity: EntityId, place: &str, holders: u64) {
        self.holders += holders;
        self.places
            .entry(entity)
            .or_default()
            .insert(place.to_string());
    }
}

/// Every text, JSON and bytea column of the schema's tables.
async fn scan_postgres(
    pool: &PgPool,
    schema: &str,
    markers: &BTreeMap<String, EntityId>,
    marker_list: &[String],
    found: &mut Found,
) -> Result<(), ArchError> {
    let op = OpKind::Get;
    let columns: Vec<(String, String)> = sqlx::query_as(
        "SELECT c.table_name::text, c.column_name::text
           FROM information_schema.columns c
           JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
          WHERE c.table_schema = $1 AND t.table_type = 'BASE TABLE'
            AND c.data_type IN ('text', 'jsonb', 'json', 'character varying', 'character', 'bytea')
          ORDER BY 1, 2",
    )
    .bind(schema)
    .fetch_all(pool)
    .await
    .map_err(ArchError::pg(op))?;
    for (table, column) in columns {
        // One pass per row: extract every marker the value holds, keep the sampled ones.
        // (A join against the markers would scan each value once per marker.)
        let sql = format!(
            "SELECT m, count(DISTINCT t.ctid) FROM {}.{} AS t,
                    LATERAL (SELECT (regexp_matches(t.{}::text, 'abm-[0-9a-f]{{16}}', 'g'))[1] AS m) x
              WHERE m = ANY($1) GROUP BY m",
            quote_ident(schema),
            quote_ident(&table),
            quote_ident(&column)
        );
        let rows: Vec<(String, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(marker_list)
            .fetch_all(pool)
            .await
            .map_err(ArchError::pg(op))?;
        let place = format!("postgres:{}.{table}.{column}", schema);
        for (m, n) in rows {
            found.add(markers[&m], &place, n as u64);
        }
    }

    Ok(())
}

/// Every object under the prefix, read whole (the body could be anywhere in it), 32 at
/// a time.
async fn scan_objects(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    prefix: &str,
    markers: &BTreeMap<String, EntityId>,
    marker_list: &[String],
    found: &mut Found,
) -> Result<(), ArchError> {
    let op = OpKind::Get;
    let keys = crate::arch::list_objects(s3, bucket, prefix, op).await?;
    let slots = std::sync::Arc::new(tokio::sync::Semaphore::new(32));
    let markers_arc = std::sync::Arc::new(marker_list.to_vec());
    let mut tasks = tokio::task::JoinSet::new();
    for (key, _) in keys {
        let permit = slots.clone().acquire_owned().await.expect("never closed");
        let (s3, bucket, ms) = (s3.clone(), bucket.to_string(), markers_arc.clone());
        tasks.spawn(async move {
            let _p = permit;
            let bytes = crate::arch::get_object(&s3, &bucket, &key, op).await?;
            let text = String::from_utf8_lossy(&bytes);
            let hits: Vec<String> = ms
                .iter()
                .filter(|m| text.contains(m.as_str()))
                .cloned()
                .collect();
            Ok::<_, ArchError>((key, hits))
        });
    }
    while let Some(done) = tasks.join_next().await {
        let (key, hits) =
            done.map_err(|e| ArchError::Setup(format!("object scan task: {e}")))??;
        let place = format!(
            "s3:{}",
            key.splitn(3, '/').take(2).collect::<Vec<_>>().join("/")
        );
        for m in hits {
            found.add(markers[&m], &place, 1);
        }
    }

    Ok(())
}
