//! Load from many machines, here as several local processes: three agents of one
//! schedule (`run --agent I/3 --start-at T`) merged with `archbench merge` equal a
//! single process's run — every op's count exactly (the agents' arrivals and ops are
//! the single run's), p50 and p90 within one bucket of a 10% log scale and p99 within
//! two (timing noise between processes; the histograms themselves keep 0.1%). Sets
//! that do not make one run are refused.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::archbench;

const SCENARIO: &str = r#"
name = "agents"
rng_seed = 41
systems = ["synthetic:service=50ms,servers=256"]
[seeding]
users = 4
entities_per_user = 10
body_bytes = { median = 500, p99 = 2000 }
versions_per_entity = { min = 1, max = 1 }
history_days = 1
[mix]
get = 50
list = 20
update = 20
create = 10
[[phase]]
name = "steady"
model = "open"
rate = 300
arrival = "poisson"
duration = "4s"
"#;

fn run(dir: &Path, name: &str, extra: &[String]) -> PathBuf {
    let out = dir.join(name);
    let output = archbench()
        .arg("run")
        .arg(dir.join("agents.toml"))
        .args(["--no-report", "--out"])
        .arg(&out)
        .args(extra)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{name}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    out
}

fn merge(logs: &[PathBuf]) -> Output {
    archbench()
        .arg("merge")
        .args(logs)
        .arg("--json")
        .output()
        .unwrap()
}

fn merged(logs: &[PathBuf]) -> serde_json::Value {
    let output = merge(logs);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

fn hlogs(dir: &Path) -> Vec<PathBuf> {
    let mut logs: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "hlog"))
        .collect();
    logs.sort();
    logs
}

fn start_in(seconds: i64) -> String {
    (chrono::Utc::now() + chrono::TimeDelta::seconds(seconds))
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

/// Bucket of a latency on a 10% log scale.
fn bucket(us: u64) -> i64 {
    ((us.max(1) as f64).ln() / 1.1f64.ln()).round() as i64
}

#[test]
fn three_agents_merged_equal_one_process() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("agents.toml"), SCENARIO).unwrap();
    let single = run(dir.path(), "single", &[]);

    let start = start_in(6);
    let agents: Vec<std::thread::JoinHandle<PathBuf>> = (0..3)
        .map(|i| {
            let (dir, start) = (dir.path().to_path_buf(), start.clone());
            std::thread::spawn(move || {
                let args = [
                    "--agent".into(),
                    format!("{i}/3"),
                    "--start-at".into(),
                    start,
                ];
                run(&dir, &format!("agent-{i}"), &args)
            })
        })
        .collect();
    let mut logs = Vec::new();
    for a in agents {
        let out = a.join().unwrap();
        let found = hlogs(&out);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].to_string_lossy().contains(".agent-"),
            "named by agent: {found:?}"
        );
        logs.extend(found);
    }
    let one = merged(&hlogs(&single));
    let many = merged(&logs);
    for op in ["get", "list", "update", "create"] {
        let (a, b) = (&one[op], &many[op]);
        assert_eq!(a[0], b[0], "{op}: the same ops, counted once: {a} vs {b}");
        // A 50 ms service keeps scheduling jitter (a few ms on a loaded 2-core machine)
        // within a bucket; the p99 of an op rests on a dozen samples, so two.
        for (p, buckets) in [("p50", 1), ("p90", 1), ("p99", 2)] {
            let (x, y) = (a[1][p].as_u64().unwrap(), b[1][p].as_u64().unwrap());
            assert!(
                (bucket(x) - bucket(y)).abs() <= buckets,
                "{op} {p}: single {x} us, agents {y} us"
            );
        }
    }

    // A set that is not one run is refused (exit 2), naming what is wrong.
    let missing = merge(&logs[..2]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no log of agent 2/3"));
    let doubled = merge(&[
        logs[0].clone(),
        logs[0].clone(),
        logs[1].clone(),
        logs[2].clone(),
    ]);
    assert_eq!(doubled.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&doubled.stderr).contains("twice"));
    let other = run(
        dir.path(),
        "other-run",
        &[
            "--agent".into(),
            "2/3".into(),
            "--start-at".into(),
            start_in(0),
        ],
    );
    let mixed = merge(&[logs[0].clone(), logs[1].clone(), hlogs(&other)[0].clone()]);
    assert_eq!(mixed.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&mixed.stderr).contains("different runs"),
        "{}",
        String::from_utf8_lossy(&mixed.stderr)
    );
}

