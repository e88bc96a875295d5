//! Ctrl-C, SIGTERM and SIGHUP, for every stage that must stop cleanly: a watch that
//! remembers a signal until someone asks, and the error a stopped command returns.

/// Waits for Ctrl-C or SIGTERM (what `archbench stores down` sends) or SIGHUP.
pub async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).ok();
    let mut hup = signal(SignalKind::hangup()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {}
        _ = async { match hup.as_mut() { Some(h) => { h.recv().await; } None => std::future::pending().await } } => {}
    }
}

/// Ctrl-C / SIGTERM / SIGHUP, listened for from the moment it is installed: a signal
/// that arrives while no one is awaiting it is remembered, not lost (a fresh
/// `ctrl_c()` future only sees signals delivered after it is first polled).
#[derive(Clone)]
pub struct ShutdownWatch {
    fired: std::sync::Arc<std::sync::atomic::AtomicBool>,
    notify: std::sync::Arc<tokio::sync::Notify>,
    task: std::sync::Arc<tokio::task::JoinHandle<()>>,
}

impl ShutdownWatch {
    /// Starts listening now.
    pub fn install() -> Self {
        let fired = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let notify = std::sync::Arc::new(tokio::sync::Notify::new());
        let (f, n) = (fired.clone(), notify.clone());
        let task = tokio::spawn(async move {
            shutdown_signal().await;
            f.store(true, std::sync::atomic::Ordering::SeqCst);
            n.notify_waiters();
        });
        Self {
            fired,
            notify,
            task: std::sync::Arc::new(task),
        }
    }

    /// Whether a signal has arrived.
    pub fn fired(&self) -> bool {
        self.fired.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Waits for a signal (returns at once if one arrived already).
    pub async fn wait(&self) {
        let notified = self.notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if self.fired() {
            return;
        }
        notified.await;
    }
}

impl Drop for ShutdownWatch {
    fn drop(&mut self) {
        if std::sync::Arc::strong_count(&self.task) == 1 {
            self.task.abort();
        }
    }
}

/// Error returned when a command was interrupted by a signal; the stores were stopped.
#[derive(Debug, thiserror::Error)]
#[error("interrupted; the stores archbench started were stopped")]
pub struct Interrupted;
