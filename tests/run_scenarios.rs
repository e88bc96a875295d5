//! `archbench run` end to end: the smoke scenario on local stores, a synthetic-only
//! run, Ctrl-C, and the results file checked against its JSON Schema.

mod common;

use std::path::{Path, PathBuf};

use archbench::results::Results;
use archbench::run::{RunOptions, run};
use archbench::stores::StoreMode;
use common::assert_valid;

fn repo(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(p)
}

const SYNTHETIC: &str = r#"
name = "synthetic-check"
rng_seed = 3
systems = ["synthetic:service=1ms,servers=4"]
[seeding]
users = 2
entities_per_user = 5
body_bytes = { median = 500, p99 = 2000 }
versions_per_entity = { min = 1, max = 2 }
history_days = 2
[mix]
get = 4
list = 1
create = 1
[[phase]]
name = "steady"
model = "open"
rate = 200
duration = "DURATION"
"#;

#[tokio::test]
async fn smoke_scenario_on_local_stores_writes_schema_valid_results_for_both_systems() {
    let root = common::run_root();
    let out = tempfile::tempdir().unwrap();
    let opts = RunOptions {
        scenario: repo("scenarios/smoke.toml"),
        systems: None,
        stores: StoreMode::Local,
        provision: common::local_opts(root.path()),
        out: out.path().to_path_buf(),
        repeat: 1,
        faults: Vec::new(),
        limits: Default::default(),
        fault_at: Vec::new(),
        network: None,
        instance: None,
        agent: None,
        seeded: false,
    };
    let mut log = Vec::new();
    let summary = run(opts, &mut log).await.unwrap();
    println!("{}", String::from_utf8_lossy(&log));
    let v = assert_valid(&summary.results_path);
    assert_eq!(v["complete"], true);
    let r = Results::read(&summary.results_path).unwrap();
    assert_eq!(r.systems.keys().collect::<Vec<_>>(), ["v02", "v03"]);
    assert_eq!(
        r.environment
            .stores
            .as_ref()
            .unwrap()
            .timescaledb_license
            .as_deref(),
        Some("apache")
    );
    for (name, s) in &r.systems {
        for op in [
            "create", "update", "get", "list", "search", "history", "activity",
        ] {
            let o = s
                .ops
                .get(op)
                .unwrap_or_else(|| panic!("{name} has no {op}"));
            assert!(o.count > 0, "{name} {op}");
            assert_eq!(o.errors, 0, "{name} {op}: {:?}", s.error_samples);
            assert!(o.latency_us.p99 >= o.service_time_us.p50, "{name} {op}");
        }
        let log = out.path().join(s.interval_log.as_ref().unwrap());
        let merged =
            archbench::loadgen::interval_log::merge_interval_logs(&[std::fs::read(&log).unwrap()])
                .unwrap();
        assert_eq!(
            merged["get"].len(),
            s.ops["get"].count,
            "interval log holds every recorded get"
        );
        assert!(s.projection_lag_ms.is_some());
        // The growth probe reached ×10 and ×100 of the seeded events.
        let g = s.event_growth.as_ref().expect("smoke.toml has [growth]");
        assert_eq!(g.len(), 3, "{name}: {g:?}");
        for (p, f) in g.iter().zip([1.0, 10.0, 100.0]) {
            let want = g[0].events as f64 * f;
            assert!(
                (p.events as f64 - want).abs() <= 1.0 && p.p50_ms > 0.0,
                "{name}: {p:?} vs ×{f} of {}",
                g[0].events
            );
        }
    }
    let (v02, v03) = (&r.systems["v02"], &r.systems["v03"]);
    search_quality_is_accounted(v02, v03);
    event_log_is_accounted(
        r.event_log_probe
            .as_ref()
            .expect("smoke.toml has [event_log]"),
    );
    assert_eq!(v02.footprint.as_ref().unwrap().copies_per_item, 5.0);
    assert_eq!(v03.footprint.as_ref().unwrap().copies_per_item, 1.0);
    // Executions per write during the measured phase: 10 for V0.2, 3 for V0.3.
    for (s, per_write) in [(v02, 10), (v03, 3)] {
        let writes = s.round_trips["create"].ops + s.round_trips["update"].ops;
        assert_eq!(s.inngest_executions.executions, per_write * writes);
        // Every version is one PUT in both systems (V0.3 on the request path, V0.2 by its
        // file-copy projector); gets of V0.3 are GETs, never PUTs.
        assert_eq!(
            s.round_trips["create"].s3_writes,
            s.round_trips["create"].ops
        );
        assert_eq!(
            s.round_trips["update"].s3_writes,
            s.round_trips["update"].ops
        );
        assert_eq!(s.round_trips["get"].s3_writes, 0);
        // Database time and storage growth of the measured phases, for the cost model.
        let db = s
            .db_time
            .expect("pg_stat_statements is loaded in local mode");
        assert!(db.calls > writes && db.exec_ms > 0.0, "{db:?}");
        let g = s.storage_growth.expect("growth measured");
        assert_eq!(g.writes, writes);
        assert_eq!(g.objects, writes as i64, "one object per version");
        assert!(g.object_bytes > 0 && g.postgres_bytes >= 0, "{g:?}");
    }
    // V0.2 writes the body into four PostgreSQL places per write, V0.3 into none.
    let per_write = |s: &archbench::results::SystemResults| {
        let g = s.storage_growth.unwrap();
        g.postgres_bytes as f64 / g.writes as f64
    };
    assert!(
        per_write(v02) > per_write(v03),
        "{} vs {}",
        per_write(v02),
        per_write(v03)
    );
    assert!(r.scenario.seeded_entities == 80);
}

