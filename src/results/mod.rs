//! The results file, the source of truth every later stage reads: its types, the
//! schema-version check, reading, and atomic writing. `schema_version` 1; its JSON
//! Schema is `schema/results-v1.schema.json`. Cost, verdict, report and gate import
//! from here, never from each other's modules.
//!
//! Types measured elsewhere and serialised into the file are re-exported here, so
//! that the whole schema is visible from this one module.

pub mod event_log;
mod faults;
mod file;
pub mod interleaving;
mod interval_logs;
pub mod migration;
pub mod search_quality;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use crate::arch::inngest::{DeadLetter, ExecutionCounts};
pub use crate::arch::{OpRoundTrips, Store};
pub use crate::loadgen::record::{ErrorSample, Percentiles};
pub use crate::measure::copies::CopiesReport;
pub use crate::measure::dbtime::DbTime;
pub use crate::measure::growth::GrowthPoint;
pub use crate::measure::lag::{LagReport, LagSummary};
pub use faults::{FaultAction, FaultEvents, FaultOpResult, FaultResult, FaultTarget};
pub use file::{ResultsError, SCHEMA_VERSION};
pub use interval_logs::IntervalLogs;

/// A run's results.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Results {
    /// Always [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// False when the run was interrupted or a system failed part-way.
    pub complete: bool,
    /// RFC 3339.
    pub started_at: String,
    /// RFC 3339.
    pub finished_at: String,
    /// Which scenario.
    pub scenario: ScenarioInfo,
    /// Where it ran.
    pub environment: Environment,
    /// Phases as run.
    pub phases: Vec<PhaseInfo>,
    /// Repetitions per system (`--repeat`), alternated A B A B.
    pub repeat: usize,
    /// Per system.
    pub systems: BTreeMap<String, SystemResults>,
    /// Caveats a reader must know (e.g. the TimescaleDB edition measured).
    pub notes: Vec<String>,
    /// The stage a Ctrl-C stopped the run in; absent when it ran to the end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped_in: Option<RunStage>,
    /// Delays injected to validate the gate (`--fault v03.create=+20%`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub injected_delays: Vec<InjectedDelay>,
    /// The event log of both designs on the same events (`[event_log]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_log_probe: Option<event_log::EventLogProbe>,
    /// Present when this file combines one side's runs of `archbench gate
    /// interleave`: each repetition is a fresh run, alternating with the other side's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interleaved: Option<interleaving::Interleaving>,
}

/// One delay injected into one op of one system (`--fault`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InjectedDelay {
    /// System.
    pub system: String,
    /// Op.
    pub op: String,
    /// A share of the op's own time, percent (`+20%`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percent: Option<f64>,
    /// A fixed wait, milliseconds (`+2ms`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed_ms: Option<f64>,
}

/// The stages of a run, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStage {
    /// Starting or connecting to the stores.
    StartingStores,
    /// Connecting the systems.
    Connecting,
    /// Seeding every system.
    Seeding,
    /// The load phases.
    Phases,
    /// Counters, storage, copies and lag from the stores.
    Measuring,
    /// The search-quality probe.
    SearchQualityProbe,
    /// The event-log probe.
    EventLogProbe,
    /// The event-log growth probe.
    GrowthProbe,
}

impl RunStage {
    /// As results.json writes it.
    pub fn name(self) -> &'static str {
        match self {
            RunStage::StartingStores => "starting_stores",
            RunStage::Connecting => "connecting",
            RunStage::Seeding => "seeding",
            RunStage::Phases => "phases",
            RunStage::Measuring => "measuring",
            RunStage::SearchQualityProbe => "search_quality_probe",
            RunStage::EventLogProbe => "event_log_probe",
            RunStage::GrowthProbe => "growth_probe",
        }
    }
}

impl Results {
    /// Takes the probes of `other` (its event log, each system's search quality)
    /// in place of this run's, with a note naming `source`: full-size probes run
    /// apart from the suite stand beside its measurements. With `add_sizes` (an
    /// earlier file gave the event log) the other run's event-log sizes join that
    /// probe's instead of replacing it; a probe of another design is refused, naming
    /// `source`.
    pub fn take_probes_from(
        &mut self,
        other: Results,
        source: &str,
        add_sizes: bool,
    ) -> Result<(), ResultsError> {
        let mut taken = Vec::new();
        match (other.event_log_probe, self.event_log_probe.as_mut()) {
            (Some(probe), Some(mine)) if add_sizes => {
                let added = mine.merge(probe).map_err(|message| ResultsError::Invalid {
                    path: source.to_string(),
                    message: format!("event_log_probe: {message}"),
                })?;
                taken.push(format!("{added} event-log size(s) added to the probe"));
            }
            (Some(probe), _) => {
                self.event_log_probe = Some(probe);
                taken.push("the event-log probe".to_string());
            }
            (None, _) => {}
        }
        // The other run's network, not this one's, is in its probes' timings.
        let round_trip = other.environment.postgres_round_trip_ms();
        for (name, s) in other.systems {
            if let (Some(mut quality), Some(mine)) = (s.search_quality, self.systems.get_mut(&name))
            {
                quality.round_trip_ms = Some(round_trip);
                mine.search_quality = Some(quality);
                taken.push(format!("{name}'s search quality"));
            }
        }
        if !taken.is_empty() {
            self.notes.push(format!(
                "{} from {source} (scenario `{}`, started {})",
                taken.join(", "),
                other.scenario.name,
                other.started_at
            ));
        }
        Ok(())
    }
}

