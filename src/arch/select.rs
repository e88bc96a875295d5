//! Which systems a run drives, from their names on the command line or in a scenario:
//! `v02`, `v03`, or `synthetic[:key=value,...]`, and whether each needs the stores.

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

/// A system a run can drive.
#[derive(Debug, Clone)]
pub enum SystemKind {
    /// The current architecture.
    V02,
    /// The proposed architecture.
    V03,
    /// A target with a known service time that stores nothing.
    Synthetic(SyntheticSpec),
}

const SYNTHETIC: &str = "synthetic";

impl SystemKind {
    /// Parses one system name.
    pub fn parse(name: &str) -> Result<SystemKind, SystemChoiceError> {
        match name {
            V02_NAME => Ok(SystemKind::V02),
            V03_NAME => Ok(SystemKind::V03),
            s if s.starts_with(SYNTHETIC) => SyntheticSpec::parse(s)
                .map(SystemKind::Synthetic)
                .map_err(SystemChoiceError),
            other => Err(SystemChoiceError(format!(
                "unknown system `{other}`; allowed: {V02_NAME}, {V03_NAME}, {SYNTHETIC}[:key=value,...]"
            ))),
        }
    }

    /// Whether the system keeps data in the stores (and so needs them, and has
    /// footprint, copies and lag to measure).
    pub fn uses_stores(&self) -> bool {
        !matches!(self, SystemKind::Synthetic(_))
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
        })
    }
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
}
