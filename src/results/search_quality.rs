//! `systems.<name>.search_quality`: what the search-quality probe measured — recall@k
//! of the system's `search` against exact search over the same user's rows, the
//! recall–latency frontier over HNSW's `ef_search` (as ann-benchmarks plots it), the
//! index's size and build time, and the same for the other designs tried on a copy
//! of the system's vectors.

use serde::{Deserialize, Serialize};

/// A way of answering "the user's k nearest entities".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SearchDesign {
    /// One HNSW index over every user's vectors, the user as a filter, pgvector's
    /// iterative scan (`strict_order`) to keep going until k rows pass it. V0.3's.
    GlobalHnswFiltered,
    /// One partial HNSW index per user (`WHERE user_id = …`): the graph holds only
    /// that tenant's rows, so no filter is needed.
    PartialHnswPerUser,
    /// The user's rows found by a b-tree, every one compared: exact. V0.2's.
    ExactPerUser,
    /// Decision 3's option B: Qdrant's engine (in-process), the user an indexed
    /// payload filter, its planner left to choose between an exact scan of the
    /// user's points and the filtered graph (its defaults).
    QdrantDefault,
    /// Qdrant's engine with the filtered HNSW graph forced for every user.
    QdrantHnswForced,
    /// A real Qdrant server over gRPC (`ARCHBENCH_QDRANT_URL`), its planner's
    /// defaults: the network hop is in its timings.
    QdrantServer,
}

impl SearchDesign {
    /// Words for a report line.
    pub fn describe(self) -> &'static str {
        match self {
            SearchDesign::GlobalHnswFiltered => "global HNSW, user filter, iterative scan",
            SearchDesign::PartialHnswPerUser => "partial HNSW index per user",
            SearchDesign::ExactPerUser => "exact scan of the user's rows (b-tree)",
            SearchDesign::QdrantDefault => {
                "Qdrant engine, user as an indexed payload filter (its planner's choice)"
            }
            SearchDesign::QdrantHnswForced => "Qdrant engine, filtered HNSW graph forced",
            SearchDesign::QdrantServer => {
                "Qdrant server over gRPC, user as an indexed payload filter (its planner's choice)"
            }
        }
    }

    /// Whether the design runs on Qdrant rather than PostgreSQL.
    pub fn is_qdrant(self) -> bool {
        matches!(
            self,
            SearchDesign::QdrantDefault
                | SearchDesign::QdrantHnswForced
                | SearchDesign::QdrantServer
        )
    }

    /// Whether its timings already hold a network hop to the store (a server), so
    /// that none is added to compare it with a store across the network.
    pub fn over_the_network(self) -> bool {
        self == SearchDesign::QdrantServer
    }

    /// Whether `ef_search` moves this design's recall and latency.
    pub fn uses_hnsw(self) -> bool {
        !matches!(self, SearchDesign::ExactPerUser)
    }
}

/// One point of the recall–latency frontier.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FrontierPoint {
    /// `hnsw.ef_search` (absent for an exact scan).
    pub ef_search: Option<u32>,
    /// Mean recall@k over the query set.
    pub recall: f64,
    /// Median query latency, ms (one connection, one query at a time).
    pub p50_ms: f64,
    /// 99th percentile, ms.
    pub p99_ms: f64,
}

/// One design's quality on the probe's query set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DesignQuality {
    /// Which design.
    pub design: SearchDesign,
    /// Results asked per query.
    pub k: u32,
    /// Mean recall@k at the system's own `ef_search` (the frontier's point nearest it
    /// for a variant; 1 query set, exact truth).
    pub recall_at_k: f64,
    /// Recall and latency per `ef_search`, ascending (one point for an exact scan).
    pub frontier: Vec<FrontierPoint>,
    /// Bytes of the index(es) the design needs (`pg_relation_size`).
    pub index_bytes: u64,
    /// Wall time to build them, seconds (`CREATE INDEX`, one after another).
    pub build_seconds: f64,
    /// The scans PostgreSQL's plan chose for the first query (`EXPLAIN`): which
    /// index, if any, answered. At a small table the planner prefers a sequential scan
    /// (exact) to an HNSW index; the frontier of an HNSW design is then measured with
    /// `enable_seqscan` off, and both plans are given.
    #[serde(default)]
    pub plan: String,
    /// Why part of it was not measured, if so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl DesignQuality {
    /// A design with no figures, and `why` as its note.
    pub fn not_measured(design: SearchDesign, k: u32, why: String) -> DesignQuality {
        DesignQuality {
            design,
            k,
            recall_at_k: 0.0,
            frontier: Vec::new(),
            index_bytes: 0,
            build_seconds: 0.0,
            plan: String::new(),
            note: Some(why),
        }
    }

    /// The fastest frontier point (by p50) whose recall reaches `target`, if any.
    pub fn at_recall(&self, target: f64) -> Option<&FrontierPoint> {
        self.frontier
            .iter()
            .filter(|p| p.recall >= target)
            .min_by(|a, b| a.p50_ms.total_cmp(&b.p50_ms))
    }
}

/// The probe's findings for one system.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchQuality {
    /// Results asked per query.
    pub k: u32,
    /// Mean recall@k of the system's own design at its own `ef_search`.
    pub recall_at_k: f64,
    /// The system's own design's frontier.
    pub frontier: Vec<FrontierPoint>,
    /// Its index bytes.
    pub index_bytes: u64,
    /// Its build time, seconds.
    pub build_seconds: f64,
    /// The system's design.
    pub design: SearchDesign,
    /// `ef_search` the system's connections use (absent for an exact design).
    pub system_ef_search: Option<u32>,
    /// Queries in the fixed set (users × a title-like text each, from the run's seed).
    pub queries: usize,
    /// Vectors searched (rows with an embedding), and the users they belong to.
    pub rows: u64,
    /// Distinct users among them.
    pub users: u64,
    /// What the vectors are.
    pub embedding: String,
    /// Every design tried, the system's own first; the others on a copy of its
    /// vectors in a scratch schema (same rows, same queries, same truth).
    pub designs: Vec<DesignQuality>,
    /// Probe wall time, seconds.
    pub wall_seconds: f64,
    /// The round trip to PostgreSQL of the network profile the probe ran under, ms,
    /// when it came from another run (`report --with`): pgvector's timings hold that
    /// hop, not the main run's. Absent: the run's own environment says it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub round_trip_ms: Option<f64>,
}

impl SearchQuality {
    /// The round trip the probe's pgvector timings hold, ms: its own when it came
    /// from another run, else `run`'s.
    pub fn round_trip_ms(&self, run: f64) -> f64 {
        self.round_trip_ms.unwrap_or(run)
    }
}
