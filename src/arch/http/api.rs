//! The wire form of the seven ops, as `archbench serve` speaks it and
//! `schema/openapi.yaml` documents it: the paths, the JSON bodies, and the status an
//! op's failure maps to. One home, so that the server and the document cannot drift.

use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::arch::{
    ActivityBucket, ArchError, Entity, EntityId, EntitySummary, HistoryEvent, SearchHit, UserId,
};

/// `POST`: a new entity of the user.
pub const CREATE: &str = "/v1/users/{user}/entities";
/// `PUT`: a new version of the entity's body.
pub const UPDATE: &str = "/v1/entities/{id}/body";
/// `GET`: the entity with its body.
pub const GET: &str = "/v1/entities/{id}";
/// `GET ?limit=`: the user's entities, most recently updated first.
pub const LIST: &str = "/v1/users/{user}/entities";
/// `GET ?q=&k=`: the user's top-k entities by similarity.
pub const SEARCH: &str = "/v1/users/{user}/search";
/// `GET`: the entity's events, oldest first.
pub const HISTORY: &str = "/v1/entities/{id}/history";
/// `GET ?from=&to=`: the user's events per hour.
pub const ACTIVITY: &str = "/v1/users/{user}/activity";
/// `GET`: which system answers, and that it does.
pub const HEALTH: &str = "/v1/health";

/// Body of a create. Without `id` the server picks one; with it, both systems of a
/// comparison can hold the same ids.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateRequest {
    /// Id chosen by the caller.
    #[serde(default)]
    pub id: Option<Uuid>,
    /// Title.
    pub title: String,
    /// Markdown body.
    pub body: String,
}

/// Answer to a create (status 201).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Created {
    /// The entity's id.
    pub id: Uuid,
    /// Always 1.
    pub version: i32,
}

/// Body of an update.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateRequest {
    /// The new body.
    pub body: String,
}

/// Answer to an update.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Updated {
    /// The version the update made.
    pub version: i32,
}

/// An entity with its body.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EntityBody {
    /// Id.
    pub id: Uuid,
    /// Owner.
    pub user: i64,
    /// Title.
    pub title: String,
    /// Body.
    pub body: String,
    /// Version.
    pub version: i32,
}

impl From<Entity> for EntityBody {
    fn from(e: Entity) -> Self {
        Self {
            id: e.id.0,
            user: e.user.0,
            title: e.title,
            body: e.body,
            version: e.version,
        }
    }
}

impl From<EntityBody> for Entity {
    fn from(e: EntityBody) -> Self {
        Self {
            id: EntityId(e.id),
            user: UserId(e.user),
            title: e.title,
            body: e.body,
            version: e.version,
        }
    }
}

/// Query of a list.
#[derive(Debug, Clone, Deserialize)]
pub struct ListQuery {
    /// Most rows returned (default 50).
    #[serde(default = "default_limit")]
    pub limit: i64,
}

fn default_limit() -> i64 {
    50
}

/// Query of a search.
#[derive(Debug, Clone, Deserialize)]
pub struct SearchQuery {
    /// The query text.
    pub q: String,
    /// Hits returned (default 10).
    #[serde(default = "default_k")]
    pub k: i64,
}

fn default_k() -> i64 {
    10
}

/// Query of an activity request: the window `[from, to)`.
#[derive(Debug, Clone, Deserialize)]
pub struct ActivityQuery {
    /// Start, RFC 3339.
    pub from: DateTime<Utc>,
    /// End (exclusive), RFC 3339.
    pub to: DateTime<Utc>,
}

/// Answer to a list.
#[derive(Debug, Clone, Serialize)]
pub struct Listed {
    /// Metadata rows.
    pub entities: Vec<EntitySummary>,
}

/// Answer to a search.
#[derive(Debug, Clone, Serialize)]
pub struct Found {
    /// Hits, best first.
    pub hits: Vec<SearchHit>,
}

/// Answer to a history request.
#[derive(Debug, Clone, Serialize)]
pub struct History {
    /// Events, oldest first.
    pub events: Vec<HistoryEvent>,
}

/// Answer to an activity request.
#[derive(Debug, Clone, Serialize)]
pub struct Activity {
    /// One row per hour with events.
    pub buckets: Vec<ActivityBucket>,
}

/// Answer to a health request.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Health {
    /// `v02` or `v03`.
    pub system: String,
}

/// The body of every error answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Problem {
    /// What failed, in words.
    pub error: String,
    /// The failure's kind as results count it (`not_found`, `postgres`, `s3`, ...), or
    /// `bad_request` for a request the server could not read.
    pub kind: String,
}

/// The status an op's failure is answered with: 404 for a missing entity, 503 when a
/// store failed (the caller may retry), 502 when an upstream HTTP call did, 500 for
/// anything else.
pub fn status_of(error: &ArchError) -> StatusCode {
    match error {
        ArchError::NotFound { .. } => StatusCode::NOT_FOUND,
        ArchError::Postgres { .. } | ArchError::S3 { .. } | ArchError::Ingest { .. } => {
            StatusCode::SERVICE_UNAVAILABLE
        }
        ArchError::Inconsistent { .. }
        | ArchError::SettleTimeout(_)
        | ArchError::Setup(_)
        | ArchError::Target(_) => StatusCode::INTERNAL_SERVER_ERROR,
        // A system behind this one failed over HTTP.
        ArchError::Http { .. } => StatusCode::BAD_GATEWAY,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arch::OpKind;

    #[test]
    fn a_missing_entity_is_404_and_a_store_failure_503() {
        let id = EntityId(Uuid::nil());
        let missing = ArchError::NotFound {
            op: OpKind::Get,
            id,
        };
        assert_eq!(status_of(&missing), StatusCode::NOT_FOUND);
        let s3 = ArchError::S3 {
            op: OpKind::Get,
            request: "GET",
            detail: "connection refused".into(),
        };
        assert_eq!(status_of(&s3), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            status_of(&ArchError::Setup("x".into())),
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }

    #[test]
    fn a_create_with_an_unknown_field_is_refused() {
        let e = serde_json::from_str::<CreateRequest>(r#"{"title":"t","body":"b","tags":[]}"#)
            .unwrap_err();
        assert!(e.to_string().contains("unknown field `tags`"), "{e}");
    }
}
