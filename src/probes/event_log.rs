//! The event-log probe: V0.2's plain events table and V0.3's hypertable, each with
//! the indexes its system really uses (copied from the systems' own tables with
//! `LIKE … INCLUDING INDEXES`, the hypertable with V0.3's chunk interval), filled with
//! the same events in a scratch schema at each size. Ingest runs in concurrent
//! writers, each a slice of the users, day by day in time order, generated inside
//! PostgreSQL (`generate_series`) so that the client is not what is measured. Then
//! the queries alone and under a writer appending newer events, and at the size with
//! the most months, retention of the oldest month.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use rand::{Rng, SeedableRng};
// Statements are built from the probe's own table names and integers, never from
// input text: safe to format.
use sqlx::postgres::PgPoolOptions;
use sqlx::{AssertSqlSafe, PgPool};

use crate::results::event_log::{
    EventLogDesign, EventLogProbe, EventLogSize, QueryLatency, Retention,
};
use crate::scenario::{EventLogConfig, EventLogSizeConfig};

/// Scratch schema (dropped before each size and at the end).
pub const SCRATCH: &str = "archbench_event_log";

/// What went wrong.
#[derive(Debug, thiserror::Error)]
#[error("event-log probe: {context}: {source}")]
pub struct ProbeError {
    context: String,
    source: sqlx::Error,
}

fn sql(context: impl Into<String>) -> impl FnOnce(sqlx::Error) -> ProbeError {
    let context = context.into();
    move |source| ProbeError { context, source }
}

async fn exec(pool: &PgPool, statement: String, context: &str) -> Result<u64, ProbeError> {
    sqlx::query(AssertSqlSafe(statement))
        .execute(pool)
        .await
        .map(|r| r.rows_affected())
        .map_err(sql(context))
}

/// One design: its table, its time column, its payload and its hour bucket.
#[derive(Clone, Copy)]
struct Design {
    key: &'static str,
    table: &'static str,
    time: &'static str,
    hypertable: bool,
}

const PLAIN: Design = Design {
    key: "v02",
    table: "archbench_event_log.plain",
    time: "created_at",
    hypertable: false,
};
const HYPER: Design = Design {
    key: "v03",
    table: "archbench_event_log.hyper",
    time: "time",
    hypertable: true,
};

impl Design {
    fn describe(self) -> &'static str {
        if self.hypertable {
            "TimescaleDB hypertable (V0.3's chunk interval), indexes as v03.events: (aggregate_id, time), (user_id, time DESC); payload a reference (file key, hash, size)"
        } else {
            "plain table, indexes as v02.events: primary key (id), (aggregate_id, id), (user_id, created_at); payload JSONB carrying the body"
        }
    }

    fn create(self) -> Vec<String> {
        if self.hypertable {
            vec![
                format!(
                    "CREATE TABLE {} (LIKE v03.events INCLUDING INDEXES)",
                    self.table
                ),
                format!(
                    "SELECT create_hypertable('{}', by_range('time', coalesce(\
                     (SELECT time_interval FROM timescaledb_information.dimensions \
                      WHERE hypertable_schema = 'v03' AND hypertable_name = 'events'), \
                     INTERVAL '1 day')))",
                    self.table
                ),
            ]
        } else {
            vec![format!(
                "CREATE TABLE {} (LIKE v02.events INCLUDING INDEXES)",
                self.table
            )]
        }
    }

    /// An INSERT of `count` events of users `first, first + step, …` (`users` of
    /// them) spread over one day from `day`; `id_base` numbers a plain table's rows.
    fn insert(
        self,
        cfg: &EventLogConfig,
        slice: &Slice,
        day: DateTime<Utc>,
        id_base: i64,
    ) -> String {
        let n = slice.users * i64::from(cfg.events_per_user_per_day);
        let user = format!(
            "({first} + {step} * (g % {users}))",
            first = slice.first,
            step = slice.step,
            users = slice.users
        );
        let at = format!(
            "(TIMESTAMPTZ '{}' + (g * 86400.0 / {n}) * INTERVAL '1 second')",
            day.to_rfc3339()
        );
        let aggregate = format!("md5({user}::text || '-' || (g / 5)::text)::uuid");
        if self.hypertable {
            format!(
                "INSERT INTO {t} (time, aggregate_id, user_id, type, version, meta) \
                 SELECT {at}, {aggregate}, {user}, 'entity.updated', 1, \
                 jsonb_build_object('fileUrl', 'v03/content/' || md5(g::text) || '.md', \
                 'hash', md5(g::text) || md5(g::text), 'size', 4096) \
                 FROM generate_series(0, {last}) g",
                t = self.table,
                last = n - 1
            )
        } else {
            format!(
                "INSERT INTO {t} (id, aggregate_id, user_id, type, version, payload, created_at) \
                 SELECT {id_base} + g, {aggregate}, {user}, 'entity.updated', 1, \
                 jsonb_build_object('title', 'probe', 'body', repeat(md5(g::text), {reps})), {at} \
                 FROM generate_series(0, {last}) g",
                t = self.table,
                reps = cfg.payload_bytes.div_ceil(32),
                last = n - 1
            )
        }
    }

    fn bucket(self) -> String {
        if self.hypertable {
            format!("time_bucket(INTERVAL '1 hour', {})", self.time)
        } else {
            format!("date_trunc('hour', {})", self.time)
        }
    }

    fn stored_bytes_sql(self) -> String {
        if self.hypertable {
            format!("SELECT hypertable_size('{}')", self.table)
        } else {
            format!("SELECT pg_total_relation_size('{}')", self.table)
        }
    }
}

