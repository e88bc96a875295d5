//! The approval report's verdicts on the example run: every claim carries its evidence,
//! projections are never refuted, GO and NO-GO lines are two lists whose plans are
//! inputs, and nothing is ticked on the approver's behalf. No stores: the report reads
//! the committed results.

use std::path::Path;
use std::process::Command;

/// A JSON file the test reads: a report the command wrote, or a committed results file.
fn json_at(path: &Path) -> serde_json::Value {
    let text = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_slice(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn verdicts_follow_their_evidence_and_the_approver_decides() {
    let out = tempfile::tempdir().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_archbench"))
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")))
        .args(["report", "reports/example/results.json", "--out"])
        .arg(out.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("FINDINGS       measured"), "{stdout}");
    let json: serde_json::Value = json_at(&out.path().join("report.json"));
    let ev = &json["evaluation"];
    for c in ev["claims"].as_array().unwrap() {
        let (evidence, outcome) = (c["evidence"].as_str(), c["outcome"].as_str().unwrap());
        if ["for_the_approver", "input"].contains(&outcome) {
            continue;
        }
        match evidence {
            Some("projection") => assert!(
                ["consistent", "not_reproduced"].contains(&outcome),
                "a projection is never refuted: {c}"
            ),
            Some("measured" | "arithmetic") => {
                assert!(["confirmed", "refuted"].contains(&outcome), "{c}")
            }
            None => assert_eq!(outcome, "not_measurable", "{c}"),
            Some(other) => panic!("evidence {other}"),
        }
    }
    let (go, no_go) = (
        ev["go_criteria"].as_array().unwrap(),
        ev["no_go_criteria"].as_array().unwrap(),
    );
    assert_eq!((go.len(), no_go.len()), (5, 5));
    // A plan is an input, shown at its size; never confirmed or refuted.
    for line in go.iter().chain(no_go) {
        if line["statement"].as_str().unwrap().starts_with("Scale") {
            assert_eq!(line["outcome"], "input", "{line}");
        }
    }
    // Budget: the GO threshold is computed; "less is available" is the approver's fact.
    assert_eq!(go[0]["outcome"], "confirmed");
    assert_eq!(no_go[0]["outcome"], "for_the_approver");
    // Nothing ticked; the suggestion printed beside the block with its flip points.
    let md = std::fs::read_to_string(out.path().join("report.md")).unwrap();
    assert!(!md.contains("[x]"), "no tick on the approver's behalf");
    assert!(
        md.contains("The harness's suggestion, not a tick: Option"),
        "{md}"
    );
    let flips = ev["recommendation"]["flips"].as_array().unwrap();
    assert!(
        flips[0].as_str().unwrap().contains("(Option B) from"),
        "{flips:?}"
    );
    assert!(
        md.contains("for a person to decide"),
        "the criteria item is not pre-ticked"
    );
}

/// A run measured under a network profile is judged on what it measured: the latency
/// claim's evidence is `measured`, its value names the profile, and the round-trip
/// estimate is kept as a cross-check. (The example's results with a `same-region`
/// network recorded: the verdict reads the profile from results, not the run.)
#[test]
fn latency_under_a_network_profile_is_measured_not_estimated() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = tempfile::tempdir().unwrap();
    let mut results: serde_json::Value = json_at(&root.join("reports/example/results.json"));
    let profile = archbench::rig::network::Networks::load(&root.join("deployments/networks.toml"))
        .unwrap()
        .get("same-region")
        .unwrap()
        .clone();
    results["environment"]["network"] = serde_json::json!({
        "profile": profile,
        "proxy_overhead": { "postgres": { "chunks": 10, "p50_us": 60, "p99_us": 180 } },
    });
    let path = out.path().join("results.json");
    std::fs::write(&path, serde_json::to_vec(&results).unwrap()).unwrap();
    for hlog in ["v02.hlog", "v03.hlog"] {
        std::fs::copy(
            root.join("reports/example").join(hlog),
            out.path().join(hlog),
        )
        .unwrap();
    }
    let o = Command::new(env!("CARGO_BIN_EXE_archbench"))
        .current_dir(root)
        .arg("report")
        .arg(&path)
        .arg("--out")
        .arg(out.path().join("report"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let json: serde_json::Value = json_at(&out.path().join("report/report.json"));
    let claims = json["evaluation"]["claims"].as_array().unwrap();
    let latency = claims
        .iter()
        .find(|c| c["id"] == "latency")
        .expect("a latency claim");
    assert_eq!(latency["evidence"], "measured", "{latency}");
    assert!(["confirmed", "refuted"].contains(&latency["outcome"].as_str().unwrap()));
    let value = latency["value"].as_str().unwrap();
    assert!(
        value.contains("measured under network `same-region`"),
        "{value}"
    );
    assert!(value.contains("cross-check"), "{value}");
    assert!(
        latency["reason"].as_str().unwrap().contains("180 µs"),
        "{latency}"
    );
}

/// The capacity files committed beside the example (`archbench capacity` on `1cu`, and
/// a scale sweep on `2cu`): given to `report --capacity`, compute is sized from the
/// measured capacity per vCPU with the linear figure beside it, and the scalability
/// claim becomes a projection naming each size. Without them it stays not measurable
/// and compute is sized linearly. A file that is not a capacity file exits 2 naming it.
#[test]
fn capacity_files_size_compute_and_project_the_scalability_claim() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let capacity: Vec<std::path::PathBuf> = ["1cu", "2cu"]
        .iter()
        .flat_map(|instance| {
            std::fs::read_dir(root.join("reports/example/capacity").join(instance))
                .unwrap()
                .map(|e| e.unwrap().path())
                .filter(|p| p.extension().is_some_and(|x| x == "json"))
        })
        .collect();
    assert!(capacity.len() >= 3, "{capacity:?}");
    let report = |extra: &[std::path::PathBuf]| {
        let out = tempfile::tempdir().unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_archbench"));
        command
            .current_dir(root)
            .args(["report", "reports/example/results.json", "--out"])
            .arg(out.path());
        for file in extra {
            command.arg("--capacity").arg(file);
        }
        let o = command.output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let json: serde_json::Value = json_at(&out.path().join("report.json"));
        let md = std::fs::read_to_string(out.path().join("report.md")).unwrap();
        (json, md)
    };
    let scale_claim = |json: &serde_json::Value| {
        json["evaluation"]["claims"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == "scale")
            .unwrap()
            .clone()
    };

    let (json, md) = report(&capacity);
    for system in ["v02", "v03"] {
        let unit = &json["cost"]["unit_usage"][system];
        let per_vcpu = unit["capacity"]["ops_per_s_per_vcpu"].as_f64().unwrap();
        assert!(per_vcpu > 0.0, "{unit}");
        let p = json["cost"]["projections"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["system"] == system && p["users"] == 1_000_000)
            .unwrap();
        let usage = &p["usage"];
        assert_eq!(usage["compute_sizing"], "measured_capacity", "{usage}");
        assert_eq!(usage["db_vcpu_needed"], usage["db_vcpu_from_capacity"]);
        assert!(usage["db_vcpu_linear"].as_f64().unwrap() > 0.0, "{usage}");
    }
    assert!(
        md.contains("Compute is sized v02 from measured capacity"),
        "{md}"
    );
    let scale = scale_claim(&json);
    assert_eq!(scale["evidence"], "projection", "{scale}");
    assert!(["consistent", "not_reproduced"].contains(&scale["outcome"].as_str().unwrap()));
    let value = scale["value"].as_str().unwrap();
    assert!(
        value.contains("`2cu`, 10,000 entities") && value.contains("`2cu`, 50,000 entities"),
        "{value}"
    );

    let (json, _) = report(&[]);
    assert_eq!(scale_claim(&json)["outcome"], "not_measurable");
    assert_eq!(
        json["cost"]["projections"][0]["usage"]["compute_sizing"],
        "linear_db_time"
    );

    let o = Command::new(env!("CARGO_BIN_EXE_archbench"))
        .current_dir(root)
        .args([
            "report",
            "reports/example/results.json",
            "--capacity",
            "reports/example/results.json",
            "--out",
        ])
        .arg(tempfile::tempdir().unwrap().path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("reports/example/results.json:") && err.contains("field `"),
        "{err}"
    );
}

/// The example's probes: the event-log and search-quality sections are in the report,
/// "PostgreSQL is NOT time-series" rests on the event-log probe and decision #3 on
/// the search-quality probe; `--with` takes another results file's probes in place
/// of the run's and says where they came from.
#[test]
fn the_probes_carry_their_verdicts_and_come_in_with_another_file() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    let mut results: serde_json::Value = json_at(&root.join("reports/example/results.json"));
    assert!(
        results["event_log_probe"].is_object(),
        "the example has the probe"
    );
    // The run without its probes, and the example's as the other file.
    results.as_object_mut().unwrap().remove("event_log_probe");
    for s in results["systems"].as_object_mut().unwrap().values_mut() {
        s.as_object_mut().unwrap().remove("search_quality");
    }
    let bare = dir.path().join("results.json");
    std::fs::write(&bare, serde_json::to_vec(&results).unwrap()).unwrap();
    for (with, probes) in [(false, false), (true, true)] {
        let out = dir.path().join(format!("report-{with}"));
        let mut command = Command::new(env!("CARGO_BIN_EXE_archbench"));
        command
            .current_dir(root)
            .arg("report")
            .arg(&bare)
            .arg("--out")
            .arg(&out);
        if with {
            command.args(["--with", "reports/example/results.json"]);
        }
        let o = command.output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let json: serde_json::Value = json_at(&out.join("report.json"));
        let claims = json["evaluation"]["claims"].as_array().unwrap();
        let claim = |id: &str| claims.iter().find(|c| c["id"] == id).unwrap().clone();
        let (time_series, vectors) = (claim("time-series"), claim("matrix-vectors"));
        let md = std::fs::read_to_string(out.join("report.md")).unwrap();
        assert_eq!(
            md.contains("Event log: both designs on the same events"),
            probes
        );
        assert_eq!(md.contains("Vector search quality"), probes);
        assert_eq!(
            time_series["reason"]
                .as_str()
                .unwrap()
                .starts_with("event-log probe:"),
            probes,
            "{time_series}"
        );
        assert_eq!(vectors["evidence"] == "measured", probes, "{vectors}");
        if probes {
            // Both engines measured at equal recall: the reason gives Qdrant's figure
            // and the ratio the rule judged.
            let reason = vectors["reason"].as_str().unwrap();
            assert!(
                reason.contains("Qdrant's fastest") && reason.contains("pgvector/Qdrant"),
                "{vectors}"
            );
            // The notes, printed in the report, say where the probes came from.
            assert!(
                md.contains("the event-log probe, v02's search quality, v03's search quality from reports/example/results.json"),
                "{md}"
            );
        } else {
            assert_eq!(vectors["outcome"], "not_measurable", "{vectors}");
        }
    }
}

/// Probes taken from a run on loopback (`--with`) are judged with that run's round
/// trip, not the main run's: pgvector's timings there hold no hop, so none is added
/// to Qdrant's either.
#[test]
fn probes_from_another_run_are_judged_with_that_runs_network() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    let mut other: serde_json::Value = json_at(&root.join("reports/example/results.json"));
    assert!(
        other["environment"]["network"].is_object(),
        "the example ran same-region"
    );
    other["environment"]
        .as_object_mut()
        .unwrap()
        .remove("network");
    let loopback = dir.path().join("loopback.json");
    std::fs::write(&loopback, serde_json::to_vec(&other).unwrap()).unwrap();
    let out = dir.path().join("report");
    let o = Command::new(env!("CARGO_BIN_EXE_archbench"))
        .current_dir(root)
        .args(["report", "reports/example/results.json", "--with"])
        .arg(&loopback)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let json: serde_json::Value = json_at(&out.join("report.json"));
    let vectors = json["evaluation"]["claims"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "matrix-vectors")
        .unwrap()
        .clone();
    let reason = vectors["reason"].as_str().unwrap();
    assert!(
        reason.contains("loopback: no network hop added"),
        "{reason}"
    );
}

