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
/// `ctrl_c()` future only sees signals delivered after it is first polled). Signals
/// are counted: the first asks for a clean stop, a second for an immediate one.
#[derive(Clone)]
pub struct ShutdownWatch {
    count: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    notify: std::sync::Arc<tokio::sync::Notify>,
    task: std::sync::Arc<tokio::task::JoinHandle<()>>,
}

impl ShutdownWatch {
    /// Starts listening now.
    pub fn install() -> Self {
        let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let notify = std::sync::Arc::new(tokio::sync::Notify::new());
        let (c, n) = (count.clone(), notify.clone());
        let task = tokio::spawn(async move {
            loop {
                shutdown_signal().await;
                c.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                n.notify_waiters();
            }
        });
        Self {
            count,
            notify,
            task: std::sync::Arc::new(task),
        }
    }

    /// Whether a signal has arrived.
    pub fn fired(&self) -> bool {
        self.signals() > 0
    }

    /// Signals received so far.
    pub fn signals(&self) -> usize {
        self.count.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Waits for a signal (returns at once if one arrived already).
    pub async fn wait(&self) {
        self.wait_for(1).await
    }

    /// Runs `work` unless a signal arrives first (or has arrived): `None` when it was
    /// interrupted, and `work` is dropped where it stood.
    pub async fn unless_signalled<T>(
        &self,
        work: impl std::future::Future<Output = T>,
    ) -> Option<T> {
        if self.fired() {
            return None;
        }
        tokio::select! {
            value = work => Some(value),
            _ = self.wait() => None,
        }
    }

    /// A flag the first signal sets, after printing `message` (what the stage in hand
    /// does about it); abort the task when the stage is over.
    pub fn stop_flag(
        &self,
        message: &'static str,
    ) -> (
        std::sync::Arc<std::sync::atomic::AtomicBool>,
        tokio::task::JoinHandle<()>,
    ) {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (flag, watch) = (stop.clone(), self.clone());
        let task = tokio::spawn(async move {
            watch.wait().await;
            eprintln!("archbench: {message}");
            flag.store(true, std::sync::atomic::Ordering::SeqCst);
        });
        (stop, task)
    }

    /// Waits until `n` signals have arrived in all.
    pub async fn wait_for(&self, n: usize) {
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.signals() >= n {
                return;
            }
            notified.await;
        }
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
