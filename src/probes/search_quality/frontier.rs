//! Timing one design: its statement, its plan, and the recall–latency frontier over
//! `ef_search`, one query at a time on one connection.

use std::time::Instant;

// Statements are built from the system's static table and column names and from
// integers, never from input text: safe to format.
use sqlx::{AssertSqlSafe, PgConnection};
use uuid::Uuid;

use super::truth::Query;
use super::{ProbeError, sql};
use crate::arch::EF_SEARCH;
use crate::probes::nearest_rank_ms;
use crate::results::search_quality::{FrontierPoint, SearchDesign};

/// Where a design's query runs.
pub(super) struct Target<'a> {
    pub(super) table: &'a str,
    pub(super) id: &'a str,
    pub(super) user: &'a str,
    pub(super) embedding: &'a str,
    /// The user id written into the statement (a partial index is only chosen when
    /// the planner sees the constant its predicate names).
    pub(super) user_literal: bool,
    /// Ties broken by id, as V0.2's exact query does. An HNSW index yields rows by
    /// distance alone: a second sort key would rule the index out (V0.3's query has
    /// none), so the HNSW designs order by distance only.
    pub(super) tie_break: bool,
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
pub(super) async fn frontier(
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
    set(conn, format!("SET enable_indexscan = {index_scans}")).await?;
    set(conn, "SET hnsw.iterative_scan = strict_order".into()).await?;
    let natural = match queries.first() {
        Some(q) => plan(conn, target, q, k).await?,
        None => String::new(),
    };
    // Below some table size the planner prefers a sequential scan (exact) to the HNSW
    // index; production's table is far larger. The frontier is the index's, so a
    // sequential scan is ruled out for the HNSW designs, and both plans are kept.
    let plan = if design.uses_hnsw() && natural.contains("Seq Scan") {
        set(conn, "SET enable_seqscan = off".into()).await?;
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
            set(conn, format!("SET hnsw.ef_search = {ef}")).await?;
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
        points.push(point(ef, &mut times, recall));
    }
    // Back to the system's own settings (the connection returns to its pool).
    set(conn, "RESET enable_indexscan".into()).await?;
    set(conn, "RESET enable_seqscan".into()).await?;
    set(conn, format!("SET hnsw.ef_search = {EF_SEARCH}")).await?;
    Ok((points, plan))
}

/// A session setting on the probe's connection.
async fn set(conn: &mut PgConnection, statement: String) -> Result<(), ProbeError> {
    let context = format!("`{statement}`");
    sqlx::query(AssertSqlSafe(statement))
        .execute(&mut *conn)
        .await
        .map(drop)
        .map_err(sql(context))
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
    let lines: Vec<String> = fetch(conn, target, statement, q, k)
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
    fetch(conn, target, target.statement(q.user), q, k)
        .await
        .map_err(sql("a search query"))
}

/// Runs a design's statement (or its EXPLAIN) for `q` with its parameters bound:
/// the query vector, k, and the user unless the statement names it.
async fn fetch<T>(
    conn: &mut PgConnection,
    target: &Target<'_>,
    statement: String,
    q: &Query,
    k: u32,
) -> Result<Vec<T>, sqlx::Error>
where
    T: Send + Unpin + for<'r> sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
{
    let query = sqlx::query_scalar::<_, T>(AssertSqlSafe(statement))
        .bind(&q.vector)
        .bind(i64::from(k));
    let query = if target.user_literal {
        query
    } else {
        query.bind(q.user)
    };
    query.fetch_all(&mut *conn).await
}

/// A frontier point from one timed pass over the query set: each query's latency,
/// and the recalls summed (their mean is the point's recall).
pub(super) fn point(
    ef_search: Option<u32>,
    times: &mut [std::time::Duration],
    recall_sum: f64,
) -> FrontierPoint {
    FrontierPoint {
        ef_search,
        recall: recall_sum / times.len().max(1) as f64,
        p50_ms: nearest_rank_ms(times, 0.50),
        p99_ms: nearest_rank_ms(times, 0.99),
    }
}

/// Recall at the system's `ef_search`: the frontier's point at it, else the nearest.
pub(super) fn recall_at(frontier: &[FrontierPoint], ef: Option<u32>) -> f64 {
    let nearest = |p: &&FrontierPoint| match (p.ef_search, ef) {
        (Some(a), Some(b)) => a.abs_diff(b),
        _ => 0,
    };
    frontier
        .iter()
        .min_by_key(nearest)
        .map_or(0.0, |p| p.recall)
}

#[cfg(test)]
mod tests {
    use super::*;

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