/// The example's scale sweep (`reports/example/sweep/`, five sizes): `report --sweep`
/// fits both systems' metrics over the five sizes, shows the section, and every cost
/// curve it applies comes from a fit whose interval excludes zero.
#[test]
fn the_example_sweep_is_fitted_and_only_clear_growth_reaches_the_cost() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = tempfile::tempdir().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_archbench"))
        .current_dir(root)
        .args([
            "report",
            "reports/example/results.json",
            "--sweep",
            "reports/example/sweep/sweep.json",
            "--out",
        ])
        .arg(out.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let json: serde_json::Value = json_at(&out.path().join("report.json"));
    let series = json["growth"]["series"].as_array().unwrap();
    for system in ["v02", "v03"] {
        let s = series
            .iter()
            .find(|s| s["system"] == system && s["metric"] == "latency_p99")
            .unwrap();
        assert_eq!(s["points"].as_array().unwrap().len(), 5, "{s}");
    }
    for curve in json["cost"]["curves"].as_array().unwrap() {
        let s = series
            .iter()
            .find(|s| s["system"] == curve["system"] && s["fit"]["exponent"] == curve["exponent"])
            .unwrap_or_else(|| panic!("{curve} comes from a fitted series"));
        let (b, margin) = (
            s["fit"]["exponent"].as_f64().unwrap(),
            s["fit"]["exponent_margin"].as_f64().unwrap(),
        );
        assert!(b.abs() > margin, "{s}");
    }
    let md = std::fs::read_to_string(out.path().join("report.md")).unwrap();
    assert!(md.contains("Growth across the scale sweep"), "{md}");
}

