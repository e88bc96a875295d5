//! One local server as a handle that can be signalled, killed and started again on the
//! same data directory and port: what shutdown stops, and what the fault rig breaks
//! mid-run. Signals go to the server's whole process tree, because PostgreSQL is a
//! postmaster and its backends: killing or pausing the postmaster alone would leave
//! the backends serving queries.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::stores::StoreError;
use crate::stores::process::{self, OwnedProcess};

/// Starts the server again with the command it was first started with.
pub(super) type Respawn = Box<dyn Fn() -> Result<OwnedProcess, StoreError> + Send + Sync>;
/// Answers once the server serves again (a login, a signed round trip).
pub(super) type ReadyCheck =
    Box<dyn Fn() -> Pin<Box<dyn Future<Output = Result<(), StoreError>> + Send>> + Send + Sync>;

/// A local server archbench started. Clones share the process.
#[derive(Clone)]
pub struct LocalServer {
    inner: Arc<Inner>,
}

struct Inner {
    name: &'static str,
    process: Mutex<Option<OwnedProcess>>,
    respawn: Respawn,
    ready: ReadyCheck,
}

/// How long a restarted server may take to serve again (PostgreSQL replays its WAL).
const RESTART_TIMEOUT: Duration = Duration::from_secs(120);

impl LocalServer {
    pub(super) fn new(
        name: &'static str,
        process: OwnedProcess,
        respawn: Respawn,
        ready: ReadyCheck,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                name,
                process: Mutex::new(Some(process)),
                respawn,
                ready,
            }),
        }
    }

    /// `PostgreSQL` or `SeaweedFS`.
    pub fn name(&self) -> &'static str {
        self.inner.name
    }

    /// The server's process id while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.slot().as_ref().map(OwnedProcess::pid)
    }

    fn slot(&self) -> std::sync::MutexGuard<'_, Option<OwnedProcess>> {
        self.inner.process.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sends `sig` to every process of the server; returns their ids.
    pub fn signal_all(&self, sig: i32) -> Vec<u32> {
        let tree = self.pid().map(process::tree).unwrap_or_default();
        for &pid in &tree {
            process::signal(pid, sig);
        }
        tree
    }

    /// Stops every process of the server at once (SIGKILL), as a crash would, and waits
    /// until they are gone (up to 10 s).
    pub async fn kill(&self) -> Result<(), StoreError> {
        let Some(pid) = self.pid() else {
            return Ok(());
        };
        let tree = self.signal_all(libc::SIGKILL);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let exited = self
                .slot()
                .as_mut()
                .is_none_or(|p| p.exit_status().is_some());
            // The children are reaped by init once their parent is gone.
            if exited && !tree.iter().any(|&p| process::alive(p)) {
                self.slot().take();
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(StoreError::io(format!(
                    "killing {} (pid {pid})",
                    self.name()
                ))(std::io::Error::other(
                    "still running 10 s after SIGKILL",
                )));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Starts a killed server again with its first command, on the same data and port,
    /// and waits until it serves.
    pub async fn restart(&self) -> Result<(), StoreError> {
        if self.pid().is_none() {
            let process = (self.inner.respawn)()?;
            *self.slot() = Some(process);
        }
        let deadline = tokio::time::Instant::now() + RESTART_TIMEOUT;
        loop {
            if let Some(exit) = self.slot().as_mut().and_then(OwnedProcess::exited) {
                return Err(StoreError::io(format!("restarting {}", self.name()))(
                    std::io::Error::other(exit),
                ));
            }
            match (self.inner.ready)().await {
                Ok(()) => return Ok(()),
                Err(e) if tokio::time::Instant::now() >= deadline => {
                    return Err(StoreError::Timeout {
                        store: self.name().into(),
                        after: RESTART_TIMEOUT,
                        detail: e.to_string(),
                    });
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }

    /// Takes the process out of the handle, to stop it: a paused server is continued
    /// first, or it would not act on the stop signal.
    pub(super) fn take(&self) -> Option<OwnedProcess> {
        self.signal_all(libc::SIGCONT);
        self.slot().take()
    }
}
