//! Local mode: PostgreSQL 15 (with TimescaleDB and pgvector built by `scripts/setup`)
//! and SeaweedFS started as child processes in a private run directory, on free
//! loopback ports, so that several instances can run side by side.

mod postgres;
mod seaweed;
mod server;

pub use server::LocalServer;

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{
    Endpoints, ProvisionOptions, StoreError, StoreGuard, StoreMode, StoreProvisioner, Stores,
};
use super::{ports::PortPicker, process, registry};

/// Settings of local mode.
#[derive(Debug, Clone, Default)]
pub struct LocalOptions {
    /// Directory holding `initdb` and `postgres` (default: `ARCHBENCH_PG_BINDIR`, then
    /// `/usr/lib/postgresql/15/bin`, then `pg_config --bindir`).
    pub pg_bindir: Option<PathBuf>,
    /// The `weed` binary (default: `ARCHBENCH_WEED`, then `.tools/venv/bin/weed`, then `PATH`).
    pub weed: Option<PathBuf>,
    /// Where run directories go (default: `ARCHBENCH_RUN_ROOT`, then `$TMPDIR/archbench-<uid>`).
    pub run_root: Option<PathBuf>,
    /// Keep the run directory (data and logs) after stopping.
    pub keep: bool,
    /// Fixed PostgreSQL port instead of a free one.
    pub pg_port: Option<u16>,
    /// Fixed S3 port instead of a free one.
    pub s3_port: Option<u16>,
    /// Extra `postgres -c name=value` settings.
    pub pg_settings: Vec<(String, String)>,
    /// Cgroups the PostgreSQL server runs in (an instance profile); `None`: unlimited.
    pub confine: Option<Confinement>,
}

/// Where a local server is confined: the cgroups it joins before it executes. Made by
/// the rig (instance profiles); local mode only joins them.
#[derive(Debug, Clone, Default)]
pub struct Confinement {
    /// `cgroup.procs` files the server writes itself into.
    pub join: Vec<PathBuf>,
    /// What confines it, for an error: `instance 1cu (memory limit 4096 MiB, 1 vCPU)`.
    pub describe: String,
}

/// The binaries local mode runs, found.
#[derive(Debug, Clone)]
pub struct LocalBinaries {
    /// Directory with `initdb` and `postgres`.
    pub pg_bindir: PathBuf,
    /// The `weed` binary.
    pub weed: PathBuf,
}

const PG_MAJOR: &str = "15";

impl LocalBinaries {
    /// Finds PostgreSQL 15 with the `timescaledb` and `vector` extensions installed, and
    /// `weed`; names what is missing and the command that installs it.
    pub fn discover(opts: &LocalOptions) -> Result<Self, StoreError> {
        let pg_bindir = find_pg_bindir(opts)?;
        let sharedir = pg_sharedir(&pg_bindir);
        for (ext, what) in [
            ("timescaledb", "TimescaleDB extension"),
            ("vector", "pgvector extension"),
        ] {
            let control = sharedir.join("extension").join(format!("{ext}.control"));
            if !control.is_file() {
                return Err(StoreError::MissingBinary {
                    what: format!("{what} for PostgreSQL {PG_MAJOR}"),
                    looked: vec![control],
                });
            }
        }
        let weed = find_weed(opts)?;
        Ok(Self { pg_bindir, weed })
    }
}

fn find_pg_bindir(opts: &LocalOptions) -> Result<PathBuf, StoreError> {
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(d) = &opts.pg_bindir {
        candidates.push(d.clone());
    } else {
        if let Some(d) = std::env::var_os("ARCHBENCH_PG_BINDIR") {
            candidates.push(PathBuf::from(d));
        } else {
            candidates.push(PathBuf::from(format!("/usr/lib/postgresql/{PG_MAJOR}/bin")));
            if let Ok(out) = std::process::Command::new("pg_config")
                .arg("--bindir")
                .output()
                && out.status.success()
            {
                candidates.push(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()));
            }
        }
    }
    candidates
        .iter()
        .find(|d| d.join("initdb").is_file() && d.join("postgres").is_file())
        .cloned()
        .ok_or(StoreError::MissingBinary {
            what: format!("PostgreSQL {PG_MAJOR} (initdb, postgres)"),
            looked: candidates,
        })
}

fn pg_sharedir(bindir: &Path) -> PathBuf {
    std::process::Command::new(bindir.join("pg_config"))
        .arg("--sharedir")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()))
        .unwrap_or_else(|| PathBuf::from(format!("/usr/share/postgresql/{PG_MAJOR}")))
}

fn find_weed(opts: &LocalOptions) -> Result<PathBuf, StoreError> {
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(w) = &opts.weed {
        candidates.push(w.clone());
    } else if let Some(w) = std::env::var_os("ARCHBENCH_WEED") {
        candidates.push(PathBuf::from(w));
    } else {
        if let Ok(cwd) = std::env::current_dir() {
            candidates.push(cwd.join(".tools/venv/bin/weed"));
        }
        candidates.push(Path::new(env!("CARGO_MANIFEST_DIR")).join(".tools/venv/bin/weed"));
        if let Some(path) = std::env::var_os("PATH") {
            candidates.extend(std::env::split_paths(&path).map(|d| d.join("weed")));
        }
    }
    candidates
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .ok_or(StoreError::MissingBinary {
            what: "SeaweedFS (weed)".into(),
            looked: candidates,
        })
}

