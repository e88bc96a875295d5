//! `archbench capacity` against a system whose capacity is known: the synthetic
//! system with 4 servers of 10 ms serves at most 400 ops/s. The service time is long
//! beside the scheduling jitter of a shared 2-core machine (a few ms, tens under
//! contention), so the SLO of 100 ms measures the queue rather than that jitter. The search must find a
//! sustainable rate below that ceiling and not far under it, fail the step above it,
//! and write capacity.json. Bad settings exit 2 naming the flag or the missing
//! `[slo] p99_ms`.

mod common;

use std::path::Path;
use std::sync::Mutex;

/// The tests that put load on the machine run one at a time: two searches side by
/// side on 2 cores would each measure the other's CPU use as queueing.
static LOAD: Mutex<()> = Mutex::new(());

const SCENARIO: &str = r#"
name = "capacity-check"
rng_seed = 5
systems = ["synthetic:service=10ms,servers=4"]
[seeding]
users = 2
entities_per_user = 2
body_bytes = { median = 200, p99 = 400 }
versions_per_entity = { min = 1, max = 1 }
history_days = 1
[mix]
get = 1
[[phase]]
name = "steady"
model = "open"
rate = 10
duration = "1s"
[run]
max_in_flight = 4000
[slo]
max_error_rate = 0.001
p99_ms = 100
"#;

fn write(dir: &Path, text: &str) -> std::path::PathBuf {
    let p = dir.join("capacity.toml");
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn the_search_finds_the_known_capacity_of_the_synthetic_system() {
    let _one_at_a_time = LOAD.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let scenario = write(dir.path(), SCENARIO);
    let o = common::archbench()
        .arg("capacity")
        .arg(&scenario)
        .args([
            "--step",
            "2s",
            "--warmup",
            "500ms",
            "--start-rate",
            "25",
            "--out",
        ])
        .arg(dir.path().join("out"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("out/capacity.json")).unwrap())
            .unwrap();
    let system = &report["systems"][0];
    let found = system["sustainable_ops_per_s"].as_f64().unwrap();
    println!("{stdout}");
    // 4 servers × 100 ops/s each: never above 400; an M/D/4 queue keeps its p99
    // (service included) under 100 ms until about 90% of that.
    assert!((220.0..=410.0).contains(&found), "{found}");
    let steps = system["steps"].as_array().unwrap();
    assert!(
        steps
            .iter()
            .any(|s| s["pass"] == false && s["rate"].as_f64().unwrap() > found)
    );
    // The ramp doubles from the start rate, then bisects.
    assert_eq!(steps[0]["rate"], 25.0);
    assert_eq!(steps[1]["rate"], 50.0);
    assert!(report["complete"].as_bool().unwrap());
    assert!(
        stdout.contains("| system | sustainable ops/s |"),
        "{stdout}"
    );
}

#[test]
fn capacity_without_a_p99_slo_or_with_bad_settings_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = write(dir.path(), &SCENARIO.replace("p99_ms = 100\n", ""));
    let o = common::archbench()
        .arg("capacity")
        .arg(&scenario)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("capacity needs `[slo] p99_ms`"), "{err}");

    let scenario = write(dir.path(), SCENARIO);
    for (flag, value, says) in [
        ("--start-rate", "-5", "--start-rate"),
        ("--max-rate", "90000", "--max-rate"),
        ("--precision", "1.0", "--precision"),
    ] {
        let o = common::archbench()
            .arg("capacity")
            .arg(&scenario)
            .arg(format!("{flag}={value}"))
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{flag}: {err}");
        assert!(err.contains(says), "{err}");
    }
    let bad = write(dir.path(), &SCENARIO.replace("p99_ms = 100", "p99_ms = -1"));
    let o = common::archbench()
        .arg("capacity")
        .arg(&bad)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("slo.p99_ms"), "{err}");
}

#[test]
fn a_scale_sweep_searches_each_size_on_its_own_seed_and_writes_a_file_per_size() {
    let _one_at_a_time = LOAD.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let scenario = write(dir.path(), SCENARIO);
    let out = dir.path().join("sweep");
    let o = common::archbench()
        .arg("capacity")
        .arg(&scenario)
        .args([
            "--sweep",
            "40,10",
            "--step",
            "1s",
            "--warmup",
            "200ms",
            "--start-rate",
            "100",
            "--max-steps",
            "3",
            "--out",
        ])
        .arg(&out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    for entities in [10, 40] {
        let file = out.join(format!("capacity-{entities}.json"));
        let report: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
        assert_eq!(report["seeded_entities"], entities, "{}", file.display());
        assert_eq!(report["systems"][0]["steps"].as_array().unwrap().len(), 3);
    }
    // Smallest size first, then the table across sizes.
    let (ten, forty) = (
        stdout.find("scale sweep: 10 entities").unwrap(),
        stdout.find("scale sweep: 40 entities").unwrap(),
    );
    assert!(ten < forty, "{stdout}");
    assert!(stdout.contains("## Scale sweep"), "{stdout}");

    for (sizes, says) in [
        ("10", "at least two sizes"),
        ("5,100", "from 10 to 10,000,000"),
    ] {
        let o = common::archbench()
            .arg("capacity")
            .arg(&scenario)
            .args(["--sweep", sizes])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{sizes}: {err}");
        assert!(err.contains(says), "{err}");
    }
}
