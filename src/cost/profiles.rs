//! The cost-model file: named assumptions and deployment profiles (which provider
//! hosts each store of each system), read and checked with file:line:column errors.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::catalogue::CatalogueError;
use crate::arch::{V02_NAME, V03_NAME};
use crate::input::InputError;

/// A cost-model file or its inputs cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// An unreadable or malformed cost-model file.
    #[error(transparent)]
    File(#[from] InputError),
    /// The results file lacks something the model needs.
    #[error("{path}: field `{field}`: {message}")]
    Input {
        /// Results file.
        path: String,
        /// Field.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// A price is missing.
    #[error(transparent)]
    Price(#[from] CatalogueError),
}

/// Named assumptions; each is printed in the report with its value.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Assumptions {
    /// User counts to project.
    pub users: Vec<u64>,
    /// Tier at which the document's dollar figures are judged.
    pub reference_users: u64,
    /// Months the storage bill is averaged over, billed month by month.
    pub months_of_data: f64,
    /// Content (logical bodies, GB) that exists before the period: each system holds it
    /// as its measured footprint stores content.
    pub existing_content_gb: f64,
    /// Days per month for daily behaviour.
    pub days_per_month: f64,
    /// Hours billed per month for always-on compute.
    pub hours_per_month: f64,
    /// Share of provisioned database CPU used at the busiest hour before sizing up.
    pub db_utilisation: f64,
    /// Ratio of peak-hour to average load.
    pub peak_to_average: f64,
    /// Smallest always-on database compute, vCPU (production does not scale to zero).
    pub min_db_vcpu: f64,
    /// Share of object reads on the request path that leave the provider's network.
    pub egress_share: f64,
    /// Stored/raw ratio of TimescaleDB's compression on Tiger Cloud (1.0 = none, as measured).
    pub tiger_compression: f64,
    /// Network round-trip time to the database, ms (latency estimate).
    pub rtt_postgres_ms: f64,
    /// Network round-trip time to the object store, ms.
    pub rtt_object_ms: f64,
    /// Network round-trip time to Inngest's event API, ms.
    pub rtt_workflow_ms: f64,
}

impl Assumptions {
    /// (name, value, meaning) rows for the report.
    pub fn rows(&self) -> Vec<(&'static str, String, &'static str)> {
        vec![
            ("users", format!("{:?}", self.users), "user tiers projected"),
            (
                "reference_users",
                self.reference_users.to_string(),
                "tier the document's dollar figures are judged at",
            ),
            (
                "months_of_data",
                self.months_of_data.to_string(),
                "months the storage bill is averaged over, billed month by month",
            ),
            (
                "existing_content_gb",
                self.existing_content_gb.to_string(),
                "content held before the period (GB of bodies), stored as each system stores it",
            ),
            (
                "days_per_month",
                self.days_per_month.to_string(),
                "days per month for daily behaviour",
            ),
            (
                "hours_per_month",
                self.hours_per_month.to_string(),
                "hours of always-on compute per month",
            ),
            (
                "db_utilisation",
                self.db_utilisation.to_string(),
                "share of provisioned DB CPU used at peak before sizing up",
            ),
            (
                "peak_to_average",
                self.peak_to_average.to_string(),
                "peak-hour load / average load",
            ),
            (
                "min_db_vcpu",
                self.min_db_vcpu.to_string(),
                "smallest always-on DB compute, vCPU",
            ),
            (
                "egress_share",
                self.egress_share.to_string(),
                "share of request-path object reads leaving the provider",
            ),
            (
                "tiger_compression",
                self.tiger_compression.to_string(),
                "stored/raw on Tiger Cloud (1.0 = uncompressed, as measured here)",
            ),
            (
                "rtt_postgres_ms",
                self.rtt_postgres_ms.to_string(),
                "app ↔ database round trip, ms",
            ),
            (
                "rtt_object_ms",
                self.rtt_object_ms.to_string(),
                "app ↔ object store round trip, ms",
            ),
            (
                "rtt_workflow_ms",
                self.rtt_workflow_ms.to_string(),
                "app ↔ Inngest event API round trip, ms",
            ),
        ]
    }
}

/// Who hosts PostgreSQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PostgresHost {
    /// Neon, Launch plan.
    NeonLaunch,
    /// Neon, Scale plan.
    NeonScale,
    /// Tiger Cloud.
    Tiger,
}

/// Who stores objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ObjectHost {
    /// Cloudflare R2.
    R2,
    /// AWS S3 Standard.
    S3,
}