/// The users one writer writes: `first, first + step, …`.
struct Slice {
    first: i64,
    step: i64,
    users: i64,
}

/// Users of the probe start here, apart from every seeded and probe user.
const FIRST_USER: i64 = 3_000_000_000;

/// The probe's record before any size, which [`probe`] fills size by size.
pub fn started(cfg: &EventLogConfig) -> EventLogProbe {
    EventLogProbe {
        design: format!(
            "both designs in a scratch schema of the same PostgreSQL, each size built afresh: \
             {} events per user per day spread evenly over whole days, {} concurrent writers \
             (each a slice of the users, day by day in time order, rows generated inside \
             PostgreSQL); queries one at a time on one connection, {} each, alone and while \
             one writer appends newer events; retention drops the oldest 30 days at the size \
             with the most months",
            cfg.events_per_user_per_day, cfg.writers, cfg.samples
        ),
        writers: cfg.writers,
        events_per_user_per_day: cfg.events_per_user_per_day,
        designs: BTreeMap::new(),
        wall_seconds: 0.0,
    }
}

/// Runs the probe into `found` (from [`started`]), each size kept as it finishes;
/// retention at the size with the most months.
pub async fn probe(
    meter: &PgPool,
    cfg: &EventLogConfig,
    seed: u64,
    out: &mut (impl std::io::Write + Send),
    found: &mut EventLogProbe,
) -> Result<(), ProbeError> {
    let started = Instant::now();
    let pool = &own_pool(meter, cfg.writers).await?;
    // Whole days, so that chunks (a day) and the month dropped align to the events.
    let end = Utc::now()
        .duration_trunc(TimeDelta::days(1))
        .unwrap_or_else(|_| Utc::now());
    let retention_at = (0..cfg.sizes.len())
        .max_by_key(|i| (cfg.sizes[*i].months, cfg.sizes[*i].users))
        .unwrap_or(0);
    for (i, size) in cfg.sizes.iter().enumerate() {
        for design in [PLAIN, HYPER] {
            let _ = writeln!(
                out,
                "event-log probe: {} — {} users × {} months ({} events)",
                design.key,
                size.users,
                size.months,
                cfg.events(size)
            );
            let measured = one_size(pool, design, cfg, size, end, seed).await?;
            let retention = if i == retention_at && size.months >= 2 {
                Some(retention(pool, design, cfg, size, end, seed).await?)
            } else {
                None
            };
            let entry = found
                .designs
                .entry(design.key.to_string())
                .or_insert_with(|| EventLogDesign {
                    design: design.describe().to_string(),
                    sizes: Vec::new(),
                    retention: None,
                });
            entry.sizes.push(measured);
            if retention.is_some() {
                entry.retention = retention;
            }
            found.wall_seconds = started.elapsed().as_secs_f64();
        }
    }
    drop_scratch(pool).await?;
    found.wall_seconds = started.elapsed().as_secs_f64();
    Ok(())
}

