//! `archbench stores`: up, down, status.

use std::io::Write;
use std::time::Duration;

use serde::Serialize;

use super::{StoreArgs, StoreChoice};
use crate::shutdown::{Interrupted, ShutdownWatch};
use crate::stores::health::{self, HealthReport};
use crate::stores::registry::{self, StopOutcome};
use crate::stores::{
    EndpointSummary, ProvisionOptions, StoreError, StoreMode, Stores, provision, resolve_mode,
    run_root,
};

/// `archbench stores ...`.
#[derive(Debug, clap::Subcommand)]
pub enum StoresCommand {
    /// Start the stores and keep them running until Ctrl-C or `stores down`.
    Up {
        #[command(flatten)]
        stores: StoreArgs,
        /// Keep the run directory (data, logs) after stopping.
        #[arg(long)]
        keep: bool,
        /// PostgreSQL port (default: a free one).
        #[arg(long)]
        pg_port: Option<u16>,
        /// S3 port (default: a free one).
        #[arg(long)]
        s3_port: Option<u16>,
        /// Print the connection details as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Stop every running `stores up` instance.
    Down {
        #[command(flatten)]
        stores: StoreArgs,
    },
    /// Health and versions of the stores (starts temporary ones when none run).
    Status {
        #[command(flatten)]
        stores: StoreArgs,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Runs `command`.
pub async fn dispatch(command: StoresCommand, out: &mut impl Write) -> anyhow::Result<()> {
    match command {
        StoresCommand::Up {
            stores,
            keep,
            pg_port,
            s3_port,
            json,
        } => {
            let options = UpOptions {
                keep,
                pg_port,
                s3_port,
            };
            up(&stores.choice(), &options, json, out).await
        }
        StoresCommand::Down { stores } => down(&stores.choice(), out).await.map(drop),
        StoresCommand::Status { stores, json } => status(&stores.choice(), json, out).await,
    }
}

/// What `stores up` may set beyond the store mode.
#[derive(Debug, Clone, Default)]
pub struct UpOptions {
    /// Keep the run directory (data, logs) after stopping.
    pub keep: bool,
    /// PostgreSQL port (default: a free one).
    pub pg_port: Option<u16>,
    /// S3 port (default: a free one).
    pub s3_port: Option<u16>,
}

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
    choice: &StoreChoice,
    up: &UpOptions,
    json: bool,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let mut opts = choice.provision_options();
    opts.local.keep = up.keep;
    opts.local.pg_port = up.pg_port;
    opts.local.s3_port = up.s3_port;
    let (mode, opts) = (choice.mode, &opts);
    let watch = ShutdownWatch::install();
    let stores = tokio::select! {
        s = provision(mode, opts) => s?,
        _ = watch.wait() => return Err(Interrupted.into()),
    };
    let env_file = stores.run_dir().map(|d| d.join("env"));
    if json {
        #[derive(Serialize)]
        struct Up<'a> {
            endpoints: EndpointSummary,
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

/// `archbench stores down`: stops every instance recorded under the run root, and
/// removes the directories of stale ones (whose owner was killed).
pub async fn down(choice: &StoreChoice, out: &mut impl Write) -> anyhow::Result<Vec<Stopped>> {
    let opts = choice.provision_options();
    let root = run_root(&opts.local);
    let instances = registry::list(&root);
    let stale = registry::stale(&root);
    if instances.is_empty() && stale.is_empty() {
        writeln!(out, "no running stores under {}", root.display())?;
    }
    let mut stopped = Vec::new();
    for inst in stale {
        registry::reap(&inst);
        writeln!(out, "removed {}", inst.describe())?;
        stopped.push(Stopped {
            id: inst.id,
            outcome: StopOutcome::Reaped,
        });
    }
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
pub async fn status(choice: &StoreChoice, json: bool, out: &mut impl Write) -> anyhow::Result<()> {
    let opts = &choice.provision_options();
    let mode = choice.mode;
    let resolved = resolve_mode(mode, opts).await?;
    let mut statuses = Vec::new();
    if resolved == StoreMode::Local {
        // Named, never waited on: their servers are gone with their owner.
        for stale in registry::stale(&run_root(&opts.local)) {
            let line = format!("{}; `archbench stores down` removes it", stale.describe());
            if json {
                eprintln!("archbench: {line}");
            } else {
                writeln!(out, "{line}")?;
            }
        }
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
