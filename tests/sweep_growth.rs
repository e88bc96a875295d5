//! Growth as curves: a scale sweep of both systems on local stores, fitted by
//! `report --sweep`; the fits' accounting, the cost projection scaled along a growth
//! put into the sweep's files, and bad sweep indexes.

mod common;

use std::path::Path;

use common::{archbench_output, output_text};
use serde_json::Value;

const SCENARIO: &str = r#"
name = "sweep-check"
rng_seed = 31
systems = ["v02", "v03"]
[seeding]
users = 4
entities_per_user = 5
body_bytes = { median = 2000, p99 = 8000 }
versions_per_entity = { min = 1, max = 2 }
history_days = 3
concurrency = 4
[mix]
get = 40
list = 15
search = 10
history = 10
activity = 5
update = 12
create = 8
[[phase]]
name = "steady"
model = "open"
rate = 40
duration = "3s"
[user_behaviour]
active_share = 0.3
ops_per_active_user_per_day = 40
new_documents_per_user_per_month = 8
updates_per_user_per_month = 30
[sweep]
users = [4, 8, 16]
"#;

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn write_json(path: &Path, value: &Value) {
    std::fs::write(path, serde_json::to_vec_pretty(value).unwrap()).unwrap();
}

fn report(results: &Path, sweep: &Path, out: &Path) -> std::process::Output {
    archbench_output(&[
        "report",
        results.to_str().unwrap(),
        "--sweep",
        sweep.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ])
}