/// Its own connections (a writer each, the appender's, the queries'), not the meter's two.
async fn own_pool(meter: &PgPool, writers: usize) -> Result<PgPool, ProbeError> {
    PgPoolOptions::new()
        .max_connections(writers as u32 + 2)
        .acquire_timeout(Duration::from_secs(3_600))
        .connect_with((*meter.connect_options()).clone())
        .await
        .map_err(sql("opening the probe's connections"))
}

async fn drop_scratch(pool: &PgPool) -> Result<(), ProbeError> {
    exec(
        pool,
        format!("DROP SCHEMA IF EXISTS {SCRATCH} CASCADE"),
        "dropping the scratch schema",
    )
    .await
    .map(drop)
}

fn start_of(size: &EventLogSizeConfig, end: DateTime<Utc>) -> DateTime<Utc> {
    end - TimeDelta::days(30 * i64::from(size.months))
}

/// Builds one design's table at one size and measures it.
async fn one_size(
    pool: &PgPool,
    design: Design,
    cfg: &EventLogConfig,
    size: &EventLogSizeConfig,
    end: DateTime<Utc>,
    seed: u64,
) -> Result<EventLogSize, ProbeError> {
    let (events, ingest_s, wal) = build(pool, design, cfg, size, end).await?;
    let stored = stored_bytes(pool, design).await?;
    let users = size.users as i64;
    let per_user = per_user_sql(design, end);
    let all_users = format!(
        "SELECT count(*), count(DISTINCT user_id) FROM {t} WHERE {c} >= TIMESTAMPTZ '{from}' AND {c} < TIMESTAMPTZ '{to}'",
        t = design.table,
        c = design.time,
        from = (end - TimeDelta::hours(1)).to_rfc3339(),
        to = end.to_rfc3339()
    );
    let daily = format!(
        "SELECT date_trunc('day', {c}) d, count(*) FROM {t} WHERE {c} >= TIMESTAMPTZ '{from}' AND {c} < TIMESTAMPTZ '{to}' GROUP BY 1",
        t = design.table,
        c = design.time,
        from = (end - TimeDelta::days(30)).to_rfc3339(),
        to = end.to_rfc3339()
    );
    let samples = cfg.samples;
    let heavy = (samples / 10).max(5);
    let per_user_alone = time_queries(pool, &per_user, users, samples, seed).await?;
    let all_alone = time_queries(pool, &all_users, 0, samples, seed).await?;
    let daily_alone = time_queries(pool, &daily, 0, heavy, seed).await?;
    let appender = Appender::start(pool, design, cfg, size, end);
    let per_user_busy = time_queries(pool, &per_user, users, samples, seed + 1).await;
    let all_busy = time_queries(pool, &all_users, 0, samples, seed + 1).await;
    appender.stop().await?;
    Ok(EventLogSize {
        events,
        users: size.users,
        months: size.months,
        ingest_rows_per_s: events as f64 / ingest_s.max(1e-9),
        bytes_per_event: stored as f64 / events.max(1) as f64,
        stored_bytes: stored,
        wal_bytes_per_event: wal as f64 / events.max(1) as f64,
        per_user: per_user_alone,
        all_users: all_alone,
        daily_30d: daily_alone,
        per_user_under_ingest: per_user_busy?,
        all_users_under_ingest: all_busy?,
    })
}

/// The per-user query: one user's last 24 hours, per hour; `$1` is the user.
fn per_user_sql(design: Design, end: DateTime<Utc>) -> String {
    format!(
        "SELECT {b} h, count(*) FROM {t} WHERE user_id = $1 AND {c} >= TIMESTAMPTZ '{from}' AND {c} < TIMESTAMPTZ '{to}' GROUP BY 1 ORDER BY 1",
        b = design.bucket(),
        t = design.table,
        c = design.time,
        from = (end - TimeDelta::hours(24)).to_rfc3339(),
        to = end.to_rfc3339()
    )
}

