//! A system served over HTTP: the seven ops of [`Operations`] as the routes of
//! [`super::api`], answering JSON, errors included (a [`Problem`] with the failure's
//! kind), so that a client never has to read a plain-text rejection.

use std::sync::Arc;

use axum::Router;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Json, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use serde::Serialize;
use uuid::Uuid;

use super::api::{self, Problem};
use crate::arch::{ArchError, BodyUpdate, EntityId, NewEntity, OpResult, Operations, UserId};

type Shared = Arc<dyn Operations>;

/// The routes of `system`.
pub fn router(system: Arc<dyn Operations>) -> Router {
    Router::new()
        .route(api::CREATE, get(list).post(create))
        .route(api::UPDATE, put(update))
        .route(api::GET, get(entity))
        .route(api::SEARCH, get(search))
        .route(api::HISTORY, get(history))
        .route(api::ACTIVITY, get(activity))
        .route(api::HEALTH, get(health))
        // Bodies are markdown documents; the generator's p99 is tens of KiB.
        .layer(DefaultBodyLimit::max(64 << 20))
        .fallback(|| async { problem(StatusCode::NOT_FOUND, "not_found", "no such route".into()) })
        .with_state(system)
}

/// Serves `system` on `listener` until `stop` completes, then finishes the requests
/// in flight.
pub async fn serve(
    system: Arc<dyn Operations>,
    listener: tokio::net::TcpListener,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(system))
        .with_graceful_shutdown(stop)
        .await
}

fn problem(status: StatusCode, kind: &str, error: String) -> Response {
    let body = Problem {
        error,
        kind: kind.to_string(),
    };
    (status, Json(body)).into_response()
}

fn bad_request(why: impl std::fmt::Display) -> Response {
    problem(StatusCode::BAD_REQUEST, "bad_request", why.to_string())
}

fn failed(e: ArchError) -> Response {
    problem(api::status_of(&e), e.kind(), e.to_string())
}

fn answer<T: Serialize>(result: OpResult<T>) -> Response {
    match result {
        Ok(body) => Json(body).into_response(),
        Err(e) => failed(e),
    }
}

// Rejections as text: the caller answers them with `bad_request`.
fn entity_id(path: Result<Path<Uuid>, PathRejection>) -> Result<EntityId, String> {
    path.map(|Path(id)| EntityId(id)).map_err(|e| e.to_string())
}

fn user_id(path: Result<Path<i64>, PathRejection>) -> Result<UserId, String> {
    path.map(|Path(user)| UserId(user))
        .map_err(|e| e.to_string())
}

async fn create(
    State(system): State<Shared>,
    user: Result<Path<i64>, PathRejection>,
    body: Result<Json<api::CreateRequest>, JsonRejection>,
) -> Response {
    let user = match user_id(user) {
        Ok(u) => u,
        Err(e) => return bad_request(e),
    };
    let Json(request) = match body {
        Ok(b) => b,
        Err(e) => return bad_request(e),
    };
    let new = NewEntity {
        user,
        id: EntityId(request.id.unwrap_or_else(Uuid::new_v4)),
        title: request.title,
        body: request.body,
        at: None,
    };
    match system.create(new).await {
        Ok(id) => {
            let created = api::Created {
                id: id.0,
                version: 1,
            };
            (StatusCode::CREATED, Json(created)).into_response()
        }
        Err(e) => failed(e),
    }
}

async fn update(
    State(system): State<Shared>,
    id: Result<Path<Uuid>, PathRejection>,
    body: Result<Json<api::UpdateRequest>, JsonRejection>,
) -> Response {
    let id = match entity_id(id) {
        Ok(id) => id,
        Err(e) => return bad_request(e),
    };
    let Json(request) = match body {
        Ok(b) => b,
        Err(e) => return bad_request(e),
    };
    let update = BodyUpdate {
        id,
        body: request.body,
        at: None,
    };
    answer(
        system
            .update(update)
            .await
            .map(|version| api::Updated { version }),
    )
}

async fn entity(State(system): State<Shared>, id: Result<Path<Uuid>, PathRejection>) -> Response {
    match entity_id(id) {
        Ok(id) => answer(system.get(id).await.map(api::EntityBody::from)),
        Err(e) => bad_request(e),
    }
}

async fn list(
    State(system): State<Shared>,
    user: Result<Path<i64>, PathRejection>,
    query: Result<Query<api::ListQuery>, QueryRejection>,
) -> Response {
    let (user, Query(query)) = match (user_id(user), query) {
        (Ok(u), Ok(q)) => (u, q),
        (Err(e), _) => return bad_request(e),
        (_, Err(e)) => return bad_request(e),
    };
    let listed = system.list(user, query.limit).await;
    answer(listed.map(|entities| api::Listed { entities }))
}

async fn search(
    State(system): State<Shared>,
    user: Result<Path<i64>, PathRejection>,
    query: Result<Query<api::SearchQuery>, QueryRejection>,
) -> Response {
    let (user, Query(query)) = match (user_id(user), query) {
        (Ok(u), Ok(q)) => (u, q),
        (Err(e), _) => return bad_request(e),
        (_, Err(e)) => return bad_request(e),
    };
    let found = system.search(user, &query.q, query.k).await;
    answer(found.map(|hits| api::Found { hits }))
}

async fn history(State(system): State<Shared>, id: Result<Path<Uuid>, PathRejection>) -> Response {
    match entity_id(id) {
        Ok(id) => answer(
            system
                .history(id)
                .await
                .map(|events| api::History { events }),
        ),
        Err(e) => bad_request(e),
    }
}

async fn activity(
    State(system): State<Shared>,
    user: Result<Path<i64>, PathRejection>,
    query: Result<Query<api::ActivityQuery>, QueryRejection>,
) -> Response {
    let (user, Query(window)) = match (user_id(user), query) {
        (Ok(u), Ok(q)) => (u, q),
        (Err(e), _) => return bad_request(e),
        (_, Err(e)) => return bad_request(e),
    };
    if window.to <= window.from {
        return bad_request("`to` must be after `from`");
    }
    let buckets = system.activity(user, window.from, window.to).await;
    answer(buckets.map(|buckets| api::Activity { buckets }))
}

async fn health(State(system): State<Shared>) -> Response {
    let health = api::Health {
        system: system.name().to_string(),
    };
    Json(health).into_response()
}
