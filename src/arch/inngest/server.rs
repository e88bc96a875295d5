//! The two HTTP sides: the emulator's ingest endpoint, and the app's function endpoint
//! that executes steps.

use std::sync::Arc;

use axum::extract::State as AxState;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};

use super::{Event, State, StepRequest};

/// Serves the ingest endpoint on `address` (port 0: a free one) and returns the address
/// it listens on.
pub(super) async fn serve_ingest(
    state: Arc<State>,
    address: std::net::SocketAddr,
) -> std::io::Result<(std::net::SocketAddr, tokio::task::JoinHandle<()>)> {
    async fn ingest(
        AxState(st): AxState<Arc<State>>,
        Json(ev): Json<Event>,
    ) -> (StatusCode, Json<serde_json::Value>) {
        // A connection opened before a kill outlives the listener: it answers as a
        // dead server's would not, with an error. A paused emulator holds the request.
        if !st.wait_serving().await {
            let down = serde_json::json!({ "error": "the emulator is down" });
            return (StatusCode::SERVICE_UNAVAILABLE, Json(down));
        }
        let ids = st.accept(ev).await;
        (StatusCode::OK, Json(serde_json::json!({ "ids": ids })))
    }
    let app = Router::new()
        .route("/e/archbench", post(ingest))
        .layer(axum::extract::DefaultBodyLimit::max(64 << 20))
        .with_state(state);
    let listener = tokio::net::TcpListener::bind(address).await?;
    let address = listener.local_addr()?;
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok((address, task))
}

/// Executes steps on behalf of the app; the systems under test implement it.
#[async_trait::async_trait]
pub trait StepHandler: Send + Sync + 'static {
    /// Runs one step; `Err` makes the emulator retry it.
    async fn run_step(&self, req: StepRequest) -> Result<serde_json::Value, String>;
}

/// The app's function endpoint (`POST /api/inngest`), served on a free loopback port.
pub struct AppEndpoint {
    url: String,
    task: tokio::task::JoinHandle<()>,
}

impl AppEndpoint {
    /// Serves `handler`.
    pub async fn serve(handler: Arc<dyn StepHandler>) -> std::io::Result<Self> {
        async fn step(
            AxState(h): AxState<Arc<dyn StepHandler>>,
            Json(req): Json<StepRequest>,
        ) -> (StatusCode, Json<serde_json::Value>) {
            match h.run_step(req).await {
                Ok(v) => (StatusCode::OK, Json(v)),
                Err(e) => (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    Json(serde_json::json!({ "error": e })),
                ),
            }
        }
        let app = Router::new()
            .route("/api/inngest", post(step))
            .layer(axum::extract::DefaultBodyLimit::max(64 << 20))
            .with_state(handler);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}/api/inngest", listener.local_addr()?);
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { url, task })
    }

    /// The URL the emulator calls.
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for AppEndpoint {
    fn drop(&mut self) {
        self.task.abort();
    }
}
