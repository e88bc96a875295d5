//! Faults in a run: the scenario's `[[fault]]` and `--fault-at` checked against what
//! the run can break (local servers archbench started, the systems' emulators), played
//! during each system's measured phases, and turned into results from the recorder.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::OptionError;
use super::connect::System;
use crate::loadgen::record::Recorder;
use crate::results::{FaultOpResult, FaultResult};
use crate::rig::faults::{Breakable, Fault, FaultEvents, FaultRun, FaultTarget};
use crate::scenario::Scenario;
use crate::stores::{LocalServerKind, Stores};

/// Per system, each fault with what it breaks.
pub(super) type FaultPlans = BTreeMap<String, Vec<(Fault, Arc<dyn Breakable>)>>;

/// Checks `--fault-at` faults as the scenario's own were checked: inside the measured
/// phases with time left to recover.
pub(super) fn check_fault_at(scenario: &Scenario, fault_at: &[Fault]) -> Result<(), OptionError> {
    let measured = crate::scenario::measured_duration(&scenario.phases);
    match fault_at.iter().find(|f| f.at + f.down_for >= measured) {
        Some(f) => Err(OptionError(format!(
            "--fault-at {}: it ends at or after the measured phases ({}); leave time to see the recovery",
            f.describe(),
            humantime::format_duration(measured)
        ))),
        None => Ok(()),
    }
}

/// What each system's faults break; an error names a fault this run cannot inject.
pub(super) fn plans(
    faults: &[Fault],
    stores: Option<&Stores>,
    systems: &[System],
) -> Result<FaultPlans, OptionError> {
    let mut plans = FaultPlans::new();
    for s in systems {
        let mut plan: Vec<(Fault, Arc<dyn Breakable>)> = Vec::new();
        for fault in faults {
            let target: Arc<dyn Breakable> = match fault.target {
                FaultTarget::Postgres => local(stores, LocalServerKind::Postgres, fault)?,
                FaultTarget::ObjectStore => local(stores, LocalServerKind::ObjectStore, fault)?,
                FaultTarget::Emulator => match s.sut.emulator() {
                    Some(e) => e,
                    None => {
                        return Err(OptionError(format!(
                            "fault `{}`: system `{}` has no workflow emulator",
                            fault.describe(),
                            s.name
                        )));
                    }
                },
            };
            plan.push((*fault, target));
        }
        plans.insert(s.name.clone(), plan);
    }
    Ok(plans)
}

fn local(
    stores: Option<&Stores>,
    kind: LocalServerKind,
    fault: &Fault,
) -> Result<Arc<dyn Breakable>, OptionError> {
    match stores.and_then(|s| s.local_server(kind)) {
        Some(server) => Ok(Arc::new(server)),
        None => Err(OptionError(format!(
            "fault `{}`: only stores archbench started can be killed or paused; run with --stores local",
            fault.describe()
        ))),
    }
}

/// Starts `plan` against `recorder`'s clock, or nothing when there is no fault.
pub(super) fn start(
    plan: Option<&Vec<(Fault, Arc<dyn Breakable>)>>,
    recorder: &Arc<Recorder>,
) -> Option<FaultRun> {
    let plan = plan.filter(|p| !p.is_empty())?.clone();
    let watcher = recorder.clone();
    Some(FaultRun::start(
        plan,
        recorder.epoch(),
        Arc::new(move |at| watcher.watch_recovery(at)),
    ))
}

/// One line per fault for the terminal.
pub(super) fn describe(events: &FaultEvents) -> String {
    let ms = |v: Option<u64>| v.map_or("-".into(), |v| format!("{:.1} s", v as f64 / 1e3));
    let mut line = format!(
        "{} {}: injected {}, restored {}, serving {}",
        events.target.name(),
        events.action.name(),
        ms(events.injected_ms),
        ms(events.restored_ms),
        ms(events.serving_ms)
    );
    if let Some(e) = &events.error {
        line.push_str(&format!(" ({e})"));
    }
    line
}

/// A repetition's faults as results: per op, the errors in each fault's window and the
/// first success after its restore.
pub(super) fn results(
    repetition: usize,
    events: Vec<FaultEvents>,
    recorder: &Recorder,
) -> Vec<FaultResult> {
    let errors = recorder.error_seconds();
    let recoveries = recorder.recoveries();
    events
        .into_iter()
        .map(|events| {
            let mut result = FaultResult {
                repetition,
                events,
                ops: BTreeMap::new(),
            };
            let recovery = result
                .events
                .restored_ms
                .and_then(|at| recoveries.iter().find(|r| r.since_ms == at));
            let window = result.window_seconds();
            for (op, seconds) in &errors {
                let n: u64 = window.map_or(0, |(from, to)| {
                    seconds.range(from..=to).map(|(_, n)| n).sum()
                });
                if n > 0 {
                    result
                        .ops
                        .entry(op.name().to_string())
                        .or_insert(FaultOpResult {
                            errors: n,
                            first_success_ms: None,
                            recovery_ms: None,
                        });
                }
            }
            if let (Some(recovery), Some(at)) = (recovery, result.events.restored_ms) {
                for (op, &first) in &recovery.first_success_ms {
                    let entry = result
                        .ops
                        .entry(op.name().to_string())
                        .or_insert(FaultOpResult {
                            errors: 0,
                            first_success_ms: None,
                            recovery_ms: None,
                        });
                    entry.first_success_ms = Some(first);
                    entry.recovery_ms = Some(first.saturating_sub(at));
                }
            }
            result
        })
        .collect()
}
