//! No secret in any output: a smoke run and its report against stores whose password
//! and secret key this test knows, then every byte archbench printed or wrote — stdout,
//! stderr, results, reports, interval logs — and the stores' logs kept with `--keep`
//! are searched for them.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use common::{archbench, run_root, up_with};

/// Every regular file below `dir`.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files(&path));
        } else if path.is_file() {
            out.push(path);
        }
    }
    out
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[test]
fn no_password_or_secret_key_in_any_output() {
    let root = run_root();
    let (mut stores, info) = up_with(root.path(), &["--keep"]);
    let env_file = PathBuf::from(info["env_file"].as_str().unwrap());
    let run_dir = PathBuf::from(info["run_dir"].as_str().unwrap());
    let env: Vec<(String, String)> = std::fs::read_to_string(&env_file)
        .unwrap()
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let var = |k: &str| env.iter().find(|(key, _)| key == k).unwrap().1.clone();
    let url = var("DATABASE_URL");
    let password = url
        .split_once("://")
        .and_then(|(_, rest)| rest.split_once('@'))
        .and_then(|(userinfo, _)| userinfo.split_once(':'))
        .map(|(_, p)| p.to_string())
        .expect("a password in DATABASE_URL");
    let secrets = [password, var("AWS_SECRET_ACCESS_KEY")];
    assert!(secrets.iter().all(|s| s.len() >= 16), "{secrets:?}");

    let out = tempfile::tempdir().unwrap();
    // The smoke scenario with the user behaviour a report needs.
    let smoke =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/smoke.toml"))
            .unwrap();
    let scenario = out.path().join("smoke-report.toml");
    std::fs::write(
        &scenario,
        format!(
            "{smoke}\n[user_behaviour]\nactive_share = 0.3\nops_per_active_user_per_day = 40\nnew_documents_per_user_per_month = 8\nupdates_per_user_per_month = 30\n"
        ),
    )
    .unwrap();
    let mut outputs: Vec<(String, Output)> = Vec::new();
    let run = archbench()
        .arg("run")
        .arg(&scenario)
        .args(["--stores", "external", "--no-report", "--out"])
        .arg(out.path())
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    outputs.push(("run".into(), run));
    let report = archbench()
        .arg("report")
        .arg(out.path().join("results.json"))
        .output()
        .unwrap();
    assert!(
        report.status.success(),
        "{}",
        String::from_utf8_lossy(&report.stderr)
    );
    outputs.push(("report".into(), report));
    let status = archbench()
        .args(["stores", "status", "--stores", "external"])
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .output()
        .unwrap();
    outputs.push(("status".into(), status));

    // SAFETY: kill(2) on our own child; SIGINT stops the stores, --keep keeps the logs.
    unsafe { libc::kill(stores.id() as i32, libc::SIGINT) };
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while stores.try_wait().unwrap().is_none() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        !env_file.exists(),
        "the env file (secrets) goes with the stores"
    );

    let mut searched = Vec::new();
    for (name, o) in &outputs {
        searched.push((format!("{name} stdout"), o.stdout.clone()));
        searched.push((format!("{name} stderr"), o.stderr.clone()));
    }
    let written = files(out.path());
    assert!(
        written.iter().any(|p| p.ends_with("report.html"))
            && written
                .iter()
                .any(|p| p.extension().is_some_and(|e| e == "hlog")),
        "{written:?}"
    );
    let logs: Vec<PathBuf> = files(&run_dir)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    assert!(!logs.is_empty(), "the stores' logs were kept");
    for p in written.iter().chain(&logs) {
        searched.push((p.display().to_string(), std::fs::read(p).unwrap()));
    }
    for (what, bytes) in &searched {
        for secret in &secrets {
            assert!(!contains(bytes, secret), "a secret appears in {what}");
        }
    }
    let _ = std::fs::remove_dir_all(&run_dir);
}
