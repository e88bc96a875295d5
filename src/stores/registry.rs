//! The record of running local instances, so that `archbench stores down` (another
//! process) can find and stop what `archbench stores up` started, and so that stale
//! run directories of a killed archbench can be cleaned.
//!
//! Each instance owns `<run root>/<id>/` holding its data, logs, `state.json` (no
//! secret) and `env` (mode 600: the variables `--stores external` reads). The id
//! starts with the owner's pid, so that a directory whose owner was killed before it
//! could record itself is still known as stale.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::process::{alive, signal};
use super::{EndpointSummary, Endpoints, StoreError, StoreMode};

/// What `state.json` holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InstanceState {
    /// Instance id (also the directory name).
    pub id: String,
    /// The archbench process that owns the stores.
    pub owner_pid: u32,
    /// Local (the only mode with processes to record today).
    pub mode: StoreMode,
    /// Server process ids.
    pub pids: Vec<u32>,
    /// Connection details, no secret.
    pub endpoints: EndpointSummary,
    /// File with the full variables, secrets included (mode 600).
    pub env_file: PathBuf,
    /// RFC 3339 start time.
    pub started_at: String,
    /// The run directory.
    pub dir: PathBuf,
}

/// A run directory owned by this process.
pub struct Instance {
    id: String,
    dir: PathBuf,
    finished: bool,
}

impl Instance {
    /// Creates `<root>/<pid>-<random>/`, world-traversable so that a server running as
    /// another user (PostgreSQL as `postgres` when archbench is root) can reach its files.
    pub fn create(root: &Path, _mode: StoreMode) -> Result<Self, StoreError> {
        std::fs::create_dir_all(root)
            .map_err(StoreError::io(format!("creating {}", root.display())))?;
        let _ = std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o755));
        let id = format!(
            "{}-{}",
            std::process::id(),
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        let dir = root.join(&id);
        std::fs::create_dir(&dir).map_err(StoreError::io(format!("creating {}", dir.display())))?;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755))
            .map_err(StoreError::io(format!("chmod {}", dir.display())))?;
        Ok(Self {
            id,
            dir,
            finished: false,
        })
    }

    /// The run directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes `env` (mode 600) and then `state.json`, each atomically.
    pub fn record(&self, endpoints: &Endpoints, pids: &[u32]) -> Result<(), StoreError> {
        let env_file = self.dir.join("env");
        write_atomic(&env_file, endpoints.env_lines().as_bytes(), 0o600)?;
        let state = InstanceState {
            id: self.id.clone(),
            owner_pid: std::process::id(),
            mode: endpoints.mode,
            pids: pids.to_vec(),
            endpoints: endpoints.summary(),
            env_file,
            started_at: chrono::Utc::now().to_rfc3339(),
            dir: self.dir.clone(),
        };
        let json = serde_json::to_vec_pretty(&state).expect("state serialises");
        write_atomic(&self.dir.join("state.json"), &json, 0o644)
    }

    /// Removes the run directory, or with `keep` only the state file (so that `down`
    /// no longer lists it) and the env file (it holds secrets). Idempotent.
    pub fn finish(&mut self, keep: bool) {
        if self.finished {
            return;
        }
        self.finished = true;
        if keep {
            let _ = std::fs::remove_file(self.dir.join("state.json"));
            let _ = std::fs::remove_file(self.dir.join("env"));
            let _ = std::fs::write(self.dir.join(KEPT), "kept with --keep\n");
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// Writes a file atomically (see [`crate::atomic`]).
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<(), StoreError> {
    crate::atomic::write_atomic(path, bytes, mode)
        .map_err(StoreError::io(format!("writing {}", path.display())))
}

/// Marks a run directory kept on purpose (`--keep`): never reaped as stale.
const KEPT: &str = "KEPT";

/// A run directory whose owning archbench is gone (killed by a signal or the OOM
/// killer before it could clean up): servers it may have left and bytes on disk.
#[derive(Debug, Clone, Serialize)]
pub struct StaleInstance {
    /// Instance id (the directory name).
    pub id: String,
    /// The directory.
    pub dir: PathBuf,
    /// The archbench process that owned it, no longer running.
    pub owner_pid: u32,
    /// Server processes it recorded (normally gone with their owner).
    pub pids: Vec<u32>,
    /// Bytes the directory holds.
    pub bytes: u64,
}

impl StaleInstance {
    /// One line for a person: which, whose, how large, and what removes it.
    pub fn describe(&self) -> String {
        format!(
            "stale store instance {} (owner pid {} is gone), {:.1} MB in {}",
            self.id,
            self.owner_pid,
            self.bytes as f64 / 1e6,
            self.dir.display()
        )
    }
}

/// Run directories under `root` whose owner is gone, oldest first. Reads only the
/// file system and the process table: it never waits on a store.
pub fn stale(root: &Path) -> Vec<StaleInstance> {
    let Ok(entries) = std::fs::read_dir(root) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for entry in entries.flatten() {
        let dir = entry.path();
        if !dir.is_dir() || dir.join(KEPT).exists() {
            continue;
        }
        let id = entry.file_name().to_string_lossy().into_owned();
        let state: Option<InstanceState> = std::fs::read(dir.join("state.json"))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok());
        let owner = state
            .as_ref()
            .map(|s| s.owner_pid)
            .or_else(|| id.split('-').next().and_then(|p| p.parse().ok()));
        // A pid that is running again may be another process: kept, to be safe.
        let Some(owner_pid) = owner.filter(|&p| !alive(p)) else {
            continue;
        };
        found.push(StaleInstance {
            pids: state.map(|s| s.pids).unwrap_or_default(),
            bytes: size_on_disk(&dir),
            owner_pid,
            id,
            dir,
        });
    }
    found.sort_by(|a, b| a.id.cmp(&b.id));
    found
}

/// Stops whatever servers a stale instance left and removes its directory.
pub fn reap(instance: &StaleInstance) {
    super::kill_now(&instance.pids, Some(&instance.dir));
}

/// Bytes of the regular files below `dir` (links not followed).
fn size_on_disk(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => size_on_disk(&e.path()),
            Ok(t) if t.is_file() => e.metadata().map_or(0, |m| m.len()),
            _ => 0,
        })
        .sum()
}

