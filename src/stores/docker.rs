//! Docker mode: `timescale/timescaledb-ha` (PostgreSQL 17, TimescaleDB with its
//! community license — compression and continuous aggregates — and pgvector) and
//! `minio/minio`, started through testcontainers and removed when dropped.

use std::time::{Duration, Instant};

use testcontainers::core::{IntoContainerPort, WaitFor};
use testcontainers::runners::AsyncRunner;
use testcontainers::{ContainerAsync, GenericImage, ImageExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{
    Endpoints, PostgresEndpoint, ProvisionOptions, S3Endpoint, Secret, StoreError, StoreGuard,
    StoreMode, StoreProvisioner, Stores, health, s3,
};

/// Images, tags and settings of the containers. Tags are pinned so that results from
/// different days are comparable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DockerConfig {
    /// PostgreSQL + TimescaleDB + pgvector image.
    pub postgres_image: String,
    /// Its tag.
    pub postgres_tag: String,
    /// S3-compatible image.
    pub minio_image: String,
    /// Its tag.
    pub minio_tag: String,
}

impl Default for DockerConfig {
    fn default() -> Self {
        Self {
            postgres_image: "timescale/timescaledb-ha".into(),
            postgres_tag: "pg17".into(),
            minio_image: "minio/minio".into(),
            minio_tag: "RELEASE.2025-04-22T22-12-26Z".into(),
        }
    }
}

/// Port PostgreSQL listens on inside its container.
pub const POSTGRES_PORT: u16 = 5432;
/// Port MinIO's S3 API listens on inside its container.
pub const MINIO_PORT: u16 = 9000;
const SUPERUSER: &str = "postgres";

impl DockerConfig {
    /// Environment of the PostgreSQL container.
    pub fn postgres_env(&self, password: &Secret, database: &str) -> Vec<(String, String)> {
        vec![
            ("POSTGRES_USER".into(), SUPERUSER.into()),
            ("POSTGRES_PASSWORD".into(), password.expose().into()),
            ("POSTGRES_DB".into(), database.into()),
            ("TIMESCALEDB_TELEMETRY".into(), "off".into()),
        ]
    }

    /// Environment of the MinIO container.
    pub fn minio_env(&self, access_key: &str, secret: &Secret) -> Vec<(String, String)> {
        vec![
            ("MINIO_ROOT_USER".into(), access_key.into()),
            ("MINIO_ROOT_PASSWORD".into(), secret.expose().into()),
        ]
    }

    /// Command of the MinIO container.
    pub fn minio_cmd(&self) -> Vec<String> {
        vec!["server".into(), "/data".into()]
    }

    fn postgres_image(
        &self,
        password: &Secret,
        database: &str,
    ) -> testcontainers::ContainerRequest<GenericImage> {
        let mut req = GenericImage::new(self.postgres_image.clone(), self.postgres_tag.clone())
            .with_exposed_port(POSTGRES_PORT.tcp())
            .with_wait_for(WaitFor::message_on_stderr(
                "database system is ready to accept connections",
            ))
            .with_startup_timeout(Duration::from_secs(180));
        for (k, v) in self.postgres_env(password, database) {
            req = req.with_env_var(k, v);
        }
        req
    }

    fn minio_image(
        &self,
        access_key: &str,
        secret: &Secret,
    ) -> testcontainers::ContainerRequest<GenericImage> {
        let mut req = GenericImage::new(self.minio_image.clone(), self.minio_tag.clone())
            .with_exposed_port(MINIO_PORT.tcp())
            .with_wait_for(WaitFor::message_on_stdout("API:"))
            .with_cmd(self.minio_cmd())
            .with_startup_timeout(Duration::from_secs(120));
        for (k, v) in self.minio_env(access_key, secret) {
            req = req.with_env_var(k, v);
        }
        req
    }
}

/// Starts containers through testcontainers.
#[derive(Debug, Clone, Default)]
pub struct DockerProvisioner {
    /// What to start.
    pub config: DockerConfig,
}

/// Running containers; dropping them removes them.
pub struct DockerStores {
    postgres: ContainerAsync<GenericImage>,
    minio: ContainerAsync<GenericImage>,
}

impl DockerStores {
    pub(crate) async fn shutdown(self) -> Result<(), StoreError> {
        let a = self.postgres.rm().await;
        let b = self.minio.rm().await;
        a.and(b).map_err(|e| StoreError::Docker {
            detail: format!("removing containers: {e}"),
        })
    }
}

fn docker_err(what: &str) -> impl FnOnce(testcontainers::TestcontainersError) -> StoreError + '_ {
    move |e| StoreError::Docker {
        detail: format!("{what}: {e}"),
    }
}

