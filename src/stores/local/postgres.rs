//! A private PostgreSQL cluster: initdb into the run directory, a loopback port, its own
//! socket directory, TimescaleDB preloaded, the benchmark database with its extensions.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use tokio::process::Command;

use super::LocalBinaries;
use super::server::LocalServer;
use crate::stores::ports::PortPicker;
use crate::stores::process::{OwnedProcess, RunAs, log_tail};
use crate::stores::{PostgresEndpoint, ProvisionOptions, Secret, StoreError, health};

/// The superuser archbench creates in its private cluster.
const SUPERUSER: &str = "archbench";

pub struct LocalPostgres {
    pub server: LocalServer,
    pub endpoint: PostgresEndpoint,
}

/// `initdb` and `postgres` refuse to run as root: when archbench is root they run as
/// the `postgres` system user, which the Debian package creates.
fn run_as() -> Result<Option<RunAs>, StoreError> {
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return Ok(None);
    }
    let name = std::ffi::CString::new("postgres").expect("no NUL");
    let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
    let mut buf = vec![0 as libc::c_char; 4096];
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: every pointer is valid for the call and buf outlives it.
    let rc = unsafe {
        libc::getpwnam_r(
            name.as_ptr(),
            &mut pwd,
            buf.as_mut_ptr(),
            buf.len(),
            &mut result,
        )
    };
    if rc != 0 || result.is_null() {
        return Err(StoreError::MissingBinary {
            what: "the `postgres` system user (PostgreSQL refuses to run as root)".into(),
            looked: vec!["/etc/passwd".into()],
        });
    }
    Ok(Some(RunAs {
        uid: pwd.pw_uid,
        gid: pwd.pw_gid,
    }))
}

fn make_dir(path: &Path, mode: u32, owner: Option<RunAs>) -> Result<(), StoreError> {
    std::fs::create_dir_all(path)
        .map_err(StoreError::io(format!("creating {}", path.display())))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(StoreError::io(format!("chmod {}", path.display())))?;
    if let Some(o) = owner {
        std::os::unix::fs::chown(path, Some(o.uid), Some(o.gid))
            .map_err(StoreError::io(format!("chown {}", path.display())))?;
    }
    Ok(())
}

pub async fn start(
    bins: &LocalBinaries,
    run_dir: &Path,
    opts: &ProvisionOptions,
    ports: &mut PortPicker,
) -> Result<LocalPostgres, StoreError> {
    let owner = run_as()?;
    let base = run_dir.join("postgres");
    make_dir(&base, 0o755, None)?;
    let data = base.join("data");
    let sock = base.join("socket");
    make_dir(&data, 0o700, owner)?;
    make_dir(&sock, 0o700, owner)?;
    let server_log = base.join("postgres.log");
    let password = Secret::generate(32);

    init_cluster(bins, &base, &data, owner, &password).await?;
    let port = ports.pick_or_require("PostgreSQL", opts.local.pg_port)?;
    let mut process = spawn_server(bins, &data, &sock, port, opts, &server_log, owner)?;
    let admin = PostgresEndpoint::from_url(format!(
        "postgres://{SUPERUSER}:{}@127.0.0.1:{port}/postgres?sslmode=disable",
        password.expose()
    ));
    let pool = wait_ready(&mut process, &admin, &server_log, port, opts.ready_timeout)
        .await
        .map_err(|e| confined(e, opts))?;
    let create = format!("CREATE DATABASE \"{}\"", opts.database.replace('"', "\"\""));
    sqlx::query(sqlx::AssertSqlSafe(create))
        .execute(&pool)
        .await
        .map_err(|e| StoreError::Postgres {
            url: admin.display_url.clone(),
            context: format!("creating database {}", opts.database),
            source: e,
        })?;
    pool.close().await;

    let endpoint = PostgresEndpoint::from_url(format!(
        "postgres://{SUPERUSER}:{}@127.0.0.1:{port}/{}?sslmode=disable",
        password.expose(),
        opts.database
    ));
    let pool = health::connect(&endpoint, 2).await?;
    health::ensure_extensions(&pool, &endpoint.display_url).await?;
    pool.close().await;
    let (bins, opts) = (bins.clone(), opts.clone());
    let respawn =
        Box::new(move || spawn_server(&bins, &data, &sock, port, &opts, &server_log, owner));
    let ready_endpoint = endpoint.clone();
    let ready = Box::new(move || {
        let endpoint = ready_endpoint.clone();
        Box::pin(async move {
            health::connect(&endpoint, 1).await?.close().await;
            Ok(())
        }) as _
    });
    let server = LocalServer::new("PostgreSQL", process, respawn, ready);
    Ok(LocalPostgres { server, endpoint })
}

