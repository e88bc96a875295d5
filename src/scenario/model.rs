//! The validated scenario: what a run reads.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::arch::OpKind;
pub use crate::rig::faults::Fault;

/// A duration written as `"30s"`, `"2m"`, `"250ms"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(into = "String")]
pub struct HumanDuration(pub Duration);

impl From<HumanDuration> for String {
    fn from(d: HumanDuration) -> String {
        humantime::format_duration(d.0).to_string()
    }
}

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        humantime::parse_duration(s.trim()).map(HumanDuration).map_err(|e| {
            serde::de::Error::custom(format!(
                "`{s}` is not a duration ({e}); write a number and a unit, e.g. \"500ms\", \"30s\", \"2m\", \"1h\""
            ))
        })
    }
}

/// The CI gate's settings (`[gate]`): which percentiles of corrected latency to
/// compare, the regression threshold, and the significance level of the test on
/// per-repetition values.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct GateConfig {
    /// Percentile names: p50, p90, p95, p99, p999, max, mean.
    pub percentiles: Vec<String>,
    /// Default regression threshold, percent.
    pub threshold_pct: f64,
    /// Significance level of the Mann-Whitney U test.
    pub alpha: f64,
    /// Per `op` or `op.percentile` thresholds, percent (from `gate calibrate`).
    #[serde(default)]
    pub thresholds: BTreeMap<String, f64>,
    /// Per percentile, how far one fresh run's level strays from the long-run level,
    /// percent (log-normal spread, measured across fresh A/A runs by `gate propose`).
    #[serde(default)]
    pub run_to_run: BTreeMap<String, f64>,
}

impl Default for GateConfig {
    fn default() -> Self {
        Self {
            percentiles: vec!["p50".into(), "p95".into(), "p99".into()],
            threshold_pct: 10.0,
            alpha: 0.05,
            thresholds: BTreeMap::new(),
            run_to_run: BTreeMap::new(),
        }
    }
}

/// Percentiles the gate can compare.
pub const GATE_PERCENTILES: [&str; 7] = ["p50", "p90", "p95", "p99", "p999", "max", "mean"];

/// How keys are picked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyDistributionKind {
    /// Every entity alike.
    Uniform,
    /// A few hot entities (exponent ~1 is typical of content apps).
    Zipf,
}

/// Workload model of a phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelKind {
    /// Ops arrive at a rate whatever the system does (wrk2, k6 arrival-rate).
    Open,
    /// A fixed number of users, each waiting for its op before the next (YCSB threads).
    Closed,
}

/// Inter-arrival times in the open model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Arrival {
    /// Evenly spaced.
    #[default]
    Constant,
    /// Exponential gaps (a Poisson process).
    Poisson,
}

/// A validated scenario.
#[derive(Debug, Clone, Serialize)]
pub struct Scenario {
    /// Name.
    pub name: String,
    /// Free text.
    pub description: String,
    /// SHA-256 of the file's text.
    pub hash: String,
    /// Seed of every random choice: same seed, same op sequence.
    pub rng_seed: u64,
    /// Systems to run, e.g. `v02`, `v03`, `synthetic:service=1ms`.
    pub systems: Vec<String>,
    /// What to create before measuring.
    pub seeding: Seeding,
    /// Op weights, normalised to sum 1.
    pub mix: BTreeMap<OpKind, f64>,
    /// Key popularity.
    pub keys: KeyDistribution,
    /// Phases in order.
    pub phases: Vec<Phase>,
    /// Run settings.
    pub run: RunSettings,
    /// Stated user behaviour for the cost model (kept as written).
    pub user_behaviour: BTreeMap<String, toml::Value>,
    /// CI gate settings.
    pub gate: GateConfig,
    /// Seed sizes to run one after another (`[sweep] users = [...]`); empty: just `seeding.users`.
    pub sweep_users: Vec<u64>,
    /// The event-log growth probe (`[growth]`), run after the measurements.
    pub growth: Option<GrowthProbe>,
    /// The search-quality probe (`[search_quality]`), run after the measurements.
    pub search_quality: Option<super::SearchQualityProbe>,
    /// The event-log probe (`[event_log]`), run once after every system's measurements.
    pub event_log: Option<super::EventLogConfig>,
    /// Store faults injected into each system's measured phases (`[[fault]]`).
    pub faults: Vec<Fault>,
    /// The service level the gate holds a run to (`[slo]`).
    pub slo: Option<Slo>,
    /// The instance profile to run PostgreSQL under (`[instance] name`), unless
    /// `--instance` names one.
    pub instance: Option<String>,
    /// The network profile to play (`[network] name`), unless `--network` names one.
    pub network: Option<String>,
    /// How ops become requests to a deployment reached over HTTP (`[http]`);
    /// `None`: `archbench serve`'s API.
    pub http: Option<super::http::HttpSettings>,
}

