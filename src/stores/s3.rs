//! The S3 client every part of archbench uses, configured for S3-compatible servers.

use std::time::{Duration, Instant};

use aws_sdk_s3::config::{
    BehaviorVersion, Credentials, Region, RequestChecksumCalculation, ResponseChecksumValidation,
    retry::RetryConfig, timeout::TimeoutConfig,
};
use aws_sdk_s3::error::DisplayErrorContext;
use aws_sdk_s3::primitives::ByteStream;

use super::{S3Endpoint, StoreError};

/// A client for `ep`: path-style addressing (SeaweedFS, MinIO, R2 all accept it), and
/// checksums only when an operation requires them, since S3-compatible servers may
/// reject the CRC headers recent SDKs send by default.
pub fn client(ep: &S3Endpoint) -> aws_sdk_s3::Client {
    client_with_retries(ep, 3)
}

/// As [`client`], with a chosen number of attempts (1 = no retry, for probes).
pub fn client_with_retries(ep: &S3Endpoint, attempts: u32) -> aws_sdk_s3::Client {
    let creds = Credentials::new(
        ep.access_key_id.clone(),
        ep.secret_access_key.expose().to_string(),
        None,
        None,
        "archbench",
    );
    let conf = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(ep.region.clone()))
        .endpoint_url(ep.endpoint.clone())
        .credentials_provider(creds)
        .force_path_style(true)
        .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
        .response_checksum_validation(ResponseChecksumValidation::WhenRequired)
        .retry_config(RetryConfig::standard().with_max_attempts(attempts.max(1)))
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(3))
                .operation_timeout(Duration::from_secs(60))
                .build(),
        )
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}

fn not_answering(ep: &S3Endpoint, detail: String) -> StoreError {
    StoreError::S3NotAnswering {
        endpoint: ep.endpoint.clone(),
        bucket: ep.bucket.clone(),
        detail,
    }
}

/// Creates the bucket unless it exists already.
pub async fn ensure_bucket(client: &aws_sdk_s3::Client, ep: &S3Endpoint) -> Result<(), StoreError> {
    if client.head_bucket().bucket(&ep.bucket).send().await.is_ok() {
        return Ok(());
    }
    match client.create_bucket().bucket(&ep.bucket).send().await {
        Ok(_) => Ok(()),
        Err(e) => {
            let already = e
                .as_service_error()
                .map(|s| s.is_bucket_already_owned_by_you() || s.is_bucket_already_exists())
                .unwrap_or(false);
            if already {
                Ok(())
            } else {
                Err(not_answering(
                    ep,
                    format!("creating the bucket: {}", DisplayErrorContext(&e)),
                ))
            }
        }
    }
}

/// What a signed round trip to the bucket showed.
#[derive(Debug, Clone, serde::Serialize)]
pub struct S3Probe {
    /// PUT, GET and DELETE of a small object all succeeded and GET returned the bytes.
    pub signed_put_get_delete: bool,
    /// Time for the three requests.
    pub round_trip_ms: f64,
}

/// Writes, reads back and deletes a small object with signed requests: the only proof
/// that the endpoint, the bucket and the credentials all work.
pub async fn probe(client: &aws_sdk_s3::Client, ep: &S3Endpoint) -> Result<S3Probe, StoreError> {
    let key = format!(".archbench/probe-{}", uuid::Uuid::new_v4());
    let body = key.as_bytes().to_vec();
    let start = Instant::now();
    client
        .put_object()
        .bucket(&ep.bucket)
        .key(&key)
        .body(ByteStream::from(body.clone()))
        .send()
        .await
        .map_err(|e| not_answering(ep, format!("signed PUT: {}", DisplayErrorContext(&e))))?;
    let got = client
        .get_object()
        .bucket(&ep.bucket)
        .key(&key)
        .send()
        .await
        .map_err(|e| not_answering(ep, format!("signed GET: {}", DisplayErrorContext(&e))))?;
    let bytes = got
        .body
        .collect()
        .await
        .map_err(|e| not_answering(ep, format!("reading GET body: {e}")))?
        .into_bytes();
    client
        .delete_object()
        .bucket(&ep.bucket)
        .key(&key)
        .send()
        .await
        .map_err(|e| not_answering(ep, format!("signed DELETE: {}", DisplayErrorContext(&e))))?;
    if bytes.as_ref() != body.as_slice() {
        return Err(not_answering(
            ep,
            "GET returned other bytes than were PUT".into(),
        ));
    }
    Ok(S3Probe {
        signed_put_get_delete: true,
        round_trip_ms: start.elapsed().as_secs_f64() * 1e3,
    })
}
