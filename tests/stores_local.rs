//! Local store mode against the real PostgreSQL and SeaweedFS binaries that
//! `scripts/setup` installs.

mod common;

use std::net::{Ipv4Addr, TcpListener};

use archbench::stores::registry;
use archbench::stores::{
    ExternalProvisioner, LocalProvisioner, StoreError, StoreProvisioner, health, local_alive, s3,
};
use common::{leftovers, local_opts, run_root};

#[tokio::test]
async fn local_stores_report_versions_and_stop_without_leftovers() {
    let root = run_root();
    let stores = LocalProvisioner
        .provision(&local_opts(root.path()))
        .await
        .unwrap();
    let report = health::check(&stores.endpoints).await;
    let pg = &report.postgres;
    assert!(report.healthy(), "{report:#?}");
    assert!(
        pg.server_version.as_deref().unwrap().starts_with("15."),
        "{pg:?}"
    );
    assert!(
        pg.timescaledb.as_deref().unwrap().starts_with("2."),
        "{pg:?}"
    );
    assert!(pg.vector.as_deref().unwrap().starts_with("0.8"), "{pg:?}");
    assert_eq!(pg.timescaledb_license.as_deref(), Some("apache"));
    assert!(report.s3.probe.as_ref().unwrap().signed_put_get_delete);

    // `stores down` of another process finds the instance through its state file.
    let listed = registry::list(root.path());
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].pids, stores.child_pids());
    let env = std::fs::read_to_string(&listed[0].env_file).unwrap();
    assert!(env.contains(stores.endpoints.s3.secret_access_key.expose()));
    let state = std::fs::read_to_string(listed[0].dir.join("state.json")).unwrap();
    assert!(
        !state.contains(stores.endpoints.s3.secret_access_key.expose()),
        "secret in state.json"
    );

    let pids = stores.child_pids();
    assert_eq!(pids.len(), 2);
    stores.shutdown().await.unwrap();
    for pid in pids {
        assert!(!local_alive(pid), "pid {pid} survived shutdown");
    }
    assert!(
        leftovers(root.path()).is_empty(),
        "{:?}",
        leftovers(root.path())
    );
}

#[tokio::test]
async fn two_instances_run_side_by_side_with_separate_data() {
    let root = run_root();
    let opts = local_opts(root.path());
    let (a, b) = tokio::join!(
        LocalProvisioner.provision(&opts),
        LocalProvisioner.provision(&opts)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_ne!(
        a.endpoints.postgres.display_url,
        b.endpoints.postgres.display_url
    );
    assert_ne!(a.endpoints.s3.endpoint, b.endpoints.s3.endpoint);

    let ca = s3::client(&a.endpoints.s3);
    ca.put_object()
        .bucket(&a.endpoints.s3.bucket)
        .key("only-in-a")
        .body(b"x".to_vec().into())
        .send()
        .await
        .unwrap();
    let cb = s3::client(&b.endpoints.s3);
    let in_b = cb
        .head_object()
        .bucket(&b.endpoints.s3.bucket)
        .key("only-in-a")
        .send()
        .await;
    assert!(
        in_b.is_err(),
        "object written to instance A is visible in B"
    );

    let pa = health::connect(&a.endpoints.postgres, 1).await.unwrap();
    sqlx::query("CREATE TABLE only_in_a (x int)")
        .execute(&pa)
        .await
        .unwrap();
    let pb = health::connect(&b.endpoints.postgres, 1).await.unwrap();
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_tables WHERE tablename = 'only_in_a'")
        .fetch_one(&pb)
        .await
        .unwrap();
    assert_eq!(n, 0);
    pa.close().await;
    pb.close().await;
    a.shutdown().await.unwrap();
    b.shutdown().await.unwrap();
    assert!(leftovers(root.path()).is_empty());
}

#[tokio::test]
async fn s3_refuses_a_wrong_secret() {
    let root = run_root();
    let stores = LocalProvisioner
        .provision(&local_opts(root.path()))
        .await
        .unwrap();
    let mut wrong = stores.endpoints.s3.clone();
    wrong.secret_access_key = archbench::stores::Secret::new("not-the-secret");
    let err = s3::probe(&s3::client_with_retries(&wrong, 1), &wrong)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::S3NotAnswering { .. }), "{err}");
    stores.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_taken_port_is_named_and_nothing_is_left_running() {
    let root = run_root();
    let held = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let port = held.local_addr().unwrap().port();
    let mut opts = local_opts(root.path());
    opts.local.pg_port = Some(port);
    let err = LocalProvisioner.provision(&opts).await.err().unwrap();
    assert!(
        matches!(err, StoreError::PortTaken { port: p, .. } if p == port),
        "{err}"
    );
    assert_eq!(err.exit_code(), 3);
    assert!(
        leftovers(root.path()).is_empty(),
        "{:?}",
        leftovers(root.path())
    );

    let mut opts = local_opts(root.path());
    opts.local.s3_port = Some(port);
    let err = LocalProvisioner.provision(&opts).await.err().unwrap();
    assert!(err.to_string().contains(&format!("port {port}")), "{err}");
    assert!(
        leftovers(root.path()).is_empty(),
        "PostgreSQL left behind: {:?}",
        leftovers(root.path())
    );
}

