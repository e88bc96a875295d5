//! The gate's power and history on edits of the fixture results file (a synthetic run,
//! 5 repetitions), through the command line: the detectable regression on every line
//! of the Markdown, JSON and pull-request comment; change points over a history with a
//! step at a known run and over one without; the measured error rates; and the bad
//! inputs that exit 2.

use std::path::{Path, PathBuf};

mod common;

use common::{archbench_output as archbench, output_text as text};

const SYSTEM: &str = "synthetic:service=2ms,servers=64";

fn fixture() -> serde_json::Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/gate-baseline.json");
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// Multiplies `op`'s latencies (totals and every repetition) by `factor`, and every
/// other op's by a small deterministic wobble so that no series is flat.
fn scaled(v: &mut serde_json::Value, op: &str, factor: f64, wobble_seed: u64) {
    let sys = &mut v["systems"][SYSTEM];
    // splitmix64 of (seed, draw): independent draws for neighbouring seeds (a plain
    // LCG seeded with 1, 2, 3... gives runs that drift in step, a false trend).
    let mut draw = 0u64;
    let mut wobble = move || {
        draw += 1;
        let mut z = wobble_seed
            .wrapping_mul(0x9e37_79b9_7f4a_7c15)
            .wrapping_add(draw.wrapping_mul(0xbf58_476d_1ce4_e5b9));
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        1.0 + ((z >> 11) as f64 / (1u64 << 53) as f64 - 0.5) * 0.04
    };
    let scale = |p: &mut serde_json::Value, by: f64| {
        for (_, x) in p.as_object_mut().unwrap().iter_mut() {
            *x = serde_json::json!((x.as_f64().unwrap() * by).round() as u64);
        }
    };
    let ops: Vec<String> = sys["ops"].as_object().unwrap().keys().cloned().collect();
    for name in &ops {
        let by = if name == op { factor } else { 1.0 } * wobble();
        scale(&mut sys["ops"][name]["latency_us"], by);
        for rep in sys["repetitions"].as_array_mut().unwrap() {
            let by = if name == op { factor } else { 1.0 } * wobble();
            scale(&mut rep[name]["latency_us"], by);
        }
    }
}

fn write(dir: &Path, name: &str, v: &serde_json::Value) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, serde_json::to_vec(v).unwrap()).unwrap();
    p
}

/// A nightly history of `n` runs; from run `step_at` on, `create` is 30% slower.
fn history(dir: &Path, n: usize, step_at: Option<usize>) -> Vec<PathBuf> {
    (0..n)
        .map(|i| {
            let mut v = fixture();
            let factor = if step_at.is_some_and(|s| i >= s) {
                1.3
            } else {
                1.0
            };
            scaled(&mut v, "create", factor, i as u64 + 1);
            v["started_at"] = serde_json::json!(format!("2026-11-{:02}T02:00:00+00:00", i + 1));
            v["environment"]["git_revision"] = serde_json::json!(format!("{:040x}", i + 1));
            // Files given out of order: the history sorts them by start time.
            write(dir, &format!("night-{}.json", n - i), &v)
        })
        .collect()
}

fn paths(files: &[PathBuf]) -> Vec<&str> {
    files.iter().map(|p| p.to_str().unwrap()).collect()
}

