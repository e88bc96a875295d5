//! Usage: what one system uses per op, measured in a run (object reads and writes per
//! op, executions per write, database seconds per op, stored bytes per write, body
//! size), and what that comes to per month at N users under the scenario's stated
//! user behaviour and the named assumptions. Compute is sized from the capacity
//! measured at the SLO when a capacity file is given, else linearly from DB time.

use std::collections::BTreeMap;

use serde::Serialize;

use super::profiles::{Assumptions, ModelError};
use crate::arch::{OpKind, Store};
use crate::probes::capacity::Limit;
use crate::probes::capacity_file::CapacityReport;
use crate::results::{Results, SystemResults};

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
    /// PostgreSQL and object bytes the system holds per logical body byte (measured
    /// footprint): how the content that exists today is stored.
    #[serde(default)]
    pub stored_per_logical_byte: Option<(f64, f64)>,
    /// The sustainable rate per vCPU measured by `archbench capacity` under an
    /// instance profile: when present, compute is sized from it, not from DB time.
    #[serde(default)]
    pub capacity: Option<MeasuredCapacity>,
}

/// A capacity measured at the SLO on a sized instance, per vCPU of that instance.
#[derive(Debug, Clone, Serialize)]
pub struct MeasuredCapacity {
    /// Sustainable ops/s at the SLO ÷ the instance's vCPUs (read back from its cgroup).
    pub ops_per_s_per_vcpu: f64,
    /// Where it was measured: file, instance, dataset size, network, what limited it.
    pub source: String,
}

impl MeasuredCapacity {
    /// The figure for `system` from capacity files: of those measured under an
    /// instance profile, the largest dataset, then the largest instance — the nearest
    /// to production this machine measured.
    pub fn choose(system: &str, reports: &[CapacityReport]) -> Option<MeasuredCapacity> {
        let best = reports
            .iter()
            .filter_map(|r| Some((r, r.sustainable(system)?, r.vcpu()?)))
            .filter(|(_, rate, _)| *rate > 0.0)
            .max_by(|(a, _, av), (b, _, bv)| {
                a.seeded_entities
                    .cmp(&b.seeded_entities)
                    .then(av.total_cmp(bv))
            })?;
        let (report, rate, vcpu) = best;
        let limit = report
            .systems
            .iter()
            .find(|s| s.system == system)
            .map_or(Limit::Unknown, |s| s.limit);
        let bound = match limit {
            Limit::Cpu | Limit::Io | Limit::Locks => format!(
                "the instance limited the next step ({})",
                format!("{limit:?}").to_lowercase()
            ),
            Limit::Machine => "the next step was limited by this machine's own cores (harness, proxy and other stores share them), not the instance: a lower bound on its capacity, so the vCPU sized from it is an upper bound".into(),
            Limit::Elsewhere | Limit::Unknown => "the instance did not limit the next step: a lower bound on its capacity, so the vCPU sized from it is an upper bound".into(),
        };
        Some(MeasuredCapacity {
            ops_per_s_per_vcpu: rate / vcpu,
            source: format!(
                "{rate:.0} ops/s at the SLO on {} ({vcpu:.2} vCPU){}; {bound}",
                report.label(),
                report
                    .network
                    .as_ref()
                    .map_or(String::new(), |n| format!(", network `{n}`"))
            ),
        })
    }
}

/// A per-op figure of the cost model that a scale sweep found to grow (or shrink)
/// with dataset size: the run's measured value is scaled by `(tier entities ÷ run
/// entities)^exponent`, so the run fixes the level and the sweep the shape.
#[derive(Debug, Clone, Serialize)]
pub struct UsageCurve {
    /// System name.
    pub system: String,
    /// The figure scaled.
    pub field: UsageField,
    /// The power law's exponent.
    pub exponent: f64,
    /// Entities per user in the sweep: a tier of N users holds N × this many.
    pub entities_per_user: f64,
    /// The largest dataset the sweep measured, entities: beyond it the curve is
    /// extrapolated.
    pub measured_up_to: f64,
    /// What was fitted, over which sizes, with the exponent's interval.
    pub source: String,
}

/// A per-op figure a [`UsageCurve`] scales.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UsageField {
    /// [`UnitUsage::db_seconds_per_op`].
    DbSecondsPerOp,
    /// [`UnitUsage::postgres_bytes_per_write`].
    PostgresBytesPerWrite,
    /// [`UnitUsage::object_bytes_per_write`].
    ObjectBytesPerWrite,
    /// [`MeasuredCapacity::ops_per_s_per_vcpu`].
    CapacityPerVcpu,
}

impl UsageCurve {
    /// The factor from the run's dataset (`run_entities`) to a tier of `users`.
    pub fn factor(&self, run_entities: u64, users: u64) -> f64 {
        let tier = users as f64 * self.entities_per_user;
        let run = (run_entities as f64).max(1.0);
        (tier / run).powf(self.exponent)
    }

    /// How far beyond the largest measured size a tier of `users` lies.
    pub fn extrapolation(&self, users: u64) -> f64 {
        users as f64 * self.entities_per_user / self.measured_up_to.max(1.0)
    }
}

