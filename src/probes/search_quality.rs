//! The search-quality probe: how often does each search design find the true k
//! nearest of a user's entities, and at what latency? The truth is computed here, in
//! f64 from the stored vectors of the query's user (an exact scan no index can bend);
//! a returned row counts if its true distance is within the k-th true distance (ties
//! included, as ann-benchmarks counts them). Each HNSW design is swept over
//! `ef_search` for its recall–latency frontier. The system's own design is timed on
//! its own table; the other designs on a copy of its vectors in a scratch schema, so
//! that each runs with its own index alone.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::time::{Duration, Instant};

use pgvector::Vector;
use rand::SeedableRng;
// Statements are built from the system's static table and column names and from
// integers, never from input text: safe to format.
use sqlx::{AssertSqlSafe, PgConnection, PgPool};
use uuid::Uuid;

use crate::arch::{VectorSearch, embedding};
use crate::loadgen::content;
use crate::results::search_quality::{DesignQuality, FrontierPoint, SearchDesign, SearchQuality};
use crate::scenario::SearchQualityProbe;

/// Scratch schema for the other designs' copies (dropped before and after).
const SCRATCH: &str = "archbench_search_probe";

/// A returned row within this of the k-th true distance counts as a true neighbour
/// (float rounding between pgvector's f32 and the f64 truth).
const TIE_EPSILON: f64 = 1e-5;

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

/// One query of the fixed set.
struct Query {
    user: i64,
    vector: Vector,
    /// Row ids within the k-th true distance, with that distance.
    truth: Truth,
}

struct Truth {
    /// The k-th smallest true distance among the user's rows (∞ when none).
    kth: f64,
    /// Per row of the user, its true distance to the query.
    distance: HashMap<Uuid, f64>,
    /// min(k, the user's rows): the most a search can find.
    reachable: usize,
}

