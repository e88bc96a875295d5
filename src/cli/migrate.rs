//! `archbench migrate`: the rehearsal's command line, and the summary it prints.

use std::io::Write;
use std::path::PathBuf;

use super::StoreArgs;
use crate::migrate::{MigrateOptions, migrate as rehearse};
use crate::results::migration::Migration;

/// `archbench migrate SCENARIO --from v02 --to v03`.
#[derive(Debug, clap::Args)]
pub struct MigrateArgs {
    /// Scenario file: the seed the source starts with, and the load that runs during
    /// the stages.
    pub scenario: PathBuf,
    /// Source system.
    #[arg(long, default_value = "v02")]
    pub from: String,
    /// Target system.
    #[arg(long, default_value = "v03")]
    pub to: String,
    #[command(flatten)]
    pub stores: StoreArgs,
    /// Output directory (migration.json).
    #[arg(long, default_value = "reports/out/migration")]
    pub out: PathBuf,
    /// Continue the rehearsal whose checkpoint the stores hold (after a kill or a
    /// Ctrl-C); on a finished one, nothing changes.
    #[arg(long)]
    pub resume: bool,
    /// Forget an earlier rehearsal in these stores and start over (both emptied).
    #[arg(long)]
    pub fresh: bool,
    /// Only compare source and target as they are now (parity), and write it.
    #[arg(long)]
    pub verify_only: bool,
    /// Share of reads also asked of the target during the shadow stage.
    #[arg(long, default_value_t = 0.2)]
    pub shadow_sample: f64,
    /// A shadowed search whose recall@k against the source's exact top-k is below this
    /// is a mismatch.
    #[arg(long, default_value_t = 0.9)]
    pub min_recall: f64,
    /// Entities per backfill page (one transaction and one checkpoint each).
    #[arg(long, default_value_t = 250)]
    pub batch: i64,
    /// Users at the production size the durations are projected to (the decision
    /// document's 10K).
    #[arg(long, default_value_t = 10_000)]
    pub production_users: u64,
    /// Network profile between the systems and the stores (deployments/networks.toml).
    #[arg(long)]
    pub network: Option<String>,
    /// Network profiles file.
    #[arg(long, default_value = crate::rig::network::NETWORKS_FILE)]
    pub networks: PathBuf,
    /// Instance profile PostgreSQL runs under (deployments/instances.toml): 0.25cu,
    /// 1cu, 2cu, 4cu; local stores only.
    #[arg(long)]
    pub instance: Option<String>,
    /// Instance profiles file.
    #[arg(long, default_value = crate::rig::instance::INSTANCES_FILE)]
    pub instances: PathBuf,
}

/// Runs the rehearsal and prints its summary.
pub async fn migrate(args: MigrateArgs, out: &mut (impl Write + Send)) -> anyhow::Result<()> {
    let choice = args.stores.choice();
    let options = MigrateOptions {
        network: super::network_profile(args.network.as_deref(), &args.networks)?,
        instance: super::instance_profile(args.instance.as_deref(), &args.instances)?,
        scenario: args.scenario,
        from: args.from,
        to: args.to,
        stores: choice.mode,
        provision: choice.provision_options(),
        out: args.out,
        resume: args.resume,
        fresh: args.fresh,
        verify_only: args.verify_only,
        shadow_sample: args.shadow_sample,
        min_recall: args.min_recall,
        batch: args.batch,
        production_users: args.production_users,
    };
    let m = rehearse(options, out).await?;
    summary(&m, out)?;
    Ok(())
}

fn summary(m: &Migration, out: &mut impl Write) -> std::io::Result<()> {
    if !m.complete {
        return writeln!(out, "rehearsal incomplete at stage {}", m.stage);
    }
    let b = &m.backfill;
    writeln!(out, "rehearsal complete:")?;
    writeln!(
        out,
        "  backfill      {} entities, {:.0} entities/s, {:.2} MB/s ({} resumes)",
        b.entities, b.entities_per_s, b.mb_per_s, b.resumes
    )?;
    let o = &m.dual_write_overhead;
    writeln!(
        out,
        "  dual-write    +{:.1} ms p50, +{:.1} ms p99 on writes; {} target failures, {} repaired",
        o.p50_ms,
        o.p99_ms,
        m.dual_write.target_failures.values().sum::<u64>(),
        m.dual_write.repaired
    )?;
    writeln!(
        out,
        "  shadow reads  {} compared, {} mismatched ({:.2}%)",
        m.shadow_reads.compared,
        m.shadow_reads.mismatched,
        100.0 * m.shadow_reads.mismatch_rate
    )?;
    writeln!(
        out,
        "  parity        {} missing, {} extra, {} mismatched; lost {}, doubled {}",
        m.parity.missing, m.parity.extra, m.parity.mismatched, m.resume.lost, m.resume.duplicated
    )?;
    if let Some(r) = &m.rollback {
        writeln!(
            out,
            "  rollback      {} entities carried back in {:.1} s; parity after: {}",
            r.carried_back,
            r.seconds,
            if r.parity.clean() { "clean" } else { "DIFFERS" }
        )?;
    }
    writeln!(
        out,
        "  projected     {:.1} h at {} entities ({})",
        m.projected_hours, m.projection.entities, m.projection.basis
    )
}