/// `initdb` with a superuser password read from a file only its user can read,
/// removed right after.
async fn init_cluster(
    bins: &LocalBinaries,
    base: &Path,
    data: &Path,
    owner: Option<RunAs>,
    password: &Secret,
) -> Result<(), StoreError> {
    let initdb_log = base.join("initdb.log");
    let pwfile = base.join("pwfile");
    std::fs::write(&pwfile, format!("{}\n", password.expose()))
        .map_err(StoreError::io("writing pwfile"))?;
    std::fs::set_permissions(&pwfile, std::fs::Permissions::from_mode(0o600))
        .map_err(StoreError::io("chmod pwfile"))?;
    if let Some(o) = owner {
        std::os::unix::fs::chown(&pwfile, Some(o.uid), Some(o.gid))
            .map_err(StoreError::io("chown pwfile"))?;
    }
    let mut initdb = Command::new(bins.pg_bindir.join("initdb"));
    initdb
        .arg("-D")
        .arg(data)
        .args([
            "-U",
            SUPERUSER,
            "--auth=scram-sha-256",
            "-E",
            "UTF8",
            "--no-locale",
            "--no-sync",
            "--no-instructions",
        ])
        .arg(format!("--pwfile={}", pwfile.display()));
    let proc = OwnedProcess::spawn("initdb", initdb, &initdb_log, owner, libc::SIGTERM, &[])?;
    let status = wait_exit(proc, Duration::from_secs(120)).await;
    let _ = std::fs::remove_file(&pwfile);
    if let Err(reason) = status {
        return Err(StoreError::PostgresStart {
            reason: format!("initdb: {reason}"),
            log_tail: log_tail(&initdb_log, 20),
            log: initdb_log,
        });
    }

    Ok(())
}

/// Starts `postgres` on `port` with archbench's settings and the caller's.
fn spawn_server(
    bins: &LocalBinaries,
    data: &Path,
    sock: &Path,
    port: u16,
    opts: &ProvisionOptions,
    server_log: &Path,
    owner: Option<RunAs>,
) -> Result<OwnedProcess, StoreError> {
    let mut cmd = Command::new(bins.pg_bindir.join("postgres"));
    cmd.arg("-D")
        .arg(data)
        .arg("-p")
        .arg(port.to_string())
        .arg("-k")
        .arg(sock);
    let mut settings: Vec<(String, String)> = vec![
        ("listen_addresses".into(), "127.0.0.1".into()),
        (
            "shared_preload_libraries".into(),
            "timescaledb,pg_stat_statements".into(),
        ),
        ("timescaledb.telemetry_level".into(), "off".into()),
        ("max_connections".into(), "200".into()),
        ("shared_buffers".into(), "256MB".into()),
        ("track_io_timing".into(), "on".into()),
        ("pg_stat_statements.track".into(), "all".into()),
        ("logging_collector".into(), "off".into()),
    ];
    settings.extend(opts.local.pg_settings.iter().cloned());
    for (k, v) in &settings {
        cmd.arg("-c").arg(format!("{k}={v}"));
    }
    let join = opts
        .local
        .confine
        .as_ref()
        .map_or(&[][..], |c| c.join.as_slice());
    OwnedProcess::spawn("PostgreSQL", cmd, server_log, owner, libc::SIGINT, join)
}

/// A start failure under an instance profile names the limits it ran under: a memory
/// limit too small for the settings is the likely cause, and the log line says so.
fn confined(e: StoreError, opts: &ProvisionOptions) -> StoreError {
    match (e, &opts.local.confine) {
        (
            StoreError::PostgresStart {
                reason,
                log,
                log_tail,
            },
            Some(c),
        ) => StoreError::PostgresStart {
            reason: format!(
                "{reason}, running under {}{}",
                c.describe,
                if reason.contains("SIGKILL") {
                    ": killed, as the cgroup's OOM killer kills, so the memory limit is too small for these settings"
                } else {
                    ""
                }
            ),
            log,
            log_tail,
        },
        (e, _) => e,
    }
}

/// Waits until the server accepts connections; a server that exits first is reported
/// with its log (a taken port as such).
async fn wait_ready(
    process: &mut OwnedProcess,
    admin: &PostgresEndpoint,
    server_log: &Path,
    port: u16,
    timeout: Duration,
) -> Result<sqlx::PgPool, StoreError> {
    let deadline = Instant::now() + timeout;
    let pool = loop {
        if let Some(exit) = process.exited() {
            let tail = log_tail(server_log, 20);
            if tail.contains("could not bind") || tail.contains("Address already in use") {
                return Err(StoreError::PortTaken {
                    store: "PostgreSQL".into(),
                    port,
                });
            }
            return Err(StoreError::PostgresStart {
                reason: exit,
                log: server_log.to_path_buf(),
                log_tail: tail,
            });
        }
        match health::connect(admin, 2).await {
            Ok(pool) => break pool,
            Err(e) if Instant::now() >= deadline => {
                return Err(StoreError::PostgresStart {
                    reason: format!("not accepting connections after {:?}: {e}", timeout),
                    log_tail: log_tail(server_log, 20),
                    log: server_log.to_path_buf(),
                });
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    };
    Ok(pool)
}

async fn wait_exit(mut proc: OwnedProcess, limit: Duration) -> Result<(), String> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = proc.exit_status() {
            return if status.success() {
                Ok(())
            } else {
                Err(format!("exited with {status}"))
            };
        }
        if Instant::now() >= deadline {
            let _ = proc.stop(Duration::from_secs(1)).await;
            return Err(format!("did not finish within {limit:?}"));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
