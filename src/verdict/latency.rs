//! The production latency estimate: each op's measured median plus its request-path
//! round trips times the stated network RTT of each store.

use serde::Serialize;

use super::context::{BEFORE, Context};
use crate::arch::{OpKind, Store};
use crate::cost::Assumptions;
use crate::results::SystemResults;

/// Production latency estimate of one op: the measured median plus each request-path
/// round trip times the stated network RTT of its store.
#[derive(Debug, Clone, Serialize)]
pub struct LatencyEstimate {
    /// Op kind.
    pub op: String,
    /// Share of monthly ops (user behaviour).
    pub weight: f64,
    /// Measured p50 here (loopback), ms, per system.
    pub measured_ms: [f64; 2],
    /// Request-path round trips (postgres, s3, http) per system.
    pub round_trips: [[f64; 3]; 2],
    /// Estimate, ms, per system.
    pub estimate_ms: [f64; 2],
}

/// The estimate per op, weighted by the user behaviour's op mix.
pub(super) fn latency_estimates(context: &Context, a: &Assumptions) -> Vec<LatencyEstimate> {
    let (Some(sa), Some(sb)) = context.before_after() else {
        return Vec::new();
    };
    let b = &context.cost.behaviour;
    let mix = context
        .cost
        .unit_usage
        .get(BEFORE)
        .map(|u| u.read_mix.clone())
        .unwrap_or_default();
    let reads = b.active_share * b.ops_per_active_user_per_day * a.days_per_month;
    let total = reads + b.writes_per_user_per_month();
    let mut out = Vec::new();
    for op in OpKind::ALL {
        let weight = match op {
            OpKind::Create => b.new_documents_per_user_per_month,
            OpKind::Update => b.updates_per_user_per_month,
            other => reads * mix.get(&other).copied().unwrap_or(0.0),
        } / total.max(f64::MIN_POSITIVE);
        let one = |s: &SystemResults| -> Option<(f64, [f64; 3])> {
            let m = s.ops.get(op.name())?.latency_us.p50 as f64 / 1e3;
            let round_trips = s.round_trips.get(op.name())?;
            Some((
                m,
                [
                    round_trips.per_op(Store::Postgres),
                    round_trips.per_op(Store::S3),
                    round_trips.per_op(Store::Http),
                ],
            ))
        };
        let (Some((ma, ra)), Some((mb, rb))) = (one(sa), one(sb)) else {
            continue;
        };
        let est = |m: f64, r: [f64; 3]| {
            m + r[0] * a.rtt_postgres_ms + r[1] * a.rtt_object_ms + r[2] * a.rtt_workflow_ms
        };
        out.push(LatencyEstimate {
            op: op.name().into(),
            weight,
            measured_ms: [ma, mb],
            round_trips: [ra, rb],
            estimate_ms: [est(ma, ra), est(mb, rb)],
        });
    }
    out
}
