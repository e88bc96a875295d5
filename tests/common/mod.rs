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
