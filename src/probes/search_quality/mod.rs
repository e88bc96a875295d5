//! The search-quality probe: how often does each search design find the true k
//! nearest of a user's entities, and at what latency? The truth is computed here, in
//! f64 from the stored vectors of the query's user (an exact scan no index can bend);
//! a returned row counts if its true distance is within the k-th true distance (ties
//! included, as ann-benchmarks counts them). Each HNSW design is swept over
//! `ef_search` for its recall–latency frontier. The system's own design is timed on
//! its own table; the other designs on a copy of its vectors in a scratch schema, so
//! that each runs with its own index alone. The truth and recall live in `truth.rs`,
//! the statements and the timed sweep in `frontier.rs`.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::time::Instant;

use pgvector::Vector;
use rand::SeedableRng;
// Statements are built from the system's static table and column names and from
// integers, never from input text: safe to format.
use sqlx::{AssertSqlSafe, PgPool};
use uuid::Uuid;

use crate::arch::{VectorSearch, embedding};
use crate::loadgen::content;
use crate::results::search_quality::{DesignQuality, SearchDesign, SearchQuality};
use crate::scenario::SearchQualityProbe;

mod frontier;
#[cfg(feature = "qdrant")]
mod qdrant;
#[cfg(feature = "qdrant")]
pub mod qdrant_server;
mod truth;

use frontier::{Target, frontier, recall_at};
use truth::{Query, truth};

/// Scratch schema for the other designs' copies (dropped before and after).
const SCRATCH: &str = "archbench_search_probe";

/// What went wrong, for the run's notes.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// A statement failed.
    #[error("search-quality probe: {context}: {source}")]
    Sql {
        /// What it was doing.
        context: String,
        /// The driver's error.
        source: sqlx::Error,
    },
    /// Nothing to search.
    #[error("search-quality probe: {0}")]
    Data(String),
}

fn sql(context: impl Into<String>) -> impl FnOnce(sqlx::Error) -> ProbeError {
    let context = context.into();
    move |source| ProbeError::Sql { context, source }
}

/// Runs the probe on one system's vectors.
pub async fn probe(
    search: &VectorSearch,
    users: &[i64],
    seed: u64,
    k: u32,
    cfg: &SearchQualityProbe,
) -> Result<SearchQuality, ProbeError> {
    let started = Instant::now();
    let (rows, distinct): (i64, i64) = sqlx::query_as(AssertSqlSafe(format!(
        "SELECT count(*), count(DISTINCT {user}) FROM {table} WHERE {emb} IS NOT NULL",
        user = search.user_column,
        table = search.table,
        emb = search.embedding_column,
    )))
    .fetch_one(&search.pool)
    .await
    .map_err(sql("counting vectors"))?;
    if rows == 0 || users.is_empty() {
        return Err(ProbeError::Data(format!(
            "{} holds no vectors",
            search.table
        )));
    }
    let queries = std::sync::Arc::new(queries(search, users, seed, k, cfg.queries).await?);
    let own = own_design(search, &queries, k, cfg).await?;
    let mut designs = vec![own.clone()];
    if cfg.variants && own.design == SearchDesign::GlobalHnswFiltered {
        designs.extend(variants(search, &queries, k, cfg, distinct as u64).await?);
        designs.extend(qdrant_designs(search, queries.clone(), k, cfg).await?);
    }
    Ok(SearchQuality {
        k,
        recall_at_k: own.recall_at_k,
        frontier: own.frontier.clone(),
        index_bytes: own.index_bytes,
        build_seconds: own.build_seconds,
        design: own.design,
        system_ef_search: search.ef_search,
        queries: queries.len(),
        rows: rows as u64,
        users: distinct as u64,
        embedding: embedding::DESCRIPTION.to_string(),
        designs,
        wall_seconds: started.elapsed().as_secs_f64(),
        round_trip_ms: None,
    })
}

/// The fixed query set: users in turn (a stride through the seeded users), each with
/// a title-like text from the run's seed, and its truth from the user's vectors.
async fn queries(
    search: &VectorSearch,
    users: &[i64],
    seed: u64,
    k: u32,
    count: usize,
) -> Result<Vec<Query>, ProbeError> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed ^ 0x5ea4_c11a);
    let mut by_user: HashMap<i64, Vec<(Uuid, Vec<f32>)>> = HashMap::new();
    let mut out = Vec::with_capacity(count);
    for i in 0..count {
        let user = users[(i * 7919) % users.len()];
        let text = content::title(&mut rng);
        let q = embedding::embed(&text);
        let rows = match by_user.entry(user) {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(e) => {
                let rows: Vec<(Uuid, Vector)> = sqlx::query_as(AssertSqlSafe(format!(
                    "SELECT {id}, {emb} FROM {table} WHERE {user_col} = $1 AND {emb} IS NOT NULL",
                    id = search.id_column,
                    emb = search.embedding_column,
                    table = search.table,
                    user_col = search.user_column,
                )))
                .bind(user)
                .fetch_all(&search.pool)
                .await
                .map_err(sql("reading a user's vectors for the truth"))?;
                e.insert(rows.into_iter().map(|(id, v)| (id, v.to_vec())).collect())
            }
        };
        let truth = truth(&q, rows, k as usize);
        out.push(Query {
            user,
            vector: Vector::from(q),
            truth,
        });
    }
    Ok(out)
}

