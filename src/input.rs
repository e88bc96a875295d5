//! Errors of the files a person writes — scenarios, price catalogues, cost models,
//! targets: each names the file, the line and column, and the field, and says what is
//! allowed. All of them are usage errors (exit code 2).

use std::path::{Path, PathBuf};

/// An input file that could not be used.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// The file could not be read.
    #[error("{}: {source}", .path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML for its kind, or a value is out of range.
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

impl InputError {
    /// Exit code: a bad input file is a usage error.
    pub fn exit_code(&self) -> u8 {
        2
    }

    /// Reads `path` to a string.
    pub fn read(path: &Path) -> Result<String, InputError> {
        std::fs::read_to_string(path).map_err(|source| InputError::Read {
            path: path.into(),
            source,
        })
    }

    /// A problem at byte `offset` of `src`.
    pub fn at(
        src: &str,
        path: &Path,
        offset: usize,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> InputError {
        let (line, column) = line_col(src, offset);
        InputError::Invalid {
            path: path.into(),
            line,
            column,
            field: field.into(),
            message: message.into(),
        }
    }

    /// A TOML or serde error; the field is the key written where it points, else `whole`.
    pub fn toml(src: &str, path: &Path, e: &toml::de::Error, whole: &str) -> InputError {
        let offset = e.span().map_or(0, |s| s.start);
        let field = e
            .span()
            .map(|s| key_at(src, s.start))
            .filter(|k| !k.is_empty())
            .unwrap_or_else(|| whole.into());
        InputError::at(src, path, offset, field, e.message())
    }
}

/// 1-based line and column of a byte offset.
pub fn line_col(src: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(src.len());
    let before = &src[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rfind('\n').map_or(offset, |nl| offset - nl - 1) + 1;
    (line, column)
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
