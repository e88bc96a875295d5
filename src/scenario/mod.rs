//! Scenario files: what to seed, which phases to run with which workload model, the
//! op mix, key popularity, the RNG seed and the systems. TOML with unknown keys
//! rejected; every error names the file, line, column and field, and what is allowed.

mod model;

use std::path::{Path, PathBuf};

pub use model::*;

/// A scenario file that could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file could not be read.
    #[error("{}: {source}", .path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML for a scenario, or a value is out of range.
    #[error("{}:{line}:{column}: {field}: {message}", .path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// Dotted path of the field, e.g. `phase[1].rate`.
        field: String,
        /// What is wrong and what is allowed.
        message: String,
    },
}

impl ScenarioError {
    /// Exit code: a bad scenario is a usage error.
    pub fn exit_code(&self) -> u8 {
        2
    }
}

/// 1-based line and column of a byte offset.
pub(crate) fn line_col(src: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(src.len());
    let before = &src[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rfind('\n').map_or(offset, |nl| offset - nl - 1) + 1;
    (line, column)
}

/// A validation failure at a span of the source.
#[derive(Debug)]
pub(crate) struct Problem {
    pub span: std::ops::Range<usize>,
    pub field: String,
    pub message: String,
}

/// Reads and validates a scenario file.
pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
    let src = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
        path: path.into(),
        source,
    })?;
    parse(&src, path)
}

/// Parses and validates scenario text; `path` is only used in messages.
pub fn parse(src: &str, path: &Path) -> Result<Scenario, ScenarioError> {
    let raw: model::RawScenario = toml::from_str(src).map_err(|e| {
        let (line, column) = e.span().map_or((1, 1), |s| line_col(src, s.start));
        let message = e.message().to_string();
        // serde names the field in "unknown field `x`" / "missing field `x`"; keep the
        // key path toml reports where it has one.
        let field = e
            .span()
            .map(|s| key_at(src, s.start))
            .filter(|k| !k.is_empty())
            .unwrap_or_else(|| "scenario".into());
        ScenarioError::Invalid {
            path: path.into(),
            line,
            column,
            field,
            message,
        }
    })?;
    let hash = {
        use sha2::{Digest, Sha256};
        hex::encode(Sha256::digest(src.as_bytes()))
    };
    raw.validate(hash).map_err(|p| {
        let (line, column) = line_col(src, p.span.start);
        ScenarioError::Invalid {
            path: path.into(),
            line,
            column,
            field: p.field,
            message: p.message,
        }
    })
}

/// The key written on the line of `offset` (`rate = -5` -> `rate`), for messages.
fn key_at(src: &str, offset: usize) -> String {
    let start = src[..offset.min(src.len())]
        .rfind('\n')
        .map_or(0, |i| i + 1);
    let line = src[start..].lines().next().unwrap_or("");
    match line.split_once('=') {
        Some((k, _)) => k.trim().trim_matches('"').to_string(),
        None => line
            .trim()
            .trim_matches(|c| c == '[' || c == ']')
            .to_string(),
    }
}

#[cfg(test)]
mod tests;
