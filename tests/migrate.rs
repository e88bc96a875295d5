//! `archbench migrate` on local stores started by `stores up`, the migrator run as
//! its own process with `--stores external`: parity on a small dataset, a rollback
//! that carries the post-cut-over writes back, a kill at a random point of the
//! backfill and a resume that loses and doubles nothing, a second resume that changes
//! nothing, a corrupted object found as mismatched, and refusals.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

use common::archbench;
use rand::{Rng, SeedableRng};

/// A scenario for the rehearsal: `users` users of 15 entities, a short load.
fn scenario(users: u32) -> String {
    format!(
        r#"
name = "migrate-test"
rng_seed = 7
systems = ["v02", "v03"]
[seeding]
users = {users}
entities_per_user = 15
body_bytes = {{ median = 2000, p99 = 12000 }}
versions_per_entity = {{ min = 1, max = 3 }}
history_days = 3
concurrency = 8
[mix]
get = 30
list = 15
search = 10
update = 20
create = 15
history = 5
activity = 5
[[phase]]
name = "steady"
model = "open"
rate = 40
duration = "3s"
[run]
search_k = 5
"#
    )
}

/// Stores started by `stores up`, the variables that reach them, a scenario file.
struct Rig {
    stores: Child,
    env: Vec<(String, String)>,
    dir: tempfile::TempDir,
    _root: tempfile::TempDir,
}

impl Rig {
    fn new(users: u32) -> Rig {
        let root = common::run_root();
        let (stores, up) = common::up(root.path());
        let env = std::fs::read_to_string(up["env_file"].as_str().unwrap())
            .unwrap()
            .lines()
            .filter_map(|l| {
                l.split_once('=')
                    .map(|(k, v)| (k.to_string(), v.to_string()))
            })
            .collect();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("scenario.toml"), scenario(users)).unwrap();
        Rig {
            stores,
            env,
            dir,
            _root: root,
        }
    }

    fn var(&self, name: &str) -> String {
        self.env.iter().find(|(k, _)| k == name).unwrap().1.clone()
    }

    fn command(&self, extra: &[&str]) -> std::process::Command {
        let mut c = archbench();
        c.arg("migrate")
            .arg(self.dir.path().join("scenario.toml"))
            .args(["--stores", "external", "--out"])
            .arg(self.dir.path().join("out"))
            .args(extra)
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        c
    }

    fn migrate(&self, extra: &[&str]) -> Output {
        self.command(extra).output().unwrap()
    }

    fn results(&self) -> serde_json::Value {
        let path = self.dir.path().join("out/migration.json");
        serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
    }

    async fn pool(&self) -> sqlx::PgPool {
        sqlx::postgres::PgPoolOptions::new()
            .max_connections(2)
            .connect(&self.var("DATABASE_URL"))
            .await
            .unwrap()
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(self.stores.id() as i32, libc::SIGINT) };
        let _ = self.stores.wait();
    }
}

