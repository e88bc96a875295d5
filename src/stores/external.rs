//! External mode: stores someone else runs (the compose stack, Neon, Tiger Cloud, R2),
//! reached through the variables the README lists.

use super::{
    Endpoints, PostgresEndpoint, ProvisionOptions, S3Endpoint, Secret, StoreError, StoreGuard,
    StoreMode, StoreProvisioner, Stores, health, s3,
};

/// Connects to stores named by the environment.
#[derive(Debug, Clone)]
pub struct ExternalProvisioner {
    endpoints: Endpoints,
}

impl ExternalProvisioner {
    /// Whether the environment names an external database (what `auto` checks first).
    pub fn configured() -> bool {
        std::env::var_os("DATABASE_URL").is_some_and(|v| !v.is_empty())
    }

    /// Reads `DATABASE_URL`, `S3_ENDPOINT`, `S3_BUCKET`, `AWS_ACCESS_KEY_ID`,
    /// `AWS_SECRET_ACCESS_KEY` and `S3_REGION` (default `us-east-1`; R2 wants `auto`).
    pub fn from_env() -> Result<Self, StoreError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// As [`ExternalProvisioner::from_env`], from any lookup (tests).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, StoreError> {
        let need = |k: &str| -> Result<String, StoreError> {
            match get(k) {
                Some(v) if !v.trim().is_empty() => Ok(v.trim().to_string()),
                _ => Err(StoreError::ExternalConfig {
                    variable: k.into(),
                    problem: "is not set".into(),
                }),
            }
        };
        let url = need("DATABASE_URL")?;
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(StoreError::ExternalConfig {
                variable: "DATABASE_URL".into(),
                problem: "must start with postgres:// or postgresql://".into(),
            });
        }
        let endpoint = need("S3_ENDPOINT")?;
        if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
            return Err(StoreError::ExternalConfig {
                variable: "S3_ENDPOINT".into(),
                problem: format!("must be an http:// or https:// URL, not `{endpoint}`"),
            });
        }
        Ok(Self {
            endpoints: Endpoints {
                mode: StoreMode::External,
                postgres: PostgresEndpoint::from_url(url),
                s3: S3Endpoint {
                    endpoint,
                    bucket: need("S3_BUCKET")?,
                    region: get("S3_REGION")
                        .filter(|r| !r.is_empty())
                        .unwrap_or_else(|| "us-east-1".into()),
                    access_key_id: need("AWS_ACCESS_KEY_ID")?,
                    secret_access_key: Secret::new(need("AWS_SECRET_ACCESS_KEY")?),
                },
            },
        })
    }
}

impl StoreProvisioner for ExternalProvisioner {
    async fn provision(&self, _opts: &ProvisionOptions) -> Result<Stores, StoreError> {
        let pg = &self.endpoints.postgres;
        let pool = health::connect(pg, 2).await?;
        let ext = health::ensure_extensions(&pool, &pg.display_url).await;
        pool.close().await;
        ext?;
        let client = s3::client_with_retries(&self.endpoints.s3, 2);
        s3::ensure_bucket(&client, &self.endpoints.s3).await?;
        s3::probe(&client, &self.endpoints.s3).await?;
        Ok(Stores {
            endpoints: self.endpoints.clone(),
            guard: StoreGuard::External,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| m.get(k).cloned()
    }

    const FULL: [(&str, &str); 5] = [
        ("DATABASE_URL", "postgres://u:pw@db.example:5432/app"),
        ("S3_ENDPOINT", "https://acct.r2.example"),
        ("S3_BUCKET", "bench"),
        ("AWS_ACCESS_KEY_ID", "AK"),
        ("AWS_SECRET_ACCESS_KEY", "SK"),
    ];

    #[test]
    fn reads_all_variables_with_region_default() {
        let p = ExternalProvisioner::from_lookup(env(&FULL)).unwrap();
        assert_eq!(p.endpoints.s3.region, "us-east-1");
        assert_eq!(p.endpoints.s3.bucket, "bench");
        assert_eq!(
            p.endpoints.postgres.display_url,
            "postgres://u:***@db.example:5432/app"
        );
        let mut with_region = FULL.to_vec();
        with_region.push(("S3_REGION", "auto"));
        assert_eq!(
            ExternalProvisioner::from_lookup(env(&with_region))
                .unwrap()
                .endpoints
                .s3
                .region,
            "auto"
        );
    }

    #[test]
    fn each_missing_variable_is_named_and_is_a_usage_error() {
        for (skip, (name, _)) in FULL.iter().enumerate() {
            let partial: Vec<_> = FULL
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != skip)
                .map(|(_, p)| *p)
                .collect();
            let err = ExternalProvisioner::from_lookup(env(&partial)).unwrap_err();
            assert!(err.to_string().contains(name), "{err}");
            assert_eq!(err.exit_code(), 2);
        }
    }

    #[test]
    fn malformed_urls_are_refused() {
        let mut bad = FULL.to_vec();
        bad[0] = ("DATABASE_URL", "mysql://x");
        assert!(
            ExternalProvisioner::from_lookup(env(&bad))
                .unwrap_err()
                .to_string()
                .contains("DATABASE_URL")
        );
        let mut bad = FULL.to_vec();
        bad[1] = ("S3_ENDPOINT", "r2.example");
        assert!(
            ExternalProvisioner::from_lookup(env(&bad))
                .unwrap_err()
                .to_string()
                .contains("S3_ENDPOINT")
        );
    }
}
