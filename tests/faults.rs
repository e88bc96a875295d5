//! Store faults mid-run on local stores, one test per target, each with both fault
//! kinds: PostgreSQL, the object store and the workflow emulator killed (and started
//! again) or paused (and continued) while the load runs. The run goes on and completes;
//! the results say when each fault was injected, restored and serving again; every op
//! succeeds again after the restore (the pools reconnect); the latency of the window
//! shows the outage; nothing is left in the run root; and a run whose failures exceed
//! the scenario's `[slo]` fails the gate.

mod common;

use std::path::{Path, PathBuf};

use common::{archbench, assert_valid, leftovers, run_root};

/// The shipped fault scenario without its faults (given by `--fault-at` instead).
fn scenario_without_faults(dir: &Path) -> PathBuf {
    let shipped = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/faults.toml"),
    )
    .unwrap();
    let start = shipped.find("[[fault]]").unwrap();
    let end = shipped.find("[run]").unwrap();
    let path = dir.join("no-faults.toml");
    std::fs::write(&path, format!("{}{}", &shipped[..start], &shipped[end..])).unwrap();
    path
}

/// Runs `scenario` on local stores with `extra` arguments; returns the results.
fn run(scenario: &Path, extra: &[&str], out: &Path) -> serde_json::Value {
    let root = run_root();
    let o = archbench()
        .arg("run")
        .arg(scenario)
        .args(["--stores", "local", "--no-report", "--run-root"])
        .arg(root.path())
        .arg("--out")
        .arg(out)
        .args(extra)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(stdout.contains(" fault "), "fault lines printed: {stdout}");
    assert!(leftovers(root.path()).is_empty(), "nothing left behind");
    let results = assert_valid(&out.join("results.json"));
    assert_eq!(results["complete"], true);
    results
}

/// The faults of `system`, each checked: injected, restored after its time down,
/// serving again, and every op (all ran throughout) succeeded after the restore.
fn faults<'a>(results: &'a serde_json::Value, system: &str) -> &'a Vec<serde_json::Value> {
    let faults = results["systems"][system]["faults"].as_array().unwrap();
    for f in faults {
        let ms = |k: &str| f[k].as_u64().unwrap_or_else(|| panic!("{k} in {f}"));
        assert!(f["error"].is_null(), "{f}");
        let down = ms("restored_ms") - ms("injected_ms");
        assert!(
            down + 200 >= ms("down_for_ms"),
            "restored after its time down: {f}"
        );
        assert!(ms("serving_ms") >= ms("restored_ms"), "{f}");
        let ops = f["ops"].as_object().unwrap();
        assert_eq!(ops.len(), 7, "every op of the mix: {f}");
        for (op, o) in ops {
            let first = o["first_success_ms"].as_u64();
            assert!(
                first.is_some_and(|t| t >= ms("restored_ms")),
                "{op} succeeded after the restore: {f}"
            );
        }
    }
    faults
}

/// `archbench gate` with the run as its own baseline: only the error budget can fail it.
fn gate_against_itself(results: &Path) -> std::process::Output {
    archbench()
        .arg("gate")
        .arg("--baseline")
        .arg(results)
        .arg("--current")
        .arg(results)
        .output()
        .unwrap()
}

fn max_latency_ms(results: &serde_json::Value, system: &str, op: &str) -> f64 {
    results["systems"][system]["ops"][op]["latency_us"]["max"]
        .as_f64()
        .unwrap()
        / 1e3
}

