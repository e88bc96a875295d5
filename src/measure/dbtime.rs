//! Database time per system, read from `pg_stat_statements`: the sum of execution and
//! planning time of every statement that names the system's schema. The cost model
//! turns it into compute hours. It is wall time inside the server (CPU plus any I/O or
//! lock wait), so it bounds CPU time from above.

use serde::{Deserialize, Serialize};
use sqlx::PgPool;

/// Statement time accumulated by one schema's statements.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct DbTime {
    /// Statements executed.
    pub calls: u64,
    /// Execution time, milliseconds.
    pub exec_ms: f64,
    /// Planning time, milliseconds (zero unless `pg_stat_statements.track_planning`).
    pub plan_ms: f64,
}

impl DbTime {
    /// What accumulated between `earlier` and `self`.
    pub fn since(&self, earlier: &DbTime) -> DbTime {
        DbTime {
            calls: self.calls.saturating_sub(earlier.calls),
            exec_ms: (self.exec_ms - earlier.exec_ms).max(0.0),
            plan_ms: (self.plan_ms - earlier.plan_ms).max(0.0),
        }
    }

    /// Execution plus planning, seconds.
    pub fn total_s(&self) -> f64 {
        (self.exec_ms + self.plan_ms) / 1e3
    }
}

/// Reads the running totals for statements naming `schema.`; `None` when
/// `pg_stat_statements` is not installed in this database.
pub async fn read(pool: &PgPool, schema: &str) -> Result<Option<DbTime>, sqlx::Error> {
    let installed: Option<(String,)> =
        sqlx::query_as("SELECT extversion FROM pg_extension WHERE extname = 'pg_stat_statements'")
            .fetch_optional(pool)
            .await?;
    if installed.is_none() {
        return Ok(None);
    }
    // Every statement of the reference systems is schema-qualified, so the schema name
    // followed by a dot attributes it; BEGIN/COMMIT are left out (they cost ~nothing).
    let (calls, exec_ms, plan_ms): (i64, f64, f64) = sqlx::query_as(
        "SELECT coalesce(sum(calls), 0)::bigint, coalesce(sum(total_exec_time), 0)::float8,
                coalesce(sum(total_plan_time), 0)::float8
           FROM pg_stat_statements
          WHERE query LIKE '%' || $1 || '.%'",
    )
    .bind(schema)
    .fetch_one(pool)
    .await?;
    Ok(Some(DbTime {
        calls: calls.max(0) as u64,
        exec_ms,
        plan_ms,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_subtracts_and_never_goes_negative() {
        let a = DbTime {
            calls: 10,
            exec_ms: 5.0,
            plan_ms: 1.0,
        };
        let b = DbTime {
            calls: 25,
            exec_ms: 12.5,
            plan_ms: 1.5,
        };
        let d = b.since(&a);
        assert_eq!(d.calls, 15);
        assert!((d.exec_ms - 7.5).abs() < 1e-9 && (d.plan_ms - 0.5).abs() < 1e-9);
        assert!((d.total_s() - 0.008).abs() < 1e-12);
        // A reset of the view between the two reads must not produce negative time.
        assert_eq!(a.since(&b), DbTime::default());
    }
}