#[test]
fn every_gate_line_says_what_it_could_detect() {
    let dir = tempfile::tempdir().unwrap();
    let (mut a, mut b) = (fixture(), fixture());
    scaled(&mut a, "none", 1.0, 1);
    scaled(&mut b, "none", 1.0, 2);
    let (a, b) = (
        write(dir.path(), "a.json", &a),
        write(dir.path(), "b.json", &b),
    );
    let comment = dir.path().join("comment.md");
    let o = archbench(&[
        "gate",
        "--baseline",
        a.to_str().unwrap(),
        "--current",
        b.to_str().unwrap(),
        "--comment",
        comment.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let md = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(md.contains("| noise | detectable |"), "{md}");
    let rows: Vec<&str> = md
        .lines()
        .filter(|l| l.starts_with(&format!("| {SYSTEM}")))
        .collect();
    assert!(!rows.is_empty());
    for row in &rows {
        assert!(
            row.contains("≥ ") || row.contains("not gated") || row.contains("never"),
            "{row}"
        );
    }
    assert!(md.contains("Power: on every gated line"), "{md}");

    let comment = std::fs::read_to_string(&comment).unwrap();
    let first = comment.lines().next().unwrap();
    assert!(
        first.starts_with("### ✅ archbench gate: pass"),
        "{comment}"
    );
    assert!(comment.contains("<details><summary>All"), "{comment}");

    let o = archbench(&[
        "gate",
        "--baseline",
        a.to_str().unwrap(),
        "--current",
        b.to_str().unwrap(),
        "--json",
    ]);
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    for c in json["comparisons"].as_array().unwrap() {
        let d = &c["detectable"];
        assert!(
            d.get("percent")
                .is_some_and(|p| p.as_f64().unwrap() >= c["threshold_pct"].as_f64().unwrap())
                || d == "not_gated"
                || d == "never",
            "{c}"
        );
    }
}

#[test]
fn a_step_in_the_history_is_found_at_its_run_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let files = history(dir.path(), 16, Some(9));
    let mut args = vec!["gate", "history", "--json"];
    args.extend(paths(&files));
    let o = archbench(&args);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let changes = report["changes"].as_array().unwrap();
    assert!(!changes.is_empty(), "{report}");
    for c in changes {
        assert_eq!(c["op"], "create", "{c}");
        let index = c["index"].as_u64().unwrap();
        assert!(index.abs_diff(9) <= 1, "{c}");
        let magnitude = c["magnitude_pct"].as_f64().unwrap();
        assert!((magnitude - 30.0).abs() < 5.0, "{c}");
        assert!(c["confidence"].as_f64().unwrap() >= 0.99, "{c}");
    }
    let p50 = changes.iter().find(|c| c["percentile"] == "p50").unwrap();
    assert_eq!(p50["index"], 9, "{p50}");
    assert_eq!(p50["revision"], format!("{:040x}", 10));
    assert_eq!(p50["previous_revision"], format!("{:040x}", 9));

    let mut args = vec!["gate", "history"];
    args.extend(paths(&files));
    let md = String::from_utf8_lossy(&archbench(&args).stdout).to_string();
    assert!(md.contains("| create | p50 | 10 ("), "{md}");
    assert!(md.contains("E-Divisive"), "{md}");
}

#[test]
fn a_history_without_a_step_has_no_change_point() {
    let dir = tempfile::tempdir().unwrap();
    let files = history(dir.path(), 16, None);
    let mut args = vec!["gate", "history", "--json"];
    args.extend(paths(&files));
    let o = archbench(&args);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["changes"], serde_json::json!([]), "{report}");
    assert!(report["series"].as_u64().unwrap() > 0);
}

#[test]
fn bad_histories_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let files = history(dir.path(), 6, None);
    let mut args = vec!["gate", "history"];
    args.extend(paths(&files));
    let o = archbench(&args);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("change points need 10 or more"),
        "{}",
        text(&o)
    );

    let mut files = history(dir.path(), 12, None);
    let mut other = fixture();
    other["scenario"]["name"] = serde_json::json!("smoke");
    files.push(write(dir.path(), "other.json", &other));
    let mut args = vec!["gate", "history"];
    args.extend(paths(&files));
    let o = archbench(&args);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("other.json: scenario: scenario `smoke`"),
        "{}",
        text(&o)
    );
}

