//! Decision 3's option B, measured: Qdrant's engine in-process (`qdrant-edge` 0.6.0,
//! the server's segment, HNSW and payload index without its network API), on the
//! same vectors, the same queries and the same truth as pgvector's designs. The user
//! is an indexed integer payload and every search filters on it, as a multi-tenant
//! collection would. Two configurations:
//! - Qdrant's defaults, where its query planner decides: a filter whose points weigh
//!   less than `full_scan_threshold` (10,000 KB) is answered by scanning exactly the
//!   points the payload index lists, larger ones by the filtered HNSW graph;
//! - the graph forced (`full_scan_threshold` = 1 KB), with the payload-aware links
//!   Qdrant adds per indexed value.
//!
//! The graph uses pgvector's defaults (m 16, ef_construct 64) so that the two engines
//! build like-for-like indexes. The timings have no network hop: the report says so
//! and adds the network profile's round trip where one was played.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use qdrant_edge::{
    Condition, DEFAULT_VECTOR_NAME, Distance, EdgeConfig, EdgeOptimizersConfig, EdgeShard,
    EdgeVectorParams, FieldCondition, FieldIndexOperations, Filter, HnswIndexConfig, JsonPath,
    Match, NamedQuery, PayloadFieldSchema, PayloadSchemaType, PointId, PointInsertOperations,
    PointOperations, PointStructPersisted, QueryEnum, SearchParams, SearchRequest, UpdateOperation,
    ValueVariants, VectorInternal, VectorStructPersisted,
};
use uuid::Uuid;

use super::ProbeError;
use super::frontier;
use super::truth::Query;
use crate::results::search_quality::{DesignQuality, FrontierPoint, SearchDesign};

/// The crate measured, for the report.
pub(super) const ENGINE: &str = "qdrant-edge 0.6.0";

/// pgvector's HNSW defaults, given to Qdrant's graph too.
pub(super) const M: usize = 16;
pub(super) const EF_CONSTRUCT: usize = 64;
/// Qdrant's default: a filter whose points weigh less (KB of vectors) is scanned.
const DEFAULT_FULL_SCAN_KB: usize = 10_000;
/// Low enough that every user's filter goes through the graph.
const FORCED_FULL_SCAN_KB: usize = 1;
/// Points per upsert.
const BATCH: usize = 1_000;
pub(super) const USER_FIELD: &str = "user_id";

/// One stored vector: its id, its user, the vector.
pub(super) type Row = (Uuid, i64, Vec<f32>);

/// Both configurations, each built in its own folder under `scratch` (both removed after).
pub(super) fn designs(
    rows: &[Row],
    queries: &[Query],
    k: u32,
    sweep: &[u32],
    system_ef: Option<u32>,
    scratch: &Path,
    stop: &AtomicBool,
) -> Result<Vec<DesignQuality>, ProbeError> {
    let users = rows
        .iter()
        .map(|r| r.1)
        .collect::<std::collections::HashSet<_>>()
        .len()
        .max(1);
    let dims = rows.first().map_or(0, |r| r.2.len());
    let kb_per_user = (rows.len() / users * dims * 4) as f64 / 1024.0;
    let mut out = Vec::new();
    for (design, threshold) in [
        (SearchDesign::QdrantDefault, DEFAULT_FULL_SCAN_KB),
        (SearchDesign::QdrantHnswForced, FORCED_FULL_SCAN_KB),
    ] {
        let folder = scratch.join(format!("qdrant-{threshold}kb"));
        let result = one_design(
            design,
            rows,
            (queries, k),
            (sweep, system_ef),
            (&folder, threshold),
            stop,
        );
        let _ = std::fs::remove_dir_all(&folder);
        // The run's scratch folder too, once empty (the next design makes it again).
        let _ = std::fs::remove_dir(scratch);
        let mut quality = result?;
        quality.plan = format!(
            "{ENGINE}: HNSW m {M}, ef_construct {EF_CONSTRUCT}, integer payload index on {USER_FIELD}, full_scan_threshold {threshold} KB; a user's vectors weigh {kb_per_user:.0} KB on average, so {}",
            if kb_per_user < threshold as f64 {
                "the planner scans the user's points exactly (below the threshold)"
            } else {
                "the filtered HNSW graph answers (above the threshold)"
            }
        );
        quality.note =
            Some("Qdrant's engine in-process: the server's network hop is not included".into());
        out.push(quality);
    }
    Ok(out)
}

