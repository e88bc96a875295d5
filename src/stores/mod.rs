//! Store provisioning: starts, checks and stops the stores both reference systems run
//! on — PostgreSQL with TimescaleDB and pgvector, and an S3-compatible object store.
//!
//! Three ways to get them behind one seam, [`StoreProvisioner`]: `local` starts
//! PostgreSQL 15 and SeaweedFS as child processes; `docker` starts containers through
//! testcontainers; `external` connects to stores someone else runs. Whatever starts
//! stores also stops them, on drop, on error and on Ctrl-C.

mod docker;
mod error;
mod external;
pub mod health;
mod local;
mod ports;
mod process;
pub mod registry;
pub mod s3;
mod secret;

use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

pub use docker::{DockerConfig, DockerProvisioner, docker_engine_answers};
pub use error::StoreError;
pub use external::ExternalProvisioner;
pub use local::{
    Confinement, LocalBinaries, LocalOptions, LocalProvisioner, LocalServer, run_root,
};
pub use process::alive as local_alive;
pub use secret::{Secret, redact_url};

/// How to obtain the stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum StoreMode {
    /// External when `DATABASE_URL` is set, else Docker when an engine answers, else
    /// local binaries when installed.
    #[default]
    Auto,
    /// PostgreSQL 15 + SeaweedFS started by archbench as child processes.
    Local,
    /// timescale/timescaledb-ha and minio/minio through testcontainers.
    Docker,
    /// `DATABASE_URL` and `S3_ENDPOINT`/`S3_BUCKET`/`AWS_*`/`S3_REGION` from the environment.
    External,
}

impl std::fmt::Display for StoreMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            StoreMode::Auto => "auto",
            StoreMode::Local => "local",
            StoreMode::Docker => "docker",
            StoreMode::External => "external",
        })
    }
}

/// Where the PostgreSQL database is and how to log in.
#[derive(Debug, Clone)]
pub struct PostgresEndpoint {
    /// Full connection URL, password included: a [`Secret`].
    pub url: Secret,
    /// The same URL with the password replaced by `***`, for printing.
    pub display_url: String,
}

impl PostgresEndpoint {
    /// Builds the endpoint from a URL that may carry a password.
    pub fn from_url(url: impl Into<String>) -> Self {
        let url = url.into();
        Self {
            display_url: redact_url(&url),
            url: Secret::new(url),
        }
    }
}

/// Where the S3-compatible object store is and how to sign requests to it.
#[derive(Debug, Clone)]
pub struct S3Endpoint {
    /// Endpoint URL, e.g. `http://127.0.0.1:41000`.
    pub endpoint: String,
    /// The benchmark bucket.
    pub bucket: String,
    /// SigV4 region (`us-east-1` for SeaweedFS and MinIO, `auto` for R2).
    pub region: String,
    /// Access key id: not secret on its own, printed.
    pub access_key_id: String,
    /// Secret access key: never printed.
    pub secret_access_key: Secret,
}

/// The two servers of local mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocalServerKind {
    /// PostgreSQL with TimescaleDB and pgvector.
    Postgres,
    /// SeaweedFS serving S3.
    ObjectStore,
}

/// Connection details of a running set of stores.
#[derive(Debug, Clone)]
pub struct Endpoints {
    /// How the stores were obtained.
    pub mode: StoreMode,
    /// PostgreSQL with TimescaleDB and pgvector.
    pub postgres: PostgresEndpoint,
    /// S3-compatible object storage.
    pub s3: S3Endpoint,
}

impl Endpoints {
    /// The variables that `--stores external` reads, secrets included: for the env file
    /// written with mode 600, never for a terminal.
    pub fn env_lines(&self) -> String {
        format!(
            "DATABASE_URL={}\nS3_ENDPOINT={}\nS3_BUCKET={}\nS3_REGION={}\nAWS_ACCESS_KEY_ID={}\nAWS_SECRET_ACCESS_KEY={}\n",
            self.postgres.url.expose(),
            self.s3.endpoint,
            self.s3.bucket,
            self.s3.region,
            self.s3.access_key_id,
            self.s3.secret_access_key.expose(),
        )
    }