#[test]
fn an_agent_beyond_the_count_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("agents.toml"), SCENARIO).unwrap();
    for args in [
        vec!["--agent", "3/2", "--start-at", "2026-12-02T10:00:00Z"],
        vec!["--agent", "0/2"],
        vec!["--agent", "0/2", "--start-at", "tomorrow"],
    ] {
        let output = archbench()
            .arg("run")
            .arg(dir.path().join("agents.toml"))
            .args(["--no-report", "--out"])
            .arg(dir.path().join("out"))
            .args(&args)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains("--agent") || stderr.contains("--start-at"),
            "{stderr}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_put_their_logs_into_a_bucket_that_merges() {
    let root = common::run_root();
    let (mut stores, up) = common::up(root.path());
    let env_file = up["env_file"].as_str().unwrap().to_string();
    let env: Vec<(String, String)> = std::fs::read_to_string(&env_file)
        .unwrap()
        .lines()
        .filter_map(|l| {
            l.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
        })
        .filter(|(k, _)| k.starts_with("S3_") || k.starts_with("AWS_"))
        .collect();
    let get = |k: &str| env.iter().find(|(n, _)| n == k).unwrap().1.clone();
    let bucket = get("S3_BUCKET");

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("agents.toml"), SCENARIO).unwrap();
    let start = start_in(5);
    let agents: Vec<_> = (0..2)
        .map(|i| {
            let mut command = archbench();
            command
                .arg("run")
                .arg(dir.path().join("agents.toml"))
                .args(["--no-report", "--out"])
                .arg(dir.path().join(format!("agent-{i}")))
                .args(["--agent", &format!("{i}/2"), "--start-at", &start])
                .args(["--logs-to", &format!("s3://{bucket}/agents-test/")])
                .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
            command.output()
        })
        .collect();
    for output in agents {
        let output = output.unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(stdout.contains("interval log put to s3://"), "{stdout}");
    }

    let endpoint = archbench::stores::S3Endpoint {
        endpoint: get("S3_ENDPOINT"),
        bucket: bucket.clone(),
        region: get("S3_REGION"),
        access_key_id: get("AWS_ACCESS_KEY_ID"),
        secret_access_key: archbench::stores::Secret::new(get("AWS_SECRET_ACCESS_KEY")),
    };
    let client = archbench::stores::s3::client(&endpoint);
    let listed = client
        .list_objects_v2()
        .bucket(&bucket)
        .prefix("agents-test/")
        .send()
        .await
        .unwrap();
    let keys: Vec<String> = listed
        .contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_string))
        .collect();
    assert_eq!(keys.len(), 2, "{keys:?}");
    let mut logs = Vec::new();
    for key in &keys {
        let object = client
            .get_object()
            .bucket(&bucket)
            .key(key)
            .send()
            .await
            .unwrap();
        let bytes = object.body.collect().await.unwrap().into_bytes();
        let path = dir.path().join(key.replace('/', "_"));
        std::fs::write(&path, &bytes).unwrap();
        logs.push(path);
    }
    let merged = merged(&logs);
    assert!(merged["get"][0].as_u64().unwrap() > 0, "{merged}");

    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(stores.id() as i32, libc::SIGINT) };
    assert!(stores.wait().unwrap().success());
}