#[test]
fn postgres_killed_and_the_object_store_paused_mid_run_both_systems_recover() {
    let out = tempfile::tempdir().unwrap();
    let scenario = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/faults.toml");
    let results = run(&scenario, &[], out.path());
    for system in ["v02", "v03"] {
        let f = faults(&results, system);
        assert_eq!(f.len(), 2, "{system}");
        assert_eq!(
            (f[0]["target"].as_str(), f[0]["action"].as_str()),
            (Some("postgres"), Some("kill"))
        );
        assert_eq!(
            (f[1]["target"].as_str(), f[1]["action"].as_str()),
            (Some("object_store"), Some("pause"))
        );
        // Every op needs PostgreSQL: some waited out the 3 s it was down.
        assert!(
            max_latency_ms(&results, system, "get") > 2_500.0,
            "{system}"
        );
    }
    // The kill lost pg_stat_statements' counters: database time is not claimed.
    for system in ["v02", "v03"] {
        assert!(results["systems"][system]["db_time"].is_null(), "{system}");
    }
    // V0.3 reads bodies from the object store: a get waited out its pause too.
    let pause = &faults(&results, "v03")[1];
    assert!(pause["ops"]["get"]["recovery_ms"].as_u64().is_some());
    // Both systems stayed within the scenario's error budget: the gate passes.
    let path = out.path().join("results.json");
    let o = gate_against_itself(&path);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    // The report opens with the faults, and shades their windows on latency over time.
    let report = out.path().join("report");
    let o = archbench()
        .arg("report")
        .arg(&path)
        .arg("--out")
        .arg(&report)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let md = std::fs::read_to_string(report.join("report.md")).unwrap();
    let first = md.find("## ").map(|i| &md[i..]).unwrap();
    assert!(first.starts_with("## Store faults"), "{md}");
    assert!(
        md.contains("| V0.3 | object\\_store pause for 3.0 s | 1 |"),
        "{md}"
    );
    let html = std::fs::read_to_string(report.join("report.html")).unwrap();
    for system in ["v02", "v03"] {
        let chart = html
            .find(&format!("faults-{system}"))
            .expect("a chart per system");
        let svg = &html[chart..html[chart..].find("</svg>").unwrap() + chart];
        assert!(
            svg.contains("postgres kill") && svg.contains("object_store pause"),
            "{svg}"
        );
        // The shaded windows: translucent rectangles in the fault colour.
        assert_eq!(
            svg.matches("opacity=\"0.15\" fill=\"#E33B3B\"").count(),
            2,
            "{svg}"
        );
    }
}

#[test]
fn postgres_paused_and_the_object_store_killed_mid_run_v03_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = scenario_without_faults(dir.path());
    let results = run(
        &scenario,
        &[
            "--systems",
            "v03",
            "--fault-at",
            "postgres:pause@2s+2s",
            "--fault-at",
            "object_store:kill@7s+2s",
        ],
        &dir.path().join("out"),
    );
    let f = faults(&results, "v03");
    assert_eq!(f.len(), 2);
    assert_eq!(
        (f[0]["target"].as_str(), f[0]["action"].as_str()),
        (Some("postgres"), Some("pause"))
    );
    assert_eq!(
        (f[1]["target"].as_str(), f[1]["action"].as_str()),
        (Some("object_store"), Some("kill"))
    );
    // Paused, PostgreSQL holds its connections open without answering: ops wait.
    assert!(max_latency_ms(&results, "v03", "list") > 1_500.0);
    // Objects written before the kill are read after the restart (same data directory).
    assert!(f[1]["ops"]["get"]["first_success_ms"].as_u64().is_some());
    let notes = results["notes"].as_array().unwrap();
    assert!(
        notes.iter().any(|n| n
            .as_str()
            .unwrap()
            .contains("object_store kill at 7s for 2s")),
        "{notes:?}"
    );
}

#[test]
fn the_emulator_killed_fails_writes_and_the_gate_holds_the_error_budget() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = scenario_without_faults(dir.path());
    let out = dir.path().join("out");
    let results = run(
        &scenario,
        &[
            "--systems",
            "v02",
            "--fault-at",
            "emulator:kill@2s+3s",
            "--fault-at",
            "emulator:pause@8s+2s",
        ],
        &out,
    );
    let f = faults(&results, "v02");
    let (kill, pause) = (&f[0], &f[1]);
    // Killed, its listener is closed: the events of creates and updates are refused.
    let failed = |op: &str| kill["ops"][op]["errors"].as_u64().unwrap();
    assert!(failed("create") + failed("update") > 0, "{kill}");
    assert_eq!(
        failed("get"),
        0,
        "reads do not go through the emulator: {kill}"
    );
    let errors = &results["systems"]["v02"]["errors_by_second"][0];
    assert!(
        errors["create"].as_object().is_some_and(|s| !s.is_empty()),
        "{errors}"
    );
    // Paused, it holds the events: writes wait instead of failing.
    assert_eq!(pause["ops"]["create"]["errors"], 0, "{pause}");
    assert!(max_latency_ms(&results, "v02", "create") > 1_500.0);
    // Over the scenario's 1% error budget: the gate fails, naming it.
    let rate = results["systems"]["v02"]["ops"]
        .as_object()
        .unwrap()
        .values()
        .fold((0.0, 0.0), |(e, n), o| {
            (
                e + o["errors"].as_f64().unwrap(),
                n + o["count"].as_f64().unwrap(),
            )
        });
    assert!(rate.0 / rate.1 > 0.01, "{rate:?}");
    let path = out.join("results.json");
    let o = gate_against_itself(&path);
    assert_eq!(o.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("v02 failed") && stderr.contains("above the SLO of 1.00%"),
        "{stderr}"
    );
}
