//! Executors. Open model: every op has an intended start; the scheduler sleeps until
//! then, waits for a free slot if `max_in_flight` ops are running, and starts it.
//! Latency is measured from the intended start (coordinated-omission corrected),
//! service time from the actual start; ops that start late are counted, never
//! dropped. Closed model: N users, each running its next op when the previous one
//! finished and its think time passed.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::Semaphore;
use tokio::time::Instant;

use super::plan::{PlannedOp, Planner};
use super::record::Recorder;
use crate::arch::{ArchError, Operations};
use crate::scenario::RunSettings;

/// Runs one op against a system.
pub async fn execute(
    target: &dyn Operations,
    op: PlannedOp,
    settings: &RunSettings,
) -> Result<(), ArchError> {
    match op {
        PlannedOp::Create(e) => target.create(e).await.map(drop),
        PlannedOp::Update(u) => target.update(u).await.map(drop),
        PlannedOp::Get(id) => target.get(id).await.map(drop),
        PlannedOp::List(u) => target.list(u, settings.list_limit).await.map(drop),
        PlannedOp::Search(u, q) => target.search(u, &q, settings.search_k).await.map(drop),
        PlannedOp::History(id) => target.history(id).await.map(drop),
        PlannedOp::Activity(u, from, to) => target.activity(u, from, to).await.map(drop),
    }
}

/// What a phase did.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct PhaseOutcome {
    /// Ops the schedule held (open model) or that were started (closed model).
    pub planned: u64,
    /// Ops started.
    pub issued: u64,
    /// Ops not started because the run was stopped.
    pub not_issued: u64,
}

/// Runs an open-model schedule: each op is made (`next_op`) when its intended start
/// comes, so memory holds only the ops in flight. Stops issuing when `stop` is set,
/// then drains.
pub async fn run_open(
    target: Arc<dyn Operations>,
    schedule: impl Iterator<Item = Duration>,
    mut next_op: impl FnMut() -> PlannedOp,
    settings: &RunSettings,
    recorder: Arc<Recorder>,
    stop: &AtomicBool,
) -> PhaseOutcome {
    let slots = Arc::new(Semaphore::new(settings.max_in_flight));
    let settings = Arc::new(settings.clone());
    let mut schedule = schedule.peekable();
    let mut issued = 0;
    let start = Instant::now();
    while let Some(&offset) = schedule.peek() {
        if stop.load(SeqCst) {
            break;
        }
        schedule.next();
        let op = next_op();
        let intended = start + offset;
        crate::timer::sleep_until(intended.into_std()).await;
        // Waiting for a slot delays the start, not the intended time: the wait is
        // part of the latency this op reports.
        let permit = slots.clone().acquire_owned().await.expect("never closed");
        let started = Instant::now();
        let (t, r, s) = (target.clone(), recorder.clone(), settings.clone());
        issued += 1;
        tokio::spawn(async move {
            let kind = op.kind();
            let result = execute(t.as_ref(), op, &s).await;
            r.record(kind, intended, started, Instant::now(), &result);
            drop(permit);
        });
    }
    // What a stop left unissued: offsets only, no op is made for them.
    let not_issued = schedule.count() as u64;
    // Drain: every slot free means every op finished.
    let _all = slots
        .acquire_many(settings.max_in_flight as u32)
        .await
        .expect("never closed");
    PhaseOutcome {
        planned: issued + not_issued,
        issued,
        not_issued,
    }
}

/// Runs a closed-model phase: one task per user, each with its own planner.
pub async fn run_closed(
    target: Arc<dyn Operations>,
    planners: Vec<Planner>,
    think_time: Duration,
    duration: Duration,
    settings: &RunSettings,
    recorder: Arc<Recorder>,
    stop: Arc<AtomicBool>,
) -> PhaseOutcome {
    let end = Instant::now() + duration;
    let settings = Arc::new(settings.clone());
    let mut tasks = tokio::task::JoinSet::new();
    for mut planner in planners {
        let (t, r, s, stop) = (
            target.clone(),
            recorder.clone(),
            settings.clone(),
            stop.clone(),
        );
        tasks.spawn(async move {
            let mut n = 0u64;
            while Instant::now() < end && !stop.load(SeqCst) {
                let op = planner.next_op();
                let kind = op.kind();
                let started = Instant::now();
                let result = execute(t.as_ref(), op, &s).await;
                r.record(kind, started, started, Instant::now(), &result);
                n += 1;
                if !think_time.is_zero() {
                    tokio::time::sleep(think_time).await;
                }
            }
            n
        });
    }
    let mut issued = 0;
    while let Some(n) = tasks.join_next().await {
        issued += n.unwrap_or(0);
    }
    PhaseOutcome {
        planned: issued,
        issued,
        not_issued: 0,
    }
}