impl StoreProvisioner for DockerProvisioner {
    async fn provision(&self, opts: &ProvisionOptions) -> Result<Stores, StoreError> {
        if !docker_engine_answers().await {
            return Err(StoreError::Docker {
                detail: "no Docker engine answers".into(),
            });
        }
        let password = Secret::generate(32);
        let access_key = format!("AB{}", Secret::generate(18).expose().to_uppercase());
        let secret = Secret::generate(40);
        let pg = self
            .config
            .postgres_image(&password, &opts.database)
            .start()
            .await
            .map_err(docker_err("starting timescale/timescaledb-ha"))?;
        let minio = self
            .config
            .minio_image(&access_key, &secret)
            .start()
            .await
            .map_err(docker_err("starting minio/minio"))?;
        let host = pg
            .get_host()
            .await
            .map_err(docker_err("reading the container host"))?;
        let pg_port = pg
            .get_host_port_ipv4(POSTGRES_PORT)
            .await
            .map_err(docker_err("reading the PostgreSQL port"))?;
        let s3_port = minio
            .get_host_port_ipv4(MINIO_PORT)
            .await
            .map_err(docker_err("reading the MinIO port"))?;
        let endpoints = Endpoints {
            mode: StoreMode::Docker,
            postgres: PostgresEndpoint::from_url(format!(
                "postgres://{SUPERUSER}:{}@{host}:{pg_port}/{}?sslmode=disable",
                password.expose(),
                opts.database
            )),
            s3: S3Endpoint {
                endpoint: format!("http://{host}:{s3_port}"),
                bucket: opts.bucket.clone(),
                region: "us-east-1".into(),
                access_key_id: access_key,
                secret_access_key: secret,
            },
        };
        // The image's entrypoint restarts PostgreSQL once after initialising, so the
        // first "ready" line may be followed by a short outage: retry the connection.
        let deadline = Instant::now() + opts.ready_timeout;
        let pool = loop {
            match health::connect(&endpoints.postgres, 2).await {
                Ok(p) => break p,
                Err(e) if Instant::now() >= deadline => return Err(e),
                Err(_) => tokio::time::sleep(Duration::from_millis(250)).await,
            }
        };
        let ext = health::ensure_extensions(&pool, &endpoints.postgres.display_url).await;
        pool.close().await;
        ext?;
        let client = s3::client(&endpoints.s3);
        s3::ensure_bucket(&client, &endpoints.s3).await?;
        Ok(Stores {
            endpoints,
            guard: StoreGuard::Docker(Box::new(DockerStores {
                postgres: pg,
                minio,
            })),
        })
    }
}

/// Whether a Docker engine answers `GET /_ping` on `DOCKER_HOST` (unix or tcp) or
/// `/var/run/docker.sock`, within a second.
pub async fn docker_engine_answers() -> bool {
    let host = std::env::var("DOCKER_HOST").unwrap_or_default();
    let ping = async {
        let request = b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n";
        let mut response = Vec::new();
        if let Some(addr) = host.strip_prefix("tcp://") {
            let mut s = tokio::net::TcpStream::connect(addr).await.ok()?;
            s.write_all(request).await.ok()?;
            s.read_to_end(&mut response).await.ok()?;
        } else {
            let path = host
                .strip_prefix("unix://")
                .filter(|p| !p.is_empty())
                .unwrap_or("/var/run/docker.sock");
            let mut s = tokio::net::UnixStream::connect(path).await.ok()?;
            s.write_all(request).await.ok()?;
            s.read_to_end(&mut response).await.ok()?;
        }
        Some(String::from_utf8_lossy(&response).starts_with("HTTP/1.") && response.ends_with(b"OK"))
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(1), ping).await,
        Ok(Some(true))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_are_pinned_to_the_documented_ones() {
        let c = DockerConfig::default();
        assert_eq!(c.postgres_image, "timescale/timescaledb-ha");
        assert_eq!(c.postgres_tag, "pg17");
        assert_eq!(c.minio_image, "minio/minio");
        assert!(
            c.minio_tag.starts_with("RELEASE."),
            "MinIO tag must be pinned, not latest"
        );
    }

    #[test]
    fn container_env_carries_generated_credentials() {
        let c = DockerConfig::default();
        let pw = Secret::new("pw123");
        let env = c.postgres_env(&pw, "archbench");
        assert!(env.contains(&("POSTGRES_PASSWORD".into(), "pw123".into())));
        assert!(env.contains(&("POSTGRES_DB".into(), "archbench".into())));
        let menv = c.minio_env("AK", &Secret::new("SK"));
        assert!(menv.contains(&("MINIO_ROOT_USER".into(), "AK".into())));
        assert!(menv.contains(&("MINIO_ROOT_PASSWORD".into(), "SK".into())));
        assert_eq!(c.minio_cmd(), vec!["server", "/data"]);
    }

    #[tokio::test]
    async fn no_engine_is_detected_quickly_and_named_in_the_error() {
        // SAFETY: set_var in a test that reads only its own variable; other tests do not read DOCKER_HOST.
        unsafe { std::env::set_var("DOCKER_HOST", "unix:///nonexistent/docker.sock") };
        let started = Instant::now();
        assert!(!docker_engine_answers().await);
        assert!(started.elapsed() < Duration::from_secs(3));
        let err = DockerProvisioner::default()
            .provision(&ProvisionOptions::default())
            .await
            .err()
            .unwrap();
        assert!(
            err.to_string().contains("no Docker engine answers"),
            "{err}"
        );
        assert!(err.to_string().contains("--stores local"), "{err}");
        assert_eq!(err.exit_code(), 3);
    }
}