#[tokio::test]
async fn a_synthetic_run_needs_no_stores_and_repeats_alternate() {
    let dir = tempfile::tempdir().unwrap();
    let scn = dir.path().join("s.toml");
    std::fs::write(&scn, SYNTHETIC.replace("DURATION", "2s")).unwrap();
    let opts = RunOptions {
        scenario: scn,
        systems: Some(vec![
            "synthetic:service=1ms,servers=16".into(),
            "synthetic:service=1ms,servers=16,delay.get=4ms".into(),
        ]),
        stores: StoreMode::Local,
        provision: Default::default(),
        out: dir.path().join("out"),
        repeat: 2,
        faults: Vec::new(),
        limits: Default::default(),
        fault_at: Vec::new(),
        network: None,
        instance: None,
        agent: None,
        seeded: false,
    };
    let summary = run(opts, &mut Vec::new()).await.unwrap();
    assert_valid(&summary.results_path);
    let r = summary.results;
    assert!(r.environment.stores.is_none());
    let fast = &r.systems["synthetic:service=1ms,servers=16"];
    let slow = &r.systems["synthetic:service=1ms,servers=16,delay.get=4ms"];
    assert_eq!(fast.repetitions.len(), 2);
    assert!(fast.footprint.is_none());
    // Same op sequence for both, and the injected delay shows on get only.
    assert_eq!(fast.ops["get"].count, slow.ops["get"].count);
    assert!(slow.ops["get"].latency_us.p50 >= fast.ops["get"].latency_us.p50 + 3_000);
    assert!(slow.ops["list"].latency_us.p50 < fast.ops["list"].latency_us.p50 + 1_000);
}

#[test]
fn ctrl_c_drains_and_writes_incomplete_results() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let scn = dir.path().join("long.toml");
    // A short first phase whose summary line says the run is under way, then a long one
    // that the signal interrupts.
    let long = format!(
        "{}\n[[phase]]\nname = \"long\"\nmodel = \"open\"\nrate = 200\nduration = \"60s\"\n",
        SYNTHETIC.replace("DURATION", "2s")
    );
    std::fs::write(&scn, long).unwrap();
    let out = dir.path().join("out");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_archbench"))
        .arg("run")
        .arg(&scn)
        .arg("--out")
        .arg(&out)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let first_phase = lines
        .by_ref()
        .map(|l| l.unwrap())
        .find(|l| l.contains("phase steady:"))
        .expect("the first phase's line before the output ends");
    assert!(first_phase.contains(" ops"), "{first_phase}");
    // Keep reading so the child never blocks on a full pipe.
    let drain = std::thread::spawn(move || lines.for_each(drop));
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = child.wait().unwrap();
    drain.join().unwrap();
    assert_eq!(status.code(), Some(1), "an incomplete run must not exit 0");
    let r = Results::read(&out.join("results.json")).unwrap();
    assert!(!r.complete);
    assert!(r.notes.iter().any(|n| n.contains("interrupted")));
    let s = r.systems.values().next().unwrap();
    assert!(
        s.ops["get"].count > 100,
        "ops before the stop are kept: {}",
        s.ops["get"].count
    );
    assert!(s.ops["get"].count < 60 * 200);
}

