//! `archbench serve v02|v03`: a reference system as a real HTTP service on real stores
//! (the API of `schema/openapi.yaml`), until Ctrl-C or SIGTERM; then the requests in
//! flight finish, projections settle and the stores stop. `serve synthetic:...` serves
//! the synthetic target (no stores): the no-op and stalling server the load
//! generator is compared with oha and wrk against.

use std::io::Write;
use std::net::SocketAddr;

use super::{StoreChoice, UsageError};
use crate::arch::http::server;
use crate::arch::{Operations, SETTLE_TIMEOUT, SystemConfig, SystemKind, SystemUnderTest};
use crate::shutdown::{Interrupted, ShutdownWatch};
use crate::stores::{Stores, provision};

/// The address to serve on cannot be had (exit 3: the machine's, not the command's).
#[derive(Debug, thiserror::Error)]
#[error("--listen {address}: {source}; choose a free port (0: any)")]
pub struct ListenError {
    /// The address asked for.
    pub address: SocketAddr,
    /// Why not.
    #[source]
    pub source: std::io::Error,
}

/// Serves `system` (`v02`, `v03` or `synthetic:...`) on `listen`, with stores from
/// `choice` where it needs them.
pub async fn serve(
    system: &str,
    choice: &StoreChoice,
    listen: SocketAddr,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let kind = SystemKind::parse(system)?;
    if kind.external() {
        return Err(UsageError(format!(
            "serve: `{system}` is served elsewhere; serve v02, v03 or synthetic:..."
        ))
        .into());
    }
    let watch = ShutdownWatch::install();
    if !kind.uses_stores() {
        serve_on(&kind, None, listen, &watch, out).await?;
        writeln!(out, "stopped")?;
        return Ok(());
    }
    let options = choice.provision_options();
    let stores = tokio::select! {
        s = provision(choice.mode, &options) => s?,
        _ = watch.wait() => return Err(Interrupted.into()),
    };
    let served = serve_on(&kind, Some(&stores), listen, &watch, out).await;
    let stopped = stores.shutdown().await;
    served?;
    stopped?;
    writeln!(out, "stopped")?;
    Ok(())
}

async fn serve_on(
    kind: &SystemKind,
    stores: Option<&Stores>,
    listen: SocketAddr,
    watch: &ShutdownWatch,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let endpoints = stores.map(|s| &s.endpoints);
    let system: std::sync::Arc<dyn SystemUnderTest> =
        kind.connect(endpoints, &SystemConfig::default()).await?;
    system.prepare().await?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|source| ListenError {
            address: listen,
            source,
        })?;
    let address = listener.local_addr()?;
    if let Some(endpoints) = endpoints {
        let s = endpoints.summary();
        writeln!(out, "stores up ({})", s.mode)?;
        writeln!(out, "  DATABASE_URL       {}", s.database_url)?;
        writeln!(out, "  S3_ENDPOINT        {}", s.s3_endpoint)?;
        writeln!(out, "  S3_BUCKET          {}", s.s3_bucket)?;
    }
    writeln!(
        out,
        "serving {} at http://{address} (API: schema/openapi.yaml); Ctrl-C stops",
        system.name()
    )?;
    out.flush()?;
    let operations: std::sync::Arc<dyn Operations> = system.clone();
    let stop = {
        let watch = watch.clone();
        async move { watch.wait().await }
    };
    server::serve(operations, listener, stop).await?;
    // Writes answered before the stop have projections in flight: let them land
    // before the stores go.
    system.settle(SETTLE_TIMEOUT).await?;
    Ok(())
}
