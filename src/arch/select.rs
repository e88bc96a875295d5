//! Which systems a run drives, from their names on the command line or in a scenario:
//! `v02`, `v03`, `synthetic[:key=value,...]` or `http:NAME=BASE_URL`, and whether each
//! needs the stores.

use std::sync::Arc;

use super::synthetic::{Synthetic, SyntheticSpec};
use super::v02::V02;
use super::v03::V03;
use super::{OpResult, SystemConfig, SystemUnderTest, V02_NAME, V03_NAME};
use crate::stores::Endpoints;

/// A system name that names no system (exit code 2).
#[derive(Debug, thiserror::Error)]
#[error("--systems: {0}")]
pub struct SystemChoiceError(String);

impl SystemChoiceError {
    /// What is wrong, without the `--systems` the message starts with.
    pub fn reason(&self) -> &str {
        &self.0
    }
}

/// A system a run can drive.
#[derive(Debug, Clone)]
pub enum SystemKind {
    /// The current architecture.
    V02,
    /// The proposed architecture.
    V03,
    /// A target with a known service time that stores nothing.
    Synthetic(SyntheticSpec),
    /// A deployment reached over HTTP, as the scenario's `[http]` maps the ops.
    Http {
        /// Its name in results: `http:NAME`.
        name: String,
        /// Base URL the request paths follow (never written to results: it may hold
        /// credentials).
        base: String,
    },
}

const SYNTHETIC: &str = "synthetic";
const HTTP: &str = "http:";

impl SystemKind {
    /// Parses one system name.
    pub fn parse(name: &str) -> Result<SystemKind, SystemChoiceError> {
        match name {
            V02_NAME => Ok(SystemKind::V02),
            V03_NAME => Ok(SystemKind::V03),
            s if s.starts_with(SYNTHETIC) => SyntheticSpec::parse(s)
                .map(SystemKind::Synthetic)
                .map_err(SystemChoiceError),
            s if s.starts_with(HTTP) => parse_http(&s[HTTP.len()..]),
            other => Err(SystemChoiceError(format!(
                "unknown system `{other}`; allowed: {V02_NAME}, {V03_NAME}, {SYNTHETIC}[:key=value,...], {HTTP}NAME=BASE_URL"
            ))),
        }
    }

    /// The system's name in results: as written, except an HTTP target's, which
    /// drops the URL.
    pub fn result_name(&self, written: &str) -> String {
        match self {
            SystemKind::Http { name, .. } => format!("{HTTP}{name}"),
            _ => written.to_string(),
        }
    }

    /// Whether the system runs elsewhere: nothing inside it (round trips, storage,
    /// executions) can be measured from here.
    pub fn external(&self) -> bool {
        matches!(self, SystemKind::Http { .. })
    }

    /// Whether the system keeps data in the stores (and so needs them, and has
    /// footprint, copies and lag to measure).
    pub fn uses_stores(&self) -> bool {
        matches!(self, SystemKind::V02 | SystemKind::V03)
    }

    /// Connects the system to `endpoints` (ignored by systems that use no stores).
    pub async fn connect(
        &self,
        endpoints: Option<&Endpoints>,
        config: &SystemConfig,
    ) -> OpResult<Arc<dyn SystemUnderTest>> {
        let endpoints = || {
            endpoints.ok_or_else(|| {
                super::ArchError::Setup("this system needs stores and none were started".into())
            })
        };
        Ok(match self {
            SystemKind::V02 => Arc::new(V02::connect(endpoints()?, config).await?),
            SystemKind::V03 => Arc::new(V03::connect(endpoints()?, config).await?),
            SystemKind::Synthetic(spec) => Arc::new(Synthetic::new(spec.clone())),
            SystemKind::Http { name, base } => {
                let settings = config.http.clone().unwrap_or_default();
                super::http::client::connect(name, base, settings)
                    .await
                    .map_err(super::ArchError::Target)?
            }
        })
    }
}

/// `NAME=BASE_URL` of `http:NAME=BASE_URL`.
fn parse_http(spec: &str) -> Result<SystemKind, SystemChoiceError> {
    let usage = "write http:NAME=BASE_URL, e.g. http:staging=http://127.0.0.1:8080";
    let Some((name, base)) = spec.split_once('=') else {
        return Err(SystemChoiceError(format!(
            "`{HTTP}{spec}`: no `=`; {usage}"
        )));
    };
    let name_ok = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !name_ok {
        return Err(SystemChoiceError(format!(
            "`{HTTP}{name}`: a name is letters, digits, `-`, `_` and `.`; {usage}"
        )));
    }
    if !(base.starts_with("http://") || base.starts_with("https://")) || base.len() < 10 {
        return Err(SystemChoiceError(format!(
            "`{HTTP}{name}`: the base URL must start with http:// or https://; {usage}"
        )));
    }
    Ok(SystemKind::Http {
        name: name.to_string(),
        base: base.to_string(),
    })
}

/// Splits `--systems v02,v03,synthetic:service=1ms,servers=4` into systems: a token
/// with `=` that names no system continues the synthetic spec before it.
pub fn split_systems(arg: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for token in arg.split(',').map(str::trim).filter(|t| !t.is_empty()) {
        match out.last_mut() {
            Some(previous)
                if token.contains('=')
                    && !token.contains(':')
                    && previous.starts_with(SYNTHETIC) =>
            {
                previous.push(',');
                previous.push_str(token);
            }
            _ => out.push(token.to_string()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn systems_split_on_commas_but_keep_synthetic_specs_whole() {
        assert_eq!(split_systems("v02,v03"), ["v02", "v03"]);
        assert_eq!(
            split_systems("v02, synthetic:service=1ms,servers=4,delay.get=2ms ,v03"),
            [
                "v02",
                "synthetic:service=1ms,servers=4,delay.get=2ms",
                "v03"
            ]
        );
        assert_eq!(split_systems("synthetic"), ["synthetic"]);
    }

    #[test]
    fn names_parse_and_say_whether_they_need_stores() {
        assert!(SystemKind::parse("v02").unwrap().uses_stores());
        assert!(SystemKind::parse("v03").unwrap().uses_stores());
        assert!(
            !SystemKind::parse("synthetic:service=1ms")
                .unwrap()
                .uses_stores()
        );
        let e = SystemKind::parse("v04").unwrap_err().to_string();
        assert!(e.starts_with("--systems: unknown system `v04`"), "{e}");
    }

    #[test]
    fn an_http_target_has_a_name_and_a_url_and_no_stores() {
        let written = "http:staging=http://user:secret@10.0.0.1:8080";
        let kind = SystemKind::parse(written).unwrap();
        assert!(!kind.uses_stores() && kind.external());
        assert_eq!(kind.result_name(written), "http:staging");
        for bad in [
            "http:staging",
            "http:=http://x:1",
            "http:a b=http://x:1",
            "http:a=ftp://x",
        ] {
            let e = SystemKind::parse(bad).unwrap_err().to_string();
            assert!(e.contains("http:NAME=BASE_URL"), "{bad}: {e}");
        }
        assert_eq!(
            split_systems("v02,http:s=http://127.0.0.1:1"),
            ["v02", "http:s=http://127.0.0.1:1"]
        );
    }
}
