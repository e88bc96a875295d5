//! Scenario files as written: the TOML shape with spans, unknown keys rejected. Every
//! value is checked in `validate.rs` before anything uses it.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

use super::model::{Arrival, HumanDuration, KeyDistributionKind, ModelKind};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawScenario {
    pub(super) name: String,
    #[serde(default)]
    pub(super) description: String,
    pub(super) rng_seed: u64,
    pub(super) systems: Spanned<Vec<String>>,
    pub(super) seeding: Spanned<RawSeeding>,
    pub(super) mix: Spanned<BTreeMap<String, Spanned<f64>>>,
    #[serde(default)]
    pub(super) keys: Option<Spanned<RawKeys>>,
    #[serde(rename = "phase")]
    pub(super) phases: Spanned<Vec<Spanned<RawPhase>>>,
    #[serde(default)]
    pub(super) run: Option<Spanned<RawRun>>,
    #[serde(default)]
    pub(super) user_behaviour: Option<BTreeMap<String, toml::Value>>,
    #[serde(default)]
    pub(super) gate: Option<Spanned<RawGate>>,
    #[serde(default)]
    pub(super) sweep: Option<Spanned<RawSweep>>,
    #[serde(default)]
    pub(super) growth: Option<Spanned<RawGrowth>>,
    #[serde(default)]
    pub(super) search_quality: Option<Spanned<super::probes::RawSearchQuality>>,
    #[serde(default)]
    pub(super) event_log: Option<Spanned<super::probes::RawEventLog>>,
    #[serde(default, rename = "fault")]
    pub(super) faults: Vec<Spanned<RawFault>>,
    #[serde(default)]
    pub(super) slo: Option<Spanned<RawSlo>>,
    #[serde(default)]
    pub(super) instance: Option<RawProfileName>,
    #[serde(default)]
    pub(super) network: Option<RawProfileName>,
    #[serde(default)]
    pub(super) http: Option<Spanned<super::http::RawHttp>>,
}

/// `[instance] name = "1cu"` or `[network] name = "same-region"`: a profile of the
/// rig's files, looked up when the run starts.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawProfileName {
    pub(super) name: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFault {
    pub(super) target: Spanned<String>,
    pub(super) action: Spanned<String>,
    pub(super) at: Spanned<HumanDuration>,
    #[serde(rename = "for")]
    pub(super) down_for: Spanned<HumanDuration>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSlo {
    pub(super) max_error_rate: Spanned<f64>,
    #[serde(default)]
    pub(super) p99_ms: Option<Spanned<f64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawGrowth {
    pub(super) factors: Spanned<Vec<f64>>,
    #[serde(default)]
    pub(super) samples: Option<Spanned<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSweep {
    pub(super) users: Spanned<Vec<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawGate {
    #[serde(default)]
    pub(super) percentiles: Option<Spanned<Vec<String>>>,
    #[serde(default)]
    pub(super) threshold_pct: Option<Spanned<f64>>,
    #[serde(default)]
    pub(super) alpha: Option<Spanned<f64>>,
    #[serde(default)]
    pub(super) thresholds: Option<BTreeMap<String, Spanned<f64>>>,
    #[serde(default)]
    pub(super) run_to_run: Option<BTreeMap<String, Spanned<f64>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSeeding {
    pub(super) users: Spanned<i64>,
    pub(super) entities_per_user: Spanned<i64>,
    pub(super) body_bytes: Spanned<RawBodyBytes>,
    pub(super) versions_per_entity: Spanned<RawRange>,
    pub(super) history_days: Spanned<f64>,
    #[serde(default = "default_seed_concurrency")]
    pub(super) concurrency: Spanned<i64>,
}

pub(super) fn default_seed_concurrency() -> Spanned<i64> {
    Spanned::new(0..0, 16)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawBodyBytes {
    pub(super) median: f64,
    pub(super) p99: f64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRange {
    pub(super) min: i64,
    pub(super) max: i64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawKeys {
    pub(super) distribution: KeyDistributionKind,
    #[serde(default)]
    pub(super) exponent: Option<Spanned<f64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPhase {
    pub(super) name: String,
    pub(super) model: ModelKind,
    pub(super) duration: Spanned<HumanDuration>,
    #[serde(default)]
    pub(super) rate: Option<Spanned<f64>>,
    #[serde(default)]
    pub(super) ramp_to: Option<Spanned<f64>>,
    #[serde(default)]
    pub(super) arrival: Option<Arrival>,
    #[serde(default)]
    pub(super) concurrency: Option<Spanned<i64>>,
    #[serde(default)]
    pub(super) think_time: Option<HumanDuration>,
    #[serde(default)]
    pub(super) record: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRun {
    #[serde(default)]
    pub(super) max_in_flight: Option<Spanned<i64>>,
    #[serde(default)]
    pub(super) search_k: Option<Spanned<i64>>,
    #[serde(default)]
    pub(super) list_limit: Option<Spanned<i64>>,
    #[serde(default)]
    pub(super) activity_window: Option<HumanDuration>,
    #[serde(default)]
    pub(super) late_after: Option<HumanDuration>,
    #[serde(default)]
    pub(super) lag_writes: Option<Spanned<i64>>,
}
