//! The gate's inputs and outputs, on a small fixture results file (from a synthetic
//! run, 5 repetitions) and edits of it: no timing involved. Exit codes 0, 1 and 2, the
//! fields named in errors, JUnit that is well-formed XML, the fallback without
//! repetitions, and an incomplete run that never passes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use archbench::gate::{GateOverrides, compare_files, junit};

const SYSTEM: &str = "synthetic:service=2ms,servers=64";

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/gate-baseline.json")
}

fn read(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// Writes the fixture with `edit` applied to `dir/name`.
fn edited(dir: &Path, name: &str, edit: &dyn Fn(&mut serde_json::Value)) -> PathBuf {
    let mut v = read(&fixture());
    edit(&mut v);
    let p = dir.join(name);
    std::fs::write(&p, serde_json::to_vec(&v).unwrap()).unwrap();
    p
}

/// Every latency of `create` 50% higher, in the totals and in every repetition.
fn slower_create(v: &mut serde_json::Value) {
    let sys = &mut v["systems"][SYSTEM];
    let scale = |p: &mut serde_json::Value| {
        for (_, x) in p.as_object_mut().unwrap().iter_mut() {
            *x = serde_json::json!((x.as_f64().unwrap() * 1.5).round() as u64);
        }
    };
    scale(&mut sys["ops"]["create"]["latency_us"]);
    for rep in sys["repetitions"].as_array_mut().unwrap() {
        scale(&mut rep["create"]["latency_us"]);
    }
}

/// Test cases and failures in JUnit XML, which must be well-formed.
fn junit_cases_and_failures(xml: &str) -> (usize, usize) {
    let mut reader = quick_xml::Reader::from_str(xml);
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
    (cases, failures)
}

fn gate(baseline: &Path, current: &Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_archbench"))
        .arg("gate")
        .args(extra)
        .arg("--baseline")
        .arg(baseline)
        .arg("--current")
        .arg(current)
        .output()
        .unwrap()
}

#[test]
fn the_same_file_passes_with_exit_0() {
    let o = gate(&fixture(), &fixture(), &[]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(String::from_utf8_lossy(&o.stdout).contains("Mann-Whitney"));
}

#[test]
fn a_regression_exits_1_with_markdown_and_well_formed_junit() {
    let dir = tempfile::tempdir().unwrap();
    let slow = edited(dir.path(), "slow.json", &slower_create);
    let junit_path = dir.path().join("junit.xml");
    let md_path = dir.path().join("summary.md");
    let o = gate(
        &fixture(),
        &slow,
        &[
            "--junit",
            junit_path.to_str().unwrap(),
            "--markdown",
            md_path.to_str().unwrap(),
        ],
    );
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

    // JUnit: well-formed XML, one test case per system/op/percentile, written with the
    // mode of every other output.
    let report = compare_files(&fixture(), &slow, &GateOverrides::default()).unwrap();
    let xml = std::fs::read_to_string(&junit_path).unwrap();
    let (cases, failures) = junit_cases_and_failures(&xml);
    assert_eq!(cases, 7, "7 ops x 1 percentile");
    assert_eq!(failures, report.regressions().count());
    assert_eq!(failures, 1, "only create regressed");
    assert_eq!(xml, junit(&report));
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&junit_path).unwrap().permissions().mode() & 0o777,
        0o644
    );
}

#[test]
fn without_repetitions_the_gate_falls_back_to_a_threshold() {
    let dir = tempfile::tempdir().unwrap();
    let one = edited(dir.path(), "one.json", &|v| {
        for s in v["systems"].as_object_mut().unwrap().values_mut() {
            s["repetitions"] = serde_json::json!([]);
        }
    });
    let r = compare_files(&fixture(), &one, &GateOverrides::default()).unwrap();
    assert!(
        r.method_note
            .contains("falling back to a percentage threshold"),
        "{}",
        r.method_note
    );
}

#[test]
fn bad_inputs_exit_2_naming_file_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let other = edited(dir.path(), "other.json", &|v| {
        v["scenario"]["name"] = "another".into()
    });
    let o = gate(&fixture(), &other, &[]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("other.json: scenario:") && err.contains("another"),
        "{err}"
    );

    let no_create = edited(dir.path(), "nocreate.json", &|v| {
        v["systems"][SYSTEM]["ops"]
            .as_object_mut()
            .unwrap()
            .remove("create");
    });
    let o = gate(&fixture(), &no_create, &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr)
            .contains(&format!("systems.{SYSTEM}.ops.create: missing"))
    );

    let o = gate(&fixture(), &fixture(), &["--percentiles", "p75"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("percentile `p75` is not recorded"));

    let v2 = edited(dir.path(), "v2.json", &|v| v["schema_version"] = 2.into());
    let o = gate(&fixture(), &v2, &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("schema_version is 2"));

    let o = Command::new(env!("CARGO_BIN_EXE_archbench"))
        .args(["gate", "--baseline"])
        .arg(fixture())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--current"));
}

#[test]
fn an_incomplete_run_never_passes() {
    let dir = tempfile::tempdir().unwrap();
    let incomplete = edited(dir.path(), "incomplete.json", &|v| {
        v["complete"] = false.into()
    });
    let o = gate(&fixture(), &incomplete, &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("incomplete"));
}

#[test]
fn a_run_over_its_error_budget_fails_and_one_within_it_passes() {
    let dir = tempfile::tempdir().unwrap();
    let total: u64 = read(&fixture())["systems"][SYSTEM]["ops"]
        .as_object()
        .unwrap()
        .values()
        .map(|o| o["count"].as_u64().unwrap())
        .sum();
    // `errors` failed creates, under an SLO of 1% failed ops.
    let failing = |errors: u64| {
        move |v: &mut serde_json::Value| {
            v["scenario"]["slo"] = serde_json::json!({ "max_error_rate": 0.01 });
            v["systems"][SYSTEM]["ops"]["create"]["errors"] = errors.into();
        }
    };
    let within = edited(dir.path(), "within.json", &failing(total / 200));
    let o = gate(&fixture(), &within, &[]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("| error rate | SLO |") && stdout.contains("≤ 1.00% | pass |"),
        "{stdout}"
    );

    let over = edited(dir.path(), "over.json", &failing(total / 50));
    let junit_path = dir.path().join("junit.xml");
    let o = gate(
        &fixture(),
        &over,
        &["--junit", junit_path.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains(&format!(
            "{SYSTEM} failed 2.00% of its ops, above the SLO of 1.00%"
        )),
        "{stderr}"
    );
    assert!(String::from_utf8_lossy(&o.stdout).contains("**OVER BUDGET**"));
    let xml = std::fs::read_to_string(&junit_path).unwrap();
    assert_eq!(
        junit_cases_and_failures(&xml),
        (8, 1),
        "7 ops and one SLO case: {xml}"
    );
    assert!(
        xml.contains("<testsuite name=\"slo\" tests=\"1\" failures=\"1\">"),
        "{xml}"
    );
}
