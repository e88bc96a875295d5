//! An agent's interval logs put into an S3 bucket (`--logs-to s3://BUCKET/PREFIX`),
//! where every agent's land under names that say whose they are, for `archbench
//! merge`. The bucket is reached with the environment's S3_ENDPOINT and AWS_* keys.

use std::path::Path;

use anyhow::Context;
use aws_sdk_s3::error::DisplayErrorContext;

use crate::loadgen::agent::LogBucket;
use crate::stores::{S3Endpoint, Secret, StoreError, s3};

/// The endpoint of `bucket` from the environment; a variable not set is named.
fn endpoint(bucket: &LogBucket) -> Result<S3Endpoint, StoreError> {
    let need = |k: &str| {
        std::env::var(k)
            .ok()
            .filter(|v| !v.trim().is_empty())
            .ok_or_else(|| StoreError::ExternalConfig {
                variable: k.into(),
                problem: "is not set (--logs-to needs the bucket's endpoint and keys)".into(),
            })
    };
    Ok(S3Endpoint {
        endpoint: need("S3_ENDPOINT")?,
        bucket: bucket.bucket.clone(),
        region: std::env::var("S3_REGION")
            .ok()
            .filter(|r| !r.is_empty())
            .unwrap_or_else(|| "us-east-1".into()),
        access_key_id: need("AWS_ACCESS_KEY_ID")?,
        secret_access_key: Secret::new(need("AWS_SECRET_ACCESS_KEY")?),
    })
}

/// Puts the logs `names` of `folder` into `bucket`; returns their keys.
pub(super) async fn upload_logs(
    bucket: &LogBucket,
    folder: &Path,
    names: &[String],
) -> anyhow::Result<Vec<String>> {
    let ep = endpoint(bucket)?;
    let client = s3::client(&ep);
    let mut keys = Vec::new();
    for name in names {
        let path = folder.join(name);
        let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        let key = bucket.key(name);
        client
            .put_object()
            .bucket(&bucket.bucket)
            .key(&key)
            .body(bytes.into())
            .send()
            .await
            .map_err(|e| {
                anyhow::anyhow!(
                    "putting s3://{}/{key} at {}: {}",
                    bucket.bucket,
                    ep.endpoint,
                    DisplayErrorContext(e)
                )
            })?;
        keys.push(key);
    }
    Ok(keys)
}
