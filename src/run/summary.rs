//! Recorders of the phases summed into a system's results: per op, over all
//! repetitions, and per repetition for the gate's statistics.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::arch::OpKind;
use crate::loadgen::record::{OpRecord, Percentiles, Recorder};
use crate::results::{OpResults, RepetitionOp, SystemResults};

fn op_results(r: &OpRecord) -> OpResults {
    OpResults {
        count: r.count,
        errors: r.errors.values().sum(),
        errors_by_kind: r.errors.clone(),
        late: r.late,
        latency_us: Percentiles::of(&r.latency),
        service_time_us: Percentiles::of(&r.service),
        schedule_lag_us: Percentiles::of(&r.schedule_lag),
    }
}

pub(super) fn summarise(recorders: &[Arc<Recorder>]) -> SystemResults {
    let mut total: BTreeMap<OpKind, OpRecord> = BTreeMap::new();
    let mut repetitions = Vec::new();
    let mut error_samples = Vec::new();
    let mut errors_by_second = Vec::new();
    for r in recorders {
        errors_by_second.push(
            r.error_seconds()
                .into_iter()
                .map(|(op, seconds)| (op.name().to_string(), seconds))
                .collect(),
        );
        let (ops, samples) = r.snapshot();
        repetitions.push(
            ops.iter()
                .map(|(op, rec)| {
                    (
                        op.name().to_string(),
                        RepetitionOp {
                            count: rec.count,
                            latency_us: Percentiles::of(&rec.latency),
                        },
                    )
                })
                .collect(),
        );
        error_samples.extend(samples);
        for (op, rec) in ops {
            let t = total.entry(op).or_default();
            let _ = t.latency.add(&rec.latency);
            let _ = t.service.add(&rec.service);
            let _ = t.schedule_lag.add(&rec.schedule_lag);
            t.count += rec.count;
            t.late += rec.late;
            for (k, n) in rec.errors {
                *t.errors.entry(k).or_insert(0) += n;
            }
        }
    }
    SystemResults {
        ops: total
            .iter()
            .map(|(op, r)| (op.name().to_string(), op_results(r)))
            .collect(),
        repetitions,
        error_samples,
        footprint: None,
        round_trips: BTreeMap::new(),
        inngest_executions: Default::default(),
        dead_letters: Vec::new(),
        projection_lag_ms: None,
        interval_log: None,
        db_time: None,
        storage_growth: None,
        event_growth: None,
        search_quality: None,
        faults: Vec::new(),
        errors_by_second,
        not_measured: Vec::new(),
    }
}