    /// The printable summary: no secret in it.
    pub fn summary(&self) -> EndpointSummary {
        EndpointSummary {
            mode: self.mode,
            database_url: self.postgres.display_url.clone(),
            s3_endpoint: self.s3.endpoint.clone(),
            s3_bucket: self.s3.bucket.clone(),
            s3_region: self.s3.region.clone(),
            aws_access_key_id: self.s3.access_key_id.clone(),
        }
    }
}

/// Connection details safe to print or store: passwords and secret keys left out.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct EndpointSummary {
    /// How the stores were obtained.
    pub mode: StoreMode,
    /// PostgreSQL URL with the password redacted.
    pub database_url: String,
    /// S3 endpoint URL.
    pub s3_endpoint: String,
    /// Benchmark bucket.
    pub s3_bucket: String,
    /// SigV4 region.
    pub s3_region: String,
    /// Access key id.
    pub aws_access_key_id: String,
}

impl<'de> serde::Deserialize<'de> for StoreMode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        <StoreMode as clap::ValueEnum>::from_str(&s, true).map_err(serde::de::Error::custom)
    }
}

/// Options common to every provisioning mode.
#[derive(Debug, Clone)]
pub struct ProvisionOptions {
    /// Name of the benchmark database (local and docker modes create it).
    pub database: String,
    /// Name of the benchmark bucket (local and docker modes create it).
    pub bucket: String,
    /// How long a store may take to become ready.
    pub ready_timeout: Duration,
    /// Settings for local mode.
    pub local: LocalOptions,
}

impl Default for ProvisionOptions {
    fn default() -> Self {
        Self {
            database: "archbench".into(),
            bucket: "archbench".into(),
            ready_timeout: Duration::from_secs(60),
            local: LocalOptions::default(),
        }
    }
}

/// A running set of stores. Dropping it stops whatever archbench started; prefer
/// [`Stores::shutdown`], which stops them gracefully and reports failures.
pub struct Stores {
    /// How to reach them.
    pub endpoints: Endpoints,
    guard: StoreGuard,
}

/// What has to be stopped when the stores are no longer needed.
pub(crate) enum StoreGuard {
    Local(Box<local::LocalStores>),
    Docker(Box<docker::DockerStores>),
    External,
}

impl Stores {
    /// The run directory of local stores (`None` for docker and external).
    pub fn run_dir(&self) -> Option<PathBuf> {
        match &self.guard {
            StoreGuard::Local(l) => Some(l.run_dir().to_path_buf()),
            _ => None,
        }
    }

    /// Process ids of the server processes archbench started (local mode).
    pub fn child_pids(&self) -> Vec<u32> {
        match &self.guard {
            StoreGuard::Local(l) => l.pids(),
            _ => Vec::new(),
        }
    }

    /// The handle of a server archbench started and can break and restart (local mode).
    pub fn local_server(&self, which: LocalServerKind) -> Option<LocalServer> {
        match (&self.guard, which) {
            (StoreGuard::Local(l), LocalServerKind::Postgres) => l.postgres().cloned(),
            (StoreGuard::Local(l), LocalServerKind::ObjectStore) => l.object_store().cloned(),
            _ => None,
        }
    }

    /// Stops the stores archbench started and removes their run directory unless kept.
    pub async fn shutdown(self) -> Result<(), StoreError> {
        match self.guard {
            StoreGuard::Local(l) => (*l).shutdown().await,
            StoreGuard::Docker(d) => d.shutdown().await,
            StoreGuard::External => Ok(()),
        }
    }
}