/// Fresh table, concurrent ingest; (events, seconds, WAL bytes).
async fn build(
    pool: &PgPool,
    design: Design,
    cfg: &EventLogConfig,
    size: &EventLogSizeConfig,
    end: DateTime<Utc>,
) -> Result<(u64, f64, u64), ProbeError> {
    drop_scratch(pool).await?;
    exec(
        pool,
        format!("CREATE SCHEMA {SCRATCH}"),
        "creating the scratch schema",
    )
    .await?;
    for statement in design.create() {
        exec(pool, statement, "creating the design's table").await?;
    }
    let (wal_before,): (String,) = sqlx::query_as("SELECT pg_current_wal_lsn()::text")
        .fetch_one(pool)
        .await
        .map_err(sql("reading the WAL position"))?;
    let started = Instant::now();
    let writers = (cfg.writers as u64).min(size.users) as i64;
    let days = 30 * i64::from(size.months);
    let start = start_of(size, end);
    let mut tasks = Vec::new();
    for w in 0..writers {
        let pool = pool.clone();
        let cfg = cfg.clone();
        let slice = Slice {
            first: FIRST_USER + w,
            step: writers,
            users: (size.users as i64 - w + writers - 1) / writers,
        };
        tasks.push(tokio::spawn(async move {
            let per_day = slice.users * i64::from(cfg.events_per_user_per_day);
            for d in 0..days {
                let day = start + TimeDelta::days(d);
                // Ids unique across writers and days.
                let id_base = (d * writers + w) * per_day.max(1) * 2;
                let statement = design.insert(&cfg, &slice, day, id_base);
                exec(&pool, statement, "ingesting events").await?;
            }
            Ok::<(), ProbeError>(())
        }));
    }
    for t in tasks {
        t.await.expect("an ingest writer panicked")?;
    }
    let seconds = started.elapsed().as_secs_f64();
    let (wal,): (i64,) = sqlx::query_as(AssertSqlSafe(format!(
        "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '{wal_before}')::bigint"
    )))
    .fetch_one(pool)
    .await
    .map_err(sql("reading the WAL written"))?;
    exec(pool, format!("ANALYZE {}", design.table), "analysing").await?;
    let events = count(pool, design).await?;
    Ok((events, seconds, wal.max(0) as u64))
}

async fn count(pool: &PgPool, design: Design) -> Result<u64, ProbeError> {
    let (n,): (i64,) = sqlx::query_as(AssertSqlSafe(format!(
        "SELECT count(*) FROM {}",
        design.table
    )))
    .fetch_one(pool)
    .await
    .map_err(sql("counting events"))?;
    Ok(n.max(0) as u64)
}

async fn stored_bytes(pool: &PgPool, design: Design) -> Result<u64, ProbeError> {
    let (n,): (i64,) = sqlx::query_as(AssertSqlSafe(design.stored_bytes_sql()))
        .fetch_one(pool)
        .await
        .map_err(sql("sizing the table"))?;
    Ok(n.max(0) as u64)
}

/// Times `statement` `samples` times after a short warm-up, on one connection;
/// `users > 0` binds a random probe user as `$1`.
async fn time_queries(
    pool: &PgPool,
    statement: &str,
    users: i64,
    samples: usize,
    seed: u64,
) -> Result<QueryLatency, ProbeError> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut conn = pool.acquire().await.map_err(sql("a connection"))?;
    let mut times = Vec::with_capacity(samples);
    for i in 0..samples + samples.min(10) {
        let query = sqlx::query(AssertSqlSafe(statement.to_string()));
        let query = if users > 0 {
            query.bind(FIRST_USER + rng.random_range(0..users))
        } else {
            query
        };
        let t = Instant::now();
        query
            .fetch_all(&mut *conn)
            .await
            .map_err(sql("a timed query"))?;
        if i >= samples.min(10) {
            times.push(t.elapsed());
        }
    }
    Ok(latency(&mut times))
}

fn latency(times: &mut [Duration]) -> QueryLatency {
    QueryLatency {
        p50_ms: crate::probes::nearest_rank_ms(times, 0.5),
        p99_ms: crate::probes::nearest_rank_ms(times, 0.99),
        samples: times.len(),
    }
}

/// One writer appending events after the probe's end, a day per statement, until
/// stopped: the concurrent ingest the queries run beside.
struct Appender {
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<Result<(), ProbeError>>,
}