/// Copies the sweep's folder (index and results, no logs needed for bytes).
fn copy_sweep(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_sweep(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[test]
fn a_sweep_is_fitted_per_metric_and_a_clear_growth_scales_the_cost_tiers() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("sweep.toml");
    std::fs::write(&scenario, SCENARIO).unwrap();
    let run_out = dir.path().join("run");
    let o = archbench_output(&[
        "run",
        scenario.to_str().unwrap(),
        "--stores",
        "local",
        "--no-report",
        "--out",
        run_out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", output_text(&o));
    // The index names each size's results relative to itself: the folder moves whole.
    let moved = dir.path().join("moved");
    copy_sweep(&run_out, &moved);
    std::fs::remove_dir_all(&run_out).unwrap();
    let index = moved.join("sweep.json");
    let entries = read_json(&index);
    assert_eq!(entries[0]["results"], "users-4/results.json");

    let results = moved.join("users-16/results.json");
    let out = dir.path().join("report");
    let o = report(&results, &index, &out);
    assert!(o.status.success(), "{}", output_text(&o));
    let json = read_json(&out.join("report.json"));
    let series = json["growth"]["series"].as_array().unwrap();
    for system in ["v02", "v03"] {
        for metric in ["latency_p50", "latency_p99", "db_time_per_op"] {
            let s = series
                .iter()
                .find(|s| s["system"] == system && s["metric"] == metric)
                .unwrap_or_else(|| panic!("{system} {metric} in {series:?}"));
            let xs: Vec<f64> = s["points"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p[0].as_f64().unwrap())
                .collect();
            assert_eq!(xs, [20.0, 40.0, 80.0], "entities seeded per size");
            // Each point is the fitted value times one plus its residual.
            let fit = &s["fit"];
            let (a, b) = (
                fit["coefficient"].as_f64().unwrap(),
                fit["exponent"].as_f64().unwrap(),
            );
            assert!(fit["exponent_margin"].as_f64().unwrap() > 0.0, "{fit}");
            for (p, r) in s["points"]
                .as_array()
                .unwrap()
                .iter()
                .zip(fit["residuals"].as_array().unwrap())
            {
                let (x, y) = (p[0].as_f64().unwrap(), p[1].as_f64().unwrap());
                let fitted = a * x.powf(b) * (1.0 + r[1].as_f64().unwrap());
                assert!((fitted - y).abs() <= 1e-9 * y.max(1.0), "{s}");
            }
        }
    }
    let markdown = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(
        markdown.contains("Growth across the scale sweep"),
        "{markdown}"
    );
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("residuals") && html.contains("<svg"));

    // V0.3's PostgreSQL bytes per write put at 1,000 × entities ÷ 20 in each size's
    // file: a growth of exponent 1 that every cost tier must then scale by.
    for users in [4, 8, 16] {
        let path = moved.join(format!("users-{users}/results.json"));
        let mut r = read_json(&path);
        let entities = r["scenario"]["seeded_entities"].as_f64().unwrap();
        let growth = &mut r["systems"]["v03"]["storage_growth"];
        let writes = growth["writes"].as_f64().unwrap();
        assert!(writes > 0.0, "the steady phase wrote");
        growth["postgres_bytes"] = Value::from((writes * 1000.0 * entities / 20.0) as i64);
        write_json(&path, &r);
    }
    let grown = dir.path().join("grown");
    let o = report(&results, &index, &grown);
    assert!(o.status.success(), "{}", output_text(&o));
    let json = read_json(&grown.join("report.json"));
    let curves = json["cost"]["curves"].as_array().unwrap();
    let curve = curves
        .iter()
        .find(|c| c["system"] == "v03" && c["field"] == "postgres_bytes_per_write")
        .unwrap_or_else(|| panic!("{curves:?}"));
    assert!(
        (curve["exponent"].as_f64().unwrap() - 1.0).abs() < 1e-6,
        "{curve}"
    );
    assert_eq!(curve["entities_per_user"], 5.0);
    // The tier's PostgreSQL bytes: the run's 4,000 bytes per write (80 entities) scaled
    // to users × 5 entities, times the writes the model accumulates.
    let flat = dir.path().join("flat");
    let o = archbench_output(&[
        "report",
        results.to_str().unwrap(),
        "--out",
        flat.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", output_text(&o));
    let flat = read_json(&flat.join("report.json"));
    let v03_postgres = |report: &Value, users: u64| {
        report["cost"]["projections"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["users"] == users && p["deployment"] == "v03-neon-r2")
            .map(|p| p["usage"]["postgres_bytes"].as_f64().unwrap())
            .unwrap()
    };
    let tiers: Vec<u64> = json["cost"]["model"]["assumptions"]["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u.as_u64().unwrap())
        .collect();
    for &tier in &tiers {
        let (measured, scaled) = (v03_postgres(&flat, tier), v03_postgres(&json, tier));
        assert!(scaled > measured, "{tier} users: {scaled} vs {measured}");
    }
    let largest = *tiers.iter().max().unwrap();
    let factor = largest as f64 * 5.0 / 80.0;
    let markdown = std::fs::read_to_string(grown.join("report.md")).unwrap();
    assert!(
        markdown.contains("scaled to each tier's dataset size")
            && markdown.contains(&format!("× {factor:.2}")),
        "{factor}: {markdown}"
    );
}

#[test]
fn a_bad_sweep_index_exits_2_naming_the_file_and_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let index = dir.path().join("sweep.json");
    std::fs::write(&index, "[{\"users\": 4, \"results\": 7}]").unwrap();
    let results = Path::new("reports/example/results.json");
    let o = report(results, &index, &dir.path().join("r"));
    assert_eq!(o.status.code(), Some(2), "{}", output_text(&o));
    let err = output_text(&o);
    assert!(
        err.contains("sweep.json") && err.contains("line 1, column") && err.contains("[sweep]"),
        "{err}"
    );
    // One size is no curve.
    let one = dir.path().join("one");
    std::fs::create_dir_all(one.join("users-201")).unwrap();
    std::fs::copy(results, one.join("users-201/results.json")).unwrap();
    std::fs::write(
        one.join("sweep.json"),
        r#"[{"users": 201, "results": "users-201/results.json", "complete": true}]"#,
    )
    .unwrap();
    let o = report(results, &one.join("sweep.json"), &dir.path().join("r"));
    assert_eq!(o.status.code(), Some(2), "{}", output_text(&o));
    assert!(
        output_text(&o).contains("a curve needs two or more"),
        "{}",
        output_text(&o)
    );
}
