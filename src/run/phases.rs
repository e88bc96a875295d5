//! Stage 3, phases: per repetition, each system in turn runs the scenario's phases
//! with the same op sequence. Measured phases record into one recorder per system and
//! repetition; warm-up phases record into a throwaway one and clear the counters.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};

use super::connect::System;
use super::faults::{self, FaultPlans};
use super::measure::UsageSnapshot;
use super::progress;
use crate::arch::Operations;
use crate::loadgen::agent::Agent;
use crate::loadgen::executor::{run_closed, run_open};
use crate::loadgen::plan::{KeySpace, Planner};
use crate::loadgen::record::Recorder;
use crate::results::FaultResult;
use crate::scenario::{Phase, Scenario, Workload};

/// What the phases leave for the measurements.
pub(super) struct PhaseRecords {
    /// Per system, one recorder per repetition (measured phases only).
    pub recorders: BTreeMap<String, Vec<Arc<Recorder>>>,
    /// Per system, database time and stored bytes before its first measured phase.
    pub before: BTreeMap<String, UsageSnapshot>,
    /// Per system, the faults injected into its repetitions.
    pub faults: BTreeMap<String, Vec<FaultResult>>,
}

/// What the phases run on.
pub(super) struct PhaseInputs<'a> {
    /// The scenario.
    pub scenario: &'a Scenario,
    /// Keys seeded.
    pub space: Arc<KeySpace>,
    /// Repetitions per system.
    pub repeat: usize,
    /// The harness's pool for usage snapshots.
    pub meter: Option<&'a sqlx::PgPool>,
    /// Set on Ctrl-C: no new phase starts, the running one drains.
    pub stop: &'a Arc<AtomicBool>,
    /// Per system, the faults to inject into its measured phases.
    pub faults: &'a FaultPlans,
    /// This process's share of the schedule (`None`: all of it).
    pub agent: Option<Agent>,
}

/// Runs every repetition of every system, alternating systems A B A B.
pub(super) async fn run_phases(
    inputs: &PhaseInputs<'_>,
    systems: &[System],
    out: &mut (impl std::io::Write + Send),
) -> anyhow::Result<PhaseRecords> {
    let scenario = inputs.scenario;
    let mut records = PhaseRecords {
        recorders: BTreeMap::new(),
        before: BTreeMap::new(),
        faults: BTreeMap::new(),
    };
    let mut measured_once: BTreeMap<String, bool> = BTreeMap::new();
    'repetitions: for repetition in 0..inputs.repeat {
        for s in systems {
            let recorder = Arc::new(Recorder::new(scenario.run.late_after));
            let mut fault_run = None;
            for (index, phase) in scenario.phases.iter().enumerate() {
                if inputs.stop.load(SeqCst) {
                    break;
                }
                // Database time and stored bytes count from the first measured phase on,
                // as the round-trip counters do (they were cleared after seeding/warm-up).
                if phase.record && !records.before.contains_key(&s.name) {
                    let snapshot = UsageSnapshot::read(s, inputs.meter).await;
                    records.before.insert(s.name.clone(), snapshot);
                }
                if phase.record && fault_run.is_none() {
                    fault_run = faults::start(inputs.faults.get(&s.name), &recorder);
                }
                let target = if phase.record {
                    recorder.clone()
                } else {
                    Arc::new(Recorder::new(scenario.run.late_after))
                };
                let label = format!("{} rep {}/{}", s.name, repetition + 1, inputs.repeat);
                let stream = (repetition as u64) << 16 | index as u64;
                run_phase(inputs, s, phase, stream, &target, &label, out).await?;
                if phase.record {
                    measured_once.insert(s.name.clone(), true);
                } else if repetition == 0 && !measured_once.contains_key(&s.name) {
                    // Warm-up ops stay out of the counters, as they stay out of the histograms.
                    s.sut.clear_counters();
                }
            }
            // Whatever is still down is restored before the next system's turn.
            if let Some(run) = fault_run {
                let events = run.finish().await;
                for e in &events {
                    writeln!(out, "{} fault {}", s.name, faults::describe(e))?;
                }
                records
                    .faults
                    .entry(s.name.clone())
                    .or_default()
                    .extend(faults::results(repetition, events, &recorder));
            }
            records
                .recorders
                .entry(s.name.clone())
                .or_default()
                .push(recorder);
            if inputs.stop.load(SeqCst) {
                break 'repetitions;
            }
        }
    }
    Ok(records)
}

/// One phase of one system into `recorder`, with a progress ticker and a summary line;
/// `label` names the system and repetition.
async fn run_phase(
    inputs: &PhaseInputs<'_>,
    s: &System,
    phase: &Phase,
    stream: u64,
    recorder: &Arc<Recorder>,
    label: &str,
    out: &mut (impl std::io::Write + Send),
) -> anyhow::Result<()> {
    let scenario = inputs.scenario;
    let before = recorder.progress();
    let ticker = progress::phase_ticker(format!("{label} {}", phase.name), recorder.clone());
    let load = Load {
        scenario,
        space: inputs.space.clone(),
        agent: inputs.agent,
        stop: inputs.stop,
    };
    drive_phase(&load, s.sut.clone(), phase, stream, recorder).await;
    ticker.abort();
    let (done, failed) = recorder.progress();
    writeln!(
        out,
        "{label} phase {}: {} ops, {} errors, p99 so far {:.1} ms",
        phase.name,
        done - before.0,
        failed - before.1,
        recorder.p99_so_far() as f64 / 1e3
    )?;
    Ok(())
}

/// What drives a phase's load: the scenario, its keys, this agent's share, the stop flag.
pub struct Load<'a> {
    /// The scenario.
    pub scenario: &'a Scenario,
    /// Keys seeded.
    pub space: Arc<KeySpace>,
    /// This process's share of the schedule (`None`: all of it).
    pub agent: Option<Agent>,
    /// Set on Ctrl-C: no new op is issued, those in flight drain.
    pub stop: &'a Arc<AtomicBool>,
}

/// Runs one phase's workload against `target` into `recorder`: the open model's
/// schedule (the same for every target, from `stream`), or the closed model's users.
pub async fn drive_phase(
    load: &Load<'_>,
    target: Arc<dyn Operations>,
    phase: &Phase,
    stream: u64,
    recorder: &Arc<Recorder>,
) {
    let scenario = load.scenario;
    let agent = load.agent.unwrap_or(Agent::SOLO);
    match &phase.workload {
        Workload::Open { .. } => {
            let mut planner = Planner::new(scenario, load.space.clone(), stream);
            let schedule = planner.schedule(&phase.workload, phase.duration);
            run_open(
                target,
                agent.share(schedule),
                agent.ops(|| planner.next_op()),
                &scenario.run,
                recorder.clone(),
                load.stop,
            )
            .await;
        }
        Workload::Closed {
            concurrency,
            think_time,
        } => {
            // Agents split the users: user u runs on agent u mod N.
            let planners = (0..*concurrency as u64)
                .filter(|u| agent.owns(*u as usize))
                .map(|u| Planner::new(scenario, load.space.clone(), stream << 20 | u))
                .collect();
            run_closed(
                target,
                planners,
                *think_time,
                phase.duration,
                &scenario.run,
                recorder.clone(),
                load.stop.clone(),
            )
            .await;
        }
    }
}
