//! Helpers shared by the integration tests: local stores in a private run root.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};

use archbench::stores::{LocalOptions, ProvisionOptions};

/// Options for local stores whose run directories go under `root`.
pub fn local_opts(root: &std::path::Path) -> ProvisionOptions {
    ProvisionOptions {
        local: LocalOptions {
            run_root: Some(root.to_path_buf()),
            ..LocalOptions::default()
        },
        ..ProvisionOptions::default()
    }
}

/// A run root the `postgres` user can traverse (tempdir() makes 0700 directories).
pub fn run_root() -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let d = tempfile::Builder::new()
        .prefix("archbench-test-")
        .tempdir()
        .unwrap();
    std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    d
}

/// Entries left in a run root.
pub fn leftovers(root: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(root)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Timing scenario: one user, ten entities, only `get`, 1000 ops/s for 10 s.
pub fn timing_scenario() -> archbench::scenario::Scenario {
    let src = r#"
name = "timing"
rng_seed = 9
systems = ["synthetic"]
[seeding]
users = 1
entities_per_user = 10
body_bytes = { median = 100, p99 = 100 }
versions_per_entity = { min = 1, max = 1 }
history_days = 1
[mix]
get = 1
[[phase]]
name = "steady"
model = "open"
rate = 1000
duration = "10s"
"#;
    archbench::scenario::parse(src, std::path::Path::new("timing.toml")).unwrap()
}

/// Key space of [`timing_scenario`] without seeding anything.
pub fn one_user_space() -> std::sync::Arc<archbench::loadgen::plan::KeySpace> {
    use archbench::arch::{EntityId, UserId};
    std::sync::Arc::new(archbench::loadgen::plan::KeySpace {
        users: vec![UserId(1)],
        entities: (0..10)
            .map(|i| (UserId(1), EntityId(uuid::Uuid::from_u128(i))))
            .collect(),
        history_end: chrono::Utc::now(),
    })
}

/// The archbench binary, with the variables that would pick other stores removed.
pub fn archbench() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_archbench"));
    for v in [
        "DATABASE_URL",
        "S3_ENDPOINT",
        "ARCHBENCH_STORES",
        "DOCKER_HOST",
    ] {
        c.env_remove(v);
    }
    c
}

/// Runs archbench with `args` (stores variables removed) and waits for it.
pub fn archbench_output(args: &[&str]) -> std::process::Output {
    archbench().args(args).output().unwrap()
}

/// A finished command's stdout and stderr, for an assertion's message.
pub fn output_text(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Starts `stores up --json` and reads the JSON it prints once the stores are ready.
pub fn up(root: &std::path::Path) -> (Child, serde_json::Value) {
    up_with(root, &[])
}

/// As [`up`], with more arguments (e.g. `--keep`).
pub fn up_with(root: &std::path::Path, extra: &[&str]) -> (Child, serde_json::Value) {
    let mut child = archbench()
        .args(["stores", "up", "--stores", "local", "--json", "--run-root"])
        .arg(root)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut text = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap() == 0 {
            let mut err = String::new();
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            panic!("stores up ended early: {err}");
        }
        text.push_str(&line);
        if line.trim_end() == "}" {
            break;
        }
    }
    (child, serde_json::from_str(&text).unwrap())
}

/// Reads a results file and checks it against `schema/results-v1.schema.json`.
pub fn assert_valid(path: &std::path::Path) -> serde_json::Value {
    let schema_path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/results-v1.schema.json");
    let schema: serde_json::Value =
        serde_json::from_slice(&std::fs::read(schema_path).unwrap()).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&v)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "results do not match the schema:\n{}",
        errors.join("\n")
    );
    v
}
