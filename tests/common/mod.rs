//! Helpers shared by the integration tests: local stores in a private run root.
#![allow(dead_code)]

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