/// The service level of a run: the gate fails a run whose share of failed ops is
/// above it, on any system.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct Slo {
    /// Failed ops over measured ops, per system: 0.01 is 1%.
    pub max_error_rate: f64,
    /// Each op's 99th percentile of latency must stay at or below this, ms: what
    /// `archbench capacity` holds each step to (the gate does not use it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p99_ms: Option<f64>,
}

/// The event-log growth probe: synthetic events of more users are added to each
/// system's event store and the time-window query is timed at each size.
#[derive(Debug, Clone, Serialize)]
pub struct GrowthProbe {
    /// Event-table sizes to reach, as multiples of the seeded size, ascending, each > 1.
    pub factors: Vec<f64>,
    /// Time-window queries timed at each size.
    pub samples: usize,
}

/// Seeding settings.
#[derive(Debug, Clone, Serialize)]
pub struct Seeding {
    /// Users.
    pub users: u64,
    /// Entities per user.
    pub entities_per_user: u64,
    /// Median body size.
    pub body_median_bytes: f64,
    /// 99th percentile body size (log-normal).
    pub body_p99_bytes: f64,
    /// Fewest versions per entity.
    pub versions_min: u32,
    /// Most versions per entity.
    pub versions_max: u32,
    /// Event history spread over this many days before now.
    pub history_days: f64,
    /// Concurrent seeding writes.
    pub concurrency: usize,
}

/// Key popularity.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct KeyDistribution {
    /// Uniform or Zipf.
    pub kind: KeyDistributionKind,
    /// Zipf exponent.
    pub exponent: f64,
}

/// A validated phase.
#[derive(Debug, Clone, Serialize)]
pub struct Phase {
    /// Name (warm-up, steady, ramp ...).
    pub name: String,
    /// The workload model and its parameters.
    pub workload: Workload,
    /// How long.
    pub duration: Duration,
    /// Whether its ops go into the results (warm-up: false).
    pub record: bool,
}

/// Workload of a phase.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "model", rename_all = "lowercase")]
pub enum Workload {
    /// Open model.
    Open {
        /// Ops per second at the start.
        rate: f64,
        /// Ops per second at the end (linear ramp); equals `rate` when constant.
        ramp_to: f64,
        /// Inter-arrival distribution.
        arrival: Arrival,
    },
    /// Closed model.
    Closed {
        /// Concurrent users.
        concurrency: usize,
        /// Pause between a user's ops.
        think_time: Duration,
    },
}

/// Run settings.
#[derive(Debug, Clone, Serialize)]
pub struct RunSettings {
    /// Bound on ops in flight (open model); ops that cannot start wait and count as late.
    pub max_in_flight: usize,
    /// k of `search`.
    pub search_k: i64,
    /// Limit of `list`.
    pub list_limit: i64,
    /// Window of `activity`.
    pub activity_window: Duration,
    /// An op whose actual start is later than its intended start by more than this is late.
    pub late_after: Duration,
    /// Writes timed, one after another, for projection lag and write-to-visible
    /// latency: a p99 needs 100 or more (below that it is the largest seen).
    pub lag_writes: usize,
}

impl Default for RunSettings {
    fn default() -> Self {
        Self {
            max_in_flight: 256,
            search_k: 10,
            list_limit: 50,
            activity_window: Duration::from_secs(24 * 3600),
            late_after: Duration::from_millis(10),
            lag_writes: 5,
        }
    }
}

/// How long the recorded (measured) phases of `phases` last together: the span faults
/// must fall inside.
pub fn measured_duration(phases: &[Phase]) -> Duration {
    phases.iter().filter(|p| p.record).map(|p| p.duration).sum()
}

impl Scenario {
    /// Entities in the seed.
    pub fn seeded_entities(&self) -> u64 {
        self.seeding.users * self.seeding.entities_per_user
    }
}

/// The highest open-model rate accepted, ops/s. Above it the generator falls behind its
/// own schedule on a 2-core machine: against a no-op target, 50,000 ops/s started 0.2%
/// of ops late and 100,000 ops/s 1.8% (schedule lag p99 13.6 ms); a run that cannot
/// issue its load on time measures the generator, not the system.
pub const MAX_RATE: f64 = 50_000.0;

/// The largest body p99 accepted, bytes (16 MiB). Each op in flight holds its body
/// whole, several times over in V0.2 (row, event payload, projections).
pub const MAX_BODY_BYTES: f64 = 16.0 * 1024.0 * 1024.0;

/// The most closed-model users accepted: each is a task with a planner of its own.
pub const MAX_CONCURRENCY: u64 = 10_000;