impl UnitUsage {
    /// This usage at a tier of `users`: each of `curves` of `system` scales its field
    /// from the run's dataset size to the tier's.
    pub fn at_tier(
        &self,
        curves: &[UsageCurve],
        system: &str,
        run_entities: u64,
        users: u64,
    ) -> UnitUsage {
        let mut unit = self.clone();
        for c in curves.iter().filter(|c| c.system == system) {
            let f = c.factor(run_entities, users);
            match c.field {
                UsageField::DbSecondsPerOp => {
                    unit.db_seconds_per_op = unit.db_seconds_per_op.map(|x| x * f)
                }
                UsageField::PostgresBytesPerWrite => {
                    unit.postgres_bytes_per_write = unit.postgres_bytes_per_write.map(|x| x * f)
                }
                UsageField::ObjectBytesPerWrite => {
                    unit.object_bytes_per_write = unit.object_bytes_per_write.map(|x| x * f)
                }
                UsageField::CapacityPerVcpu => {
                    if let Some(capacity) = unit.capacity.as_mut() {
                        capacity.ops_per_s_per_vcpu *= f;
                    }
                }
            }
        }
        unit
    }
}

/// How compute was sized.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ComputeSizing {
    /// Peak ops/s ÷ the measured sustainable ops/s per vCPU at the SLO.
    MeasuredCapacity,
    /// Database seconds per op × ops, at the peak, over a target utilisation.
    LinearDbTime,
    /// Neither was measured.
    NotMeasured,
}

impl ComputeSizing {
    /// As a report says it: "sized from …".
    pub fn label(self) -> &'static str {
        match self {
            ComputeSizing::MeasuredCapacity => "measured capacity at the SLO",
            ComputeSizing::LinearDbTime => "database time, linearly",
            ComputeSizing::NotMeasured => "nothing measured",
        }
    }
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
            let Some(round_trips) = s.round_trips.get(op.name()) else {
                continue;
            };
            total_ops += round_trips.ops;
            if WRITES.contains(&op) {
                writes += round_trips.ops;
            }
            if round_trips.ops == 0 {
                continue;
            }
            let n = round_trips.ops as f64;
            let s3 = round_trips.request_path.get(&Store::S3).unwrap_or(&0)
                + round_trips.background.get(&Store::S3).unwrap_or(&0);
            w.insert(op, round_trips.s3_writes as f64 / n);
            r.insert(op, s3.saturating_sub(round_trips.s3_writes) as f64 / n);
            // Request-path S3 trips of a read are GETs of the body for the caller.
            let req = *round_trips.request_path.get(&Store::S3).unwrap_or(&0);
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
            stored_per_logical_byte: s.footprint.as_ref().and_then(|f| {
                let logical = f.logical_body_bytes as f64;
                (logical > 0.0).then(|| {
                    (
                        f.stored_bytes.postgres as f64 / logical,
                        f.stored_bytes.object_store as f64 / logical,
                    )
                })
            }),
            capacity: None,
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
    /// vCPU needed at peak: the one of the two below that [`ComputeSizing`] names.
    pub db_vcpu_needed: Option<f64>,
    /// vCPU at peak from database time, linear in ops (loopback, unlimited box).
    pub db_vcpu_linear: Option<f64>,
    /// vCPU at peak from the measured capacity per vCPU at the SLO.
    pub db_vcpu_from_capacity: Option<f64>,
    /// Which of the two sized compute.
    pub compute_sizing: ComputeSizing,
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
    let month_seconds = a.days_per_month * 86_400.0;
    let db_vcpu_linear =
        db_seconds.map(|s| s / month_seconds * a.peak_to_average / a.db_utilisation);
    // The capacity was found at the SLO: it is the headroom, so no target utilisation
    // is applied on top of it.
    let db_vcpu_from_capacity = u
        .capacity
        .as_ref()
        .filter(|c| c.ops_per_s_per_vcpu > 0.0)
        .map(|c| ops / month_seconds * a.peak_to_average / c.ops_per_s_per_vcpu);
    // Billed month by month over the period: what exists today, stored as this system
    // stores it, plus the writes accumulated by each month — on average (N + 1) / 2
    // months of them, not the last month's level every month.
    let existing = a.existing_content_gb * 1e9;
    let accumulated = writes * (a.months_of_data + 1.0) / 2.0;
    let stored = u.stored_per_logical_byte;
    let held = |per_write: Option<f64>, per_logical: Option<f64>| {
        per_write.map(|x| x * accumulated + existing * per_logical.unwrap_or(0.0))
    };
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
        db_vcpu_needed: db_vcpu_from_capacity.or(db_vcpu_linear),
        db_vcpu_linear,
        db_vcpu_from_capacity,
        compute_sizing: match (db_vcpu_from_capacity, db_vcpu_linear) {
            (Some(_), _) => ComputeSizing::MeasuredCapacity,
            (None, Some(_)) => ComputeSizing::LinearDbTime,
            (None, None) => ComputeSizing::NotMeasured,
        },
        postgres_bytes: held(u.postgres_bytes_per_write, stored.map(|s| s.0)),
        object_bytes: held(u.object_bytes_per_write, stored.map(|s| s.1)),
    }
}
