//! Pieces both reference systems use: the pool setup, storage measurement, object
//! listing and deletion under a prefix.

use std::collections::BTreeMap;

use aws_sdk_s3::error::DisplayErrorContext;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use uuid::Uuid;

use super::{ArchError, OpKind};
use crate::stores::{Endpoints, StoreError};

/// `hnsw.ef_search` of every system connection: pgvector's default is 40; 100 is the
/// setting the search-quality probe reports as the system's own point.
pub const EF_SEARCH: u32 = 100;

/// A pool for a system under test. Every connection searches HNSW indexes with
/// iterative scans, so that a per-user filter still yields k results.
pub async fn pool(endpoints: &Endpoints, max: u32) -> Result<PgPool, StoreError> {
    let opts: sqlx::postgres::PgConnectOptions =
        endpoints
            .postgres
            .url
            .expose()
            .parse()
            .map_err(|e| StoreError::Postgres {
                url: endpoints.postgres.display_url.clone(),
                context: "parsing the connection URL".into(),
                source: e,
            })?;
    let opts = sqlx::ConnectOptions::log_statements(opts, tracing::log::LevelFilter::Trace);
    // Measurement scans are slow by design; keep them out of the warning log.
    let opts = sqlx::ConnectOptions::log_slow_statements(
        opts,
        tracing::log::LevelFilter::Debug,
        Duration::from_secs(1),
    );
    PgPoolOptions::new()
        .max_connections(max)
        // A slow acquire is latency the histograms already hold; while a store is down
        // (a fault) a warning per op would bury the run's output.
        .acquire_slow_level(tracing::log::LevelFilter::Debug)
        .after_connect(|conn, _| {
            Box::pin(async move {
                // date_trunc follows the session time zone; time_bucket works in UTC.
                sqlx::query("SET TimeZone = 'UTC'")
                    .execute(&mut *conn)
                    .await?;
                sqlx::query("SET hnsw.iterative_scan = strict_order")
                    .execute(&mut *conn)
                    .await?;
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SET hnsw.ef_search = {EF_SEARCH}"
                )))
                .execute(&mut *conn)
                .await?;
                Ok(())
            })
        })
        .connect_with(opts)
        .await
        .map_err(|e| StoreError::Postgres {
            url: endpoints.postgres.display_url.clone(),
            context: "connecting".into(),
            source: e,
        })
}

/// Bytes per relation of a schema: `pg_total_relation_size` (heap, TOAST, indexes)
/// for plain tables and `hypertable_size` (all chunks) for hypertables.
pub async fn relation_sizes(
    pool: &PgPool,
    schema: &str,
) -> Result<BTreeMap<String, u64>, sqlx::Error> {
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT c.relname::text,
                CASE WHEN h.hypertable_name IS NOT NULL
                     THEN hypertable_size(c.oid)
                     ELSE pg_total_relation_size(c.oid) END
           FROM pg_class c
           JOIN pg_namespace n ON n.oid = c.relnamespace
           LEFT JOIN timescaledb_information.hypertables h
                  ON h.hypertable_schema = n.nspname AND h.hypertable_name = c.relname
          WHERE n.nspname = $1 AND c.relkind IN ('r', 'p')",
    )
    .bind(schema)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(n, b)| (n, b.max(0) as u64))
        .collect())
}

/// Keys and sizes of every object under `prefix`.
pub async fn list_objects(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    prefix: &str,
    op: OpKind,
) -> Result<Vec<(String, u64)>, ArchError> {
    let mut out = Vec::new();
    let mut pages = s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| ArchError::S3 {
            op,
            request: "LIST",
            detail: DisplayErrorContext(&e).to_string(),
        })?;
        for o in page.contents() {
            if let Some(k) = o.key() {
                out.push((k.to_string(), o.size().unwrap_or(0).max(0) as u64));
            }
        }
    }
    Ok(out)
}

/// Deletes every object under `prefix`.
pub async fn delete_prefix(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    prefix: &str,
) -> Result<(), ArchError> {
    for (key, _) in list_objects(s3, bucket, prefix, OpKind::Create).await? {
        s3.delete_object()
            .bucket(bucket)
            .key(&key)
            .send()
            .await
            .map_err(|e| ArchError::S3 {
                op: OpKind::Create,
                request: "DELETE",
                detail: DisplayErrorContext(&e).to_string(),
            })?;
    }
    Ok(())
}

/// Reads an object's bytes.
pub async fn get_object(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    op: OpKind,
) -> Result<Vec<u8>, ArchError> {
    let err = |request: &'static str, detail: String| ArchError::S3 {
        op,
        request,
        detail,
    };
    let got = s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(|e| err("GET", DisplayErrorContext(&e).to_string()))?;
    let bytes = got
        .body
        .collect()
        .await
        .map_err(|e| err("GET", e.to_string()))?;
    Ok(bytes.into_bytes().to_vec())
}

/// Writes an object.
pub async fn put_object(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    body: Vec<u8>,
    op: OpKind,
) -> Result<(), ArchError> {
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .content_type("text/markdown; charset=utf-8")
        .body(body.into())
        .send()
        .await
        .map(|_| ())
        .map_err(|e| ArchError::S3 {
            op,
            request: "PUT",
            detail: DisplayErrorContext(&e).to_string(),
        })
}