/// Builds one shard (payload index first, then the points, then the graph) and
/// sweeps `hnsw_ef` over the query set.
fn one_design(
    design: SearchDesign,
    rows: &[Row],
    (queries, k): (&[Query], u32),
    (sweep, system_ef): (&[u32], Option<u32>),
    (folder, full_scan_kb): (&Path, usize),
    stop: &AtomicBool,
) -> Result<DesignQuality, ProbeError> {
    let _ = std::fs::remove_dir_all(folder);
    std::fs::create_dir_all(folder)
        .map_err(|e| ProbeError::Data(format!("{}: {e}", folder.display())))?;
    let dims = rows.first().map_or(1, |r| r.2.len());
    let shard = EdgeShard::new(folder, config(dims, full_scan_kb)).map_err(engine("creating"))?;
    shard
        .update(UpdateOperation::FieldIndexOperation(
            FieldIndexOperations::CreateIndex(qdrant_edge::CreateIndex {
                field_name: user_field(),
                field_schema: Some(PayloadFieldSchema::FieldType(PayloadSchemaType::Integer)),
            }),
        ))
        .map_err(engine("indexing the user payload"))?;
    for chunk in rows.chunks(BATCH) {
        stopped(stop)?;
        let points = chunk.iter().map(point).collect();
        shard
            .update(UpdateOperation::PointOperation(
                PointOperations::UpsertPoints(PointInsertOperations::PointsList(points)),
            ))
            .map_err(engine("upserting"))?;
    }
    let started = Instant::now();
    shard.optimize().map_err(engine("building the graph"))?;
    let build_seconds = started.elapsed().as_secs_f64();
    let index_bytes = graph_bytes(folder);
    let mut frontier = Vec::new();
    for &ef in sweep {
        frontier.push(sweep_point(&shard, queries, k, ef, stop)?);
    }
    let recall_at_k = frontier::recall_at(&frontier, system_ef);
    Ok(DesignQuality {
        design,
        k,
        recall_at_k,
        frontier,
        index_bytes,
        build_seconds,
        plan: String::new(),
        note: None,
    })
}

fn config(dims: usize, full_scan_kb: usize) -> EdgeConfig {
    let hnsw = HnswIndexConfig {
        m: M,
        ef_construct: EF_CONSTRUCT,
        full_scan_threshold: full_scan_kb,
        ..HnswIndexConfig::default()
    };
    EdgeConfig {
        on_disk_payload: false,
        vectors: [(
            DEFAULT_VECTOR_NAME.to_string(),
            EdgeVectorParams {
                size: dims,
                distance: Distance::Cosine,
                on_disk: Some(false),
                multivector_config: None,
                datatype: None,
                quantization_config: None,
                hnsw_config: None,
            },
        )]
        .into_iter()
        .collect(),
        hnsw_config: hnsw,
        // Every segment gets its graph, however small the probe's data.
        optimizers: EdgeOptimizersConfig {
            indexing_threshold: Some(1),
            ..EdgeOptimizersConfig::default()
        },
        ..EdgeConfig::default()
    }
}

fn user_field() -> JsonPath {
    JsonPath::try_from(USER_FIELD).expect("a plain key is a JSON path")
}

fn point((id, user, vector): &Row) -> PointStructPersisted {
    let mut payload = serde_json::Map::new();
    payload.insert(USER_FIELD.into(), serde_json::Value::from(*user));
    PointStructPersisted {
        id: PointId::Uuid(*id),
        vector: VectorStructPersisted::Single(vector.clone()),
        payload: Some(payload.into()),
    }
}

/// Every query once at one `hnsw_ef` (after one unmeasured pass to warm the caches).
fn sweep_point(
    shard: &EdgeShard,
    queries: &[Query],
    k: u32,
    ef: u32,
    stop: &AtomicBool,
) -> Result<FrontierPoint, ProbeError> {
    stopped(stop)?;
    for q in queries.iter().take(20) {
        search(shard, q, k, ef)?;
    }
    let mut times = Vec::with_capacity(queries.len());
    let mut recall = 0.0;
    for q in queries {
        let started = Instant::now();
        let found = search(shard, q, k, ef)?;
        times.push(started.elapsed());
        recall += q.truth.recall(&found);
    }
    Ok(frontier::point(Some(ef), &mut times, recall))
}

fn search(shard: &EdgeShard, q: &Query, k: u32, ef: u32) -> Result<Vec<Uuid>, ProbeError> {
    let filter = Filter::new_must(Condition::Field(FieldCondition::new_match(
        user_field(),
        Match::new_value(ValueVariants::Integer(q.user)),
    )));
    let found = shard
        .search(SearchRequest {
            query: QueryEnum::Nearest(NamedQuery {
                query: VectorInternal::from(q.vector.to_vec()),
                using: None,
            }),
            filter: Some(filter),
            params: Some(SearchParams {
                hnsw_ef: Some(ef as usize),
                ..SearchParams::default()
            }),
            limit: k as usize,
            offset: 0,
            with_payload: None,
            with_vector: None,
            score_threshold: None,
        })
        .map_err(engine("searching"))?;
    Ok(found
        .into_iter()
        .filter_map(|p| match p.id {
            PointId::Uuid(id) => Some(id),
            PointId::NumId(_) => None,
        })
        .collect())
}

/// Bytes of the HNSW graphs (`vector_index*` folders of every segment): the
/// counterpart of pgvector's index relation, vectors and payload excluded.
fn graph_bytes(folder: &Path) -> u64 {
    fn walk(dir: &Path, inside: bool, total: &mut u64) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path: PathBuf = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            match entry.metadata() {
                Ok(m) if m.is_dir() => {
                    walk(&path, inside || name.starts_with("vector_index"), total)
                }
                Ok(m) if inside => *total += m.len(),
                _ => {}
            }
        }
    }
    let mut total = 0;
    walk(folder, false, &mut total);
    total
}

/// The run was interrupted: the probe's thread ends at the next batch or sweep point.
fn stopped(stop: &AtomicBool) -> Result<(), ProbeError> {
    if stop.load(Ordering::Relaxed) {
        return Err(ProbeError::Data("Qdrant engine: stopped".into()));
    }
    Ok(())
}

fn engine(context: &'static str) -> impl Fn(qdrant_edge::OperationError) -> ProbeError {
    move |e| ProbeError::Data(format!("Qdrant engine ({ENGINE}): {context}: {e}"))
}