impl Truth {
    /// Recall of `found`: rows of the user within the k-th true distance, over the
    /// reachable count (a row of another user, or beyond, counts nothing).
    fn recall(&self, found: &[Uuid]) -> f64 {
        if self.reachable == 0 {
            return 1.0;
        }
        let hits = found
            .iter()
            .filter(|id| {
                self.distance
                    .get(id)
                    .is_some_and(|d| *d <= self.kth + TIE_EPSILON)
            })
            .count()
            .min(self.reachable);
        hits as f64 / self.reachable as f64
    }
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
    let queries = queries(search, users, seed, k, cfg.queries).await?;
    let own = own_design(search, &queries, k, cfg).await?;
    let mut designs = vec![own.clone()];
    if cfg.variants && own.design == SearchDesign::GlobalHnswFiltered {
        designs.extend(variants(search, &queries, k, cfg, distinct as u64).await?);
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

/// Cosine distance in f64, as pgvector's `<=>` defines it.
fn cosine_distance(a: &[f32], b: &[f32]) -> f64 {
    let (mut dot, mut na, mut nb) = (0f64, 0f64, 0f64);
    for (x, y) in a.iter().zip(b) {
        let (x, y) = (f64::from(*x), f64::from(*y));
        dot += x * y;
        na += x * x;
        nb += y * y;
    }
    if na == 0.0 || nb == 0.0 {
        // pgvector answers NaN for a zero vector; it sorts last there.
        return f64::INFINITY;
    }
    1.0 - dot / (na.sqrt() * nb.sqrt())
}

fn truth(q: &[f32], rows: &[(Uuid, Vec<f32>)], k: usize) -> Truth {
    let distance: HashMap<Uuid, f64> = rows
        .iter()
        .map(|(id, v)| (*id, cosine_distance(q, v)))
        .collect();
    let mut sorted: Vec<f64> = distance.values().copied().collect();
    sorted.sort_by(f64::total_cmp);
    let reachable = k.min(sorted.len());
    let kth = if reachable == 0 {
        f64::INFINITY
    } else {
        sorted[reachable - 1]
    };
    Truth {
        kth,
        distance,
        reachable,
    }
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

/// Recall at the system's `ef_search`: the frontier's point at it, else the nearest.
fn recall_at(frontier: &[FrontierPoint], ef: Option<u32>) -> f64 {
    let nearest = |p: &&FrontierPoint| match (p.ef_search, ef) {
        (Some(a), Some(b)) => a.abs_diff(b),
        _ => 0,
    };
    frontier
        .iter()
        .min_by_key(nearest)
        .map_or(0.0, |p| p.recall)
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

/// Where a design's query runs.
struct Target<'a> {
    table: &'a str,
    id: &'a str,
    user: &'a str,
    embedding: &'a str,
    /// The user id written into the statement (a partial index is only chosen when
    /// the planner sees the constant its predicate names).
    user_literal: bool,
    /// Ties broken by id, as V0.2's exact query does. An HNSW index yields rows by
    /// distance alone: a second sort key would rule the index out (V0.3's query has
    /// none), so the HNSW designs order by distance only.
    tie_break: bool,
}

impl Target<'_> {
    fn statement(&self, user: i64) -> String {
        let filter = if self.user_literal {
            user.to_string()
        } else {
            "$3".to_string()
        };
        let tie_break = if self.tie_break {
            format!(", {}", self.id)
        } else {
            String::new()
        };
        format!(
            "SELECT {id} FROM {table} WHERE {user_col} = {filter} AND {emb} IS NOT NULL \
             ORDER BY {emb} <=> $1{tie_break} LIMIT $2",
            id = self.id,
            table = self.table,
            user_col = self.user,
            emb = self.embedding,
        )
    }
}

/// Every `ef_search` of the sweep (one point for an exact design): warm-up, then
/// each query once, timed on one connection.
async fn frontier(
    conn: &mut PgConnection,
    target: &Target<'_>,
    design: SearchDesign,
    queries: &[Query],
    k: u32,
    sweep: &[u32],
) -> Result<(Vec<FrontierPoint>, String), ProbeError> {
    let settings: Vec<Option<u32>> = if design.uses_hnsw() {
        sweep.iter().copied().map(Some).collect()
    } else {
        vec![None]
    };
    // An exact design must not use an HNSW index the table may have; a b-tree bitmap
    // scan of the user's rows and a sort is what it is.
    let index_scans = if design.uses_hnsw() { "on" } else { "off" };
    sqlx::query(AssertSqlSafe(format!(
        "SET enable_indexscan = {index_scans}"
    )))
    .execute(&mut *conn)
    .await
    .map_err(sql("setting the scan"))?;
    sqlx::query("SET hnsw.iterative_scan = strict_order")
        .execute(&mut *conn)
        .await
        .map_err(sql("setting the iterative scan"))?;
    let natural = match queries.first() {
        Some(q) => plan(conn, target, q, k).await?,
        None => String::new(),
    };
    // Below some table size the planner prefers a sequential scan (exact) to the HNSW
    // index; production's table is far larger. The frontier is the index's, so a
    // sequential scan is ruled out for the HNSW designs, and both plans are kept.
    let plan = if design.uses_hnsw() && natural.contains("Seq Scan") {
        sqlx::query("SET enable_seqscan = off")
            .execute(&mut *conn)
            .await
            .map_err(sql("ruling out the sequential scan"))?;
        let forced = match queries.first() {
            Some(q) => plan(conn, target, q, k).await?,
            None => String::new(),
        };
        format!("planner's choice: {natural}; measured with enable_seqscan off: {forced}")
    } else {
        natural
    };
    let mut points = Vec::with_capacity(settings.len());
    for ef in settings {
        if let Some(ef) = ef {
            sqlx::query(AssertSqlSafe(format!("SET hnsw.ef_search = {ef}")))
                .execute(&mut *conn)
                .await
                .map_err(sql("setting ef_search"))?;
        }
        // Warm-up: plans and the index's upper layers cached, as in steady state.
        for q in queries.iter().take(queries.len().min(20)) {
            run_query(conn, target, q, k).await?;
        }
        let mut times = Vec::with_capacity(queries.len());
        let mut recall = 0.0;
        for q in queries {
            let t = Instant::now();
            let found = run_query(conn, target, q, k).await?;
            times.push(t.elapsed());
            recall += q.truth.recall(&found);
        }
        points.push(FrontierPoint {
            ef_search: ef,
            recall: recall / queries.len().max(1) as f64,
            p50_ms: percentile_ms(&mut times, 0.50),
            p99_ms: percentile_ms(&mut times, 0.99),
        });
    }
    for reset in ["RESET enable_indexscan", "RESET enable_seqscan"] {
        sqlx::query(reset)
            .execute(&mut *conn)
            .await
            .map_err(sql("resetting the scan"))?;
    }
    sqlx::query("SET hnsw.ef_search = 100")
        .execute(&mut *conn)
        .await
        .map_err(sql("resetting ef_search"))?;
    Ok((points, plan))
}

/// The plan's scan nodes for one query, e.g. `Index Scan using embeddings_hnsw on
/// embeddings`, joined by `; `.
async fn plan(
    conn: &mut PgConnection,
    target: &Target<'_>,
    q: &Query,
    k: u32,
) -> Result<String, ProbeError> {
    let statement = format!("EXPLAIN {}", target.statement(q.user));
    let query = sqlx::query_scalar::<_, String>(AssertSqlSafe(statement))
        .bind(&q.vector)
        .bind(i64::from(k));
    let query = if target.user_literal {
        query
    } else {
        query.bind(q.user)
    };
    let lines = query
        .fetch_all(&mut *conn)
        .await
        .map_err(sql("explaining a search query"))?;
    Ok(lines
        .iter()
        .filter(|l| l.contains("Scan"))
        .map(|l| {
            let l = l.trim().trim_start_matches("->").trim();
            l.split("  (").next().unwrap_or(l).to_string()
        })
        .collect::<Vec<_>>()
        .join("; "))
}

async fn run_query(
    conn: &mut PgConnection,
    target: &Target<'_>,
    q: &Query,
    k: u32,
) -> Result<Vec<Uuid>, ProbeError> {
    let statement = target.statement(q.user);
    let query = sqlx::query_scalar::<_, Uuid>(AssertSqlSafe(statement))
        .bind(&q.vector)
        .bind(i64::from(k));
    let query = if target.user_literal {
        query
    } else {
        query.bind(q.user)
    };
    query
        .fetch_all(&mut *conn)
        .await
        .map_err(sql("a search query"))
}

/// Nearest-rank percentile of `times`, ms.
fn percentile_ms(times: &mut [Duration], q: f64) -> f64 {
    if times.is_empty() {
        return 0.0;
    }
    times.sort();
    let rank = ((q * times.len() as f64).ceil() as usize).clamp(1, times.len());
    times[rank - 1].as_secs_f64() * 1000.0
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
        out.push(DesignQuality {
            design: SearchDesign::PartialHnswPerUser,
            k,
            recall_at_k: 0.0,
            frontier: Vec::new(),
            index_bytes: 0,
            build_seconds: 0.0,
            plan: String::new(),
            note: Some(format!(
                "not measured: {users} users exceed max_partial_users = {}",
                cfg.max_partial_users
            )),
        });
    }
    sqlx::query(AssertSqlSafe(format!("DROP SCHEMA {SCRATCH} CASCADE")))
        .execute(pool)
        .await
        .map_err(sql("dropping the scratch schema"))?;
    Ok(out)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    #[test]
    fn recall_counts_rows_within_the_kth_true_distance_ties_included() {
        let rows = vec![
            (id(1), vec![1.0, 0.0]),
            (id(2), vec![0.9, 0.1]),
            (id(3), vec![0.9, 0.1]), // a tie with 2
            (id(4), vec![0.0, 1.0]),
        ];
        let t = truth(&[1.0, 0.0], &rows, 2);
        assert_eq!(t.reachable, 2);
        assert_eq!(t.recall(&[id(1), id(2)]), 1.0);
        // The tie is as good as the row it ties with.
        assert_eq!(t.recall(&[id(1), id(3)]), 1.0);
        assert_eq!(t.recall(&[id(1), id(4)]), 0.5);
        // Another user's row counts nothing.
        assert_eq!(t.recall(&[id(9), id(4)]), 0.0);
        // A user with fewer rows than k: all of them is full recall.
        let t = truth(&[1.0, 0.0], &rows[..1], 10);
        assert_eq!(t.reachable, 1);
        assert_eq!(t.recall(&[id(1)]), 1.0);
    }

    #[test]
    fn cosine_distance_matches_pgvector_definition() {
        assert!((cosine_distance(&[1.0, 0.0], &[1.0, 0.0])).abs() < 1e-12);
        assert!((cosine_distance(&[1.0, 0.0], &[0.0, 1.0]) - 1.0).abs() < 1e-12);
        assert!((cosine_distance(&[1.0, 0.0], &[-2.0, 0.0]) - 2.0).abs() < 1e-12);
        assert!(cosine_distance(&[0.0, 0.0], &[1.0, 0.0]).is_infinite());
    }

    #[test]
    fn recall_at_picks_the_systems_ef_search_or_the_nearest() {
        let p = |ef, recall| FrontierPoint {
            ef_search: Some(ef),
            recall,
            p50_ms: 1.0,
            p99_ms: 2.0,
        };
        let f = [p(40, 0.8), p(100, 0.9), p(400, 0.99)];
        assert_eq!(recall_at(&f, Some(100)), 0.9);
        assert_eq!(recall_at(&f, Some(300)), 0.99);
        assert_eq!(recall_at(&[], Some(100)), 0.0);
    }
}
