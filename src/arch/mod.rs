//! The systems under test: two seams — [`Operations`], the app's ops the load
//! generator calls, and [`Harness`], the hooks the harness needs on a system it runs
//! itself — and the implementations: the two reference systems
//! (V0.2 as the decision document describes today's backend, V0.3 as it proposes),
//! the emulation of Inngest's execution model they both use, and the deterministic
//! embedding they share.

pub mod bulk;
mod common;
pub mod embedding;
mod error;
pub mod fault;
pub mod http;
pub mod inngest;
mod instrument;
pub mod portable;
mod runtime;
mod select;
pub mod synthetic;
pub mod v02;
pub mod v03;

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use common::{EF_SEARCH, get_object, list_objects};
pub use error::ArchError;
pub use instrument::{OpRoundTrips, RoundTripCounts, RoundTrips, Store};
pub use portable::{
    EntitySnapshot, ImportMode, Imported, Portable, TableChecksum, VersionSnapshot,
};
pub use runtime::{Runtime, StoreClients, SystemConfig};
pub use select::{SystemChoiceError, SystemKind, split_systems};

/// Name of the current architecture in scenarios, results and reports.
pub const V02_NAME: &str = "v02";
/// Name of the proposed architecture in scenarios, results and reports.
pub const V03_NAME: &str = "v03";

/// Result of an operation on a system under test.
pub type OpResult<T> = Result<T, ArchError>;

/// A user (tenant) of the modelled app.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct UserId(pub i64);

/// An entity (markdown document).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct EntityId(pub Uuid);

impl std::fmt::Display for EntityId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// The operations every system offers (DESIGN.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OpKind {
    /// New entity.
    Create,
    /// New version of the body.
    Update,
    /// One entity with its body.
    Get,
    /// A user's entities, metadata only.
    List,
    /// Top-k by vector similarity.
    Search,
    /// Events of one entity, in order.
    History,
    /// A user's events per hour in a time window.
    Activity,
}

impl OpKind {
    /// Every op, in a stable order.
    pub const ALL: [OpKind; 7] = [
        OpKind::Create,
        OpKind::Update,
        OpKind::Get,
        OpKind::List,
        OpKind::Search,
        OpKind::History,
        OpKind::Activity,
    ];

    /// The lower-case name used in scenario and results files.
    pub fn name(self) -> &'static str {
        match self {
            OpKind::Create => "create",
            OpKind::Update => "update",
            OpKind::Get => "get",
            OpKind::List => "list",
            OpKind::Search => "search",
            OpKind::History => "history",
            OpKind::Activity => "activity",
        }
    }
}

/// A new entity. `at` backdates it (seeding an event history spread over days);
/// `None` means now.
#[derive(Debug, Clone)]
pub struct NewEntity {
    /// Owner.
    pub user: UserId,
    /// Id chosen by the caller, so that both systems hold the same ids.
    pub id: EntityId,
    /// Title.
    pub title: String,
    /// Markdown body.
    pub body: String,
    /// Event time.
    pub at: Option<DateTime<Utc>>,
}

/// A new version of an entity's body.
#[derive(Debug, Clone)]
pub struct BodyUpdate {
    /// Which entity.
    pub id: EntityId,
    /// The new body.
    pub body: String,
    /// Event time (`None`: now).
    pub at: Option<DateTime<Utc>>,
}

/// An entity with its full body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entity {
    /// Id.
    pub id: EntityId,
    /// Owner.
    pub user: UserId,
    /// Title.
    pub title: String,
    /// Body.
    pub body: String,
    /// Version, 1 for a new entity.
    pub version: i32,
}

/// A row of `list`: metadata only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntitySummary {
    /// Id.
    pub id: EntityId,
    /// Title.
    pub title: String,
    /// Version the read model has.
    pub version: i32,
}

/// A hit of `search`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchHit {
    /// Id.
    pub id: EntityId,
    /// Cosine similarity to the query.
    pub score: f32,
}

/// An event as `history` returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEvent {
    /// `entity.created` or `entity.updated`.
    pub event_type: String,
    /// Version the event produced.
    pub version: i32,
    /// When.
    pub at: DateTime<Utc>,
}

/// One hour of `activity`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityBucket {
    /// Start of the hour.
    pub hour: DateTime<Utc>,
    /// Events in it.
    pub events: i64,
}

/// Where the bytes of one system are, measured in the stores.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Footprint {
    /// Sum of the current bodies' lengths (what users would call their data).
    pub logical_body_bytes: u64,
    /// PostgreSQL bytes per relation (tables with TOAST and indexes; hypertables with chunks).
    pub postgres_relations: std::collections::BTreeMap<String, u64>,
    /// Total PostgreSQL bytes.
    pub postgres_bytes: u64,
    /// Objects under the system's prefix.
    pub object_count: u64,
    /// Their bytes.
    pub object_bytes: u64,
}

impl Footprint {
    /// All stored bytes.
    pub fn stored_bytes(&self) -> u64 {
        self.postgres_bytes + self.object_bytes
    }

    /// Stored bytes per logical body byte.
    pub fn amplification(&self) -> Option<f64> {
        (self.logical_body_bytes > 0)
            .then(|| self.stored_bytes() as f64 / self.logical_body_bytes as f64)
    }
}

/// One seeded entity with all its versions, for bulk seeding.
#[derive(Debug, Clone)]
pub struct SeedEntity {
    /// Version 1.
    pub create: NewEntity,
    /// Versions 2, 3, ... in order.
    pub updates: Vec<BodyUpdate>,
}

