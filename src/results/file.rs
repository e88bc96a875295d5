//! Reading and writing the results file: the version check, field-naming errors, and
//! writes through the atomic writer.

use std::path::Path;

use super::Results;

/// Version of the results file's layout.
pub const SCHEMA_VERSION: u32 = 1;

/// A results file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ResultsError {
    /// Unreadable.
    #[error("{path}: {source}")]
    Io {
        /// File.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Not a results file of this version.
    #[error("{path}: {message}")]
    Invalid {
        /// File.
        path: String,
        /// What is wrong, naming the field.
        message: String,
    },
}

impl Results {
    /// Writes `path` through a temporary file and a rename: readers never see half a file.
    pub fn write_atomic(&self, path: &Path) -> Result<(), ResultsError> {
        let json = serde_json::to_vec_pretty(self).expect("results serialise");
        crate::atomic::write_atomic(path, &json, 0o644).map_err(|source| ResultsError::Io {
            path: path.display().to_string(),
            source,
        })
    }

    /// Reads and checks a results file.
    pub fn read(path: &Path) -> Result<Self, ResultsError> {
        let bytes = std::fs::read(path).map_err(|source| ResultsError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&bytes, path)
    }

    /// Checks and reads the bytes of a results file; `path` is used in messages.
    pub fn parse(bytes: &[u8], path: &Path) -> Result<Self, ResultsError> {
        let p = path.display().to_string();
        let v: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| ResultsError::Invalid {
                path: p.clone(),
                message: format!("not JSON: {e}"),
            })?;
        match v.get("schema_version").and_then(|s| s.as_u64()) {
            Some(n) if n == SCHEMA_VERSION as u64 => {}
            Some(n) => {
                return Err(ResultsError::Invalid {
                    path: p,
                    message: format!(
                        "schema_version is {n}; this archbench reads version {SCHEMA_VERSION}"
                    ),
                });
            }
            None => {
                return Err(ResultsError::Invalid {
                    path: p,
                    message: "field `schema_version` is missing".into(),
                });
            }
        }
        serde_path_to_error::deserialize(v).map_err(|e| ResultsError::Invalid {
            path: p,
            message: format!("field `{}`: {}", e.path(), e.inner()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn another_schema_version_or_a_missing_field_is_named() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("r.json");
        std::fs::write(&p, r#"{"schema_version": 2}"#).unwrap();
        let e = Results::read(&p).unwrap_err().to_string();
        assert!(
            e.contains("r.json") && e.contains("schema_version is 2"),
            "{e}"
        );
        std::fs::write(&p, r#"{"complete": true}"#).unwrap();
        assert!(
            Results::read(&p)
                .unwrap_err()
                .to_string()
                .contains("`schema_version` is missing")
        );
        std::fs::write(&p, r#"{"schema_version": 1, "complete": true}"#).unwrap();
        let e = Results::read(&p).unwrap_err().to_string();
        assert!(e.contains("field `") && e.contains("started_at"), "{e}");
        std::fs::write(&p, "not json").unwrap();
        assert!(
            Results::read(&p)
                .unwrap_err()
                .to_string()
                .contains("not JSON")
        );
    }
}