#[test]
fn a_bad_scenario_exits_2_naming_file_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let scn = dir.path().join("bad.toml");
    std::fs::write(
        &scn,
        SYNTHETIC
            .replace("DURATION", "2s")
            .replace("rate = 200", "rate = -1"),
    )
    .unwrap();
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_archbench"))
        .arg("run")
        .arg(&scn)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("bad.toml:18:8: phase[0].rate: must be > 0 ops/s, got -1"),
        "{err}"
    );
}

#[tokio::test]
async fn a_sweep_runs_each_seed_size_into_its_own_directory() {
    let dir = tempfile::tempdir().unwrap();
    let scn = dir.path().join("sweep.toml");
    std::fs::write(
        &scn,
        format!(
            "{}\n[sweep]\nusers = [1, 3]\n",
            SYNTHETIC.replace("DURATION", "500ms")
        ),
    )
    .unwrap();
    let out = dir.path().join("out");
    let opts = RunOptions {
        scenario: scn,
        systems: None,
        stores: StoreMode::Local,
        provision: Default::default(),
        out: out.clone(),
        repeat: 1,
        faults: Vec::new(),
        limits: Default::default(),
        fault_at: Vec::new(),
        network: None,
        instance: None,
        agent: None,
        seeded: false,
    };
    run(opts, &mut Vec::new()).await.unwrap();
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("sweep.json")).unwrap()).unwrap();
    assert_eq!(index.as_array().unwrap().len(), 2);
    for (users, entities) in [(1, 5), (3, 15)] {
        let p = out.join(format!("users-{users}/results.json"));
        assert_valid(&p);
        let r = Results::read(&p).unwrap();
        assert_eq!(r.scenario.seeded_entities, entities);
        assert_eq!(r.scenario.name, format!("synthetic-check-users-{users}"));
    }
}

/// The search-quality probe of smoke.toml: V0.2's exact search and V0.3's exact
/// variant find every true neighbour (the truth is computed apart, in f64); the HNSW
/// designs are swept over the three ef_search values; sizes and build times measured.
fn search_quality_is_accounted(
    v02: &archbench::results::SystemResults,
    v03: &archbench::results::SystemResults,
) {
    use archbench::results::search_quality::SearchDesign;
    let (q02, q03) = (
        v02.search_quality
            .as_ref()
            .expect("smoke.toml has [search_quality]"),
        v03.search_quality
            .as_ref()
            .expect("smoke.toml has [search_quality]"),
    );
    for q in [q02, q03] {
        assert_eq!((q.k, q.queries), (10, 40), "{q:?}");
        assert!(
            q.users >= 10,
            "the seeded users, and the lag probe's: {q:?}"
        );
        assert!(q.rows >= 80, "every seeded entity has a vector: {q:?}");
        assert!(q.index_bytes > 0 && q.build_seconds > 0.0, "{q:?}");
    }
    assert_eq!(q02.design, SearchDesign::ExactPerUser);
    assert_eq!(
        q02.recall_at_k, 1.0,
        "exact scan against the truth: {q02:?}"
    );
    assert_eq!(q02.designs.len(), 1, "V0.2 has no other design to try");
    assert_eq!(q03.design, SearchDesign::GlobalHnswFiltered);
    assert_eq!(q03.system_ef_search, Some(100));
    let designs: Vec<SearchDesign> = q03.designs.iter().map(|d| d.design).collect();
    let mut expected = vec![
        SearchDesign::GlobalHnswFiltered,
        SearchDesign::ExactPerUser,
        SearchDesign::PartialHnswPerUser,
    ];
    if cfg!(feature = "qdrant") {
        expected.extend([SearchDesign::QdrantDefault, SearchDesign::QdrantHnswForced]);
    }
    // A real Qdrant server is measured when the environment names one.
    let server = std::env::var("ARCHBENCH_QDRANT_URL").is_ok_and(|u| !u.is_empty());
    if server && cfg!(feature = "qdrant") {
        expected.push(SearchDesign::QdrantServer);
    } else {
        eprintln!(
            "the Qdrant server adapter is not tested here: set ARCHBENCH_QDRANT_URL (e.g. http://localhost:6334 after `docker compose --profile qdrant up -d`) to measure one"
        );
    }
    assert_eq!(designs, expected);
    for d in &q03.designs {
        let efs: Vec<Option<u32>> = d.frontier.iter().map(|p| p.ef_search).collect();
        if d.design == SearchDesign::QdrantServer {
            // Over gRPC, on the same vectors and truth: the planner's defaults scan a
            // user's few points exactly, as the in-process engine does.
            assert_eq!(efs, [Some(10), Some(40), Some(100)], "{d:?}");
            assert!(d.plan.starts_with("Qdrant server"), "{d:?}");
            assert!(d.frontier.iter().all(|p| p.recall >= 0.99), "{d:?}");
            assert!(d.build_seconds >= 0.0 && d.note.is_some(), "{d:?}");
            continue;
        }
        if d.design == SearchDesign::ExactPerUser {
            assert_eq!(efs, [None]);
            assert_eq!(d.recall_at_k, 1.0, "{d:?}");
        } else if d.design.is_qdrant() {
            assert_eq!(efs, [Some(10), Some(40), Some(100)], "{d:?}");
            assert!(d.plan.starts_with("qdrant-edge 0.6.0"), "{d:?}");
            // Qdrant's planner scans a user's few points exactly: the truth, up to
            // float rounding at a tie.
            if d.design == SearchDesign::QdrantDefault {
                assert!(d.plan.contains("scans the user's points exactly"), "{d:?}");
                assert!(d.frontier.iter().all(|p| p.recall >= 0.99), "{d:?}");
            }
        } else {
            assert_eq!(efs, [Some(10), Some(40), Some(100)], "{d:?}");
            // The index answered, whatever the planner would pick at this size.
            assert!(
                d.plan.rsplit(": ").next().unwrap().contains("hnsw"),
                "{d:?}"
            );
        }
        for p in &d.frontier {
            assert!((0.0..=1.0).contains(&p.recall) && p.p50_ms > 0.0, "{d:?}");
            assert!(p.p99_ms >= p.p50_ms, "{d:?}");
        }
        assert!(d.index_bytes > 0, "{d:?}");
    }
    // The system's own point is its design's frontier at ef_search 100.
    assert_eq!(q03.recall_at_k, q03.frontier[2].recall);
}