impl SeedEntity {
    /// (version, body, time) of every version, oldest first.
    pub fn versions(&self) -> Vec<(i32, &str, DateTime<Utc>)> {
        let now = Utc::now();
        std::iter::once((1, self.create.body.as_str(), self.create.at.unwrap_or(now)))
            .chain(
                self.updates
                    .iter()
                    .enumerate()
                    .map(|(i, u)| (i as i32 + 2, u.body.as_str(), u.at.unwrap_or(now))),
            )
            .collect()
    }
}

/// The app's operations: what the load generator calls. A remote target (a deployment
/// driven over HTTP) implements only this.
#[async_trait::async_trait]
pub trait Operations: Send + Sync {
    /// Short name used in results (`v02`, `v03`).
    fn name(&self) -> &'static str;
    /// New entity.
    async fn create(&self, e: NewEntity) -> OpResult<EntityId>;
    /// New body version; returns the version number.
    async fn update(&self, u: BodyUpdate) -> OpResult<i32>;
    /// One entity with its body.
    async fn get(&self, id: EntityId) -> OpResult<Entity>;
    /// A user's entities, most recently updated first.
    async fn list(&self, user: UserId, limit: i64) -> OpResult<Vec<EntitySummary>>;
    /// A user's top-k entities by similarity to `query`.
    async fn search(&self, user: UserId, query: &str, k: i64) -> OpResult<Vec<SearchHit>>;
    /// An entity's events, oldest first.
    async fn history(&self, id: EntityId) -> OpResult<Vec<HistoryEvent>>;
    /// A user's events per hour in `[from, to)`.
    async fn activity(
        &self,
        user: UserId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> OpResult<Vec<ActivityBucket>>;
}

/// How a system answers `search`, for the search-quality probe: the table holding its
/// vectors, its columns, and the design of its query.
#[derive(Debug, Clone)]
pub struct VectorSearch {
    /// The system's pool.
    pub pool: sqlx::PgPool,
    /// Schema-qualified table.
    pub table: &'static str,
    /// Entity id column (uuid).
    pub id_column: &'static str,
    /// Owner column (bigint).
    pub user_column: &'static str,
    /// `vector` column (rows without one are not searchable).
    pub embedding_column: &'static str,
    /// The index the design's query uses (schema-qualified).
    pub index: &'static str,
    /// The design.
    pub design: crate::results::search_quality::SearchDesign,
    /// `hnsw.ef_search` of the system's connections (absent for an exact design).
    pub ef_search: Option<u32>,
}

/// The harness's hooks on a system it runs itself: schema, data, counters and
/// measurements in the stores.
#[async_trait::async_trait]
pub trait Harness: Operations {
    /// Creates schema and indexes; idempotent.
    async fn prepare(&self) -> OpResult<()>;
    /// Removes all data of this system (tables truncated, objects deleted).
    async fn reset(&self) -> OpResult<()>;
    /// Whether [`Harness::seed_bulk`] is implemented.
    fn bulk_seed_supported(&self) -> bool {
        false
    }
    /// Writes seeded entities with the stores' bulk paths (COPY, concurrent PUTs),
    /// leaving the same state as their create/update ops would once projections settle.
    async fn seed_bulk(&self, _batch: &[SeedEntity]) -> OpResult<()> {
        Err(ArchError::Setup(format!(
            "{} has no bulk seeding path",
            self.name()
        )))
    }
    /// Appends synthetic events straight into the event store (the growth probe: how
    /// time-window queries behave as the log grows) and returns the event count after.
    async fn grow_events(&self, _g: &EventGrowth) -> OpResult<u64> {
        Err(ArchError::Setup(format!(
            "{} has no event store",
            self.name()
        )))
    }
    /// Waits until asynchronous projections have caught up (queue empty, nothing in flight).
    async fn settle(&self, timeout: Duration) -> OpResult<()>;
    /// Round trips counted so far.
    fn round_trips(&self) -> &RoundTrips;
    /// Zeroes round trips and executions (after seeding, before measuring).
    fn clear_counters(&self);
    /// Inngest-style executions counted so far (runs + steps).
    fn inngest(&self) -> inngest::ExecutionCounts;
    /// Projector runs that exhausted their retries.
    fn dead_letters(&self) -> Vec<inngest::DeadLetter> {
        Vec::new()
    }
    /// The system's workflow emulator, for faults (`None`: it has none).
    fn emulator(&self) -> Option<std::sync::Arc<inngest::EmulatorControl>> {
        None
    }
    /// Storage measured in the stores.
    async fn footprint(&self) -> OpResult<Footprint>;
    /// PostgreSQL schema and object-store prefix this system owns (for measurements).
    fn locations(&self) -> Locations;
    /// Where its search vectors are (`None`: it keeps none the probe can reach).
    fn vector_search(&self) -> Option<VectorSearch> {
        None
    }
}

/// A system the harness runs itself: the app's operations and the harness's hooks.
pub trait SystemUnderTest: Harness {}

impl<T: Harness + ?Sized> SystemUnderTest for T {}

/// Events the growth probe adds: `n` events of `users` users numbered from
/// `first_user` (outside the seeded ones), spread evenly over `[from, to)`.
#[derive(Debug, Clone, Copy)]
pub struct EventGrowth {
    /// Events to add (zero reads the count only).
    pub n: u64,
    /// First user id.
    pub first_user: i64,
    /// Users the events are spread over.
    pub users: i64,
    /// Oldest event time.
    pub from: DateTime<Utc>,
    /// Newest event time (exclusive).
    pub to: DateTime<Utc>,
}

/// Where a system keeps its data.
#[derive(Debug, Clone)]
pub struct Locations {
    /// PostgreSQL schema.
    pub schema: &'static str,
    /// Object key prefix, ending in `/`.
    pub prefix: &'static str,
}

/// Default wait for projections.
pub const SETTLE_TIMEOUT: Duration = Duration::from_secs(60);
