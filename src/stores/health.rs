//! Health of a set of stores: versions, extensions, the TimescaleDB license, and a
//! signed S3 round trip. Also makes sure the benchmark database has its extensions.

use std::time::Duration;

use serde::Serialize;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, PgPool};

use super::{EndpointSummary, Endpoints, PostgresEndpoint, StoreError, s3};

/// Extensions both reference systems need.
pub const REQUIRED_EXTENSIONS: [&str; 2] = ["timescaledb", "vector"];

/// Opens a pool to the benchmark database.
pub async fn connect(ep: &PostgresEndpoint, max_connections: u32) -> Result<PgPool, StoreError> {
    let opts: PgConnectOptions = ep.url.expose().parse().map_err(|e| StoreError::Postgres {
        url: ep.display_url.clone(),
        context: "parsing the connection URL".into(),
        source: e,
    })?;
    // Statement logging at INFO would put every benchmark query in the log.
    let opts = opts
        .log_statements(tracing::log::LevelFilter::Trace)
        .log_slow_statements(tracing::log::LevelFilter::Debug, Duration::from_secs(1));
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(opts)
        .await
        .map_err(|e| StoreError::Postgres {
            url: ep.display_url.clone(),
            context: "connecting".into(),
            source: e,
        })
}

/// Creates the required extensions when missing; names the first one that cannot be.
/// `pg_stat_statements` is created when the server preloads it (it feeds the CPU-time
/// measure) and silently left out otherwise.
pub async fn ensure_extensions(pool: &PgPool, display_url: &str) -> Result<(), StoreError> {
    for ext in REQUIRED_EXTENSIONS {
        if extension_version(pool, ext).await?.is_some() {
            continue;
        }
        let sql = format!("CREATE EXTENSION IF NOT EXISTS {ext}");
        if let Err(e) = sqlx::query(sqlx::AssertSqlSafe(sql)).execute(pool).await {
            return Err(StoreError::MissingExtension {
                url: display_url.to_string(),
                extension: ext.to_string(),
                detail: e.to_string(),
            });
        }
    }
    let preloaded: Option<String> =
        sqlx::query_scalar("SELECT current_setting('shared_preload_libraries', true)")
            .fetch_one(pool)
            .await
            .ok()
            .flatten();
    if preloaded.is_some_and(|p| p.contains("pg_stat_statements")) {
        let _ = sqlx::query("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            .execute(pool)
            .await;
    }
    Ok(())
}

async fn extension_version(pool: &PgPool, name: &str) -> Result<Option<String>, StoreError> {
    sqlx::query_scalar("SELECT extversion FROM pg_extension WHERE extname = $1")
        .bind(name)
        .fetch_optional(pool)
        .await
        .map_err(|e| StoreError::Postgres {
            url: String::new(),
            context: format!("reading the version of extension {name}"),
            source: e,
        })
}

/// PostgreSQL as it answered.
#[derive(Debug, Clone, Serialize)]
pub struct PostgresHealth {
    /// Whether every check passed.
    pub ok: bool,
    /// Why not, when not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// `SHOW server_version`, e.g. `15.18 (Debian 15.18-0+deb12u1)`.
    pub server_version: Option<String>,
    /// `timescaledb` extension version.
    pub timescaledb: Option<String>,
    /// `vector` (pgvector) extension version.
    pub vector: Option<String>,
    /// `timescaledb.license`: `apache` (no compression, no continuous aggregates) or `timescale`.
    pub timescaledb_license: Option<String>,
    /// `pg_stat_statements` version, when loaded.
    pub pg_stat_statements: Option<String>,
}

/// The object store as it answered.
#[derive(Debug, Clone, Serialize)]
pub struct S3Health {
    /// Whether the signed round trip worked.
    pub ok: bool,
    /// Why not, when not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Endpoint URL.
    pub endpoint: String,
    /// Bucket.
    pub bucket: String,
    /// Result of the signed PUT/GET/DELETE.
    pub probe: Option<s3::S3Probe>,
}

/// Health of one set of stores.
#[derive(Debug, Clone, Serialize)]
pub struct HealthReport {
    /// Connection details, no secret.
    pub endpoints: EndpointSummary,
    /// PostgreSQL.
    pub postgres: PostgresHealth,
    /// Object storage.
    pub s3: S3Health,
}

impl HealthReport {
    /// Both stores passed.
    pub fn healthy(&self) -> bool {
        self.postgres.ok && self.s3.ok
    }

    /// A few human-readable lines.
    pub fn render_text(&self) -> String {
        let pg = &self.postgres;
        let v = |o: &Option<String>| o.clone().unwrap_or_else(|| "missing".into());
        let mut out = format!(
            "postgres  {}  {}\n          server {}, timescaledb {} (license {}), vector {}\n",
            if pg.ok { "ok  " } else { "FAIL" },
            self.endpoints.database_url,
            v(&pg.server_version),
            v(&pg.timescaledb),
            v(&pg.timescaledb_license),
            v(&pg.vector),
        );
        if let Some(e) = &pg.error {
            out.push_str(&format!("          error: {e}\n"));
        }
        out.push_str(&format!(
            "s3        {}  {} bucket {}\n",
            if self.s3.ok { "ok  " } else { "FAIL" },
            self.s3.endpoint,
            self.s3.bucket
        ));
        if let Some(p) = &self.s3.probe {
            out.push_str(&format!(
                "          signed PUT/GET/DELETE in {:.1} ms\n",
                p.round_trip_ms
            ));
        }
        if let Some(e) = &self.s3.error {
            out.push_str(&format!("          error: {e}\n"));
        }
        out
    }
}

/// Checks both stores; a failing store is reported, not returned as an error, so that
/// the other one's state is still shown.
pub async fn check(endpoints: &Endpoints) -> HealthReport {
    HealthReport {
        endpoints: endpoints.summary(),
        postgres: check_postgres(&endpoints.postgres).await,
        s3: check_s3(endpoints).await,
    }
}

async fn check_postgres(ep: &PostgresEndpoint) -> PostgresHealth {
    let mut h = PostgresHealth {
        ok: false,
        error: None,
        server_version: None,
        timescaledb: None,
        vector: None,
        timescaledb_license: None,
        pg_stat_statements: None,
    };
    let pool = match connect(ep, 1).await {
        Ok(p) => p,
        Err(e) => {
            h.error = Some(e.to_string());
            return h;
        }
    };
    let result: Result<(), StoreError> = async {
        h.server_version = sqlx::query_scalar("SHOW server_version")
            .fetch_one(&pool)
            .await
            .map_err(|e| StoreError::Postgres {
                url: ep.display_url.clone(),
                context: "SHOW server_version".into(),
                source: e,
            })?;
        h.timescaledb = extension_version(&pool, "timescaledb").await?;
        h.vector = extension_version(&pool, "vector").await?;
        h.pg_stat_statements = extension_version(&pool, "pg_stat_statements").await?;
        h.timescaledb_license =
            sqlx::query_scalar("SELECT current_setting('timescaledb.license', true)")
                .fetch_one(&pool)
                .await
                .ok()
                .flatten();
        Ok(())
    }
    .await;
    pool.close().await;
    match result {
        Err(e) => h.error = Some(e.to_string()),
        Ok(()) => {
            let missing: Vec<&str> = [("timescaledb", &h.timescaledb), ("vector", &h.vector)]
                .iter()
                .filter(|(_, v)| v.is_none())
                .map(|(n, _)| *n)
                .collect();
            if missing.is_empty() {
                h.ok = true;
            } else {
                h.error = Some(format!("missing extension(s): {}", missing.join(", ")));
            }
        }
    }
    h
}

async fn check_s3(endpoints: &Endpoints) -> S3Health {
    let ep = &endpoints.s3;
    let client = s3::client_with_retries(ep, 1);
    let probe = s3::probe(&client, ep).await;
    S3Health {
        ok: probe.is_ok(),
        error: probe.as_ref().err().map(|e| e.to_string()),
        endpoint: ep.endpoint.clone(),
        bucket: ep.bucket.clone(),
        probe: probe.ok(),
    }
}
