//! Instance profiles on real cgroups around a real local PostgreSQL: the memory limit
//! binds (a table larger than the limit is read from disk again; without the limit it
//! stays in page cache), the CPU quota binds (a CPU-bound query takes about 1/quota as
//! long), the limits are read back into results.json, and a limit too small for
//! PostgreSQL to start is an environment error naming the limit and the log line.
//!
//! Needs root and cgroup v1 (`memory`, `cpu`, `cpuacct`) or v2, as these machines have.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use archbench::results::Results;
use archbench::rig::instance::{Confined, INSTANCES_FILE, InstanceProfile, Instances};
use archbench::run::{RunOptions, run};
use archbench::stores::{ProvisionOptions, StoreMode, Stores, provision};

fn profile(name: &str, vcpu: f64, memory_mib: u64, settings: &[(&str, &str)]) -> InstanceProfile {
    InstanceProfile {
        name: name.into(),
        description: "test".into(),
        source: "tests/instance.rs".into(),
        vcpu,
        memory_bytes: memory_mib << 20,
        postgres: settings
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<BTreeMap<_, _>>(),
    }
}

/// Local stores, under `confined` when given (its settings too).
async fn stores(root: &Path, confined: Option<&Confined>, settings: &[(&str, &str)]) -> Stores {
    let mut opts: ProvisionOptions = common::local_opts(root);
    opts.local.pg_settings = settings
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    if let Some(c) = confined {
        opts.local.confine = Some(c.confinement());
    }
    provision(StoreMode::Local, &opts).await.unwrap()
}