/// Root under which each instance gets its own run directory.
pub fn run_root(opts: &LocalOptions) -> PathBuf {
    if let Some(r) = &opts.run_root {
        return r.clone();
    }
    if let Some(r) = std::env::var_os("ARCHBENCH_RUN_ROOT") {
        return PathBuf::from(r);
    }
    // SAFETY: getuid cannot fail.
    let uid = unsafe { libc::getuid() };
    std::env::temp_dir().join(format!("archbench-{uid}"))
}

/// Starts local stores.
#[derive(Debug, Default, Clone, Copy)]
pub struct LocalProvisioner;

impl StoreProvisioner for LocalProvisioner {
    async fn provision(&self, opts: &ProvisionOptions) -> Result<Stores, StoreError> {
        let bins = LocalBinaries::discover(&opts.local)?;
        let root = run_root(&opts.local);
        // What killed runs left behind would otherwise pile up (gigabytes each).
        for stale in registry::stale(&root) {
            registry::reap(&stale);
            tracing::warn!("removed {}", stale.describe());
        }
        let instance = registry::Instance::create(&root, StoreMode::Local)?;
        let mut stores = LocalStores {
            instance,
            postgres: None,
            seaweed: None,
            keep: opts.local.keep,
        };
        // On any error below, dropping `stores` stops what did start.
        let mut ports = PortPicker::default();
        let pg = postgres::start(&bins, stores.instance.dir(), opts, &mut ports).await?;
        let pg_endpoint = pg.endpoint.clone();
        stores.postgres = Some(pg.server);
        // SeaweedFS binds ten ports archbench found free; another process can take one
        // in between, so a start that lost one is tried again on fresh ports.
        let mut attempt = 1;
        let sw = loop {
            match seaweed::start(&bins, stores.instance.dir(), opts, &mut ports).await {
                Err(e) if attempt < 3 && seaweed::lost_a_port(&e) => attempt += 1,
                started => break started?,
            }
        };
        let s3_endpoint = sw.endpoint.clone();
        stores.seaweed = Some(sw.server);
        let endpoints = Endpoints {
            mode: StoreMode::Local,
            postgres: pg_endpoint,
            s3: s3_endpoint,
        };
        stores.instance.record(&endpoints, &stores.pids())?;
        Ok(Stores {
            endpoints,
            guard: StoreGuard::Local(Box::new(stores)),
        })
    }
}

/// Local stores that are running; stopped by [`LocalStores::shutdown`] or on drop.
pub struct LocalStores {
    instance: registry::Instance,
    postgres: Option<LocalServer>,
    seaweed: Option<LocalServer>,
    keep: bool,
}

impl LocalStores {
    pub(crate) fn run_dir(&self) -> &Path {
        self.instance.dir()
    }

    pub(crate) fn pids(&self) -> Vec<u32> {
        [&self.postgres, &self.seaweed]
            .into_iter()
            .flatten()
            .filter_map(LocalServer::pid)
            .collect()
    }

    /// PostgreSQL's handle.
    pub(crate) fn postgres(&self) -> Option<&LocalServer> {
        self.postgres.as_ref()
    }

    /// SeaweedFS's handle.
    pub(crate) fn object_store(&self) -> Option<&LocalServer> {
        self.seaweed.as_ref()
    }

    pub(crate) async fn shutdown(mut self) -> Result<(), StoreError> {
        let grace = Duration::from_secs(15);
        let mut first_err = None;
        // Data about to be removed needs no orderly shutdown: SeaweedFS is killed and
        // PostgreSQL shuts down immediately (no checkpoint), which saves seconds; with
        // --keep both stop gracefully so that their data stays usable.
        let (weed_signal, pg_signal) = if self.keep {
            (None, None)
        } else {
            (Some(libc::SIGKILL), Some(libc::SIGQUIT))
        };
        if let Some(s) = self.seaweed.take().and_then(|s| s.take())
            && let Err(e) = s.stop_with(weed_signal, grace).await
        {
            first_err.get_or_insert(e);
        }
        if let Some(p) = self.postgres.take().and_then(|p| p.take())
            && let Err(e) = p.stop_with(pg_signal, grace).await
        {
            first_err.get_or_insert(e);
        }
        self.instance.finish(self.keep);
        match first_err {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

impl Drop for LocalStores {
    fn drop(&mut self) {
        // Not shut down gracefully (an error, a panic): stop what runs, synchronously,
        // so nothing outlives archbench. PostgreSQL gets SIGQUIT (immediate shutdown);
        // the handles are kept until then because dropping one sends SIGKILL at once.
        let procs: Vec<process::OwnedProcess> = [
            self.postgres
                .take()
                .and_then(|p| p.take())
                .map(|p| (p, libc::SIGQUIT)),
            self.seaweed
                .take()
                .and_then(|s| s.take())
                .map(|s| (s, libc::SIGKILL)),
        ]
        .into_iter()
        .flatten()
        .map(|(p, sig)| {
            process::signal(p.pid(), sig);
            p
        })
        .collect();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while procs.iter().any(|p| process::alive(p.pid())) && std::time::Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(50));
        }
        drop(procs);
        self.instance.finish(self.keep);
    }
}
