//! `archbench report --actuals`: the example run calibrated against the actuals that
//! hold only the document's $11,600 at 10K users, and bad actuals files refused with
//! `file:line:column: field` and exit 2. No stores: the report reads results files.

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(p)
}

fn report(actuals: &Path, out: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_archbench"))
        .current_dir(repo(""))
        .args(["report", "reports/example/results.json", "--out"])
        .arg(out)
        .arg("--actuals")
        .arg(actuals)
        .output()
        .unwrap()
}

#[test]
fn the_documents_total_implies_executions_per_write_and_a_re_projected_v03() {
    let out = tempfile::tempdir().unwrap();
    let o = report(&repo("deployments/actuals-example.toml"), out.path());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join("report.json")).unwrap()).unwrap();
    let c = &json["calibration"];
    assert_eq!(c["actuals"]["users"], 10_000);
    let total = &c["total"];
    assert_eq!(total["actual"], 11_600.0);
    let model = total["model"].as_f64().unwrap();
    assert!((total["factor"].as_f64().unwrap() - 11_600.0 / model).abs() < 1e-9);
    // The model of the reference V0.2 reaches $11,600 only with hundreds of executions
    // per write where the run measured about ten.
    let e = &c["executions"];
    let (measured, implied) = (
        e["measured_per_write"].as_f64().unwrap(),
        e["implied_per_write"].as_f64().unwrap(),
    );
    assert!((5.0..20.0).contains(&measured), "{e}");
    assert!(implied > 20.0 * measured, "{e}");
    let v03 = &c["v03"];
    assert!(v03["reprojected"].as_f64().unwrap() > v03["model"].as_f64().unwrap());
    let md = std::fs::read_to_string(out.path().join("report.md")).unwrap();
    assert!(
        md.contains(&format!(
            "V0.2 would need {implied:.0} Inngest executions per write"
        )),
        "{md}"
    );
}

#[test]
fn bad_actuals_are_refused_with_exit_2_naming_file_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("actuals.toml");
    for (text, expected) in [
        (
            "source = \"invoice\"\nusers = 10000\n[[component]]\nname = \"lambda\"\nusd = 3\n",
            ":4:8: component[0].name: unknown component `lambda`",
        ),
        (
            "source = \"invoice\"\nusers = 10000\n[[component]]\nname = \"object_egress\"\nusd = -3\n",
            ":5:7: component[0].usd: must be an amount ≥ 0, got -3",
        ),
        (
            "source = \"invoice\"\nusers = 10000\n[[component]]\nname = \"inngest_executions\"\nusage = 9\nunit = \"GB\"\n",
            ":6:8: component[0].unit: `GB` does not measure inngest_executions",
        ),
    ] {
        std::fs::write(&bad, text).unwrap();
        let o = report(&bad, dir.path());
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains(&format!("actuals.toml{expected}")),
            "{stderr}"
        );
    }
}
