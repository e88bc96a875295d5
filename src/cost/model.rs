//! The usage model and the monthly projections.
//!
//! Per system, *unit usage* is measured in a run (object reads and writes per op,
//! executions per write, database seconds per op, stored bytes per write, body size)
//! and combined with the scenario's stated user behaviour and the named assumptions of
//! a cost-model file into monthly usage at N users; each deployment profile prices that
//! usage with the catalogue.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::Usd;
use super::catalogue::{CatalogueError, PriceSource, Unit};
use crate::arch::OpKind;
use crate::arch::Store;
use crate::input::InputError;
use crate::results::{Results, SystemResults};

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
    /// Months of accumulated data the storage bill covers.
    pub months_of_data: f64,
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
                "months of data the storage bill covers",
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
        for sys in ["v02", "v03"] {
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

/// The scenario's stated user behaviour, typed.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct UserBehaviour {
    /// Share of users active on a day.
    pub active_share: f64,
    /// Read ops (get, list, search, history, activity) per active user per day, split
    /// by the measured read mix.
    pub ops_per_active_user_per_day: f64,
    /// Creates per user per month.
    pub new_documents_per_user_per_month: f64,
    /// Updates per user per month.
    pub updates_per_user_per_month: f64,
}

impl UserBehaviour {
    /// Reads it from a results file's `scenario.user_behaviour`.
    pub fn from_results(r: &Results, path: &str) -> Result<UserBehaviour, ModelError> {
        let get = |k: &str| -> Result<f64, ModelError> {
            let field = format!("scenario.user_behaviour.{k}");
            let v = r
                .scenario
                .user_behaviour
                .get(k)
                .ok_or_else(|| ModelError::Input {
                    path: path.into(),
                    field: field.clone(),
                    message: "missing: the scenario's [user_behaviour] must state it".into(),
                })?;
            let x = v
                .as_float()
                .or_else(|| v.as_integer().map(|i| i as f64))
                .filter(|x| x.is_finite() && *x >= 0.0)
                .ok_or_else(|| ModelError::Input {
                    path: path.into(),
                    field,
                    message: format!("must be a number ≥ 0, got {v}"),
                })?;
            Ok(x)
        };
        let b = UserBehaviour {
            active_share: get("active_share")?,
            ops_per_active_user_per_day: get("ops_per_active_user_per_day")?,
            new_documents_per_user_per_month: get("new_documents_per_user_per_month")?,
            updates_per_user_per_month: get("updates_per_user_per_month")?,
        };
        if b.active_share > 1.0 {
            return Err(ModelError::Input {
                path: path.into(),
                field: "scenario.user_behaviour.active_share".into(),
                message: format!("a share is within 0..=1, got {}", b.active_share),
            });
        }
        Ok(b)
    }

    /// Writes per user per month.
    pub fn writes_per_user_per_month(&self) -> f64 {
        self.new_documents_per_user_per_month + self.updates_per_user_per_month
    }
}

/// What one system uses per op, measured in a run. `None` fields were not measured.
#[derive(Debug, Clone, Serialize)]
pub struct UnitUsage {
    /// Share of each read kind among reads.
    pub read_mix: BTreeMap<OpKind, f64>,
    /// Object writes (PUT) per op, both paths.
    pub object_writes_per_op: BTreeMap<OpKind, f64>,
    /// Object reads (GET) per op, both paths.
    pub object_reads_per_op: BTreeMap<OpKind, f64>,
    /// Object reads per op on the request path (served to users).
    pub object_reads_request_path: BTreeMap<OpKind, f64>,
    /// Inngest executions per write.
    pub executions_per_write: Option<f64>,
    /// Database seconds per op (measured mix).
    pub db_seconds_per_op: Option<f64>,
    /// PostgreSQL bytes added per write.
    pub postgres_bytes_per_write: Option<f64>,
    /// Object bytes added per write.
    pub object_bytes_per_write: Option<f64>,
    /// Mean current body, bytes.
    pub mean_body_bytes: Option<f64>,
}

const READS: [OpKind; 5] = [
    OpKind::Get,
    OpKind::List,
    OpKind::Search,
    OpKind::History,
    OpKind::Activity,
];
const WRITES: [OpKind; 2] = [OpKind::Create, OpKind::Update];