#[test]
fn calibration_with_one_repetition_exits_2_naming_repeat() {
    let scenario = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/gate.toml");
    let o = archbench(&[
        "gate",
        "calibrate",
        scenario.to_str().unwrap(),
        "--repeat",
        "1",
        "--stores",
        "local",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("--repeat 2 or more"), "{}", text(&o));
}

#[test]
fn error_rates_count_false_alarms_and_detections() {
    let dir = tempfile::tempdir().unwrap();
    let aa: Vec<PathBuf> = (0..5)
        .map(|i| {
            let mut v = fixture();
            scaled(&mut v, "none", 1.0, 10 + i);
            write(dir.path(), &format!("aa-{i}.json"), &v)
        })
        .collect();
    let mut slow = fixture();
    scaled(&mut slow, "create", 1.5, 99);
    slow["injected_delays"] =
        serde_json::json!([{ "system": SYSTEM, "op": "create", "percent": 50.0 }]);
    let slow = write(dir.path(), "slow.json", &slow);
    let mut args = vec!["gate", "rates", "--json", "--aa"];
    args.extend(paths(&aa));
    args.extend(["--faulted", slow.to_str().unwrap()]);
    let o = archbench(&args);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let rates: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(rates["aa_comparisons"], 20, "{rates}");
    assert_eq!(rates["aa_regression_lines"], 0, "{rates}");
    let create_p50 = rates["detection"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["op"] == "create" && l["percentile"] == "p50")
        .unwrap();
    assert_eq!(create_p50["comparisons"], 5, "{create_p50}");
    assert_eq!(create_p50["detected"], 5, "{create_p50}");

    // A faulted run given as an A/A run is refused.
    let o = archbench(&[
        "gate",
        "rates",
        "--aa",
        aa[0].to_str().unwrap(),
        slow.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("injected_delays"), "{}", text(&o));
}

/// Multiplies every latency of the run (totals and repetitions, every op) by `by`: a
/// level shift of the whole run, as a fresh run on a busier machine shows.
fn shifted(v: &mut serde_json::Value, by: f64) {
    let sys = &mut v["systems"][SYSTEM];
    let scale = |p: &mut serde_json::Value| {
        for (_, x) in p.as_object_mut().unwrap().iter_mut() {
            *x = serde_json::json!((x.as_f64().unwrap() * by).round() as u64);
        }
    };
    for (_, op) in sys["ops"].as_object_mut().unwrap().iter_mut() {
        scale(&mut op["latency_us"]);
    }
    for rep in sys["repetitions"].as_array_mut().unwrap() {
        for (_, op) in rep.as_object_mut().unwrap().iter_mut() {
            scale(&mut op["latency_us"]);
        }
    }
}

#[test]
fn level_shifts_between_runs_are_allowed_for_by_the_run_to_run_spread() {
    let dir = tempfile::tempdir().unwrap();
    // Five fresh A/A runs whose levels differ as a whole; the repetitions of one run
    // share its level, so they alone cannot tell the shift from a regression.
    let levels = [1.0, 1.35, 0.85, 1.15, 0.9];
    let runs: Vec<serde_json::Value> = levels
        .iter()
        .enumerate()
        .map(|(i, level)| {
            let mut v = fixture();
            scaled(&mut v, "none", 1.0, 40 + i as u64);
            shifted(&mut v, *level);
            v
        })
        .collect();
    let aa: Vec<PathBuf> = runs
        .iter()
        .enumerate()
        .map(|(i, v)| write(dir.path(), &format!("aa-{i}.json"), v))
        .collect();
    // Without a run-to-run spread the +35% run fails the build.
    let o = archbench(&[
        "gate",
        "--baseline",
        paths(&aa)[0],
        "--current",
        paths(&aa)[1],
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("level shifts between runs are not allowed for"),
        "{}",
        text(&o)
    );

    // The rates measure the spread over all five runs: about the levels' own spread
    // (log sd 0.188, i.e. 21%, less what the repetitions explain), to paste.
    let mut args = vec!["gate", "rates", "--json", "--aa"];
    args.extend(paths(&aa));
    let o = archbench(&args);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let rates: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let p50 = rates["run_to_run"]["p50"].as_f64().unwrap();
    assert!((14.0..26.0).contains(&p50), "{rates}");
    assert!(
        rates["method"].as_str().unwrap().contains("held out"),
        "{rates}"
    );

    // With that spread in the scenario the same pair passes: 35% is within what two
    // runs of one build differ by at alpha 0.01 (z · √2 · 0.18: about 80%).
    let mut current = runs[1].clone();
    current["scenario"]["gate"]["run_to_run"] =
        serde_json::json!({ "p50": p50, "p95": p50, "p99": p50 });
    let current = write(dir.path(), "current.json", &current);
    let o = archbench(&[
        "gate",
        "--baseline",
        paths(&aa)[0],
        "--current",
        current.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("(runs ±"), "{}", text(&o));
    // A regression well beyond it is still called.
    let mut slow = runs[1].clone();
    scaled(&mut slow, "create", 2.5, 77);
    slow["scenario"]["gate"]["run_to_run"] =
        serde_json::json!({ "p50": p50, "p95": p50, "p99": p50 });
    let slow = write(dir.path(), "slow.json", &slow);
    let o = archbench(&[
        "gate",
        "--baseline",
        paths(&aa)[0],
        "--current",
        slow.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
}