/// A second file's event log joins the first's: the example's 4-month size, measured
/// in a run of its own, stands beside the 1-month one of the same events, and the
/// verdict reads it (as many events, the longer history); the same file from another
/// instance is refused, naming it.
#[test]
fn a_later_event_log_joins_the_first_from_the_same_instance() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    let first = root.join("reports/example/event-log-full/results.json");
    let months = root.join("reports/example/event-log-months/results.json");
    for file in [&first, &months] {
        assert_eq!(
            json_at(file)["environment"]["instance"]["profile"]["name"],
            "1cu"
        );
    }
    let mut later = json_at(&months);
    later["environment"]
        .as_object_mut()
        .unwrap()
        .remove("instance");
    let elsewhere = dir.path().join("elsewhere.json");
    std::fs::write(&elsewhere, serde_json::to_vec(&later).unwrap()).unwrap();
    let report = |second: &Path, out: &Path| {
        Command::new(env!("CARGO_BIN_EXE_archbench"))
            .current_dir(root)
            .args(["report", "reports/example/results.json", "--with"])
            .arg(&first)
            .arg("--with")
            .arg(second)
            .arg("--out")
            .arg(out)
            .output()
            .unwrap()
    };
    let out = dir.path().join("joined");
    let o = report(&months, &out);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.contains("40000 users × 1 mo"), "{md}");
    assert!(md.contains("10000 users × 4 mo"), "{md}");
    assert!(
        md.contains("1 event-log size(s) added to the probe"),
        "{md}"
    );
    let claims = json_at(&out.join("report.json"))["evaluation"]["claims"].clone();
    let time_series = claims
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "time-series")
        .unwrap()
        .clone();
    let value = time_series["value"].as_str().unwrap();
    assert!(
        value.contains("at 24,000,000 events (10.0K users over 4 months)"),
        "{value}"
    );
    assert!(value.contains("drop_chunks"), "{value}");
    let o = report(&elsewhere, &dir.path().join("refused"));
    assert_eq!(o.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("elsewhere.json") && stderr.contains("different instances"),
        "{stderr}"
    );
}
