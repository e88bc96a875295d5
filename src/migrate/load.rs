//! The scenario's load during a rehearsal stage: its phases in order against whatever
//! serves (the source alone, the dual-write, the target after the cut-over), the
//! measured phases into one recorder, and the write latency read from it.

use std::sync::Arc;
use std::sync::atomic::Ordering::SeqCst;

use hdrhistogram::Histogram;

use crate::arch::{OpKind, Operations};
use crate::loadgen::record::{Percentiles, Recorder, histogram};
use crate::results::migration::WriteLatency;
use crate::run::{Load, drive_phase};

/// Runs every phase of the scenario against `target`; `stream` keeps each stage's op
/// sequence (and the ids it creates) apart from the others'.
pub async fn drive(
    load: &Load<'_>,
    target: Arc<dyn Operations>,
    stream: u64,
    label: &str,
    out: &mut (impl std::io::Write + Send),
) -> anyhow::Result<Arc<Recorder>> {
    let late_after = load.scenario.run.late_after;
    let recorder = Arc::new(Recorder::new(late_after));
    for (index, phase) in load.scenario.phases.iter().enumerate() {
        if load.stop.load(SeqCst) {
            break;
        }
        let into = if phase.record {
            recorder.clone()
        } else {
            Arc::new(Recorder::new(late_after))
        };
        let before = into.progress();
        drive_phase(
            load,
            target.clone(),
            phase,
            stream << 16 | index as u64,
            &into,
        )
        .await;
        let (done, failed) = into.progress();
        writeln!(
            out,
            "{label} phase {}: {} ops, {} errors",
            phase.name,
            done - before.0,
            failed - before.1
        )?;
    }
    Ok(recorder)
}

/// Creates and updates together, from the intended start (the open model's latency).
pub fn write_latency(recorder: &Recorder) -> WriteLatency {
    let (ops, _) = recorder.snapshot();
    let mut merged: Histogram<u64> = histogram();
    let mut count = 0;
    for op in [OpKind::Create, OpKind::Update] {
        if let Some(r) = ops.get(&op) {
            merged.add(&r.latency).expect("same bounds");
            count += r.count;
        }
    }
    let p = Percentiles::of(&merged);
    WriteLatency {
        p50_ms: p.p50 as f64 / 1e3,
        p99_ms: p.p99 as f64 / 1e3,
        count,
    }
}
