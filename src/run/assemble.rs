//! Stage 5, assemble: the measured systems, the scenario's identity, the phases, the
//! environment (revision, machine, store versions) and the caveats, as one results
//! file written atomically.

use std::path::PathBuf;

use chrono::{DateTime, Utc};

use super::RunOptions;
use super::measure::Measured;
use crate::arch::fault::FaultSpec;
use crate::results::{
    Environment, Machine, PhaseInfo, Results, SCHEMA_VERSION, ScenarioInfo, StoresInfo,
};
use crate::rig::instance::InstanceInfo;
use crate::rig::network::NetworkInfo;
use crate::scenario::{Scenario, Workload};
use crate::stores::{Stores, health};

/// CPU steal above this share is noted in the results.
const STEAL_NOTED: f64 = 0.02;

/// What the run knows about itself besides the measurements.
pub(super) struct RunFacts {
    /// When the run started.
    pub started_at: DateTime<Utc>,
    /// Git revision read at the start.
    pub revision: Option<String>,
    /// The network played, with the proxies' measured lateness.
    pub network: Option<NetworkInfo>,
    /// The instance PostgreSQL ran on, with the limits read back from its cgroup.
    pub instance: Option<InstanceInfo>,
    /// CPU time stolen by the hypervisor over the run, a share.
    pub cpu_steal_share: Option<f64>,
}

/// Builds the results and writes `results.json` into the output folder.
pub(super) async fn assemble(
    options: &RunOptions,
    scenario: &Scenario,
    measured: Measured,
    stores: Option<&Stores>,
    facts: RunFacts,
) -> anyhow::Result<(PathBuf, Results)> {
    let mut notes = measured.notes;
    let stores_info = match stores {
        Some(st) => Some(stores_info(st, &mut notes).await),
        None => None,
    };
    match &facts.network {
        None => notes.push("Inngest is emulated (its execution model: runs, steps over HTTP, retries), on loopback; production adds network distance per step.".into()),
        Some(n) => notes.push(format!(
            "network profile `{}` ({}): the systems reached the stores and the workflow service through archbench's delay proxy; figures: {}",
            n.profile.name, n.profile.description, n.profile.source
        )),
    }
    match &facts.instance {
        None => notes.push("PostgreSQL ran unlimited on this machine (no --instance): the whole dataset may sit in page cache, which a production instance of its size would not allow.".into()),
        Some(i) => {
            notes.push(format!(
                "instance `{}` ({}): PostgreSQL ran in a cgroup with {} MiB of memory, page cache included, and {:.2} vCPU (read back from {}); settings: {}",
                i.profile.name,
                i.profile.description,
                i.cgroup.memory_limit_bytes / (1024 * 1024),
                i.cgroup.vcpu(),
                i.cgroup.path.display(),
                i.profile.source
            ));
            if let Some(c) = &i.caveat {
                notes.push(format!("instance `{}`: {c}", i.profile.name));
            }
        }
    }
    if let Some(steal) = facts.cpu_steal_share.filter(|s| *s > STEAL_NOTED) {
        notes.push(format!(
            "the hypervisor took {:.1}% of this machine's CPU time during the run (/proc/stat steal): its figures carry the host's load, and runs at other times may differ by more than the repetitions show",
            steal * 100.0
        ));
    }
    for f in &options.faults {
        notes.push(format!("fault injected: {}", f.describe()));
    }
    for f in &scenario.faults {
        notes.push(format!(
            "store fault injected into each system's measured phases: {}",
            f.describe()
        ));
    }
    if let Some(stage) = measured.stopped_in {
        notes.push(format!(
            "interrupted in stage `{}`: the results cover the ops that ran before the stop",
            stage.name()
        ));
    }
    let results = Results {
        schema_version: SCHEMA_VERSION,
        complete: measured.complete && measured.stopped_in.is_none(),
        stopped_in: measured.stopped_in,
        started_at: facts.started_at.to_rfc3339(),
        finished_at: Utc::now().to_rfc3339(),
        scenario: ScenarioInfo {
            name: scenario.name.clone(),
            hash: scenario.hash.clone(),
            seed: scenario.rng_seed,
            path: options.scenario.display().to_string(),
            seeded_entities: scenario.seeded_entities(),
            user_behaviour: scenario.user_behaviour.clone(),
            gate: scenario.gate.clone(),
            slo: scenario.slo,
        },
        environment: environment(stores_info, &facts),
        phases: scenario.phases.iter().map(phase_info).collect(),
        repeat: options.repeat,
        systems: measured.systems,
        notes,
        injected_delays: options.faults.iter().map(FaultSpec::injected).collect(),
        event_log_probe: measured.event_log_probe,
        interleaved: None,
    };
    let path = options.out.join("results.json");
    results.write_atomic(&path)?;
    Ok((path, results))
}

fn phase_info(p: &crate::scenario::Phase) -> PhaseInfo {
    PhaseInfo {
        name: p.name.clone(),
        model: match p.workload {
            Workload::Open { .. } => "open".into(),
            Workload::Closed { .. } => "closed".into(),
        },
        duration_s: p.duration.as_secs_f64(),
        recorded: p.record,
    }
}

/// Store versions as they answer now; the TimescaleDB edition goes into the notes.
async fn stores_info(stores: &Stores, notes: &mut Vec<String>) -> StoresInfo {
    let h = health::check(&stores.endpoints).await;
    if h.postgres.timescaledb_license.as_deref() == Some("apache") {
        notes.push("TimescaleDB is the Apache-licensed edition here: no compression, no continuous aggregates; V0.3's event storage is measured uncompressed.".into());
    }
    StoresInfo {
        mode: stores.endpoints.mode.to_string(),
        postgres_version: h.postgres.server_version,
        timescaledb: h.postgres.timescaledb,
        timescaledb_license: h.postgres.timescaledb_license,
        vector: h.postgres.vector,
        s3_endpoint: stores.endpoints.s3.endpoint.clone(),
    }
}

fn environment(stores: Option<StoresInfo>, facts: &RunFacts) -> Environment {
    let read = |p: &str| {
        std::fs::read_to_string(p)
            .map(|s| s.trim().to_string())
            .unwrap_or_default()
    };
    let memory_bytes = super::machine::total_memory().unwrap_or(0);
    Environment {
        git_revision: facts.revision.clone(),
        archbench_version: env!("CARGO_PKG_VERSION").into(),
        machine: Machine {
            hostname: read("/proc/sys/kernel/hostname"),
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            kernel: read("/proc/sys/kernel/osrelease"),
            memory_bytes,
        },
        stores,
        peak_rss_bytes: super::machine::peak_rss(),
        network: facts.network.clone(),
        instance: facts.instance.clone(),
        cpu_steal_share: facts.cpu_steal_share,
    }
}

/// `git rev-parse HEAD`, with `-dirty` when tracked source files differ from it: a
/// result must not claim a revision whose code it did not run. The revision of the
/// working directory, which is the repository when run as the README says.
pub(super) fn git_revision() -> Option<String> {
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let head = git(&["rev-parse", "HEAD"])?;
    let dirty = git(&[
        "status",
        "--porcelain",
        "--untracked-files=no",
        "--",
        "src",
        "Cargo.toml",
        "Cargo.lock",
    ])
    .is_some_and(|s| !s.is_empty());
    Some(if dirty { format!("{head}-dirty") } else { head })
}