impl UnitUsage {
    /// Measures it from one system's results.
    pub fn from_system(s: &SystemResults, seeded_entities: u64) -> UnitUsage {
        let count = |op: OpKind| s.ops.get(op.name()).map_or(0, |o| o.count) as f64;
        let reads: f64 = READS.iter().map(|op| count(*op)).sum();
        let read_mix = READS
            .iter()
            .map(|op| (*op, if reads > 0.0 { count(*op) / reads } else { 0.0 }))
            .collect();
        let mut w = BTreeMap::new();
        let mut r = BTreeMap::new();
        let mut rr = BTreeMap::new();
        let (mut total_ops, mut writes) = (0u64, 0u64);
        for op in OpKind::ALL {
            let Some(rt) = s.round_trips.get(op.name()) else {
                continue;
            };
            total_ops += rt.ops;
            if WRITES.contains(&op) {
                writes += rt.ops;
            }
            if rt.ops == 0 {
                continue;
            }
            let n = rt.ops as f64;
            let s3 = rt.request_path.get(&Store::S3).unwrap_or(&0)
                + rt.background.get(&Store::S3).unwrap_or(&0);
            w.insert(op, rt.s3_writes as f64 / n);
            r.insert(op, s3.saturating_sub(rt.s3_writes) as f64 / n);
            // Request-path S3 trips of a read are GETs of the body for the caller.
            let req = *rt.request_path.get(&Store::S3).unwrap_or(&0);
            let req_reads = if WRITES.contains(&op) { 0 } else { req };
            rr.insert(op, req_reads as f64 / n);
        }
        let per = |x: f64, n: u64| (n > 0).then(|| x / n as f64);
        UnitUsage {
            read_mix,
            object_writes_per_op: w,
            object_reads_per_op: r,
            object_reads_request_path: rr,
            executions_per_write: per(s.inngest_executions.executions as f64, writes),
            db_seconds_per_op: s
                .db_time
                .and_then(|d| per(d.total_s(), total_ops).filter(|_| d.calls > 0)),
            postgres_bytes_per_write: s
                .storage_growth
                .and_then(|g| per(g.postgres_bytes.max(0) as f64, g.writes)),
            object_bytes_per_write: s
                .storage_growth
                .and_then(|g| per(g.object_bytes.max(0) as f64, g.writes)),
            mean_body_bytes: s
                .footprint
                .as_ref()
                .and_then(|f| per(f.logical_body_bytes as f64, seeded_entities)),
        }
    }
}

/// Monthly usage of one system at one user count.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct MonthlyUsage {
    /// Users.
    pub users: u64,
    /// Ops of all kinds.
    pub ops: f64,
    /// Creates + updates.
    pub writes: f64,
    /// Object PUTs.
    pub object_writes: f64,
    /// Object GETs.
    pub object_reads: f64,
    /// Bytes served from the object store to users.
    pub egress_bytes: Option<f64>,
    /// Inngest executions.
    pub executions: Option<f64>,
    /// Database seconds.
    pub db_seconds: Option<f64>,
    /// vCPU needed at peak.
    pub db_vcpu_needed: Option<f64>,
    /// PostgreSQL bytes held.
    pub postgres_bytes: Option<f64>,
    /// Object bytes held.
    pub object_bytes: Option<f64>,
}

/// Usage at `users`.
pub fn monthly_usage(
    u: &UnitUsage,
    b: &UserBehaviour,
    a: &Assumptions,
    users: u64,
) -> MonthlyUsage {
    let n = users as f64;
    let reads = n * b.active_share * b.ops_per_active_user_per_day * a.days_per_month;
    let mut per_kind: BTreeMap<OpKind, f64> = READS
        .iter()
        .map(|op| (*op, reads * u.read_mix.get(op).copied().unwrap_or(0.0)))
        .collect();
    per_kind.insert(OpKind::Create, n * b.new_documents_per_user_per_month);
    per_kind.insert(OpKind::Update, n * b.updates_per_user_per_month);
    let sum_by = |m: &BTreeMap<OpKind, f64>| -> f64 {
        per_kind
            .iter()
            .map(|(op, k)| k * m.get(op).copied().unwrap_or(0.0))
            .sum()
    };
    let writes = n * b.writes_per_user_per_month();
    let ops = per_kind.values().sum::<f64>();
    let db_seconds = u.db_seconds_per_op.map(|s| s * ops);
    let held = |per_write: Option<f64>| per_write.map(|x| x * writes * a.months_of_data);
    MonthlyUsage {
        users,
        ops,
        writes,
        object_writes: sum_by(&u.object_writes_per_op),
        object_reads: sum_by(&u.object_reads_per_op),
        egress_bytes: u
            .mean_body_bytes
            .map(|body| sum_by(&u.object_reads_request_path) * body * a.egress_share),
        executions: u.executions_per_write.map(|e| writes * e),
        db_seconds,
        db_vcpu_needed: db_seconds
            .map(|s| s / (a.days_per_month * 86_400.0) * a.peak_to_average / a.db_utilisation),
        postgres_bytes: held(u.postgres_bytes_per_write),
        object_bytes: held(u.object_bytes_per_write),
    }
}

