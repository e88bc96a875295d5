//! The load generator's timing against a target whose behaviour is known exactly.
//! Alone in its test binary: another test's load on the same 2 cores would distort it.

mod common;

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use archbench::arch::synthetic::{Synthetic, SyntheticSpec};
use archbench::arch::{OpKind, SystemUnderTest};
use archbench::loadgen::executor::run_open;
use archbench::loadgen::plan::Planner;
use archbench::loadgen::record::{Percentiles, Recorder};
use archbench::scenario::RunSettings;
use common::{one_user_space, timing_scenario};

/// A server that freezes for 200 ms every 2 s, driven at 1000 ops/s through one
/// connection (one op in flight), as wrk and most benchmark clients do.
/// Analytic truth: 10% of ops are intended during a stall and wait for its end, the
/// wait uniform on [0, 200 ms]; so p99 = 0.9 x 200 = 180 ms and p99.9 = 198 ms. Only
/// the one op per stall that was in service sees it in its service time (5 of 10,000).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrected_latency_matches_the_analytic_tail_and_service_time_hides_it() {
    let scn = timing_scenario();
    let mut planner = Planner::new(&scn, one_user_space(), 1);
    let schedule = planner.schedule(&scn.phases[0].workload, scn.phases[0].duration);
    assert_eq!(
        planner
            .schedule(&scn.phases[0].workload, scn.phases[0].duration)
            .count(),
        10_000
    );
    let settings = RunSettings {
        max_in_flight: 1,
        ..RunSettings::default()
    };
    let spec = SyntheticSpec::parse("synthetic:stall_every=2s,stall_for=200ms").unwrap();
    let target: Arc<dyn SystemUnderTest> = Arc::new(Synthetic::new(spec));
    let rec = Arc::new(Recorder::new(settings.late_after));
    let out = run_open(
        target,
        schedule,
        || planner.next_op(),
        &settings,
        rec.clone(),
        &AtomicBool::new(false),
    )
    .await;
    assert_eq!(
        (out.planned, out.issued, out.not_issued),
        (10_000, 10_000, 0)
    );

    let (ops, _) = rec.snapshot();
    let get = &ops[&OpKind::Get];
    let lat = Percentiles::of(&get.latency);
    let svc = Percentiles::of(&get.service);
    println!("latency {lat:?}\nservice {svc:?}\nlate {}", get.late);
    let within = |measured: u64, truth: f64| (measured as f64 - truth).abs() / truth <= 0.05;
    assert!(
        within(lat.p99, 180_000.0),
        "corrected p99 {} us, analytic 180000",
        lat.p99
    );
    assert!(
        within(lat.p999, 198_000.0),
        "corrected p99.9 {} us, analytic 198000",
        lat.p999
    );
    // Service time alone under-reports both by orders of magnitude.
    assert!(svc.p99 < 5_000, "service p99 {} us", svc.p99);
    assert!(
        (svc.p999 as f64) < 0.2 * lat.p999 as f64,
        "service p99.9 {} us",
        svc.p999
    );
    // The ops that waited behind a stall (~1,000) started late, and were counted so;
    // scheduler hiccups on a busy machine may add some.
    assert!((900..=1_500).contains(&get.late), "late {}", get.late);
}