/// Bytes the backend of `conn` has caused to be fetched from storage (not from the
/// page cache): `read_bytes` of /proc/PID/io.
async fn disk_read_bytes(conn: &mut sqlx::PgConnection) -> u64 {
    let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    let io = std::fs::read_to_string(format!("/proc/{pid}/io")).unwrap();
    io.lines()
        .find_map(|l| l.strip_prefix("read_bytes: "))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

struct Scan {
    table_bytes: i64,
    disk_bytes: u64,
    blocks_read: i64,
    blocks_hit: i64,
    statio_blocks_read: i64,
}

/// `heap_blks_read` of the table in `pg_statio_user_tables`, this backend's pending
/// counts flushed first: a backend flushes them at most once a second on its own, so
/// without the forced flush one scan's counts can land in the next reading.
async fn statio_blocks_read(conn: &mut sqlx::PgConnection) -> i64 {
    // The flush happens when the backend goes idle after this statement.
    sqlx::raw_sql("SELECT pg_stat_force_next_flush()")
        .execute(&mut *conn)
        .await
        .unwrap();
    sqlx::raw_sql("SELECT pg_stat_clear_snapshot()")
        .execute(&mut *conn)
        .await
        .unwrap();
    sqlx::query_scalar("SELECT heap_blks_read FROM pg_statio_user_tables WHERE relname = 'big'")
        .fetch_one(&mut *conn)
        .await
        .unwrap()
}

/// Writes a table of about `mib` MiB, then scans it twice; the second scan's reads.
async fn second_scan(stores: &Stores, mib: i64) -> Scan {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(stores.endpoints.postgres.url.expose())
        .await
        .unwrap();
    // ~1 KB a row: below the TOAST threshold, so the heap holds it all, uncompressed.
    sqlx::raw_sql(
        "CREATE TABLE big (id bigint, pad text);
         ALTER TABLE big SET (autovacuum_enabled = false);",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    let rows = mib * 1024;
    sqlx::query("INSERT INTO big SELECT g, repeat(md5(g::text), 30) FROM generate_series(1, $1) g")
        .bind(rows)
        .execute(&mut conn)
        .await
        .unwrap();
    // One process does the whole scan, so /proc/PID/io of the backend sees every read.
    sqlx::raw_sql("SET max_parallel_workers_per_gather = 0; CHECKPOINT; SELECT count(*) FROM big;")
        .execute(&mut conn)
        .await
        .unwrap();
    let statio_before = statio_blocks_read(&mut conn).await;
    let disk_before = disk_read_bytes(&mut conn).await;
    // The scan's own buffer counts, from its plan, and the statistics views' below.
    let plan: serde_json::Value = sqlx::query_scalar(
        "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) SELECT count(*) FROM big WHERE pad LIKE '%zz%'",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    let disk_after = disk_read_bytes(&mut conn).await;
    let statio_after = statio_blocks_read(&mut conn).await;
    let top = &plan[0]["Plan"];
    let blocks = |key: &str| {
        top[key]
            .as_i64()
            .unwrap_or_else(|| panic!("{key} in {plan}"))
    };
    let table_bytes: i64 = sqlx::query_scalar("SELECT pg_table_size('big')")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    Scan {
        table_bytes,
        disk_bytes: disk_after - disk_before,
        blocks_read: blocks("Shared Read Blocks"),
        blocks_hit: blocks("Shared Hit Blocks"),
        statio_blocks_read: statio_after - statio_before,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_memory_limit_binds_page_cache_included() {
    // 256 MiB for the server, shared buffers and page cache together; a 600 MiB table.
    let settings = [("shared_buffers", "32MB")];
    let small = profile("mem-test", 2.0, 256, &settings);
    let confined = Confined::start(&small, "memory-test").unwrap();
    let root = common::run_root();
    let limited = stores(root.path(), Some(&confined), &settings).await;
    let under_limit = second_scan(&limited, 600).await;
    let usage = confined.cgroup().usage().unwrap();
    limited.shutdown().await.unwrap();

    let unlimited = stores(root.path(), None, &settings).await;
    let free = second_scan(&unlimited, 600).await;
    unlimited.shutdown().await.unwrap();

    let blocks = under_limit.table_bytes / 8192;
    println!(
        "table {} MiB ({blocks} blocks); limited: {} MiB from disk, {} blocks read ({} per pg_statio), {} hit, peak {} MiB; unlimited: {} MiB from disk, {} blocks read, {} hit",
        under_limit.table_bytes >> 20,
        under_limit.disk_bytes >> 20,
        under_limit.blocks_read,
        under_limit.statio_blocks_read,
        under_limit.blocks_hit,
        usage.memory_peak_bytes >> 20,
        free.disk_bytes >> 20,
        free.blocks_read,
        free.blocks_hit,
    );
    assert!(
        under_limit.table_bytes > 2 * (256 << 20),
        "table {} bytes",
        under_limit.table_bytes
    );
    // Under the limit much of the table comes from disk again: it cannot stay cached
    // (584 MiB of 600 seen, against 0 without the limit; the bound leaves room for
    // the kernel keeping part of a twice-read file on its active list).
    assert!(
        under_limit.disk_bytes as f64 > 0.5 * under_limit.table_bytes as f64,
        "limited: {} bytes from disk of {}",
        under_limit.disk_bytes,
        under_limit.table_bytes
    );
    // pg_statio_user_tables agrees with the scan's own plan (within 1%: the
    // statistics count the same buffer misses).
    let statio = under_limit.statio_blocks_read as f64;
    assert!(
        (statio - under_limit.blocks_read as f64).abs() <= 0.01 * blocks as f64,
        "pg_statio {statio} against the plan's {}",
        under_limit.blocks_read
    );
    // The plan's buffer counts: the blocks missed shared buffers and were read (from the kernel).
    assert!(
        under_limit.blocks_read as f64 > 0.9 * blocks as f64,
        "limited: {} blocks read of {blocks}",
        under_limit.blocks_read
    );
    // Without it the kernel's page cache holds the table: (almost) nothing from disk.
    assert!(
        (free.disk_bytes as f64) < 0.02 * free.table_bytes as f64,
        "unlimited: {} bytes from disk",
        free.disk_bytes
    );
    // The cgroup held the server, page cache included, to its limit. The peak may
    // pass it by a charge batch (the kernel charges up to 32 pages per CPU before it
    // reclaims; seen: one page over), never by more.
    assert!(
        usage.memory_peak_bytes <= (256 << 20) + (1 << 20),
        "{usage:?}"
    );
    assert!(usage.memory_peak_bytes > 200 << 20, "{usage:?}");
}

/// Seconds a CPU-bound query takes on the server.
async fn cpu_bound_seconds(stores: &Stores) -> f64 {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(stores.endpoints.postgres.url.expose())
        .await
        .unwrap();
    let query = "SELECT count(*) FROM generate_series(1, 1500000) g WHERE md5(g::text) LIKE 'a%'";
    // Warm: the plan, the catalogue, the backend's own start.
    sqlx::raw_sql("SELECT count(*) FROM generate_series(1, 10000) g WHERE md5(g::text) LIKE 'a%'")
        .execute(&mut conn)
        .await
        .unwrap();
    let started = Instant::now();
    sqlx::raw_sql(query).execute(&mut conn).await.unwrap();
    started.elapsed().as_secs_f64()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cpu_quota_binds() {
    let quarter = profile("cpu-test", 0.25, 1024, &[]);
    let confined = Confined::start(&quarter, "cpu-test").unwrap();
    let root = common::run_root();
    let unlimited = stores(root.path(), None, &[]).await;
    let free = cpu_bound_seconds(&unlimited).await;
    unlimited.shutdown().await.unwrap();
    let limited = stores(root.path(), Some(&confined), &[]).await;
    let before = confined.cgroup().usage().unwrap();
    let slow = cpu_bound_seconds(&limited).await;
    let after = confined.cgroup().usage().unwrap();
    limited.shutdown().await.unwrap();
    let ratio = slow / free;
    println!(
        "CPU-bound query: unlimited {free:.2} s, 0.25 vCPU {slow:.2} s (×{ratio:.2}, 1/quota = ×4); throttled {} periods",
        after.throttled_periods - before.throttled_periods
    );
    // One backend uses one core unlimited; a quarter of a core takes about 4× as long.
    // Wide bounds: the machine is shared, and this binary's other tests run beside
    // this one (×6.14 was seen once in the full suite, with the quota as set).
    assert!((2.8..8.0).contains(&ratio), "×{ratio:.2}");
    assert!(after.throttled_periods > before.throttled_periods);
    assert!(after.cpu_ns > before.cpu_ns);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_records_the_limits_read_back_from_the_cgroup() {
    let root = common::run_root();
    let out = tempfile::tempdir().unwrap();
    let scenario = out.path().join("instance.toml");
    std::fs::write(
        &scenario,
        r#"
name = "instance-check"
rng_seed = 3
systems = ["v03"]
[seeding]
users = 2
entities_per_user = 3
body_bytes = { median = 1000, p99 = 4000 }
versions_per_entity = { min = 1, max = 1 }
history_days = 1
concurrency = 2
[mix]
get = 1
[[phase]]
name = "steady"
model = "open"
rate = 20
duration = "2s"
"#,
    )
    .unwrap();
    let one = Instances::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join(INSTANCES_FILE))
        .unwrap()
        .get("1cu")
        .unwrap()
        .clone();
    let options = RunOptions {
        scenario,
        systems: None,
        stores: StoreMode::Local,
        provision: common::local_opts(root.path()),
        out: out.path().join("run"),
        repeat: 1,
        faults: Vec::new(),
        limits: Default::default(),
        fault_at: Vec::new(),
        network: None,
        instance: Some(one),
        agent: None,
        seeded: false,
    };
    let mut log = Vec::new();
    let summary = run(options, &mut log).await.unwrap();
    common::assert_valid(&summary.results_path);
    let r = Results::read(&summary.results_path).unwrap();
    assert!(r.complete, "{:?}", r.notes);
    let instance = r.environment.instance.expect("instance recorded");
    assert_eq!(instance.profile.name, "1cu");
    assert_eq!(instance.cgroup.memory_limit_bytes, 4 << 30);
    assert_eq!(instance.cgroup.cpu_quota_us, instance.cgroup.cpu_period_us);
    let usage = instance.usage.expect("usage read");
    assert!(usage.cpu_ns > 0 && usage.memory_peak_bytes > 0, "{usage:?}");
    assert!(r.notes.iter().any(|n| n.contains("instance `1cu`")));
    // The settings of the size reached the server.
    let text = String::from_utf8_lossy(&log);
    assert!(
        text.contains("confining PostgreSQL: instance 1cu"),
        "{text}"
    );
    // The cgroup is gone with the run.
    assert!(
        !instance.cgroup.path.exists(),
        "{}",
        instance.cgroup.path.display()
    );
}

#[test]
fn an_unknown_instance_exits_2_listing_the_known_ones() {
    let o = common::archbench()
        .args([
            "run",
            "scenarios/smoke.toml",
            "--instance",
            "9cu",
            "--dry-run",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("unknown instance `9cu`; known: 0.25cu, 1cu, 2cu, 4cu"),
        "{err}"
    );
}

#[test]
fn a_memory_limit_too_small_for_postgresql_exits_3_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("instances.toml");
    std::fs::write(
        &file,
        "[tiny]\ndescription = \"too small\"\nsource = \"test\"\nvcpu = 1.0\nmemory_mib = 32\npostgres = { shared_buffers = \"256MB\", huge_pages = \"off\" }\n",
    )
    .unwrap();
    let root = common::run_root();
    let o = common::archbench()
        .env("ARCHBENCH_RUN_ROOT", root.path())
        .args([
            "run",
            "scenarios/smoke.toml",
            "--stores",
            "local",
            "--systems",
            "v03",
        ])
        .arg("--instances")
        .arg(&file)
        .args(["--instance", "tiny", "--no-report", "--out"])
        .arg(dir.path().join("out"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{err}");
    assert!(err.contains("memory limit 32 MiB"), "{err}");
}
