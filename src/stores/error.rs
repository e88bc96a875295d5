use std::path::PathBuf;
use std::time::Duration;

/// Why stores could not be started, reached or stopped. Each variant says what to do.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// `--stores auto` found nothing to use.
    #[error(
        "no stores available: DATABASE_URL is not set, no Docker engine answers, and the local binaries are not installed; run `scripts/setup` (installs PostgreSQL 15, TimescaleDB, pgvector and SeaweedFS), or set DATABASE_URL and S3_* for --stores external"
    )]
    NoStoresAvailable,

    /// A binary that local mode needs is missing.
    #[error("{what} not found (looked in: {}); run `scripts/setup` to install it", looked_in(.looked))]
    MissingBinary {
        /// What is missing, e.g. "PostgreSQL 15 (initdb)".
        what: String,
        /// Where archbench looked.
        looked: Vec<PathBuf>,
    },

    /// A port that was asked for is in use.
    #[error(
        "{store}: port {port} on 127.0.0.1 is already taken; choose another port or stop what listens there"
    )]
    PortTaken {
        /// Which store wanted the port.
        store: String,
        /// The port.
        port: u16,
    },

    /// PostgreSQL did not start; the tail of its log says why.
    #[error("PostgreSQL failed to start ({reason}); last lines of {}:\n{log_tail}", .log.display())]
    PostgresStart {
        /// What went wrong from archbench's side.
        reason: String,
        /// The server log.
        log: PathBuf,
        /// Its last lines.
        log_tail: String,
    },

    /// A process archbench started exited or failed to start.
    #[error("{store} failed to start ({reason}); last lines of {}:\n{log_tail}", .log.display())]
    ProcessStart {
        /// Which store.
        store: String,
        /// What went wrong.
        reason: String,
        /// Its log.
        log: PathBuf,
        /// Its last lines.
        log_tail: String,
    },

    /// The object store did not accept a signed request.
    #[error(
        "S3 endpoint {endpoint} (bucket {bucket}) does not answer a signed request: {detail}; check that the server runs and S3_ENDPOINT, S3_BUCKET and the AWS_* credentials are right"
    )]
    S3NotAnswering {
        /// Endpoint URL.
        endpoint: String,
        /// Bucket.
        bucket: String,
        /// The error from the SDK.
        detail: String,
    },

    /// PostgreSQL answered but could not be used.
    #[error("PostgreSQL at {url}: {context}: {source}")]
    Postgres {
        /// Redacted URL.
        url: String,
        /// What archbench was doing.
        context: String,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },

    /// A required extension is missing from the database.
    #[error(
        "PostgreSQL at {url} lacks the extension `{extension}` ({detail}); install it on the server and run `CREATE EXTENSION {extension};` as a superuser (TimescaleDB also needs shared_preload_libraries = 'timescaledb')"
    )]
    MissingExtension {
        /// Redacted URL.
        url: String,
        /// `timescaledb` or `vector`.
        extension: String,
        /// What PostgreSQL said.
        detail: String,
    },

    /// `--stores external` without the variables it needs.
    #[error(
        "--stores external: {variable} {problem}; set DATABASE_URL, S3_ENDPOINT, S3_BUCKET, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (and optionally S3_REGION)"
    )]
    ExternalConfig {
        /// The variable.
        variable: String,
        /// What is wrong with it.
        problem: String,
    },

    /// The Docker path failed.
    #[error(
        "--stores docker: {detail}; start a Docker engine (DOCKER_HOST or /var/run/docker.sock), or use --stores local after `scripts/setup`"
    )]
    Docker {
        /// What failed.
        detail: String,
    },

    /// A store did not become ready in time.
    #[error("{store} was not ready after {after:?}: {detail}")]
    Timeout {
        /// Which store.
        store: String,
        /// How long archbench waited.
        after: Duration,
        /// The last error seen.
        detail: String,
    },

    /// A file-system or process operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What archbench was doing.
        context: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },

    /// A health check failed.
    #[error("stores are not healthy: {0}")]
    Unhealthy(String),

    /// Bad command-line input about stores.
    #[error("{0}")]
    Usage(String),
}

fn looked_in(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

impl StoreError {
    /// Process exit code: 2 for usage errors, 3 for the environment.
    pub fn exit_code(&self) -> u8 {
        match self {
            StoreError::ExternalConfig { .. } | StoreError::Usage(_) => 2,
            _ => 3,
        }
    }

    pub(crate) fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> StoreError {
        let context = context.into();
        move |source| StoreError::Io { context, source }
    }
}