/// Scenario identity.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScenarioInfo {
    /// Name.
    pub name: String,
    /// SHA-256 of the file.
    pub hash: String,
    /// RNG seed.
    pub seed: u64,
    /// Path as given.
    pub path: String,
    /// Seeded entities.
    pub seeded_entities: u64,
    /// Stated user behaviour, as written.
    pub user_behaviour: BTreeMap<String, toml::Value>,
    /// The scenario's CI gate settings.
    pub gate: crate::scenario::GateConfig,
    /// The error budget the gate holds the run to (`[slo]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slo: Option<crate::scenario::Slo>,
}

/// Where the run happened.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Environment {
    /// `git rev-parse HEAD` of the working directory, when available.
    pub git_revision: Option<String>,
    /// archbench version.
    pub archbench_version: String,
    /// Machine.
    pub machine: Machine,
    /// Stores, when any were used.
    pub stores: Option<StoresInfo>,
    /// archbench's own peak resident memory during the run (`VmHWM`), bytes.
    #[serde(default)]
    pub peak_rss_bytes: Option<u64>,
    /// The network profile played between the systems and the stores (`--network`),
    /// with the delay proxies' own lateness; absent: loopback.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<crate::rig::network::NetworkInfo>,
    /// The instance profile PostgreSQL ran under (`--instance`): the profile, the
    /// limits read back from its cgroup and the server's usage; absent: unlimited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<crate::rig::instance::InstanceInfo>,
    /// The share of the machine's CPU time the hypervisor gave to other guests during
    /// the run (`/proc/stat` steal): where it is high, runs at different times differ
    /// by more than their repetitions show.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_steal_share: Option<f64>,
}

impl Environment {
    /// The instance profile PostgreSQL was confined to (`1cu`), if any.
    pub fn instance_name(&self) -> Option<String> {
        self.instance.as_ref().map(|i| i.profile.name.clone())
    }

    /// The round trip the network profile put between the systems and PostgreSQL,
    /// ms (0 on loopback): what a store beside the database (a Qdrant server) would
    /// cost per request as well.
    pub fn postgres_round_trip_ms(&self) -> f64 {
        self.network
            .as_ref()
            .and_then(|n| n.profile.links.get(&crate::rig::network::Hop::Postgres))
            .map_or(0.0, |link| link.rtt_ms)
    }
}

/// The machine.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Machine {
    /// Host name.
    pub hostname: String,
    /// Logical CPUs.
    pub cpus: usize,
    /// Kernel release.
    pub kernel: String,
    /// Memory in bytes.
    pub memory_bytes: u64,
}

/// Store versions as they answered.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoresInfo {
    /// local, docker, external.
    pub mode: String,
    /// `SHOW server_version`.
    pub postgres_version: Option<String>,
    /// TimescaleDB extension version.
    pub timescaledb: Option<String>,
    /// `apache` (no compression) or `timescale`.
    pub timescaledb_license: Option<String>,
    /// pgvector version.
    pub vector: Option<String>,
    /// S3 endpoint (no credentials).
    pub s3_endpoint: String,
}

/// A phase as run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PhaseInfo {
    /// Name.
    pub name: String,
    /// open or closed.
    pub model: String,
    /// Seconds.
    pub duration_s: f64,
    /// Whether its ops are in the results.
    pub recorded: bool,
}

/// One op kind of one system.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OpResults {
    /// Ops completed.
    pub count: u64,
    /// Ops that failed.
    pub errors: u64,
    /// Failures by kind.
    pub errors_by_kind: BTreeMap<String, u64>,
    /// Ops that started later than `late_after` after their intended time.
    pub late: u64,
    /// Latency from the intended start (coordinated-omission corrected), µs.
    pub latency_us: Percentiles,
    /// Service time from the actual start, µs.
    pub service_time_us: Percentiles,
    /// Actual minus intended start, µs.
    pub schedule_lag_us: Percentiles,
}