#[tokio::test]
async fn a_postgres_that_fails_to_start_shows_its_log() {
    let root = run_root();
    let mut opts = local_opts(root.path());
    opts.local.pg_settings = vec![("shared_buffers".into(), "not-a-size".into())];
    let err = LocalProvisioner.provision(&opts).await.err().unwrap();
    let msg = err.to_string();
    assert!(matches!(err, StoreError::PostgresStart { .. }), "{msg}");
    assert!(
        msg.contains("shared_buffers"),
        "log tail missing from: {msg}"
    );
    assert_eq!(err.exit_code(), 3);
    assert!(leftovers(root.path()).is_empty());
}

#[tokio::test]
async fn missing_binaries_are_named_with_the_install_command() {
    let root = run_root();
    let empty = tempfile::tempdir().unwrap();
    let mut opts = local_opts(root.path());
    opts.local.pg_bindir = Some(empty.path().to_path_buf());
    let err = LocalProvisioner.provision(&opts).await.err().unwrap();
    assert!(matches!(err, StoreError::MissingBinary { .. }), "{err}");
    assert!(err.to_string().contains("scripts/setup"), "{err}");

    let mut opts = local_opts(root.path());
    opts.local.weed = Some(empty.path().join("weed"));
    let err = LocalProvisioner.provision(&opts).await.err().unwrap();
    assert!(err.to_string().contains("SeaweedFS"), "{err}");
    assert_eq!(err.exit_code(), 3);
}

#[tokio::test]
async fn external_mode_names_a_missing_extension_and_a_dead_s3() {
    let root = run_root();
    let stores = LocalProvisioner
        .provision(&local_opts(root.path()))
        .await
        .unwrap();
    let admin = health::connect(&stores.endpoints.postgres, 1)
        .await
        .unwrap();
    sqlx::query("CREATE ROLE plain LOGIN PASSWORD 'plainpw'")
        .execute(&admin)
        .await
        .unwrap();
    sqlx::query("CREATE DATABASE plain OWNER plain")
        .execute(&admin)
        .await
        .unwrap();
    admin.close().await;

    let port = stores
        .endpoints
        .postgres
        .display_url
        .rsplit_once(':')
        .unwrap()
        .1
        .split('/')
        .next()
        .unwrap()
        .to_string();
    let s3 = stores.endpoints.s3.clone();
    let vars = move |db_url: String, s3_endpoint: String| {
        let s3 = s3.clone();
        move |k: &str| -> Option<String> {
            Some(match k {
                "DATABASE_URL" => db_url.clone(),
                "S3_ENDPOINT" => s3_endpoint.clone(),
                "S3_BUCKET" => s3.bucket.clone(),
                "AWS_ACCESS_KEY_ID" => s3.access_key_id.clone(),
                "AWS_SECRET_ACCESS_KEY" => s3.secret_access_key.expose().to_string(),
                _ => return None,
            })
        }
    };
    // A non-superuser database: the extensions are installed on the server but this
    // role may not create them.
    let plain_url = format!("postgres://plain:plainpw@127.0.0.1:{port}/plain?sslmode=disable");
    let ext =
        ExternalProvisioner::from_lookup(vars(plain_url, stores.endpoints.s3.endpoint.clone()))
            .unwrap();
    let err = ext.provision(&local_opts(root.path())).await.err().unwrap();
    // TimescaleDB lets a database owner create it; pgvector needs a superuser.
    match &err {
        StoreError::MissingExtension { extension, .. } => {
            assert!(health::REQUIRED_EXTENSIONS.contains(&extension.as_str()));
            assert!(err.to_string().contains(&format!("`{extension}`")), "{err}");
        }
        other => panic!("expected a missing extension, got {other}"),
    }
    assert!(
        !err.to_string().contains("plainpw"),
        "password leaked: {err}"
    );

    // The benchmark database is fine, but S3 points at a port nobody listens on.
    let closed = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let ext = ExternalProvisioner::from_lookup(vars(
        stores.endpoints.postgres.url.expose().to_string(),
        format!("http://127.0.0.1:{closed}"),
    ))
    .unwrap();
    let err = ext.provision(&local_opts(root.path())).await.err().unwrap();
    assert!(matches!(err, StoreError::S3NotAnswering { .. }), "{err}");
    assert_eq!(err.exit_code(), 3);

    // And with both right, external mode connects.
    let ext = ExternalProvisioner::from_lookup(vars(
        stores.endpoints.postgres.url.expose().to_string(),
        stores.endpoints.s3.endpoint.clone(),
    ))
    .unwrap();
    ext.provision(&local_opts(root.path()))
        .await
        .unwrap()
        .shutdown()
        .await
        .unwrap();
    stores.shutdown().await.unwrap();
}