/// The system's design on its own table, with its own index (rebuilt once, timed).
async fn own_design(
    search: &VectorSearch,
    queries: &[Query],
    k: u32,
    cfg: &SearchQualityProbe,
) -> Result<DesignQuality, ProbeError> {
    let (index_bytes, build_seconds) = rebuild(&search.pool, search.index).await?;
    let target = Target {
        table: search.table,
        id: search.id_column,
        user: search.user_column,
        embedding: search.embedding_column,
        user_literal: false,
        tie_break: !search.design.uses_hnsw(),
    };
    let built = (index_bytes, build_seconds);
    measure(search, &target, search.design, (queries, k), cfg, built).await
}

/// `REINDEX` of the design's index, timed, and its size after.
async fn rebuild(pool: &PgPool, index: &str) -> Result<(u64, f64), ProbeError> {
    let t = Instant::now();
    sqlx::query(AssertSqlSafe(format!("REINDEX INDEX {index}")))
        .execute(pool)
        .await
        .map_err(sql(format!("rebuilding {index}")))?;
    let seconds = t.elapsed().as_secs_f64();
    Ok((index_size(pool, index).await?, seconds))
}

async fn index_size(pool: &PgPool, index: &str) -> Result<u64, ProbeError> {
    let (bytes,): (i64,) = sqlx::query_as("SELECT pg_relation_size($1::regclass)")
        .bind(index)
        .fetch_one(pool)
        .await
        .map_err(sql(format!("sizing {index}")))?;
    Ok(bytes.max(0) as u64)
}

/// The other designs, each on a copy of the vectors with its own index alone.
async fn variants(
    search: &VectorSearch,
    queries: &[Query],
    k: u32,
    cfg: &SearchQualityProbe,
    users: u64,
) -> Result<Vec<DesignQuality>, ProbeError> {
    let pool = &search.pool;
    let copy = format!("{SCRATCH}.vectors");
    let setup = [
        format!("DROP SCHEMA IF EXISTS {SCRATCH} CASCADE"),
        format!("CREATE SCHEMA {SCRATCH}"),
        format!(
            "CREATE TABLE {copy} AS SELECT {id} AS id, {user} AS user_id, {emb} AS embedding \
             FROM {table} WHERE {emb} IS NOT NULL",
            id = search.id_column,
            user = search.user_column,
            emb = search.embedding_column,
            table = search.table,
        ),
        format!("ANALYZE {copy}"),
    ];
    for statement in &setup {
        sqlx::query(AssertSqlSafe(statement.as_str()))
            .execute(pool)
            .await
            .map_err(sql("copying the vectors to the scratch schema"))?;
    }
    let target = |design: SearchDesign| Target {
        table: &copy,
        id: "id",
        user: "user_id",
        embedding: "embedding",
        user_literal: design == SearchDesign::PartialHnswPerUser,
        tie_break: !design.uses_hnsw(),
    };
    let mut out = Vec::new();
    // Exact: a b-tree on the user, every row of theirs compared.
    let built = build(
        pool,
        &[format!("CREATE INDEX vectors_user ON {copy} (user_id)")],
        &[format!("{SCRATCH}.vectors_user")],
    )
    .await?;
    let exact = SearchDesign::ExactPerUser;
    out.push(measure(search, &target(exact), exact, (queries, k), cfg, built).await?);
    sqlx::query(AssertSqlSafe(format!("DROP INDEX {SCRATCH}.vectors_user")))
        .execute(pool)
        .await
        .map_err(sql("dropping the b-tree"))?;
    // Partial HNSW per user: one graph per tenant.
    if users <= cfg.max_partial_users {
        let ids: Vec<i64> = sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT DISTINCT user_id FROM {copy} ORDER BY 1"
        )))
        .fetch_all(pool)
        .await
        .map_err(sql("listing the users"))?;
        let statements: Vec<String> = ids
            .iter()
            .map(|u| {
                format!(
                    "CREATE INDEX vectors_hnsw_u{n} ON {copy} USING hnsw (embedding vector_cosine_ops) WHERE user_id = {u}",
                    n = u.unsigned_abs()
                )
            })
            .collect();
        let names: Vec<String> = ids
            .iter()
            .map(|u| format!("{SCRATCH}.vectors_hnsw_u{}", u.unsigned_abs()))
            .collect();
        let built = build(pool, &statements, &names).await?;
        let partial = SearchDesign::PartialHnswPerUser;
        out.push(measure(search, &target(partial), partial, (queries, k), cfg, built).await?);
    } else {
        out.push(DesignQuality::not_measured(
            SearchDesign::PartialHnswPerUser,
            k,
            format!(
                "not measured: {users} users exceed max_partial_users = {}",
                cfg.max_partial_users
            ),
        ));
    }
    sqlx::query(AssertSqlSafe(format!("DROP SCHEMA {SCRATCH} CASCADE")))
        .execute(pool)
        .await
        .map_err(sql("dropping the scratch schema"))?;
    Ok(out)
}

