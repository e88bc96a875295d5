//! `archbench migrate`: a rehearsal of the move from V0.2 to V0.3 on real stores.
//! The source is seeded from the scenario and its write latency measured alone; then,
//! while the scenario's load runs against the dual-write, the backfill copies every
//! entity (bodies to object storage once, content-addressed; events as references;
//! list model and embeddings built); failed mirrored writes are repaired; parity is
//! checked by content hash; reads are shadowed; the target serves alone after the
//! cut-over; and the rollback carries the writes made since back into the source,
//! checked by parity again. Each stage ends in a checkpoint in the target's database,
//! so that a kill or a Ctrl-C resumes where it stopped (`--resume`).

mod backfill;
mod dual;
mod load;
mod parity;
mod shadow;
mod stages;
mod state;

pub use state::Stage;
use std::path::PathBuf;

use crate::arch::{SystemConfig, SystemKind};
use crate::results::migration::Migration;
use crate::rig::network::{Network, NetworkProfile};
use crate::shutdown::ShutdownWatch;
use crate::stores::{self, ProvisionOptions, StoreMode};

/// What to rehearse.
#[derive(Debug, Clone)]
pub struct MigrateOptions {
    /// Scenario file: the seed and the load.
    pub scenario: PathBuf,
    /// Source system.
    pub from: String,
    /// Target system.
    pub to: String,
    /// Store mode.
    pub stores: StoreMode,
    /// Store settings.
    pub provision: ProvisionOptions,
    /// Output directory (`migration.json`).
    pub out: PathBuf,
    /// Continue the rehearsal the target's checkpoint describes.
    pub resume: bool,
    /// Forget an earlier rehearsal and start over (both systems emptied).
    pub fresh: bool,
    /// Only compare source and target, as they are now.
    pub verify_only: bool,
    /// Share of reads shadowed.
    pub shadow_sample: f64,
    /// A shadowed search below this recall@k is a mismatch.
    pub min_recall: f64,
    /// Entities per backfill page.
    pub batch: i64,
    /// Users at the production size the durations are projected to.
    pub production_users: u64,
    /// The network between the systems and the stores.
    pub network: Option<NetworkProfile>,
    /// The instance PostgreSQL runs on (a cgroup around the local server).
    pub instance: Option<crate::rig::instance::InstanceProfile>,
}

/// A rehearsal that cannot start as asked (exit code 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct MigrateRefused(pub String);

/// Runs the rehearsal (or what remains of it) and writes `out/migration.json`.
pub async fn migrate(
    options: MigrateOptions,
    out: &mut (impl std::io::Write + Send),
) -> anyhow::Result<Migration> {
    let scenario = crate::scenario::load(&options.scenario)?;
    let pair = (
        SystemKind::parse(&options.from)?,
        SystemKind::parse(&options.to)?,
    );
    for (flag, name, fits) in [
        ("--from", &options.from, matches!(pair.0, SystemKind::V02)),
        ("--to", &options.to, matches!(pair.1, SystemKind::V03)),
    ] {
        if !fits {
            return Err(MigrateRefused(format!(
                "{flag} {name}: the rehearsal moves V0.2 to V0.3 (--from v02 --to v03); no other pair has a migrator"
            ))
            .into());
        }
    }
    if !(0.0..=1.0).contains(&options.shadow_sample) || !(0.0..=1.0).contains(&options.min_recall) {
        return Err(MigrateRefused(
            "--shadow-sample and --min-recall are shares between 0 and 1".into(),
        )
        .into());
    }
    if options.batch < 1 {
        return Err(MigrateRefused("--batch must be at least 1".into()).into());
    }
    if options.resume && options.fresh {
        return Err(MigrateRefused("--resume and --fresh contradict each other".into()).into());
    }
    let watch = ShutdownWatch::install();
    let setup = crate::run::StoreSetup {
        stores: options.stores,
        provision: &options.provision,
        instance: options.instance.as_ref(),
    };
    // The cgroup lives until the stores in it have stopped.
    let confined = crate::run::confine(&setup, &scenario, true)?;
    let provision_options = crate::run::provision_options(&setup, confined.as_deref(), out)?;
    writeln!(out, "starting stores ({})", options.stores)?;
    let provision = stores::provision(options.stores, &provision_options);
    let Some(stores) = watch.unless_signalled(provision).await else {
        return Err(crate::shutdown::Interrupted.into());
    };
    let stores = crate::run::unconfined_refused(stores?, confined.is_some()).await?;
    let network = options
        .network
        .as_ref()
        .filter(|p| !p.is_loopback())
        .map(|p| Network::new(p.clone()));
    let config = SystemConfig {
        network: network.clone(),
        ..SystemConfig::default()
    };
    let result = async {
        let endpoints = match &network {
            Some(n) => crate::run::at_a_distance(&stores.endpoints, n)?,
            None => stores.endpoints.clone(),
        };
        let rehearsal = stages::Rehearsal::connect(
            &options,
            &scenario,
            &stores.endpoints,
            &endpoints,
            &config,
            &watch,
        )
        .await?;
        let outcome = rehearsal.run(out).await;
        rehearsal.close().await;
        outcome
    }
    .await;
    stores.shutdown().await?;
    drop(confined);
    let migration = result?;
    if !migration.complete && watch.fired() {
        return Err(
            anyhow::Error::from(crate::shutdown::Interrupted).context(format!(
                "stopped at stage {}; the checkpoint is saved: run again with --resume",
                migration.stage
            )),
        );
    }
    Ok(migration)
}

/// The network a rehearsal ran under, by name.
fn network_name(options: &MigrateOptions) -> Option<String> {
    options.network.as_ref().map(|p| p.name.clone())
}
