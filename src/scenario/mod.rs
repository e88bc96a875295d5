//! Scenario files: what to seed, which phases to run with which workload model, the
//! op mix, key popularity, the RNG seed and the systems. TOML with unknown keys
//! rejected; every error names the file, line, column and field, and what is allowed.

mod faults;
pub mod http;
mod model;
mod probes;
mod raw;
mod validate;

use std::path::Path;

pub use model::*;
pub use probes::{EventLogConfig, EventLogSizeConfig, SearchQualityProbe};

/// A scenario file that could not be used.
pub type ScenarioError = crate::input::InputError;

/// A validation failure at a span of the source.
#[derive(Debug)]
pub(crate) struct Problem {
    pub span: std::ops::Range<usize>,
    pub field: String,
    pub message: String,
}

/// Reads and validates a scenario file.
pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
    let src = ScenarioError::read(path)?;
    parse(&src, path)
}

/// Parses and validates scenario text; `path` is only used in messages.
pub fn parse(src: &str, path: &Path) -> Result<Scenario, ScenarioError> {
    let raw: raw::RawScenario =
        toml::from_str(src).map_err(|e| ScenarioError::toml(src, path, &e, "scenario"))?;
    let hash = {
        use sha2::{Digest, Sha256};
        hex::encode(Sha256::digest(src.as_bytes()))
    };
    raw.validate(hash)
        .map_err(|p| ScenarioError::at(src, path, p.span.start, p.field, p.message))
}

#[cfg(test)]
mod tests;
