//! Ctrl-C in the stages before the load: the run stops within seconds, writes its
//! results marked incomplete with the stage, and leaves no store or run directory
//! behind; a second Ctrl-C exits at once (130), still taking the stores with it. (The
//! phases stage is checked in `run_scenarios.rs`.)

mod common;

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use archbench::results::{Results, RunStage};
use common::{leftovers, run_root};

/// The smoke scenario with enough entities that seeding lasts several seconds.
fn scenario(dir: &Path) -> PathBuf {
    let smoke =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/smoke.toml"))
            .unwrap();
    let p = dir.join("interrupt.toml");
    std::fs::write(&p, smoke.replace("users = 10\n", "users = 300\n")).unwrap();
    p
}

/// Starts a run, waits for a stdout line containing `marker`, sends `signals` SIGINTs,
/// and returns the exit code and the time from the first signal to the exit.
fn interrupt_at(root: &Path, out: &Path, marker: &str, signals: usize) -> (Option<i32>, Duration) {
    interrupt_run(&scenario(root), root, out, marker, signals)
}

/// As [`interrupt_at`], for the scenario at `scenario`.
fn interrupt_run(
    scenario: &Path,
    root: &Path,
    out: &Path,
    marker: &str,
    signals: usize,
) -> (Option<i32>, Duration) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_archbench"))
        .arg("run")
        .arg(scenario)
        .args(["--stores", "local", "--no-report", "--run-root"])
        .arg(root)
        .arg("--out")
        .arg(out)
        .env_remove("DATABASE_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    lines
        .by_ref()
        .map(|l| l.unwrap())
        .find(|l| l.contains(marker))
        .unwrap_or_else(|| panic!("no line with `{marker}` before the output ended"));
    let drain = std::thread::spawn(move || lines.for_each(drop));
    let signalled = Instant::now();
    for _ in 0..signals {
        // SAFETY: kill(2) on our own child.
        unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
        std::thread::sleep(Duration::from_millis(50));
    }
    let status = child.wait().unwrap();
    let took = signalled.elapsed();
    drain.join().unwrap();
    (status.code(), took)
}

fn assert_nothing_left(root: &Path) {
    let left: Vec<String> = leftovers(root)
        .into_iter()
        .filter(|e| e != "interrupt.toml")
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn ctrl_c_while_the_stores_start_writes_results_stopped_there() {
    let root = run_root();
    let out = root.path().join("out");
    let (code, took) = interrupt_at(root.path(), &out, "starting stores", 1);
    assert_eq!(code, Some(1), "an incomplete run exits 1");
    // Generous against a loaded CI machine; the note quotes the measured time.
    assert!(took < Duration::from_secs(15), "took {took:?}");
    let r = Results::read(&out.join("results.json")).unwrap();
    assert!(!r.complete);
    assert_eq!(r.stopped_in, Some(RunStage::StartingStores));
    assert!(r.systems.is_empty());
    std::fs::remove_dir_all(&out).unwrap();
    assert_nothing_left(root.path());
}

#[test]
fn ctrl_c_while_seeding_writes_results_stopped_there() {
    let root = run_root();
    let out = root.path().join("out");
    let (code, took) = interrupt_at(root.path(), &out, "v02: seeding", 1);
    assert_eq!(code, Some(1));
    assert!(took < Duration::from_secs(15), "took {took:?}");
    let r = Results::read(&out.join("results.json")).unwrap();
    assert_eq!(r.stopped_in, Some(RunStage::Seeding));
    assert!(
        r.notes
            .iter()
            .any(|n| n.contains("interrupted in stage `seeding`")),
        "{:?}",
        r.notes
    );
    std::fs::remove_dir_all(&out).unwrap();
    assert_nothing_left(root.path());
}

#[test]
fn a_second_ctrl_c_exits_at_once_and_still_stops_the_stores() {
    let root = run_root();
    let out = root.path().join("out");
    let (code, took) = interrupt_at(root.path(), &out, "v02: seeding", 2);
    assert_eq!(code, Some(130));
    assert!(took < Duration::from_secs(10), "took {took:?}");
    let _ = std::fs::remove_dir_all(&out);
    assert_nothing_left(root.path());
}

/// Ctrl-C during the event-log probe's second size keeps the first size of both
/// designs: a long full-size probe is not all or nothing.
#[test]
fn ctrl_c_in_the_event_log_probe_keeps_the_sizes_it_finished() {
    let root = run_root();
    let out = root.path().join("out");
    let smoke =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/smoke.toml"))
            .unwrap();
    // A second size of 3.6M events: long enough to be interrupted in.
    let edited = smoke.replace(
        "sizes = [{ users = 20, months = 1 }, { users = 20, months = 2 }]",
        "sizes = [{ users = 20, months = 1 }, { users = 2000, months = 3 }]",
    );
    assert_ne!(edited, smoke, "smoke.toml's [event_log] sizes moved");
    let scenario = root.path().join("interrupt.toml");
    std::fs::write(&scenario, edited).unwrap();
    let (code, took) = interrupt_run(
        &scenario,
        root.path(),
        &out,
        "event-log probe: v02 — 2000 users",
        1,
    );
    assert_eq!(code, Some(1), "an incomplete run exits 1");
    assert!(took < Duration::from_secs(30), "took {took:?}");
    let r = Results::read(&out.join("results.json")).unwrap();
    assert_eq!(r.stopped_in, Some(RunStage::EventLogProbe));
    let probe = r.event_log_probe.expect("the finished size is kept");
    for design in ["v02", "v03"] {
        let sizes = &probe.designs[design].sizes;
        assert_eq!(sizes.len(), 1, "{design}: {sizes:?}");
        assert_eq!(sizes[0].events, 20 * 30 * 20, "{design}");
    }
    assert!(
        r.notes
            .iter()
            .any(|n| n.contains("stopped after 2 of 4 design sizes")),
        "{:?}",
        r.notes
    );
    std::fs::remove_dir_all(&out).unwrap();
    assert_nothing_left(root.path());
}