/// Inngest plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WorkflowPlan {
    /// Pro: base fee with 1M executions, then overage.
    InngestPro,
}

/// Where vectors live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum VectorHost {
    /// pgvector inside PostgreSQL (no separate bill).
    #[default]
    Pgvector,
    /// Qdrant Cloud (not publicly priced).
    Qdrant,
}

/// Where events live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum EventHost {
    /// In PostgreSQL (a table or a TimescaleDB hypertable; no separate bill).
    #[default]
    Postgres,
    /// Kurrent / EventStoreDB Cloud (not publicly priced).
    Kurrent,
}

/// One deployment profile: which provider hosts each store of one system.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deployment {
    /// Stable id.
    pub id: String,
    /// Which measured system (`v02`, `v03`).
    pub system: String,
    /// Shown in the report.
    pub label: String,
    /// PostgreSQL host.
    pub postgres: PostgresHost,
    /// Object store.
    pub objects: ObjectHost,
    /// Workflow engine plan.
    pub workflows: WorkflowPlan,
    /// Vector search host.
    #[serde(default)]
    pub vectors: VectorHost,
    /// Event store host.
    #[serde(default)]
    pub events: EventHost,
    /// The profile the verdict uses for this system (one per system).
    #[serde(default)]
    pub primary: bool,
}

/// A cost-model file: assumptions and deployment profiles.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CostModel {
    /// Named assumptions.
    pub assumptions: Assumptions,
    /// Profiles.
    #[serde(rename = "deployment")]
    pub deployments: Vec<Deployment>,
}

impl CostModel {
    /// Reads and checks a cost-model file.
    pub fn load(path: &Path) -> Result<CostModel, ModelError> {
        let src = InputError::read(path)?;
        Self::parse(&src, path)
    }

    /// Parses cost-model text; `path` is used in messages.
    pub fn parse(src: &str, path: &Path) -> Result<CostModel, ModelError> {
        let invalid = |offset: usize, field: &str, message: String| {
            ModelError::File(InputError::at(src, path, offset, field, message))
        };
        let m: CostModel =
            toml::from_str(src).map_err(|e| InputError::toml(src, path, &e, "cost model"))?;
        let a = &m.assumptions;
        let key_at = |k: &str| src.find(&format!("\n{k}")).map_or(0, |i| i + 1);
        for (k, v, lo, hi) in [
            ("months_of_data", a.months_of_data, 0.0, 600.0),
            ("existing_content_gb", a.existing_content_gb, 0.0, 1e9),
            ("days_per_month", a.days_per_month, 28.0, 31.0),
            ("hours_per_month", a.hours_per_month, 1.0, 744.0),
            ("db_utilisation", a.db_utilisation, 0.01, 1.0),
            ("peak_to_average", a.peak_to_average, 1.0, 100.0),
            ("min_db_vcpu", a.min_db_vcpu, 0.0, 1024.0),
            ("egress_share", a.egress_share, 0.0, 1.0),
            ("tiger_compression", a.tiger_compression, 0.001, 1.0),
            ("rtt_postgres_ms", a.rtt_postgres_ms, 0.0, 10_000.0),
            ("rtt_object_ms", a.rtt_object_ms, 0.0, 10_000.0),
            ("rtt_workflow_ms", a.rtt_workflow_ms, 0.0, 10_000.0),
        ] {
            if !(v.is_finite() && (lo..=hi).contains(&v)) {
                return Err(invalid(
                    key_at(k),
                    &format!("assumptions.{k}"),
                    format!("must be within {lo}..={hi}, got {v}"),
                ));
            }
        }
        if a.users.is_empty() || a.users.contains(&0) {
            return Err(invalid(
                key_at("users"),
                "assumptions.users",
                "give at least one user count, each > 0".into(),
            ));
        }
        for sys in [V02_NAME, V03_NAME] {
            let n = m
                .deployments
                .iter()
                .filter(|d| d.system == sys && d.primary)
                .count();
            if n != 1 {
                return Err(invalid(
                    key_at("[[deployment]]"),
                    "deployment.primary",
                    format!("exactly one deployment of `{sys}` must be primary, found {n}"),
                ));
            }
        }
        Ok(m)
    }

    /// The primary deployment of `system`.
    pub fn primary(&self, system: &str) -> Option<&Deployment> {
        self.deployments
            .iter()
            .find(|d| d.system == system && d.primary)
    }
}
