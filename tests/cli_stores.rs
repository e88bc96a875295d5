//! The `archbench stores` commands as a user runs them: real processes, real signals.

mod common;

use std::process::Child;
use std::time::{Duration, Instant};

use common::{archbench, leftovers, run_root, up};

fn wait_exit(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        assert!(
            Instant::now() < deadline,
            "process did not exit within {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn pids(v: &serde_json::Value) -> Vec<u32> {
    v["pids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_u64().unwrap() as u32)
        .collect()
}

#[test]
fn up_status_down_round_trip_leaves_nothing_behind() {
    let root = run_root();
    let (mut child, info) = up(root.path());
    let servers = pids(&info);
    assert_eq!(servers.len(), 2);
    let printed = info.to_string();
    let env = std::fs::read_to_string(info["env_file"].as_str().unwrap()).unwrap();
    let secret = env
        .lines()
        .find_map(|l| l.strip_prefix("AWS_SECRET_ACCESS_KEY="))
        .unwrap();
    assert!(!printed.contains(secret), "secret key printed by stores up");

    let status = archbench()
        .args([
            "stores",
            "status",
            "--stores",
            "local",
            "--json",
            "--run-root",
        ])
        .arg(root.path())
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let s: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(
        s[0]["temporary"], false,
        "status should report the running instance"
    );
    assert_eq!(s[0]["health"]["postgres"]["ok"], true);
    assert_eq!(s[0]["health"]["s3"]["ok"], true);
    assert!(!String::from_utf8_lossy(&status.stdout).contains(secret));

    let down = archbench()
        .args(["stores", "down", "--run-root"])
        .arg(root.path())
        .output()
        .unwrap();
    assert!(
        down.status.success(),
        "{}",
        String::from_utf8_lossy(&down.stderr)
    );
    assert!(
        String::from_utf8_lossy(&down.stdout).contains("OwnerStopped"),
        "{}",
        String::from_utf8_lossy(&down.stdout)
    );
    let exit = wait_exit(&mut child, Duration::from_secs(30));
    assert!(exit.success(), "stores up exited with {exit}");
    for p in servers {
        assert!(
            !archbench::stores::local_alive(p),
            "server pid {p} survived `stores down`"
        );
    }
    assert!(
        leftovers(root.path()).is_empty(),
        "{:?}",
        leftovers(root.path())
    );
}

#[test]
fn ctrl_c_stops_the_stores() {
    let root = run_root();
    let (mut child, info) = up(root.path());
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    wait_exit(&mut child, Duration::from_secs(30));
    for p in pids(&info) {
        assert!(
            !archbench::stores::local_alive(p),
            "server pid {p} survived Ctrl-C"
        );
    }
    assert!(
        leftovers(root.path()).is_empty(),
        "{:?}",
        leftovers(root.path())
    );
}

#[test]
fn a_killed_owner_is_cleaned_up_by_down() {
    let root = run_root();
    let (mut child, info) = up(root.path());
    child.kill().unwrap();
    child.wait().unwrap();
    // The parent-death signal stops the servers; `down` removes what is left on disk.
    let down = archbench()
        .args(["stores", "down", "--run-root"])
        .arg(root.path())
        .output()
        .unwrap();
    assert!(down.status.success());
    let deadline = Instant::now() + Duration::from_secs(15);
    while pids(&info)
        .iter()
        .any(|&p| archbench::stores::local_alive(p))
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(100));
    }
    for p in pids(&info) {
        assert!(
            !archbench::stores::local_alive(p),
            "server pid {p} outlived its killed owner"
        );
    }
    assert!(
        leftovers(root.path()).is_empty(),
        "{:?}",
        leftovers(root.path())
    );
}

#[test]
fn status_names_a_stale_instance_without_waiting_and_new_stores_reap_it() {
    let root = run_root();
    let (mut child, info) = up(root.path());
    child.kill().unwrap();
    child.wait().unwrap();
    let id = info["run_dir"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    // The dead instance is named with its size, not health-checked: status goes on to
    // start temporary stores of its own, which remove the stale directory first.
    let status = archbench()
        .args(["stores", "status", "--stores", "local", "--run-root"])
        .arg(root.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&status.stdout);
    assert!(
        status.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let named = stdout
        .lines()
        .find(|l| l.contains("stale store instance") && l.contains(&id))
        .unwrap_or_else(|| panic!("stale instance {id} not named: {stdout}"));
    assert!(
        named.contains(" MB in ") && named.contains("stores down"),
        "{named}"
    );
    assert!(stdout.contains("started for this check"), "{stdout}");
    assert!(
        leftovers(root.path()).is_empty(),
        "{:?}",
        leftovers(root.path())
    );
}

#[test]
fn exit_codes_distinguish_usage_from_environment() {
    let out = archbench()
        .args(["stores", "status", "--stores", "external"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("DATABASE_URL is not set"));

    let out = archbench()
        .args(["stores", "status", "--stores", "nowhere"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));

    let root = run_root();
    let out = archbench()
        .args(["stores", "status", "--stores", "local", "--run-root"])
        .arg(root.path())
        .env("ARCHBENCH_PG_BINDIR", "/nonexistent/pg/bin")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("scripts/setup") && err.contains("/nonexistent/pg/bin"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}