/// Stops local servers at once (SIGKILL) and removes their run directory: for a second
/// Ctrl-C, which does not wait for a graceful shutdown, and for stale instances. Synchronous, so that it can
/// run right before the process exits.
pub fn kill_now(pids: &[u32], run_dir: Option<&std::path::Path>) {
    // The whole tree: a backend stopped by a pause fault would never see its
    // postmaster die.
    for &pid in pids.iter().filter(|&&p| process::alive(p)) {
        for member in process::tree(pid) {
            process::signal(member, libc::SIGKILL);
        }
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    while pids.iter().any(|&p| process::alive(p)) && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    if let Some(dir) = run_dir {
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// The seam between "I need stores" and how they come to exist.
pub trait StoreProvisioner {
    /// Starts (or connects to) the stores, waits until they answer, and makes sure the
    /// benchmark database has its extensions and the bucket exists.
    fn provision(
        &self,
        opts: &ProvisionOptions,
    ) -> impl std::future::Future<Output = Result<Stores, StoreError>> + Send;
}

/// Resolves `auto` to a concrete mode: external when configured, else Docker when an
/// engine answers, else local binaries when installed.
pub async fn resolve_mode(
    mode: StoreMode,
    opts: &ProvisionOptions,
) -> Result<StoreMode, StoreError> {
    if mode != StoreMode::Auto {
        return Ok(mode);
    }
    if ExternalProvisioner::configured() {
        return Ok(StoreMode::External);
    }
    if docker_engine_answers().await {
        return Ok(StoreMode::Docker);
    }
    match LocalBinaries::discover(&opts.local) {
        Ok(_) => Ok(StoreMode::Local),
        Err(_) => Err(StoreError::NoStoresAvailable),
    }
}

/// Provisions stores in the given mode (`auto` resolved first).
pub async fn provision(mode: StoreMode, opts: &ProvisionOptions) -> Result<Stores, StoreError> {
    match resolve_mode(mode, opts).await? {
        StoreMode::Local => LocalProvisioner.provision(opts).await,
        StoreMode::Docker => DockerProvisioner::default().provision(opts).await,
        StoreMode::External => ExternalProvisioner::from_env()?.provision(opts).await,
        StoreMode::Auto => unreachable!("resolve_mode never returns auto"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoints() -> Endpoints {
        Endpoints {
            mode: StoreMode::Local,
            postgres: PostgresEndpoint::from_url(
                "postgres://bench:topsecret@127.0.0.1:5999/archbench",
            ),
            s3: S3Endpoint {
                endpoint: "http://127.0.0.1:41000".into(),
                bucket: "archbench".into(),
                region: "us-east-1".into(),
                access_key_id: "AKIDEXAMPLE".into(),
                secret_access_key: Secret::new("alsosecret"),
            },
        }
    }

    #[test]
    fn summary_and_debug_carry_no_secret() {
        let e = endpoints();
        let json = serde_json::to_string(&e.summary()).unwrap();
        let dbg = format!("{e:?}");
        for text in [&json, &dbg] {
            assert!(!text.contains("topsecret"), "{text}");
            assert!(!text.contains("alsosecret"), "{text}");
        }
        assert!(json.contains("postgres://bench:***@127.0.0.1:5999/archbench"));
    }

    #[test]
    fn env_lines_hold_what_external_mode_reads() {
        let lines = endpoints().env_lines();
        for key in [
            "DATABASE_URL=postgres://bench:topsecret@",
            "S3_ENDPOINT=http://127.0.0.1:41000",
            "S3_BUCKET=archbench",
            "S3_REGION=us-east-1",
            "AWS_ACCESS_KEY_ID=AKIDEXAMPLE",
            "AWS_SECRET_ACCESS_KEY=alsosecret",
        ] {
            assert!(lines.contains(key), "missing {key}");
        }
    }

    #[test]
    fn store_mode_round_trips_through_serde() {
        for m in [
            StoreMode::Auto,
            StoreMode::Local,
            StoreMode::Docker,
            StoreMode::External,
        ] {
            let s = serde_json::to_string(&m).unwrap();
            assert_eq!(serde_json::from_str::<StoreMode>(&s).unwrap(), m);
            assert_eq!(s, format!("\"{m}\""));
        }
    }
}