/// Live instances recorded under `root` (their owner still runs), oldest first.
pub fn list(root: &Path) -> Vec<InstanceState> {
    let Ok(entries) = std::fs::read_dir(root) else {
        return Vec::new();
    };
    let mut v: Vec<InstanceState> = entries
        .flatten()
        .filter_map(|e| std::fs::read(e.path().join("state.json")).ok())
        .filter_map(|b| serde_json::from_slice::<InstanceState>(&b).ok())
        .filter(|s| alive(s.owner_pid))
        .collect();
    v.sort_by(|a, b| a.started_at.cmp(&b.started_at));
    v
}

/// Reads the full endpoints (secrets included) of a recorded instance from its env file.
pub fn endpoints_of(state: &InstanceState) -> Result<Endpoints, StoreError> {
    let text = std::fs::read_to_string(&state.env_file).map_err(StoreError::io(format!(
        "reading {}",
        state.env_file.display()
    )))?;
    let get = |k: &str| -> Result<String, StoreError> {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")).map(str::to_string))
            .ok_or_else(|| StoreError::Usage(format!("{}: no {k}", state.env_file.display())))
    };
    Ok(Endpoints {
        mode: state.mode,
        postgres: super::PostgresEndpoint::from_url(get("DATABASE_URL")?),
        s3: super::S3Endpoint {
            endpoint: get("S3_ENDPOINT")?,
            bucket: get("S3_BUCKET")?,
            region: get("S3_REGION")?,
            access_key_id: get("AWS_ACCESS_KEY_ID")?,
            secret_access_key: super::Secret::new(get("AWS_SECRET_ACCESS_KEY")?),
        },
    })
}

/// How an instance was stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StopOutcome {
    /// Its owner stopped the stores and removed the directory.
    OwnerStopped,
    /// The owner was gone (or did not answer): archbench signalled the servers itself.
    Reaped,
}

/// Stops one instance: asks the owning archbench to shut down (SIGTERM), waits, and if
/// the owner is gone or stuck, stops the recorded server processes directly.
pub async fn stop(state: &InstanceState, wait: Duration) -> StopOutcome {
    if state.owner_pid != std::process::id() && alive(state.owner_pid) {
        signal(state.owner_pid, libc::SIGTERM);
        let deadline = tokio::time::Instant::now() + wait;
        while alive(state.owner_pid) && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        if !alive(state.owner_pid) && !state.dir.join("state.json").exists() {
            return StopOutcome::OwnerStopped;
        }
    }
    for &pid in &state.pids {
        signal(pid, libc::SIGQUIT);
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while state.pids.iter().any(|&p| alive(p)) && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for &pid in &state.pids {
        if alive(pid) {
            signal(pid, libc::SIGKILL);
        }
    }
    let _ = std::fs::remove_dir_all(&state.dir);
    StopOutcome::Reaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_sets_mode_and_leaves_no_temp() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("env");
        write_atomic(&p, b"A=1\n", 0o600).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"A=1\n");
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 1);
    }

    /// A pid that ran and is gone.
    fn dead_pid() -> u32 {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        pid
    }

    #[test]
    fn a_directory_whose_owner_is_gone_is_stale_and_reaped_others_are_not() {
        let root = tempfile::tempdir().unwrap();
        // Killed before it recorded itself: only the pid in its name tells the owner.
        let dead = root.path().join(format!("{}-deadbeef", dead_pid()));
        std::fs::create_dir_all(dead.join("postgres/data")).unwrap();
        std::fs::write(dead.join("postgres/data/base"), vec![0u8; 4096]).unwrap();
        // Ours, running: not stale.
        let mut live = Instance::create(root.path(), StoreMode::Local).unwrap();
        // Kept with --keep by an owner now gone: not stale either.
        let kept = root.path().join(format!("{}-0000cafe", dead_pid()));
        std::fs::create_dir_all(&kept).unwrap();
        std::fs::write(kept.join(KEPT), "").unwrap();

        let found = stale(root.path());
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].dir, dead);
        assert_eq!(found[0].bytes, 4096);
        assert!(
            found[0].describe().contains("is gone"),
            "{}",
            found[0].describe()
        );
        reap(&found[0]);
        assert!(!dead.exists());
        assert!(live.dir().exists() && kept.exists());
        assert!(stale(root.path()).is_empty());
        live.finish(false);
    }

    #[test]
    fn finish_removes_the_directory_or_only_the_state_when_kept() {
        let root = tempfile::tempdir().unwrap();
        let mut a = Instance::create(root.path(), StoreMode::Local).unwrap();
        std::fs::write(a.dir().join("state.json"), "{}").unwrap();
        let a_dir = a.dir().to_path_buf();
        a.finish(false);
        assert!(!a_dir.exists());

        let mut b = Instance::create(root.path(), StoreMode::Local).unwrap();
        std::fs::write(b.dir().join("state.json"), "{}").unwrap();
        std::fs::write(b.dir().join("postgres.log"), "x").unwrap();
        b.finish(true);
        assert!(b.dir().join("postgres.log").exists());
        assert!(!b.dir().join("state.json").exists());
        assert!(
            b.dir().join(KEPT).exists(),
            "a kept directory is never reaped"
        );
    }
}
