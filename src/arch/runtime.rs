//! What both reference systems run on besides their own SQL: the connection pool and
//! S3 client, the round-trip counters, the app's function endpoint and the Inngest
//! emulator that calls it, and the measurements whose shape is the same for both.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering::SeqCst};
use std::time::Duration;

use sqlx::PgPool;

use super::common;
use super::inngest::{
    AppEndpoint, DeadLetter, Emulator, Event, ExecutionCounts, FunctionDef, IngestClient,
    RetryPolicy, StepHandler,
};
use super::{ArchError, Footprint, Locations, OpKind, OpResult, RoundTrips, Store};
use crate::rig::network::{Hop, Network};
use crate::stores::{Endpoints, s3};

/// Settings shared by both reference systems.
#[derive(Debug, Clone)]
pub struct SystemConfig {
    /// PostgreSQL connections.
    pub max_connections: u32,
    /// Emulator executor workers.
    pub inngest_workers: usize,
    /// Emulator retry policy.
    pub retry: RetryPolicy,
    /// The network in play: the app and the workflow service reach each other
    /// through its `workflow` hop (both ways). `None`: loopback.
    pub network: Option<Arc<Network>>,
    /// How an HTTP target's ops become requests (the scenario's `[http]`; `None`:
    /// `archbench serve`'s API). The reference systems ignore it.
    pub http: Option<crate::scenario::http::HttpSettings>,
}

impl Default for SystemConfig {
    fn default() -> Self {
        Self {
            max_connections: 16,
            inngest_workers: 8,
            retry: RetryPolicy::default(),
            network: None,
            http: None,
        }
    }
}

/// State the request path and the projector steps share.
pub struct StoreClients {
    /// PostgreSQL.
    pub pool: PgPool,
    /// Object store.
    pub s3: aws_sdk_s3::Client,
    /// Bucket.
    pub bucket: String,
    /// Round-trip counters.
    pub round_trips: RoundTrips,
    fail_next_steps: AtomicU32,
}

impl StoreClients {
    /// Whether this step call should fail because of [`Runtime::fail_next_steps`].
    pub fn take_injected_failure(&self) -> bool {
        self.fail_next_steps
            .fetch_update(SeqCst, SeqCst, |n| n.checked_sub(1))
            .is_ok()
    }
}

/// A system's runtime: shared state, its app endpoint and its Inngest emulator.
pub struct Runtime {
    clients: Arc<StoreClients>,
    emulator: Emulator,
    ingest: IngestClient,
    _app: AppEndpoint,
}

impl Runtime {
    /// Connects to the stores, serves `handler(shared)` as the app's function
    /// endpoint and starts an emulator that runs `functions` against it.
    pub async fn start<H: StepHandler>(
        endpoints: &Endpoints,
        cfg: &SystemConfig,
        functions: Vec<FunctionDef>,
        handler: impl FnOnce(Arc<StoreClients>) -> H,
    ) -> OpResult<Self> {
        let pool = common::pool(endpoints, cfg.max_connections)
            .await
            .map_err(|e| ArchError::Setup(e.to_string()))?;
        let clients = Arc::new(StoreClients {
            pool,
            s3: s3::client(&endpoints.s3),
            bucket: endpoints.s3.bucket.clone(),
            round_trips: RoundTrips::default(),
            fail_next_steps: AtomicU32::new(0),
        });
        let app = AppEndpoint::serve(Arc::new(handler(clients.clone())))
            .await
            .map_err(|e| ArchError::Setup(format!("app endpoint: {e}")))?;
        // The workflow service is a network hop away from the app, both ways.
        let over_network = |url: &str| -> OpResult<String> {
            match &cfg.network {
                Some(n) => n
                    .proxied_url(Hop::Workflow, url)
                    .map_err(|e| ArchError::Setup(format!("workflow delay proxy: {e}"))),
                None => Ok(url.to_string()),
            }
        };
        let emulator = Emulator::start(
            functions,
            over_network(app.url())?,
            cfg.inngest_workers,
            cfg.retry,
        )
        .await
        .map_err(|e| ArchError::Setup(format!("inngest emulator: {e}")))?;
        let ingest = IngestClient::new(over_network(emulator.ingest_url())?);
        Ok(Self {
            clients,
            emulator,
            ingest,
            _app: app,
        })
    }

    /// The clients of the stores, shared by the request path and the steps.
    pub fn clients(&self) -> &Arc<StoreClients> {
        &self.clients
    }

    /// Fault knob for tests and validation: the next `n` projector step calls fail.
    pub fn fail_next_steps(&self, n: u32) {
        self.clients.fail_next_steps.store(n, SeqCst);
    }

    /// The handle that kills, pauses and restarts the emulator.
    pub fn emulator(&self) -> Arc<super::inngest::EmulatorControl> {
        self.emulator.control()
    }

    /// Runs that exhausted their retries.
    pub fn dead_letters(&self) -> Vec<DeadLetter> {
        self.emulator.dead_letters()
    }

    /// Executions counted so far.
    pub fn executions(&self) -> ExecutionCounts {
        self.emulator.counts()
    }

    /// Zeroes round trips, executions and dead letters.
    pub fn clear_counters(&self) {
        self.clients.round_trips.clear();
        self.emulator.clear();
    }

    /// Sends an event to the emulator over HTTP (one round trip on the request path).
    pub async fn send_event(
        &self,
        op: OpKind,
        name: &str,
        data: serde_json::Value,
    ) -> OpResult<()> {
        self.clients.round_trips.add(op, Store::Http, 1);
        self.ingest
            .send(&Event {
                name: name.into(),
                data,
            })
            .await
            .map(|_| ())
            .map_err(|detail| ArchError::Ingest { op, detail })
    }

    /// Waits for the emulator to drain.
    pub async fn settle(&self, timeout: Duration) -> OpResult<()> {
        if self.emulator.settle(timeout).await {
            Ok(())
        } else {
            Err(ArchError::SettleTimeout(timeout))
        }
    }

    /// Settles, truncates the system's tables, deletes its objects, zeroes the counters.
    pub async fn reset(&self, truncate: &'static str, loc: &Locations) -> OpResult<()> {
        self.settle(super::SETTLE_TIMEOUT).await?;
        sqlx::raw_sql(truncate)
            .execute(&self.clients.pool)
            .await
            .map_err(|e| ArchError::Setup(format!("{} reset: {e}", loc.schema)))?;
        common::delete_prefix(&self.clients.s3, &self.clients.bucket, loc.prefix).await?;
        self.clear_counters();
        Ok(())
    }

    /// Storage of the system's schema and prefix; `logical_sql` returns the current
    /// bodies' total length as one `bigint`.
    pub async fn footprint(
        &self,
        loc: &Locations,
        logical_sql: &'static str,
    ) -> OpResult<Footprint> {
        let (pool, op) = (&self.clients.pool, OpKind::Get);
        let postgres_relations = common::relation_sizes(pool, loc.schema)
            .await
            .map_err(ArchError::pg(op))?;
        let logical: Option<i64> = sqlx::query_scalar(logical_sql)
            .fetch_one(pool)
            .await
            .map_err(ArchError::pg(op))?;
        let objects =
            common::list_objects(&self.clients.s3, &self.clients.bucket, loc.prefix, op).await?;
        Ok(Footprint {
            logical_body_bytes: logical.unwrap_or(0).max(0) as u64,
            postgres_bytes: postgres_relations.values().sum(),
            postgres_relations,
            object_count: objects.len() as u64,
            object_bytes: objects.iter().map(|(_, b)| b).sum(),
        })
    }
}
