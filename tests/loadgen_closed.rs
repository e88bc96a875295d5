//! The closed-model executor against a synthetic target.

mod common;

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use archbench::arch::synthetic::{Synthetic, SyntheticSpec};
use archbench::arch::{OpKind, SystemUnderTest};
use archbench::loadgen::executor::run_closed;
use archbench::loadgen::plan::Planner;
use archbench::loadgen::record::{Percentiles, Recorder};
use archbench::scenario::RunSettings;
use common::{one_user_space, timing_scenario};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_model_keeps_concurrency_and_measures_service_time() {
    let scn = timing_scenario();
    let spec = SyntheticSpec::parse("synthetic:service=5ms,servers=4").unwrap();
    let target: Arc<dyn SystemUnderTest> = Arc::new(Synthetic::new(spec));
    let planners = (0..4)
        .map(|i| Planner::new(&scn, one_user_space(), 100 + i))
        .collect();
    let rec = Arc::new(Recorder::new(Duration::from_millis(10)));
    let settings = RunSettings::default();
    let out = run_closed(
        target,
        planners,
        Duration::ZERO,
        Duration::from_secs(2),
        &settings,
        rec.clone(),
        Arc::new(AtomicBool::new(false)),
    )
    .await;
    let (ops, _) = rec.snapshot();
    let get = &ops[&OpKind::Get];
    // 4 users x 2 s / ~5-6 ms per op: 1,300 to 1,600 ops.
    assert!(
        (1_000..=1_700).contains(&out.issued),
        "issued {}",
        out.issued
    );
    assert_eq!(get.count, out.issued);
    let lat = Percentiles::of(&get.latency);
    assert!(lat.p50 >= 5_000 && lat.p50 < 8_000, "{lat:?}");
    assert_eq!(get.latency.len(), get.service.len());
    // Closed model: a user's next op starts when its last one ends, so no op waits
    // for its start — latency is service time, nothing is late, and every op issued
    // was planned.
    assert_eq!(lat, Percentiles::of(&get.service));
    assert_eq!(get.late, 0);
    assert!(
        Percentiles::of(&get.schedule_lag).max <= 1,
        "zero, to the histogram's resolution"
    );
    assert_eq!((out.planned, out.not_issued), (out.issued, 0));
}