impl Appender {
    fn start(
        pool: &PgPool,
        design: Design,
        cfg: &EventLogConfig,
        size: &EventLogSizeConfig,
        end: DateTime<Utc>,
    ) -> Appender {
        let stop = Arc::new(AtomicBool::new(false));
        let (pool, cfg, flag) = (pool.clone(), cfg.clone(), stop.clone());
        // A small slice of users per statement so that it returns often.
        let slice = Slice {
            first: FIRST_USER,
            step: 1,
            users: (size.users as i64).clamp(1, 100),
        };
        let task = tokio::spawn(async move {
            let mut d = 0;
            while !flag.load(Ordering::SeqCst) {
                let day = end + TimeDelta::days(d);
                let id_base = 4_000_000_000_000 + d * 1_000_000;
                exec(
                    &pool,
                    design.insert(&cfg, &slice, day, id_base),
                    "appending events",
                )
                .await?;
                d += 1;
            }
            Ok(())
        });
        Appender { stop, task }
    }

    /// Stops it after its statement in hand (what it appended stays: each size and
    /// the retention start from a fresh table).
    async fn stop(self) -> Result<(), ProbeError> {
        self.stop.store(true, Ordering::SeqCst);
        self.task.await.expect("the appender panicked")
    }
}

/// Drops the oldest 30 days of a fresh table of `size`: `DELETE` + `VACUUM`, or
/// `drop_chunks`, with the per-user query timed beside it.
async fn retention(
    pool: &PgPool,
    design: Design,
    cfg: &EventLogConfig,
    size: &EventLogSizeConfig,
    end: DateTime<Utc>,
    seed: u64,
) -> Result<Retention, ProbeError> {
    // The measurements above appended newer events; start again from the size.
    let _ = build(pool, design, cfg, size, end).await?;
    let cutoff = start_of(size, end) + TimeDelta::days(30);
    let before = count(pool, design).await?;
    let bytes_before = stored_bytes(pool, design).await?;
    let expected = size.users * 30 * u64::from(cfg.events_per_user_per_day);
    let per_user = per_user_sql(design, end);
    let users = size.users as i64;
    let beside = {
        let (pool, per_user) = (pool.clone(), per_user.clone());
        let samples = cfg.samples;
        tokio::spawn(async move { time_queries(&pool, &per_user, users, samples, seed + 2).await })
    };
    let t = Instant::now();
    let (method, vacuum_seconds) = if design.hypertable {
        exec(
            pool,
            format!(
                "SELECT drop_chunks('{}', older_than => TIMESTAMPTZ '{}')",
                design.table,
                cutoff.to_rfc3339()
            ),
            "drop_chunks",
        )
        .await?;
        ("drop_chunks", 0.0)
    } else {
        exec(
            pool,
            format!(
                "DELETE FROM {} WHERE {} < TIMESTAMPTZ '{}'",
                design.table,
                design.time,
                cutoff.to_rfc3339()
            ),
            "deleting the oldest month",
        )
        .await?;
        let v = Instant::now();
        exec(pool, format!("VACUUM {}", design.table), "vacuuming").await?;
        ("DELETE + VACUUM", v.elapsed().as_secs_f64())
    };
    let seconds = t.elapsed().as_secs_f64() - vacuum_seconds;
    let during = beside.await.expect("the query task panicked")?;
    let after = count(pool, design).await?;
    let bytes_after = stored_bytes(pool, design).await?;
    let remaining_share = after as f64 / before.max(1) as f64;
    Ok(Retention {
        method: method.to_string(),
        rows_removed: before - after,
        rows_expected: expected,
        seconds,
        vacuum_seconds,
        bytes_before,
        bytes_after,
        bloat_bytes: (bytes_after as f64 - bytes_before as f64 * remaining_share).max(0.0) as u64,
        per_user_during: during,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_is_nearest_rank() {
        let mut t: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        let l = latency(&mut t);
        assert_eq!((l.p50_ms, l.p99_ms, l.samples), (50.0, 99.0, 100));
        assert_eq!(latency(&mut []).p50_ms, 0.0);
    }

    #[test]
    fn writers_slices_cover_every_user_once() {
        for (users, writers) in [(10i64, 4i64), (3, 3), (7, 1), (1000, 6)] {
            let mut seen = Vec::new();
            for w in 0..writers {
                let n = (users - w + writers - 1) / writers;
                seen.extend((0..n).map(|i| w + writers * i));
            }
            seen.sort();
            assert_eq!(seen, (0..users).collect::<Vec<_>>(), "{users}/{writers}");
        }
    }
}