/// One priced (or unpriced) line of a monthly bill.
#[derive(Debug, Clone, Serialize)]
pub struct CostLine {
    /// Component, e.g. "PostgreSQL compute".
    pub component: String,
    /// Catalogue id.
    pub price_id: String,
    /// Usage in the price's unit.
    pub quantity: f64,
    /// The price's unit.
    pub unit: String,
    /// Cost, or `None` when unpriced or the usage was not measured.
    pub cost: Option<Usd>,
    /// Why there is no cost.
    pub missing: Option<String>,
}

/// A monthly bill of one deployment at one user count.
#[derive(Debug, Clone, Serialize)]
pub struct Projection {
    /// Deployment id.
    pub deployment: String,
    /// System.
    pub system: String,
    /// Users.
    pub users: u64,
    /// Usage behind it.
    pub usage: MonthlyUsage,
    /// Lines.
    pub lines: Vec<CostLine>,
    /// Sum of the priced lines.
    pub total: Usd,
    /// True when every line has a cost.
    pub fully_priced: bool,
}

/// Prices `usage` for `d`.
pub fn project(
    d: &Deployment,
    usage: &MonthlyUsage,
    a: &Assumptions,
    prices: &dyn PriceSource,
) -> Result<Projection, ModelError> {
    let mut lines = Vec::new();
    let mut line =
        |component: &str, id: &str, raw: Option<f64>, why: &str| -> Result<(), ModelError> {
            let p = prices.price(id)?;
            let unit = p
                .unit
                .map_or_else(|| "-".to_string(), |u: Unit| u.to_string());
            let scale = p.unit.map_or(1.0, Unit::scale);
            let (cost, missing) = match (raw, p.usd) {
                (_, None) => (
                    None,
                    Some(
                        p.unpriced
                            .clone()
                            .unwrap_or_else(|| "not publicly priced".into()),
                    ),
                ),
                (None, _) => (None, Some(format!("not measured: {why}"))),
                (Some(x), Some(_)) => (p.cost(x), None),
            };
            lines.push(CostLine {
                component: component.into(),
                price_id: id.into(),
                quantity: raw.map_or(0.0, |x| x / scale),
                unit,
                cost,
                missing,
            });
            Ok(())
        };
    let hours = a.hours_per_month;
    let no_db = "no pg_stat_statements time in the results";
    let no_growth = "no storage growth in the results";
    match d.postgres {
        PostgresHost::NeonLaunch | PostgresHost::NeonScale => {
            let id = if d.postgres == PostgresHost::NeonLaunch {
                "neon.compute.launch"
            } else {
                "neon.compute.scale"
            };
            let cu_vcpu = prices.price(id)?.vcpu.unwrap_or(1.0);
            let cu_hours = usage
                .db_vcpu_needed
                .map(|v| v.max(a.min_db_vcpu) / cu_vcpu * hours);
            line("PostgreSQL compute", id, cu_hours, no_db)?;
            line(
                "PostgreSQL storage",
                "neon.storage",
                usage.postgres_bytes,
                no_growth,
            )?;
        }
        PostgresHost::Tiger => {
            let sizes = [
                "tiger.compute.0_5cpu",
                "tiger.compute.1cpu",
                "tiger.compute.2cpu",
                "tiger.compute.4cpu",
                "tiger.compute.8cpu",
            ];
            match usage.db_vcpu_needed.map(|v| v.max(a.min_db_vcpu)) {
                Some(v) => {
                    // The smallest size that holds the peak; beyond the largest, nodes of it.
                    let mut pick = None;
                    for id in sizes {
                        if prices.price(id)?.vcpu.unwrap_or(0.0) >= v {
                            pick = Some((id, 1.0));
                            break;
                        }
                    }
                    let (id, nodes) = match pick {
                        Some(p) => p,
                        None => {
                            let big = sizes[sizes.len() - 1];
                            (big, (v / prices.price(big)?.vcpu.unwrap_or(8.0)).ceil())
                        }
                    };
                    line("PostgreSQL compute", id, Some(nodes * hours), "")?;
                }
                None => line("PostgreSQL compute", sizes[0], None, no_db)?,
            }
            line(
                "PostgreSQL storage",
                "tiger.storage",
                usage.postgres_bytes.map(|b| b * a.tiger_compression),
                no_growth,
            )?;
        }
    }
    match d.objects {
        ObjectHost::R2 => {
            line(
                "Object storage",
                "r2.storage",
                usage.object_bytes,
                no_growth,
            )?;
            line(
                "Object writes (Class A)",
                "r2.class_a",
                Some(usage.object_writes),
                "",
            )?;
            line(
                "Object reads (Class B)",
                "r2.class_b",
                Some(usage.object_reads),
                "",
            )?;
            line(
                "Object egress",
                "r2.egress",
                usage.egress_bytes,
                "no body size",
            )?;
        }
        ObjectHost::S3 => {
            line(
                "Object storage",
                "s3.storage",
                usage.object_bytes,
                no_growth,
            )?;
            line(
                "Object writes (PUT)",
                "s3.put",
                Some(usage.object_writes),
                "",
            )?;
            line("Object reads (GET)", "s3.get", Some(usage.object_reads), "")?;
            line(
                "Object egress",
                "s3.egress",
                usage.egress_bytes,
                "no body size",
            )?;
        }
    }
    match d.workflows {
        WorkflowPlan::InngestPro => {
            line("Inngest plan", "inngest.pro.base", Some(1.0), "")?;
            line(
                "Inngest executions",
                "inngest.pro.overage",
                usage.executions,
                "no writes in the results",
            )?;
        }
    }
    if d.vectors == VectorHost::Qdrant {
        line("Vector search (Qdrant Cloud)", "qdrant.cloud", None, "")?;
    }
    if d.events == EventHost::Kurrent {
        line("Event store (Kurrent Cloud)", "kurrent.cloud", None, "")?;
    }
    let total = lines
        .iter()
        .filter_map(|l| l.cost)
        .fold(Usd(0.0), |a, b| a + b);
    let fully_priced = lines.iter().all(|l| l.cost.is_some());
    Ok(Projection {
        deployment: d.id.clone(),
        system: d.system.clone(),
        users: usage.users,
        usage: *usage,
        lines,
        total,
        fully_priced,
    })
}