/// Decision 3's other option on the same vectors and queries: Qdrant's engine
/// in-process, on a blocking thread (its build and searches are CPU-bound) that a
/// Ctrl-C stops at its next batch or sweep point.
#[cfg(feature = "qdrant")]
async fn qdrant_designs(
    search: &VectorSearch,
    queries: std::sync::Arc<Vec<Query>>,
    k: u32,
    cfg: &SearchQualityProbe,
) -> Result<Vec<DesignQuality>, ProbeError> {
    use std::sync::atomic::{AtomicBool, Ordering};
    let rows: Vec<(Uuid, i64, Vector)> = sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {id}, {user}, {emb} FROM {table} WHERE {emb} IS NOT NULL",
        id = search.id_column,
        user = search.user_column,
        emb = search.embedding_column,
        table = search.table,
    )))
    .fetch_all(&search.pool)
    .await
    .map_err(sql("reading the vectors for Qdrant"))?;
    let rows: Vec<qdrant::Row> = rows
        .into_iter()
        .map(|(id, user, v)| (id, user, v.to_vec()))
        .collect();
    /// Sets the flag when the probe's future is dropped (Ctrl-C).
    struct StopOnDrop(std::sync::Arc<AtomicBool>);
    impl Drop for StopOnDrop {
        fn drop(&mut self) {
            self.0.store(true, Ordering::Relaxed);
        }
    }
    let stop = std::sync::Arc::new(AtomicBool::new(false));
    let _guard = StopOnDrop(stop.clone());
    let (sweep, system_ef) = (cfg.ef_search.clone(), search.ef_search);
    let scratch = std::env::temp_dir().join(format!("archbench-qdrant-{}", std::process::id()));
    let rows = std::sync::Arc::new(rows);
    let mut designs = {
        let (rows, queries, sweep) = (rows.clone(), queries.clone(), sweep.clone());
        tokio::task::spawn_blocking(move || {
            qdrant::designs(&rows, &queries, k, &sweep, system_ef, &scratch, &stop)
        })
        .await
        .map_err(|e| ProbeError::Data(format!("Qdrant engine: {e}")))??
    };
    if let Some(endpoint) = qdrant_server::Endpoint::from_env() {
        designs.push(
            qdrant_server::design(&endpoint, &rows, (&queries, k), (&sweep, system_ef)).await,
        );
    }
    Ok(designs)
}

/// Without the `qdrant` feature: the line says why Qdrant has no figures.
#[cfg(not(feature = "qdrant"))]
async fn qdrant_designs(
    _search: &VectorSearch,
    _queries: std::sync::Arc<Vec<Query>>,
    k: u32,
    _cfg: &SearchQualityProbe,
) -> Result<Vec<DesignQuality>, ProbeError> {
    Ok(vec![DesignQuality::not_measured(
        SearchDesign::QdrantDefault,
        k,
        "not measured: this archbench was built without the `qdrant` feature (cargo build --features qdrant)".into(),
    )])
}

/// Builds a design's indexes one after another; their total size and wall time.
async fn build(
    pool: &PgPool,
    statements: &[String],
    names: &[String],
) -> Result<(u64, f64), ProbeError> {
    let t = Instant::now();
    for statement in statements {
        sqlx::query(AssertSqlSafe(statement.as_str()))
            .execute(pool)
            .await
            .map_err(sql("building a design's index"))?;
    }
    let seconds = t.elapsed().as_secs_f64();
    let mut bytes = 0;
    for name in names {
        bytes += index_size(pool, name).await?;
    }
    // The variants before it dropped theirs; fresh statistics for the planner.
    sqlx::query(AssertSqlSafe(format!("ANALYZE {SCRATCH}.vectors")))
        .execute(pool)
        .await
        .map_err(sql("analysing the copy"))?;
    Ok((bytes, seconds))
}

/// A design's frontier; `built` is its indexes' (bytes, seconds).
async fn measure(
    search: &VectorSearch,
    target: &Target<'_>,
    design: SearchDesign,
    (queries, k): (&[Query], u32),
    cfg: &SearchQualityProbe,
    (index_bytes, build_seconds): (u64, f64),
) -> Result<DesignQuality, ProbeError> {
    let mut conn = search
        .pool
        .acquire()
        .await
        .map_err(sql("a connection for the probe"))?;
    let (frontier, plan) = frontier(&mut conn, target, design, queries, k, &cfg.ef_search).await?;
    Ok(DesignQuality {
        design,
        k,
        recall_at_k: recall_at(&frontier, search.ef_search),
        frontier,
        index_bytes,
        build_seconds,
        plan,
        note: None,
    })
}
