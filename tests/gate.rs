//! The CI gate on runs of the synthetic target: A/A passes, an injected +20% on one op
//! fails on exactly that op, bad inputs exit 2, JUnit output is well-formed XML.

use std::path::{Path, PathBuf};
use std::process::Command;

use archbench::arch::fault::FaultSpec;
use archbench::gate::{GateOverrides, Verdict, compare_files, junit};
use archbench::run::{RunOptions, run};
use archbench::stores::StoreMode;

const SYSTEM: &str = "synthetic:service=2ms,servers=64";

const SCENARIO: &str = r#"
name = "gate-check"
rng_seed = 77
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
# As `gate propose` suggests for 5 repetitions. Only the median is gated here: on a
# shared 2-core machine the tails of two runs minutes apart drift by tens of percent
# (A/A calibration shows it), which no test on repetitions within a run can tell
# from a regression.
[gate]
percentiles = ["p50"]
alpha = 0.01
threshold_pct = 15
"#;

async fn run_to(dir: &Path, name: &str, faults: Vec<FaultSpec>) -> PathBuf {
    let scn = dir.join("gate.toml");
    std::fs::write(&scn, SCENARIO).unwrap();
    let out = dir.join(name);
    run(
        RunOptions {
            scenario: scn,
            systems: None,
            stores: StoreMode::Local,
            provision: Default::default(),
            out: out.clone(),
            repeat: 5,
            faults,
        },
        &mut Vec::new(),
    )
    .await
    .unwrap();
    out.join("results.json")
}

fn archbench() -> Command {
    Command::new(env!("CARGO_BIN_EXE_archbench"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aa_passes_and_a_twenty_percent_delay_fails_on_exactly_that_op() {
    let dir = tempfile::tempdir().unwrap();
    let base = run_to(dir.path(), "base", vec![]).await;
    let same = run_to(dir.path(), "same", vec![]).await;
    let slow = run_to(
        dir.path(),
        "slow",
        vec![FaultSpec::parse(&format!("{SYSTEM}.create=+20%")).unwrap()],
    )
    .await;

    let aa = compare_files(&base, &same, &GateOverrides::default()).unwrap();
    println!("{}", archbench::gate::markdown(&aa));
    assert!(
        aa.passed(),
        "A/A must pass:\n{}",
        archbench::gate::markdown(&aa)
    );
    assert!(
        aa.method_note.contains("Mann-Whitney"),
        "{}",
        aa.method_note
    );

    let ab = compare_files(&base, &slow, &GateOverrides::default()).unwrap();
    println!("{}", archbench::gate::markdown(&ab));
    assert!(!ab.passed());
    let mut regressed: Vec<&str> = ab.regressions().map(|c| c.op.as_str()).collect();
    regressed.dedup();
    assert_eq!(regressed, ["create"], "{}", archbench::gate::markdown(&ab));
    assert!(
        ab.comparisons
            .iter()
            .any(|c| c.op == "create" && c.percentile == "p50" && c.verdict == Verdict::Regression)
    );

    // The CLI: exit 0 for A/A, 1 for the regression, with Markdown and JUnit written.
    let o = archbench()
        .args(["gate", "--baseline"])
        .arg(&base)
        .arg("--current")
        .arg(&same)
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let junit_path = dir.path().join("junit.xml");
    let md_path = dir.path().join("summary.md");
    let o = archbench()
        .args(["gate", "--baseline"])
        .arg(&base)
        .arg("--current")
        .arg(&slow)
        .arg("--junit")
        .arg(&junit_path)
        .arg("--markdown")
        .arg(&md_path)
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(String::from_utf8_lossy(&o.stdout).contains("| create | p50 |"));
    assert!(
        std::fs::read_to_string(&md_path)
            .unwrap()
            .contains("REGRESSION")
    );

    // JUnit: well-formed XML, one test case per system/op/percentile.
    let xml = std::fs::read_to_string(&junit_path).unwrap();
    let mut reader = quick_xml::Reader::from_str(&xml);
    let (mut cases, mut failures) = (0, 0);
    loop {
        match reader.read_event().expect("well-formed XML") {
            quick_xml::events::Event::Start(e) | quick_xml::events::Event::Empty(e) => {
                match e.name().as_ref() {
                    b"testcase" => cases += 1,
                    b"failure" => failures += 1,
                    _ => {}
                }
            }
            quick_xml::events::Event::Eof => break,
            _ => {}
        }
    }
    assert_eq!(cases, 7, "7 ops x 1 percentile");
    assert_eq!(failures, ab.regressions().count());
    assert_eq!(xml, junit(&ab));

    // Without repetitions the gate says it falls back to a threshold.
    let mut one: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&same).unwrap()).unwrap();
    for s in one["systems"].as_object_mut().unwrap().values_mut() {
        s["repetitions"] = serde_json::json!([]);
    }
    let one_path = dir.path().join("one.json");
    std::fs::write(&one_path, serde_json::to_vec(&one).unwrap()).unwrap();
    let r = compare_files(&base, &one_path, &GateOverrides::default()).unwrap();
    assert!(
        r.method_note
            .contains("falling back to a percentage threshold"),
        "{}",
        r.method_note
    );

    // Mismatched scenario, missing op, unknown percentile: exit 2 naming file and field.
    let edit = |f: &dyn Fn(&mut serde_json::Value), name: &str| {
        let mut v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&same).unwrap()).unwrap();
        f(&mut v);
        let p = dir.path().join(name);
        std::fs::write(&p, serde_json::to_vec(&v).unwrap()).unwrap();
        p
    };
    let other = edit(&|v| v["scenario"]["name"] = "another".into(), "other.json");
    let o = archbench()
        .args(["gate", "--baseline"])
        .arg(&base)
        .arg("--current")
        .arg(&other)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("other.json: scenario:") && err.contains("another"),
        "{err}"
    );

    let no_create = edit(
        &|v| {
            v["systems"][SYSTEM]["ops"]
                .as_object_mut()
                .unwrap()
                .remove("create");
        },
        "nocreate.json",
    );
    let o = archbench()
        .args(["gate", "--baseline"])
        .arg(&base)
        .arg("--current")
        .arg(&no_create)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr)
            .contains(&format!("systems.{SYSTEM}.ops.create: missing"))
    );

    let o = archbench()
        .args(["gate", "--percentiles", "p75", "--baseline"])
        .arg(&base)
        .arg("--current")
        .arg(&same)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("percentile `p75` is not recorded"));

    let v2 = edit(&|v| v["schema_version"] = 2.into(), "v2.json");
    let o = archbench()
        .args(["gate", "--baseline"])
        .arg(&base)
        .arg("--current")
        .arg(&v2)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("schema_version is 2"));

    // An incomplete current run never passes, even when its numbers would.
    let incomplete = edit(&|v| v["complete"] = false.into(), "incomplete.json");
    let o = archbench()
        .args(["gate", "--baseline"])
        .arg(&base)
        .arg("--current")
        .arg(&incomplete)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("incomplete"));
}
