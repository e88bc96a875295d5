//! The run's event-log probe stage (`[event_log]`): once, after every system's
//! measurements, on the stores' PostgreSQL, when both systems' event tables exist to
//! copy their designs from.

use super::measure::{MeasureInputs, Measured};
use crate::arch::SystemKind;
use crate::probes::event_log;
use crate::results::RunStage;

/// Runs the probe into `measured`; a failure is noted and marks the run incomplete.
pub(super) async fn probe(
    inputs: &MeasureInputs<'_>,
    measured: &mut Measured,
    out: &mut (impl std::io::Write + Send),
) -> anyhow::Result<()> {
    let scenario = inputs.scenario;
    let Some(cfg) = scenario.event_log.as_ref() else {
        return Ok(());
    };
    if measured.stopped_in.is_some() {
        return Ok(());
    }
    let kinds: Vec<SystemKind> = scenario
        .systems
        .iter()
        .filter_map(|s| SystemKind::parse(s).ok())
        .collect();
    let both = kinds.iter().any(|k| matches!(k, SystemKind::V02))
        && kinds.iter().any(|k| matches!(k, SystemKind::V03));
    let Some(pool) = inputs.meter.filter(|_| both) else {
        measured.notes.push(
            "event-log probe skipped: it copies the designs of v02.events and v03.events, so the run needs both systems on stores".into(),
        );
        return Ok(());
    };
    writeln!(
        out,
        "event-log probe: sizes {:?}, {} writers",
        cfg.sizes
            .iter()
            .map(|s| (s.users, s.months))
            .collect::<Vec<_>>(),
        cfg.writers
    )?;
    // Ctrl-C drops the probe between statements; its scratch schema is dropped by
    // the next probe's first step.
    let mut found = event_log::started(cfg);
    let run = event_log::probe(pool, cfg, scenario.rng_seed, out, &mut found);
    let outcome = inputs.watch.unless_signalled(run).await;
    let finished: usize = found.designs.values().map(|d| d.sizes.len()).sum();
    let planned = cfg.sizes.len() * 2;
    match outcome {
        Some(Ok(())) => {}
        None => measured.stopped_in = Some(RunStage::EventLogProbe),
        Some(Err(e)) => {
            measured.complete = false;
            measured.notes.push(e.to_string());
        }
    }
    if finished > 0 && finished < planned {
        measured.notes.push(format!(
            "event-log probe stopped after {finished} of {planned} design sizes: the finished ones are kept"
        ));
    }
    if finished > 0 {
        measured.event_log_probe = Some(found);
    }
    Ok(())
}
