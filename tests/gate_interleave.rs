//! `archbench gate interleave` on the synthetic target, through the command line: an
//! A/A job passes and its sides hold one repetition per run in the order A B B A …;
//! a job with +80% injected into the candidate's `create` fails on exactly that op; a
//! second invocation keeps the finished runs; another job's folder is refused; and
//! `gate rates` measures the interleaved gate from those jobs.

use std::path::{Path, PathBuf};
use std::process::Output;

mod common;

use common::{archbench_output as archbench, output_text as text};

const SYSTEM: &str = "synthetic:service=2ms,servers=64";

// 5 runs per side: the fewest at which Mann-Whitney can reject at alpha 0.01. Only the
// median is gated: a 1.5 s run holds too few samples for its tails. The threshold is
// 30%: an A/A job of such short runs once measured +20% on one op's median (p 0.008),
// on a 2-core machine shared with the test harness; the injected delay is +80%.
const SCENARIO: &str = r#"
name = "interleave-check"
rng_seed = 78
systems = ["synthetic:service=2ms,servers=64"]
[seeding]
users = 5
entities_per_user = 10
body_bytes = { median = 500, p99 = 2000 }
versions_per_entity = { min = 1, max = 1 }
history_days = 1
[mix]
get = 40
list = 20
search = 10
update = 10
create = 10
history = 5
activity = 5
[[phase]]
name = "steady"
model = "open"
rate = 400
duration = "1500ms"
[gate]
percentiles = ["p50"]
alpha = 0.01
threshold_pct = 30
"#;

fn job(scenario: &Path, out: &Path, extra: &[&str]) -> Output {
    let bin = env!("CARGO_BIN_EXE_archbench");
    let mut args = vec![
        "gate",
        "interleave",
        scenario.to_str().unwrap(),
        "--baseline-bin",
        bin,
        "--stores",
        "local",
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    archbench(&args)
}

fn read(path: PathBuf) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(&path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn an_interleaved_job_passes_aa_catches_a_delay_and_measures_its_rates() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("gate.toml");
    std::fs::write(&scenario, SCENARIO).unwrap();

    // A/A: the same binary on both sides.
    let aa = dir.path().join("aa");
    let o = job(&scenario, &aa, &["--pairs", "5"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("fresh runs interleaved (ABBAABBAAB)"),
        "{}",
        text(&o)
    );
    let mut folders: Vec<String> = std::fs::read_dir(aa.join("runs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    folders.sort();
    assert_eq!(
        folders,
        [
            "01-baseline",
            "02-candidate",
            "03-candidate",
            "04-baseline",
            "05-baseline",
            "06-candidate",
            "07-candidate",
            "08-baseline",
            "09-baseline",
            "10-candidate"
        ]
    );
    let candidate = read(aa.join("candidate.json"));
    assert_eq!(candidate["interleaved"]["side"], "candidate");
    assert_eq!(candidate["interleaved"]["order"], "ABBAABBAAB");
    let system = &candidate["systems"][SYSTEM];
    assert_eq!(system["repetitions"].as_array().unwrap().len(), 5);
    // Repetition i is run i of the side, and the ops add up over the runs.
    let runs = candidate["interleaved"]["runs"].as_array().unwrap();
    let mut count = 0;
    for (i, run) in runs.iter().enumerate() {
        let r = read(PathBuf::from(run.as_str().unwrap()));
        let own = &r["systems"][SYSTEM];
        assert_eq!(own["repetitions"][0], system["repetitions"][i]);
        count += own["ops"]["get"]["count"].as_u64().unwrap();
    }
    assert_eq!(system["ops"]["get"]["count"].as_u64().unwrap(), count);
    let p50 = system["ops"]["get"]["latency_us"]["p50"].as_u64().unwrap();
    assert!((1_900..4_000).contains(&p50), "merged get p50 {p50} µs");

    // Run again: every finished run is kept.
    let o = job(&scenario, &aa, &["--pairs", "5"]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(text(&o).matches("kept:").count(), 10, "{}", text(&o));
    // Another job in the same folder is refused, naming --fresh.
    let o = job(&scenario, &aa, &["--pairs", "4"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("--fresh"), "{}", text(&o));

    // +80% on the candidate's create: a regression on create and nowhere else.
    let faulted = dir.path().join("plus80");
    let fault = format!("{SYSTEM}.create=+80%");
    let o = job(
        &scenario,
        &faulted,
        &["--pairs", "5", "--candidate-fault", &fault, "--json"],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    for c in report["comparisons"].as_array().unwrap() {
        let expected = if c["op"] == "create" {
            "regression"
        } else {
            "pass"
        };
        assert_eq!(c["verdict"], expected, "{c}");
    }
    let baseline = read(faulted.join("baseline.json"));
    assert!(baseline.get("injected_delays").is_none());
    let candidate = read(faulted.join("candidate.json"));
    assert_eq!(candidate["injected_delays"][0]["op"], "create");

    // The rates at the CI job's 5 pairs: one A/A window (mirrored: 2 comparisons) and
    // the faulted job whole, which calls create.
    let rates = |pairs: &str| {
        let o = archbench(&[
            "gate",
            "rates",
            "--interleaved-aa",
            aa.to_str().unwrap(),
            "--interleaved-faulted",
            faulted.to_str().unwrap(),
            "--pairs",
            pairs,
            "--json",
        ]);
        assert!(o.status.success(), "{}", text(&o));
        let rates: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let create = rates["detection"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["op"] == "create")
            .unwrap()
            .clone();
        (rates, create)
    };
    let (at5, create) = rates("5");
    assert_eq!(at5["aa_comparisons"], 2);
    assert_eq!(create["comparisons"], 1);
    assert_eq!(create["detected"], 1);
    // At 2 pairs: 7 A/A windows of the 10 runs (mirrored: 14), and the faulted job's 5
    // pairs cut into 4 windows of 2 whole pairs, each a comparison.
    let (at2, create) = rates("2");
    assert_eq!(at2["aa_comparisons"], 14);
    assert_eq!(at2["aa_gated_lines"], 14 * 7);
    assert_eq!(create["comparisons"], 4);
    assert!(
        at2["detection_method"]
            .as_str()
            .unwrap()
            .contains("10 runs give 4"),
        "{at2}"
    );
    // Windows wider than the series are refused, naming the option.
    let o = archbench(&[
        "gate",
        "rates",
        "--interleaved-aa",
        aa.to_str().unwrap(),
        "--pairs",
        "6",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("--interleaved-aa"), "{}", text(&o));
}

#[test]
fn a_baseline_binary_that_is_not_archbench_is_refused_before_any_run() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("gate.toml");
    std::fs::write(&scenario, SCENARIO).unwrap();
    let out = dir.path().join("job");
    let o = archbench(&[
        "gate",
        "interleave",
        scenario.to_str().unwrap(),
        "--baseline-bin",
        "/bin/false",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("--baseline-bin /bin/false"),
        "{}",
        text(&o)
    );
    assert!(!out.join("runs").exists());
    let o = archbench(&[
        "gate",
        "interleave",
        scenario.to_str().unwrap(),
        "--baseline-bin",
        env!("CARGO_BIN_EXE_archbench"),
        "--pairs",
        "1",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("--pairs 1"), "{}", text(&o));
}
