//! The `archbench stores` commands: up, down, status.

use std::io::Write;
use std::time::Duration;

use serde::Serialize;

use super::health::{self, HealthReport};
use super::local::run_root;
use super::registry::{self, StopOutcome};
use super::{ProvisionOptions, StoreError, StoreMode, Stores, provision, resolve_mode};

/// Waits for Ctrl-C or SIGTERM (what `archbench stores down` sends).
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

/// Provisions stores, runs `body` with them, and stops them afterwards — also when
/// `body` fails or a signal arrives, in which case the result is [`Interrupted`].
pub async fn with_stores<T, F, Fut>(
    mode: StoreMode,
    opts: &ProvisionOptions,
    body: F,
) -> anyhow::Result<T>
where
    F: FnOnce(Stores) -> Fut,
    Fut: std::future::Future<Output = (Stores, anyhow::Result<T>)>,
{
    let watch = ShutdownWatch::install();
    let stores = tokio::select! {
        s = provision(mode, opts) => s?,
        _ = watch.wait() => return Err(Interrupted.into()),
    };
    // `body` hands the stores back so that they can be shut down gracefully; if the
    // signal wins, the future (and the stores in it) is dropped, which stops them too.
    let outcome = tokio::select! {
        r = body(stores) => Some(r),
        _ = watch.wait() => None,
    };
    match outcome {
        Some((stores, result)) => {
            let stopped = stores.shutdown().await;
            let value = result?;
            stopped?;
            Ok(value)
        }
        None => Err(Interrupted.into()),
    }
}

/// `archbench stores up`: starts the stores, prints how to reach them, and keeps them
/// running until Ctrl-C, SIGTERM or `archbench stores down`.
pub async fn up(
    mode: StoreMode,
    opts: &ProvisionOptions,
    json: bool,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let watch = ShutdownWatch::install();
    let stores = tokio::select! {
        s = provision(mode, opts) => s?,
        _ = watch.wait() => return Err(Interrupted.into()),
    };
    let env_file = stores.run_dir().map(|d| d.join("env"));
    if json {
        #[derive(Serialize)]
        struct Up<'a> {
            endpoints: super::EndpointSummary,
            run_dir: Option<&'a std::path::Path>,
            env_file: Option<&'a std::path::Path>,
            pids: Vec<u32>,
        }
        let run_dir = stores.run_dir();
        serde_json::to_writer_pretty(
            &mut *out,
            &Up {
                endpoints: stores.endpoints.summary(),
                run_dir: run_dir.as_deref(),
                env_file: env_file.as_deref(),
                pids: stores.child_pids(),
            },
        )?;
        writeln!(out)?;
    } else {
        let s = stores.endpoints.summary();
        writeln!(out, "stores up ({})", s.mode)?;
        writeln!(out, "  DATABASE_URL       {}", s.database_url)?;
        writeln!(out, "  S3_ENDPOINT        {}", s.s3_endpoint)?;
        writeln!(out, "  S3_BUCKET          {}", s.s3_bucket)?;
        writeln!(out, "  S3_REGION          {}", s.s3_region)?;
        writeln!(out, "  AWS_ACCESS_KEY_ID  {}", s.aws_access_key_id)?;
        if let Some(f) = &env_file {
            writeln!(
                out,
                "  secrets (mode 600) {}   e.g. `set -a; . {}; set +a`",
                f.display(),
                f.display()
            )?;
        }
        writeln!(out, "running until Ctrl-C or `archbench stores down`")?;
    }
    out.flush()?;
    watch.wait().await;
    stores.shutdown().await?;
    if !json {
        writeln!(out, "stores stopped")?;
    }
    Ok(())
}

/// What `stores down` did to one instance.
#[derive(Debug, Serialize)]
pub struct Stopped {
    /// Instance id.
    pub id: String,
    /// How.
    pub outcome: StopOutcome,
}

/// `archbench stores down`: stops every instance recorded under the run root.
pub async fn down(opts: &ProvisionOptions, out: &mut impl Write) -> anyhow::Result<Vec<Stopped>> {
    let root = run_root(&opts.local);
    let instances = registry::list(&root);
    if instances.is_empty() {
        writeln!(out, "no running stores under {}", root.display())?;
    }
    let mut stopped = Vec::new();
    for inst in instances {
        let outcome = registry::stop(&inst, Duration::from_secs(30)).await;
        writeln!(
            out,
            "stopped {} ({:?}): {}",
            inst.id, outcome, inst.endpoints.database_url
        )?;
        stopped.push(Stopped {
            id: inst.id,
            outcome,
        });
    }
    Ok(stopped)
}

/// Status of one set of stores, as `stores status` prints it.
#[derive(Debug, Serialize)]
pub struct Status {
    /// Instance id when it is a recorded `stores up` instance.
    pub instance: Option<String>,
    /// Whether archbench started these stores only for this check.
    pub temporary: bool,
    /// What the stores answered.
    pub health: HealthReport,
}

/// `archbench stores status`: reports on running `stores up` instances; when there is
/// none (or for `--stores external`/`docker`), starts or connects to stores for the
/// check and stops them again. Fails (exit 3) when a store is unhealthy.
pub async fn status(
    mode: StoreMode,
    opts: &ProvisionOptions,
    json: bool,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let resolved = resolve_mode(mode, opts).await?;
    let mut statuses = Vec::new();
    if resolved == StoreMode::Local {
        for inst in registry::list(&run_root(&opts.local)) {
            let endpoints = registry::endpoints_of(&inst)?;
            statuses.push(Status {
                instance: Some(inst.id.clone()),
                temporary: false,
                health: health::check(&endpoints).await,
            });
        }
    }
    if statuses.is_empty() {
        let health = with_stores(resolved, opts, |stores| async move {
            let h = health::check(&stores.endpoints).await;
            (stores, Ok(h))
        })
        .await?;
        statuses.push(Status {
            instance: None,
            temporary: resolved != StoreMode::External,
            health,
        });
    }
    if json {
        serde_json::to_writer_pretty(&mut *out, &statuses)?;
        writeln!(out)?;
    } else {
        for s in &statuses {
            let label = match (&s.instance, s.temporary) {
                (Some(id), _) => format!("instance {id}"),
                (None, true) => "started for this check, now stopped".to_string(),
                (None, false) => "external".to_string(),
            };
            writeln!(out, "{} stores ({label})", s.health.endpoints.mode)?;
            write!(out, "{}", s.health.render_text())?;
        }
    }
    if let Some(bad) = statuses.iter().find(|s| !s.health.healthy()) {
        let why = bad
            .health
            .postgres
            .error
            .clone()
            .or_else(|| bad.health.s3.error.clone())
            .unwrap_or_default();
        return Err(StoreError::Unhealthy(why).into());
    }
    Ok(())
}