/// Every deployment at every tier, for one results file.
#[derive(Debug, Clone, Serialize)]
pub struct CostReport {
    /// The model used.
    pub model: CostModel,
    /// Behaviour from the scenario.
    pub behaviour: UserBehaviour,
    /// Measured unit usage per system.
    pub unit_usage: BTreeMap<String, UnitUsage>,
    /// Projections, deployments in file order, tiers ascending.
    pub projections: Vec<Projection>,
}

impl CostReport {
    /// Projects every deployment whose system is in the results.
    pub fn build(
        results: &Results,
        results_path: &str,
        model: &CostModel,
        prices: &dyn PriceSource,
    ) -> Result<CostReport, ModelError> {
        let behaviour = UserBehaviour::from_results(results, results_path)?;
        let mut unit_usage = BTreeMap::new();
        for (name, s) in &results.systems {
            unit_usage.insert(
                name.clone(),
                UnitUsage::from_system(s, results.scenario.seeded_entities),
            );
        }
        let mut projections = Vec::new();
        for d in &model.deployments {
            let Some(u) = unit_usage.get(&d.system) else {
                continue;
            };
            for &users in &model.assumptions.users {
                let usage = monthly_usage(u, &behaviour, &model.assumptions, users);
                projections.push(project(d, &usage, &model.assumptions, prices)?);
            }
        }
        Ok(CostReport {
            model: model.clone(),
            behaviour,
            unit_usage,
            projections,
        })
    }

    /// The projection of `deployment` at `users`.
    pub fn at(&self, deployment: &str, users: u64) -> Option<&Projection> {
        self.projections
            .iter()
            .find(|p| p.deployment == deployment && p.users == users)
    }

