//! SeaweedFS (`weed mini`) serving S3 on loopback, with per-run SigV4 credentials.

use std::path::Path;
use std::time::{Duration, Instant};

use tokio::process::Command;

use super::LocalBinaries;
use super::server::LocalServer;
use crate::stores::ports::PortPicker;
use crate::stores::process::{OwnedProcess, log_tail};
use crate::stores::{ProvisionOptions, S3Endpoint, Secret, StoreError, s3};

pub struct LocalSeaweed {
    pub server: LocalServer,
    pub endpoint: S3Endpoint,
}

/// Every listening port `weed mini` opens, chosen by archbench: left to itself it takes
/// fixed defaults (9333, 8888, 23646, …) and a second instance would collide. WebDAV,
/// Iceberg and Lance are switched off; archbench uses only S3.
pub(crate) fn port_flags(s3_port: u16, others: &[u16; 9]) -> Vec<String> {
    let names = [
        "s3.port.grpc",
        "master.port",
        "master.port.grpc",
        "volume.port",
        "volume.port.grpc",
        "filer.port",
        "filer.port.grpc",
        "admin.port",
        "admin.port.grpc",
    ];
    let mut flags = vec![format!("-s3.port={s3_port}")];
    flags.extend(names.iter().zip(others).map(|(n, p)| format!("-{n}={p}")));
    flags.extend(["-s3.port.iceberg=0", "-s3.port.lance=0", "-webdav=false"].map(String::from));
    flags
}

/// How a start that lost one of its ports says so.
const PORT_TAKEN: &str = "; a port it was given is taken";

/// Whether `e` is a start that lost a port archbench had found free to another process
/// before SeaweedFS bound it (parallel runs): worth starting again on fresh ports.
pub(super) fn lost_a_port(e: &StoreError) -> bool {
    matches!(e, StoreError::ProcessStart { reason, .. } if reason.ends_with(PORT_TAKEN))
}

pub async fn start(
    bins: &LocalBinaries,
    run_dir: &Path,
    opts: &ProvisionOptions,
    ports: &mut PortPicker,
) -> Result<LocalSeaweed, StoreError> {
    let base = run_dir.join("seaweedfs");
    let data = base.join("data");
    std::fs::create_dir_all(&data)
        .map_err(StoreError::io(format!("creating {}", data.display())))?;
    let log = base.join("weed.log");

    let s3_port = ports.pick_or_require("SeaweedFS S3", opts.local.s3_port)?;
    let mut others = [0u16; 9];
    for p in &mut others {
        *p = ports.pick()?;
    }
    let access_key_id = format!("AB{}", Secret::generate(18).expose().to_uppercase());
    let secret = Secret::generate(40);

    let spawn = spawner(
        &bins.weed,
        &base,
        &log,
        s3_port,
        others,
        (&access_key_id, &secret),
    );
    let mut process = spawn()?;

    let endpoint = S3Endpoint {
        endpoint: format!("http://127.0.0.1:{s3_port}"),
        bucket: opts.bucket.clone(),
        region: "us-east-1".into(),
        access_key_id,
        secret_access_key: secret,
    };
    // Ready means a signed PUT succeeds, not merely that the port answers: the S3
    // gateway accepts connections before the filer and volume server are up.
    let client = s3::client_with_retries(&endpoint, 1);
    let deadline = Instant::now() + opts.ready_timeout;
    loop {
        if let Some(exit) = process.exited() {
            let tail = log_tail(&log, 20);
            return Err(StoreError::ProcessStart {
                store: "SeaweedFS".into(),
                // "is not available": a port weed checked first; "address already in
                // use": one it bound late (the filer's gRPC port) and lost meanwhile.
                reason: if tail.contains("is not available")
                    || tail.contains("address already in use")
                {
                    format!("{exit}{PORT_TAKEN}")
                } else {
                    exit
                },
                log,
                log_tail: tail,
            });
        }
        let attempt = async {
            s3::ensure_bucket(&client, &endpoint).await?;
            s3::probe(&client, &endpoint).await
        };
        match attempt.await {
            Ok(_) => break,
            Err(e) if Instant::now() >= deadline => {
                return Err(StoreError::Timeout {
                    store: format!("SeaweedFS (log {})", log.display()),
                    after: opts.ready_timeout,
                    detail: e.to_string(),
                });
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
    let ready_endpoint = endpoint.clone();
    let ready = Box::new(move || {
        let endpoint = ready_endpoint.clone();
        Box::pin(async move {
            let client = s3::client_with_retries(&endpoint, 1);
            s3::probe(&client, &endpoint).await.map(|_| ())
        }) as _
    });
    let server = LocalServer::new("SeaweedFS", process, Box::new(spawn), ready);
    Ok(LocalSeaweed { server, endpoint })
}

/// Starts `weed mini` with archbench's ports and credentials; called again to restart
/// it after a fault.
fn spawner(
    weed: &Path,
    base: &Path,
    log: &Path,
    s3_port: u16,
    others: [u16; 9],
    (access_key_id, secret): (&str, &Secret),
) -> impl Fn() -> Result<OwnedProcess, StoreError> + Send + Sync + 'static {
    let (weed, base, log) = (weed.to_path_buf(), base.to_path_buf(), log.to_path_buf());
    let (access_key_id, secret) = (access_key_id.to_string(), secret.clone());
    move || {
        let mut cmd = Command::new(&weed);
        cmd.arg("mini")
            .arg(format!("-dir={}", base.join("data").display()))
            .args([
                "-ip=127.0.0.1",
                "-ip.bind=127.0.0.1",
                "-master.telemetry=false",
            ])
            .arg(format!(
                "-filer.localSocket={}",
                base.join("filer.sock").display()
            ))
            .args(port_flags(s3_port, &others))
            .current_dir(&base)
            .env("AWS_ACCESS_KEY_ID", &access_key_id)
            .env("AWS_SECRET_ACCESS_KEY", secret.expose())
            .env_remove("S3_BUCKET");
        OwnedProcess::spawn("SeaweedFS", cmd, &log, None, libc::SIGTERM, &[])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_start_that_lost_a_port_is_told_apart_from_other_failures() {
        let failed = |reason: String| StoreError::ProcessStart {
            store: "SeaweedFS".into(),
            reason,
            log: "weed.log".into(),
            log_tail: String::new(),
        };
        assert!(lost_a_port(&failed(format!("exited with 1{PORT_TAKEN}"))));
        assert!(!lost_a_port(&failed("exited with 1".into())));
    }

    #[test]
    fn every_port_is_set_and_extra_services_are_off() {
        let flags = port_flags(
            1000,
            &[1001, 1002, 1003, 1004, 1005, 1006, 1007, 1008, 1009],
        );
        for f in [
            "-s3.port=1000",
            "-s3.port.grpc=1001",
            "-master.port=1002",
            "-master.port.grpc=1003",
            "-volume.port=1004",
            "-volume.port.grpc=1005",
            "-filer.port=1006",
            "-filer.port.grpc=1007",
            "-admin.port=1008",
            "-admin.port.grpc=1009",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-webdav=false",
        ] {
            assert!(flags.contains(&f.to_string()), "missing {f}");
        }
    }
}