fn ok(out: &Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Every table's content as an MD5, to see that a second resume changes nothing.
async fn fingerprint(pool: &sqlx::PgPool) -> Vec<String> {
    let mut out = Vec::new();
    for t in [
        "v02.entities",
        "v02.events",
        "v02.read_model",
        "v03.entities",
        "v03.events",
        "v03.list_model",
        "v03.embeddings",
    ] {
        let sql = format!(
            "SELECT count(*)::text || ' ' || coalesce(md5(string_agg(t::text, ',' ORDER BY t::text)), '') FROM {t} t"
        );
        out.push(
            sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .fetch_one(pool)
                .await
                .unwrap(),
        );
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rehearsal_reaches_parity_and_its_rollback_carries_the_writes_back() {
    let rig = Rig::new(6);
    let stdout = ok(&rig.migrate(&["--batch", "20"]));
    assert!(stdout.contains("rehearsal complete"), "{stdout}");
    let m = rig.results();
    assert_eq!(m["complete"], true);
    for key in ["missing", "extra", "mismatched"] {
        assert_eq!(m["parity"][key], 0, "parity {key}: {}", m["parity"]);
    }
    assert!(
        m["parity"]["entities"].as_u64().unwrap() >= 90,
        "{}",
        m["parity"]
    );
    assert!(
        m["parity"]["tables"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["matches"] == true),
        "{}",
        m["parity"]["tables"]
    );
    assert_eq!(m["resume"]["lost"], 0);
    assert_eq!(m["resume"]["duplicated"], 0);
    assert!(m["backfill"]["entities_per_s"].as_f64().unwrap() > 0.0);
    assert!(m["backfill"]["mb_per_s"].as_f64().unwrap() > 0.0);
    assert!(m["dual_write_overhead"]["p50_ms"].is_number());
    assert!(m["dual_write_overhead"]["p99_ms"].is_number());
    assert!(
        m["shadow_reads"]["compared"].as_u64().unwrap() > 0,
        "{}",
        m["shadow_reads"]
    );
    assert_eq!(m["shadow_reads"]["mismatched"], 0, "{}", m["shadow_reads"]);
    assert!(m["projected_hours"].as_f64().unwrap() > 0.0);

    // The rollback: every write V0.3 took after the cut-over is in V0.2, same versions.
    let rollback = &m["rollback"];
    assert!(rollback["carried_back"].as_u64().unwrap() > 0, "{rollback}");
    for key in ["missing", "extra", "mismatched"] {
        assert_eq!(rollback["parity"][key], 0, "{rollback}");
    }
    let at: chrono::DateTime<chrono::Utc> = m["cutover"]["at"].as_str().unwrap().parse().unwrap();
    let pool = rig.pool().await;
    let after = |sql: &'static str| {
        let pool = pool.clone();
        async move {
            let rows: Vec<(uuid::Uuid, i32)> =
                sqlx::query_as(sql).bind(at).fetch_all(&pool).await.unwrap();
            rows
        }
    };
    let in_v03 =
        after("SELECT aggregate_id, version FROM v03.events WHERE time >= $1 ORDER BY 1, 2").await;
    let in_v02 =
        after("SELECT aggregate_id, version FROM v02.events WHERE created_at >= $1 ORDER BY 1, 2")
            .await;
    assert!(!in_v03.is_empty());
    assert_eq!(
        in_v02, in_v03,
        "V0.2 after the rollback holds exactly V0.3's post-cut-over events"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_migrator_killed_mid_backfill_resumes_losing_and_doubling_nothing() {
    let rig = Rig::new(50);
    let seed: u64 = rand::rng().random();
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut child = rig
        .command(&["--batch", "10"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let line = lines
            .next()
            .expect("migrate ended before the backfill")
            .unwrap();
        if line.starts_with("stage backfilled") {
            break;
        }
        assert!(Instant::now() < deadline, "no backfill within 2 minutes");
    }
    let wait = rng.random_range(200..3000);
    std::thread::sleep(Duration::from_millis(wait));
    child.kill().unwrap(); // SIGKILL: no checkpoint written on the way out
    child.wait().unwrap();
    let killed = rig.results();
    assert_eq!(
        killed["complete"], false,
        "killed after {wait} ms (seed {seed}): it finished first"
    );
    // The checkpoint in the target says where it died: the backfill not finished.
    let pool = rig.pool().await;
    let (stage, copied): (String, Option<String>) = sqlx::query_as(
        "SELECT stage, results->'backfill'->>'entities' FROM archbench_migration.state",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    eprintln!(
        "killed {wait} ms into the backfill (seed {seed}): checkpoint at stage {stage}, {copied:?} entities copied"
    );
    assert_eq!(
        stage, "baseline",
        "the backfill had finished before the kill"
    );

    let stdout = ok(&rig.migrate(&["--resume", "--batch", "10"]));
    assert!(stdout.contains("resuming after stage"), "{stdout}");
    let m = rig.results();
    assert_eq!(m["complete"], true, "{stdout}");
    assert_eq!(m["backfill"]["resumes"], 1);
    eprintln!(
        "after the resume: backfill {}, dual-write {}",
        m["backfill"], m["dual_write"]
    );
    let context = format!("killed after {wait} ms (seed {seed}): {}", m["parity"]);
    assert_eq!(m["resume"]["lost"], 0, "{context}");
    assert_eq!(m["resume"]["duplicated"], 0, "{context}");
    for key in ["missing", "extra", "mismatched"] {
        assert_eq!(m["parity"][key], 0, "{key}: {context}");
    }

    // Again, on the finished rehearsal: nothing changes.
    let before = fingerprint(&pool).await;
    let stdout = ok(&rig.migrate(&["--resume"]));
    assert!(stdout.contains("nothing to do"), "{stdout}");
    assert_eq!(fingerprint(&pool).await, before);
    assert_eq!(rig.results()["backfill"]["resumes"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupted_object_is_found_as_mismatched_and_existing_data_is_refused() {
    let rig = Rig::new(4);
    ok(&rig.migrate(&[]));
    // Without --resume or --fresh, stores that hold a rehearsal are refused.
    let out = rig.migrate(&[]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("--resume"));

    // Overwrite the current body of one V0.3 entity in the object store.
    let pool = rig.pool().await;
    let (id, key): (uuid::Uuid, String) =
        sqlx::query_as("SELECT id, file_key FROM v03.entities ORDER BY id LIMIT 1")
            .fetch_one(&pool)
            .await
            .unwrap();
    let s3 = s3_client(&rig).await;
    s3.put_object()
        .bucket(rig.var("S3_BUCKET"))
        .key(&key)
        .body(b"not the body".to_vec().into())
        .send()
        .await
        .unwrap();
    let stdout = ok(&rig.migrate(&["--verify-only"]));
    let m = rig.results();
    assert!(m["parity"]["mismatched"].as_u64().unwrap() >= 1, "{stdout}");
    let samples = m["parity"]["samples"].as_array().unwrap();
    assert!(
        samples
            .iter()
            .any(|s| s["op"] == "mismatched" && s["key"] == id.to_string()),
        "{samples:?}"
    );
    assert!(
        m["parity"]["objects"]["mismatched_prefixes"]
            .as_u64()
            .unwrap()
            >= 1
    );
}

#[test]
fn a_pair_without_a_migrator_is_refused_and_a_down_store_is_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("s.toml");
    std::fs::write(&file, scenario(1)).unwrap();
    let out = archbench()
        .arg("migrate")
        .arg(&file)
        .args(["--from", "v03", "--to", "v02"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--from v02 --to v03"));
    let out = archbench()
        .arg("migrate")
        .arg(&file)
        .args(["--stores", "external"])
        .env("DATABASE_URL", "postgres://nobody:x@127.0.0.1:1/none")
        .env("S3_ENDPOINT", "http://127.0.0.1:1")
        .env("S3_BUCKET", "b")
        .env("AWS_ACCESS_KEY_ID", "a")
        .env("AWS_SECRET_ACCESS_KEY", "s")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

async fn s3_client(rig: &Rig) -> aws_sdk_s3::Client {
    let creds = aws_credential_types::Credentials::new(
        rig.var("AWS_ACCESS_KEY_ID"),
        rig.var("AWS_SECRET_ACCESS_KEY"),
        None,
        None,
        "test",
    );
    let config = aws_sdk_s3::Config::builder()
        .behavior_version_latest()
        .region(aws_sdk_s3::config::Region::new(rig.var("S3_REGION")))
        .endpoint_url(rig.var("S3_ENDPOINT"))
        .credentials_provider(creds)
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

#[test]
fn ctrl_c_saves_the_checkpoint_and_the_resume_finishes() {
    let rig = Rig::new(4);
    let mut child = rig
        .command(&[])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    loop {
        let line = lines.next().expect("migrate ended early").unwrap();
        if line.starts_with("stage baseline") {
            break;
        }
    }
    std::thread::sleep(Duration::from_millis(500));
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("--resume"), "{stderr}");
    assert_eq!(rig.results()["complete"], false);
    let stdout = ok(&rig.migrate(&["--resume"]));
    assert!(stdout.contains("resuming after stage seeded"), "{stdout}");
    let m = rig.results();
    assert_eq!(m["complete"], true);
    for key in ["missing", "extra", "mismatched"] {
        assert_eq!(m["parity"][key], 0, "{}", m["parity"]);
    }
}