    /// Monthly total of the primary deployment of `system` at `users`, recomputed with
    /// `tweak` applied to the assumptions (for sensitivity searches).
    pub fn primary_total_with(
        &self,
        system: &str,
        users: u64,
        prices: &dyn PriceSource,
        tweak: &dyn Fn(&mut Assumptions, &mut UnitUsage),
    ) -> Option<Usd> {
        let d = self.model.primary(system)?;
        let mut a = self.model.assumptions.clone();
        let mut u = self.unit_usage.get(system)?.clone();
        tweak(&mut a, &mut u);
        let usage = monthly_usage(&u, &self.behaviour, &a, users);
        project(d, &usage, &a, prices).ok().map(|p| p.total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cost::catalogue::Catalogue;

    fn catalogue() -> Catalogue {
        Catalogue::load_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("pricing")).unwrap()
    }

    fn assumptions() -> Assumptions {
        Assumptions {
            users: vec![100_000],
            reference_users: 100_000,
            months_of_data: 2.0,
            days_per_month: 30.0,
            hours_per_month: 730.0,
            db_utilisation: 0.5,
            peak_to_average: 3.0,
            min_db_vcpu: 1.0,
            egress_share: 1.0,
            tiger_compression: 1.0,
            rtt_postgres_ms: 1.0,
            rtt_object_ms: 20.0,
            rtt_workflow_ms: 30.0,
        }
    }

    /// Gets only, one GET per read on the request path, one PUT per write, V0.2's ten
    /// executions per write (4 runs + 6 steps), 1 ms of database per op.
    fn unit() -> UnitUsage {
        let one = |op: OpKind| BTreeMap::from([(op, 1.0)]);
        UnitUsage {
            read_mix: BTreeMap::from([(OpKind::Get, 1.0)]),
            object_writes_per_op: BTreeMap::from([(OpKind::Create, 1.0), (OpKind::Update, 1.0)]),
            object_reads_per_op: one(OpKind::Get),
            object_reads_request_path: one(OpKind::Get),
            executions_per_write: Some(10.0),
            db_seconds_per_op: Some(0.001),
            postgres_bytes_per_write: Some(20_000.0),
            object_bytes_per_write: Some(10_250.0),
            mean_body_bytes: Some(10_000.0),
        }
    }

    fn behaviour() -> UserBehaviour {
        UserBehaviour {
            active_share: 0.5,
            ops_per_active_user_per_day: 10.0,
            new_documents_per_user_per_month: 2.0,
            updates_per_user_per_month: 8.0,
        }
    }

    fn deployment(objects: ObjectHost) -> Deployment {
        Deployment {
            id: "d".into(),
            system: "v02".into(),
            label: "d".into(),
            postgres: PostgresHost::NeonScale,
            objects,
            workflows: WorkflowPlan::InngestPro,
            vectors: VectorHost::Pgvector,
            events: EventHost::Postgres,
            primary: true,
        }
    }

    fn cost(p: &Projection, component: &str) -> f64 {
        p.lines
            .iter()
            .find(|l| l.component == component)
            .unwrap_or_else(|| panic!("{component}"))
            .cost
            .unwrap()
            .0
    }

    #[test]
    fn hand_computed_bill_on_s3_and_r2() {
        let (a, c) = (assumptions(), catalogue());
        let u = monthly_usage(&unit(), &behaviour(), &a, 100_000);
        // 100K users × 0.5 active × 10 reads × 30 days = 15M gets; 1M writes.
        assert_eq!(u.object_reads, 15e6);
        assert_eq!(u.writes, 1e6);
        assert_eq!(u.executions, Some(10e6), "runs + steps: 10 per write");

        let s3 = project(&deployment(ObjectHost::S3), &u, &a, &c).unwrap();
        // 15M GETs × $0.0004/1000.
        assert!((cost(&s3, "Object reads (GET)") - 6.0).abs() < 1e-9);
        // 1M PUTs × $0.005/1000.
        assert!((cost(&s3, "Object writes (PUT)") - 5.0).abs() < 1e-9);
        // 15M × 10 KB = 150 GB out, first 100 GB free, $0.09/GB.
        assert!((cost(&s3, "Object egress") - 4.5).abs() < 1e-9);
        // 1M writes × 10,250 B × 2 months = 20.5 GB × $0.023.
        assert!((cost(&s3, "Object storage") - 0.4715).abs() < 1e-9);
        // 10M executions: Pro includes 1M, 9M × $50/M; base fee $75.
        assert!((cost(&s3, "Inngest executions") - 450.0).abs() < 1e-9);
        assert!((cost(&s3, "Inngest plan") - 75.0).abs() < 1e-9);
        // 16M ops × 1 ms = 16,000 s → 0.037 vCPU at peak: the 1-vCPU floor, 730 CU-h × $0.222.
        assert!((cost(&s3, "PostgreSQL compute") - 162.06).abs() < 1e-9);
        // 1M × 20 KB × 2 months = 40 GB × $0.35.
        assert!((cost(&s3, "PostgreSQL storage") - 14.0).abs() < 1e-9);
        assert!(s3.fully_priced);
        let sum: f64 = s3.lines.iter().map(|l| l.cost.unwrap().0).sum();
        assert!((s3.total.0 - sum).abs() < 1e-9);

        let r2 = project(&deployment(ObjectHost::R2), &u, &a, &c).unwrap();
        // 1M Class A: all inside the free million.
        assert_eq!(cost(&r2, "Object writes (Class A)"), 0.0);
        // 15M Class B − 10M free = 5M × $0.36.
        assert!((cost(&r2, "Object reads (Class B)") - 1.8).abs() < 1e-9);
        // 20.5 GB − 10 free = 10.5, rounded up to 11 GB-month × $0.015.
        assert!((cost(&r2, "Object storage") - 0.165).abs() < 1e-9);
        assert_eq!(cost(&r2, "Object egress"), 0.0);
    }

    #[test]
    fn unpriced_and_unmeasured_lines_carry_no_number() {
        let (a, c) = (assumptions(), catalogue());
        let mut unit = unit();
        unit.db_seconds_per_op = None;
        let u = monthly_usage(&unit, &behaviour(), &a, 100_000);
        let mut d = deployment(ObjectHost::R2);
        d.vectors = VectorHost::Qdrant;
        let p = project(&d, &u, &a, &c).unwrap();
        assert!(!p.fully_priced);
        let q = p
            .lines
            .iter()
            .find(|l| l.price_id == "qdrant.cloud")
            .unwrap();
        assert!(
            q.cost.is_none()
                && q.missing
                    .as_deref()
                    .unwrap()
                    .contains("not publicly priced")
        );
        let db = p
            .lines
            .iter()
            .find(|l| l.component == "PostgreSQL compute")
            .unwrap();
        assert!(db.cost.is_none() && db.missing.as_deref().unwrap().starts_with("not measured"));
    }

    fn compute_line(p: &Projection) -> &CostLine {
        p.lines
            .iter()
            .find(|l| l.component == "PostgreSQL compute")
            .unwrap()
    }

    #[test]
    fn tiger_picks_the_smallest_size_that_holds_the_peak() {
        let (mut a, c) = (assumptions(), catalogue());
        a.min_db_vcpu = 0.0;
        let mut unit = unit();
        // 16M ops × 0.5 s = 8M s / 2.592M s × 3 / 0.5 = 18.5 vCPU: three 8-CPU nodes.
        unit.db_seconds_per_op = Some(0.5);
        let u = monthly_usage(&unit, &behaviour(), &a, 100_000);
        let mut d = deployment(ObjectHost::R2);
        d.postgres = PostgresHost::Tiger;
        let p = project(&d, &u, &a, &c).unwrap();
        let l = compute_line(&p);
        assert_eq!(l.price_id, "tiger.compute.8cpu");
        assert!((l.quantity - 3.0 * 730.0).abs() < 1e-9);
        // 1.5 vCPU fits the 2-CPU size.
        unit.db_seconds_per_op = Some(0.5 * 1.5 / 18.518_518_5);
        let u = monthly_usage(&unit, &behaviour(), &a, 100_000);
        let p = project(&d, &u, &a, &c).unwrap();
        let l = compute_line(&p);
        assert_eq!(l.price_id, "tiger.compute.2cpu");
    }

    #[test]
    fn a_bad_cost_model_names_file_line_and_field() {
        let src = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("deployments/decision-doc.toml"),
        )
        .unwrap();
        assert!(CostModel::parse(&src, Path::new("m.toml")).is_ok());
        let bad = src.replace("db_utilisation = 0.5", "db_utilisation = 5");
        let e = CostModel::parse(&bad, Path::new("m.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("m.toml:") && e.contains("assumptions.db_utilisation"),
            "{e}"
        );
        let bad = src.replace("objects = \"r2\"", "objects = \"gcs\"");
        let e = CostModel::parse(&bad, Path::new("m.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("gcs"), "{e}");
    }
}
