//! Real HTTP both ways: `archbench serve v02` on local stores, driven by `archbench run
//! scenarios/http-smoke.toml --systems http:v02=URL`; the server's JSON errors; an
//! unreachable target and bad `[http]` templates refused before anything runs.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::{archbench, assert_valid, leftovers, run_root};

/// Starts `archbench serve v02` on a free port; returns it with its base URL. The
/// caller stops it and waits for it (the lint cannot see that across the return).
#[allow(clippy::zombie_processes)]
fn serve(root: &std::path::Path) -> (Child, String, Vec<String>) {
    let mut child = archbench()
        .args([
            "serve",
            "v02",
            "--stores",
            "local",
            "--listen",
            "127.0.0.1:0",
        ])
        .arg("--run-root")
        .arg(root)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut printed = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            let mut err = String::new();
            if let Some(mut stderr) = child.stderr.take() {
                let _ = stderr.read_to_string(&mut err);
            }
            let _ = child.wait();
            panic!("serve ended early: {printed:?} {err}");
        }
        printed.push(line.trim_end().to_string());
        if let Some(rest) = line.split(" at http://").nth(1) {
            let address = rest.split_whitespace().next().unwrap_or_default();
            // The rest of stdout is read when the server stops.
            child.stdout = Some(reader.into_inner());
            return (child, format!("http://{address}"), printed);
        }
    }
}

fn interrupt(child: &Child) {
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
}

async fn json(response: reqwest::Response) -> (u16, serde_json::Value) {
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_smoke_runs_over_http_against_serve() {
    let root = run_root();
    let (mut server, base, printed) = serve(root.path());
    assert!(
        printed.iter().any(|l| l.starts_with("stores up (local)")),
        "{printed:?}"
    );
    assert!(
        !printed.iter().any(|l| l.contains("password")),
        "no secret printed: {printed:?}"
    );
    let client = reqwest::Client::new();

    // The server's own answers: health, a missing entity, a bad body, each JSON.
    let (status, health) = json(
        client
            .get(format!("{base}/v1/health"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, health["system"].as_str()), (200, Some("v02")));
    let missing = format!("{base}/v1/entities/{}", uuid::Uuid::new_v4());
    let (status, problem) = json(client.get(missing).send().await.unwrap()).await;
    assert_eq!((status, problem["kind"].as_str()), (404, Some("not_found")));
    let bad = client
        .post(format!("{base}/v1/users/1/entities"))
        .header("content-type", "application/json")
        .body(r#"{"title": "t"}"#)
        .send()
        .await
        .unwrap();
    let (status, problem) = json(bad).await;
    assert_eq!(
        (status, problem["kind"].as_str()),
        (400, Some("bad_request"))
    );
    assert!(
        problem["error"].as_str().unwrap().contains("body"),
        "{problem}"
    );

    // The smoke suite through the binary, over real HTTP.
    let out = tempfile::tempdir().unwrap();
    let scenario = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/http-smoke.toml");
    let run = archbench()
        .args(["run", scenario, "--no-report", "--systems"])
        .arg(format!("http:v02={base}"))
        .arg("--out")
        .arg(out.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "run failed: {stderr}");
    let results = assert_valid(&out.path().join("results.json"));
    let system = &results["systems"]["http:v02"];
    for op in [
        "create", "update", "get", "list", "search", "history", "activity",
    ] {
        let o = &system["ops"][op];
        assert!(o["count"].as_u64().unwrap() > 0, "{op} ran: {o}");
        assert_eq!(o["errors"].as_u64(), Some(0), "{op}: {o}");
    }
    let not_measured: Vec<&str> = system["not_measured"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert!(
        not_measured.contains(&"round_trips") && not_measured.contains(&"inngest_executions"),
        "{not_measured:?}"
    );
    let text = std::fs::read_to_string(out.path().join("results.json")).unwrap();
    assert!(!text.contains(&base), "the base URL is not in the results");

    // Ctrl-C stops the server cleanly and its stores with it.
    interrupt(&server);
    let started = Instant::now();
    let status = loop {
        if let Some(s) = server.try_wait().unwrap() {
            break s;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "serve did not stop"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut rest = String::new();
    server
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut rest)
        .unwrap();
    assert!(status.success(), "serve exit {status:?}: {rest}");
    assert!(rest.contains("stopped"), "{rest}");
    assert!(
        leftovers(root.path()).is_empty(),
        "{:?}",
        leftovers(root.path())
    );
}

#[test]
fn an_unreachable_target_exits_3_before_the_run() {
    let out = tempfile::tempdir().unwrap();
    let scenario = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/http-smoke.toml");
    let started = Instant::now();
    let run = archbench()
        .args([
            "run",
            scenario,
            "--no-report",
            "--systems",
            "http:nobody=http://127.0.0.1:9",
        ])
        .arg("--out")
        .arg(out.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("http:nobody at http://127.0.0.1:9: not reachable"),
        "{stderr}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}

fn refused(scenario_text: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, scenario_text).unwrap();
    let run = archbench()
        .args(["run"])
        .arg(&path)
        .args(["--no-report", "--dry-run"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr).into_owned();
    assert_eq!(run.status.code(), Some(2), "{stderr}");
    stderr
}

#[test]
fn bad_templates_are_refused_at_their_line_and_column() {
    let base = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scenarios/http-smoke.toml"
    ))
    .unwrap();
    let line_of = |needle: &str| base.lines().position(|l| l.contains(needle)).unwrap() + 1;

    let unknown = base.replace(
        r#"path = "/v1/entities/${entity}/history""#,
        r#"path = "/v1/entities/${colour}/history""#,
    );
    let stderr = refused(&unknown);
    let line = line_of(r#"path = "/v1/entities/${entity}/history""#);
    // The column of `${colour}`: after `path = "` and `/v1/entities/`.
    let column = r#"path = "/v1/entities/"#.len() + 1;
    assert!(
        stderr.contains(&format!("bad.toml:{line}:{column}")),
        "{stderr}"
    );
    assert!(
        stderr.contains("http.ops.history.path") && stderr.contains("unknown field `colour`"),
        "{stderr}"
    );

    let no_status = base.replace("expect = 201\n", "");
    let stderr = refused(&no_status);
    assert!(stderr.contains("expect"), "{stderr}");
    assert!(stderr.contains("bad.toml:"), "{stderr}");
}
