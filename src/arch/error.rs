use super::{EntityId, OpKind};

/// Why an operation on a system under test failed. Counted per op by the load
/// generator, never a panic.
#[derive(Debug, thiserror::Error)]
pub enum ArchError {
    /// A PostgreSQL statement failed.
    #[error("{op:?}: PostgreSQL: {source}")]
    Postgres {
        /// The op.
        op: OpKind,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// An object-store request failed.
    #[error("{op:?}: S3 {request}: {detail}")]
    S3 {
        /// The op.
        op: OpKind,
        /// PUT, GET, LIST, DELETE.
        request: &'static str,
        /// The SDK's error with context.
        detail: String,
    },
    /// The Inngest emulator did not accept an event.
    #[error("{op:?}: event ingest: {detail}")]
    Ingest {
        /// The op.
        op: OpKind,
        /// What went wrong.
        detail: String,
    },
    /// No such entity.
    #[error("{op:?}: entity {id} not found")]
    NotFound {
        /// The op.
        op: OpKind,
        /// The id.
        id: EntityId,
    },
    /// Stored data is inconsistent (e.g. a body whose hash does not match its reference).
    #[error("{op:?}: inconsistent data: {detail}")]
    Inconsistent {
        /// The op.
        op: OpKind,
        /// What.
        detail: String,
    },
    /// Projections did not settle in time.
    #[error("projections did not settle within {0:?}")]
    SettleTimeout(std::time::Duration),
    /// Setting up the system failed.
    #[error("setup: {0}")]
    Setup(String),
    /// An external target cannot be used: unreachable, or its client not buildable.
    #[error("{0}")]
    Target(super::http::client::TargetError),
    /// A deployment reached over HTTP answered with another status than expected, or
    /// not at all.
    #[error("{op:?}: HTTP: {detail}")]
    Http {
        /// The op.
        op: OpKind,
        /// `http_503`, `http_timeout`, `http_connect`, ...: errors count by it.
        kind: &'static str,
        /// What happened (status and the answer's first bytes).
        detail: String,
    },
}

impl ArchError {
    /// A short kind for error counts in results (`postgres`, `s3`, ...).
    pub fn kind(&self) -> &'static str {
        match self {
            ArchError::Postgres { .. } => "postgres",
            ArchError::S3 { .. } => "s3",
            ArchError::Ingest { .. } => "ingest",
            ArchError::NotFound { .. } => "not_found",
            ArchError::Inconsistent { .. } => "inconsistent",
            ArchError::SettleTimeout(_) => "settle_timeout",
            ArchError::Setup(_) => "setup",
            ArchError::Http { kind, .. } => kind,
            ArchError::Target(_) => "setup",
        }
    }

    pub(crate) fn pg(op: OpKind) -> impl FnOnce(sqlx::Error) -> ArchError {
        move |source| ArchError::Postgres { op, source }
    }
}