/// One repetition of one op kind (for the CI gate's statistics).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RepetitionOp {
    /// Ops.
    pub count: u64,
    /// Latency, µs.
    pub latency_us: Percentiles,
}

/// Bytes stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredBytes {
    /// PostgreSQL relations of the system (TOAST, indexes, hypertable chunks).
    pub postgres: u64,
    /// Objects under the system's prefix.
    pub object_store: u64,
}

/// Storage measured in the stores.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FootprintResults {
    /// Current bodies' total length.
    pub logical_body_bytes: u64,
    /// Stored bytes per store.
    pub stored_bytes: StoredBytes,
    /// Stored / logical.
    pub amplification: Option<f64>,
    /// Mean places holding a sampled body.
    pub copies_per_item: f64,
    /// Where the copies were found.
    pub copies: CopiesReport,
    /// Bytes per PostgreSQL relation.
    pub postgres_relations: BTreeMap<String, u64>,
    /// Objects stored.
    pub object_count: u64,
}

/// Everything measured for one system.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SystemResults {
    /// Per op kind, recorded phases of all repetitions.
    pub ops: BTreeMap<String, OpResults>,
    /// Per repetition, per op kind.
    pub repetitions: Vec<BTreeMap<String, RepetitionOp>>,
    /// The first failures, with timestamps.
    pub error_samples: Vec<ErrorSample>,
    /// Storage (absent for the synthetic target).
    pub footprint: Option<FootprintResults>,
    /// Round trips per op, per store.
    pub round_trips: BTreeMap<String, OpRoundTrips>,
    /// Inngest-style executions during the measured phases.
    pub inngest_executions: ExecutionCounts,
    /// Runs that exhausted their retries.
    pub dead_letters: Vec<DeadLetter>,
    /// Projection lag (absent for the synthetic target).
    pub projection_lag_ms: Option<LagReport>,
    /// Interval log file (HdrHistogram format) beside results.json.
    pub interval_log: Option<String>,
    /// Database time of the system's statements during the measured phases, background
    /// work included (`pg_stat_statements`); absent when the extension is not loaded.
    #[serde(default)]
    pub db_time: Option<DbTime>,
    /// Storage the measured phases' writes added.
    #[serde(default)]
    pub storage_growth: Option<StorageGrowth>,
    /// The time-window (`activity`) query as the event log grows (`[growth]`).
    #[serde(default)]
    pub event_growth: Option<Vec<GrowthPoint>>,
    /// Recall@k and the recall–latency frontier of the system's search and of the
    /// other designs (`[search_quality]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search_quality: Option<search_quality::SearchQuality>,
    /// Faults injected into the measured phases (`[[fault]]`, `--fault-at`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub faults: Vec<FaultResult>,
    /// Per repetition, failed ops per op and second of the recorder (seconds with
    /// failures only; absent when nothing failed).
    #[serde(default, skip_serializing_if = "no_errors")]
    pub errors_by_second: Vec<BTreeMap<String, BTreeMap<u64, u64>>>,
    /// Fields that hold no measurement because the system is an external target
    /// (driven over HTTP: nothing inside it is visible). Their values are
    /// placeholders, never to be read as zeros.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_measured: Vec<String>,
}

/// What an external target's results cannot hold.
pub const NOT_MEASURED_EXTERNALLY: [&str; 5] = [
    "round_trips",
    "inngest_executions",
    "footprint",
    "db_time",
    "projection_lag_ms",
];

fn no_errors(per_repetition: &[BTreeMap<String, BTreeMap<u64, u64>>]) -> bool {
    per_repetition.iter().all(BTreeMap::is_empty)
}

impl SystemResults {
    /// Failed ops over all ops of the measured phases.
    pub fn error_rate(&self) -> f64 {
        let (errors, ops) = self
            .ops
            .values()
            .fold((0, 0), |(e, n), o| (e + o.errors, n + o.count));
        errors as f64 / ops.max(1) as f64
    }
}

/// Stored bytes before and after the measured phases, and the writes between.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct StorageGrowth {
    /// Creates and updates completed in the measured phases.
    pub writes: u64,
    /// PostgreSQL bytes added (may be negative after vacuum).
    pub postgres_bytes: i64,
    /// Object bytes added.
    pub object_bytes: i64,
    /// Objects added.
    pub objects: i64,
}

impl StorageGrowth {
    /// PostgreSQL and object bytes added per write (per one write when there were none).
    pub fn per_write(&self) -> (f64, f64) {
        let writes = self.writes.max(1) as f64;
        (
            self.postgres_bytes as f64 / writes,
            self.object_bytes as f64 / writes,
        )
    }
}