/// The event-log probe of smoke.toml: both designs hold every event generated (20
/// users × 30 days × 20, then 60 days), bytes per event is the stored size over the
/// rows, and retention removes exactly the oldest month (drop_chunks by whole days).
fn event_log_is_accounted(p: &archbench::results::event_log::EventLogProbe) {
    assert_eq!(p.designs.len(), 2, "{p:?}");
    for (key, d) in &p.designs {
        let events: Vec<u64> = d.sizes.iter().map(|s| s.events).collect();
        assert_eq!(events, [12_000, 24_000], "{key}");
        for s in &d.sizes {
            assert!(
                (s.bytes_per_event * s.events as f64 - s.stored_bytes as f64).abs() < 1.0,
                "{key}: {s:?}"
            );
            assert!(
                s.stored_bytes > s.events * 40,
                "{key}: rows, indexes: {s:?}"
            );
            assert!(
                s.wal_bytes_per_event > 0.0 && s.ingest_rows_per_s > 0.0,
                "{key}: {s:?}"
            );
            for q in [&s.per_user, &s.all_users, &s.per_user_under_ingest] {
                assert!(
                    q.samples == 20 && q.p99_ms >= q.p50_ms && q.p50_ms > 0.0,
                    "{key}: {s:?}"
                );
            }
        }
        let r = d.retention.as_ref().expect("retention at the 2-month size");
        assert_eq!(
            (r.rows_removed, r.rows_expected),
            (12_000, 12_000),
            "{key}: {r:?}"
        );
        assert!(r.seconds > 0.0, "{key}: {r:?}");
    }
    let (plain, hyper) = (&p.designs["v02"], &p.designs["v03"]);
    assert_eq!(hyper.retention.as_ref().unwrap().method, "drop_chunks");
    assert_eq!(plain.retention.as_ref().unwrap().method, "DELETE + VACUUM");
    // Dropping chunks gives the space back; a vacuumed plain table keeps its pages.
    let freed = |r: &archbench::results::event_log::Retention| r.bytes_before - r.bytes_after;
    assert!(freed(hyper.retention.as_ref().unwrap()) > 0);
}