/// One field of a `COPY ... FROM STDIN` text-format row: backslash, tab, newline and
/// carriage return escaped (bodies are NUL-free by contract).
pub fn copy_field(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out
}

/// A vector in pgvector's text form.
pub fn vector_text(v: &[f32]) -> String {
    let parts: Vec<String> = v.iter().map(|x| x.to_string()).collect();
    format!("[{}]", parts.join(","))
}

/// PUTs objects with at most `concurrency` requests in flight.
pub async fn put_many(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    objects: Vec<(String, Vec<u8>)>,
    concurrency: usize,
) -> Result<(), ArchError> {
    let slots = std::sync::Arc::new(tokio::sync::Semaphore::new(concurrency.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    for (key, body) in objects {
        let permit = slots.clone().acquire_owned().await.expect("never closed");
        let (s3, bucket) = (s3.clone(), bucket.to_string());
        tasks.spawn(async move {
            let _p = permit;
            put_object(&s3, &bucket, &key, body, OpKind::Create).await
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.map_err(|e| ArchError::Setup(format!("object upload task: {e}")))??;
    }
    Ok(())
}

/// Splits a markdown body into blocks at blank lines (paragraphs), as V0.2's
/// `content_blocks` does; concatenating the blocks with `\n\n` gives the body back.
pub fn split_blocks(body: &str) -> Vec<&str> {
    body.split("\n\n").collect()
}

/// `op` for an event name (`v02/entity.created` -> Create).
pub fn op_of_event(name: &str) -> OpKind {
    if name.ends_with("entity.updated") {
        OpKind::Update
    } else {
        OpKind::Create
    }
}

/// A field of event data, or an error naming it.
pub fn field<'a>(data: &'a serde_json::Value, name: &str) -> Result<&'a serde_json::Value, String> {
    data.get(name)
        .ok_or_else(|| format!("event data lacks `{name}`"))
}

/// A string field of event data.
pub fn str_field<'a>(data: &'a serde_json::Value, name: &str) -> Result<&'a str, String> {
    field(data, name)?
        .as_str()
        .ok_or_else(|| format!("`{name}` is not a string"))
}

/// An integer field of event data.
pub fn int_field(data: &serde_json::Value, name: &str) -> Result<i64, String> {
    field(data, name)?
        .as_i64()
        .ok_or_else(|| format!("`{name}` is not an integer"))
}

/// A UUID field of event data.
pub fn uuid_field(data: &serde_json::Value, name: &str) -> Result<Uuid, String> {
    str_field(data, name)?
        .parse()
        .map_err(|e| format!("`{name}`: {e}"))
}

/// A timestamp field of event data.
pub fn time_field(data: &serde_json::Value, name: &str) -> Result<DateTime<Utc>, String> {
    str_field(data, name)?
        .parse()
        .map_err(|e| format!("`{name}`: {e}"))
}

/// Rows per statement of [`grow_events`]: large enough to be quick, small enough that
/// one statement never holds the table for long.
const GROWTH_BATCH: u64 = 250_000;

/// The growth probe's insert, generated in the server: `insert` is an `INSERT ... SELECT`
/// over `generate_series($5, $6) AS g` taking `$1` first user, `$2` users, `$3` from,
/// `$4` to; afterwards the table is analysed (as autovacuum would) and counted.
pub async fn grow_events(
    pool: &PgPool,
    insert: &'static str,
    table: &'static str,
    g: &super::EventGrowth,
) -> Result<u64, ArchError> {
    let pg = |e: sqlx::Error| ArchError::Setup(format!("growing {table}: {e}"));
    let mut lo = 1u64;
    while lo <= g.n {
        let hi = (lo + GROWTH_BATCH - 1).min(g.n);
        sqlx::query(insert)
            .bind(g.first_user)
            .bind(g.users.max(1))
            .bind(g.from)
            .bind(g.to)
            .bind(lo as i64)
            .bind(hi as i64)
            .execute(pool)
            .await
            .map_err(pg)?;
        lo = hi + 1;
    }
    if g.n > 0 {
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("ANALYZE {table}")))
            .execute(pool)
            .await
            .map_err(pg)?;
    }
    let (n,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
        .fetch_one(pool)
        .await
        .map_err(pg)?;
    Ok(n.max(0) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_join_back_to_the_body() {
        let body = "# T\n\npara one\nline\n\npara two\n\n";
        assert_eq!(split_blocks(body).join("\n\n"), body);
        assert_eq!(split_blocks("single").len(), 1);
    }

    #[test]
    fn copy_fields_escape_what_copy_text_format_needs() {
        assert_eq!(copy_field("a\tb\nc\\d\re"), "a\\tb\\nc\\\\d\\re");
        assert_eq!(copy_field("ü 🚀 'q' \"d\""), "ü 🚀 'q' \"d\"");
        assert_eq!(vector_text(&[0.5, -1.0]), "[0.5,-1]");
    }

    #[test]
    fn event_names_map_to_ops() {
        assert_eq!(op_of_event("v02/entity.updated"), OpKind::Update);
        assert_eq!(op_of_event("v03/entity.created"), OpKind::Create);
    }
}
