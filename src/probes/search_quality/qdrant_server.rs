//! Decision 3's option B on a real Qdrant server, through its gRPC API
//! (`qdrant-client`): the same vectors, queries and truth as the in-process engine,
//! with the same graph settings and Qdrant's planner left to its defaults, so the
//! timings include the server's network hop and its request handling. Measured only
//! where an endpoint is given (`ARCHBENCH_QDRANT_URL`, e.g. the compose profile
//! `qdrant` on `http://localhost:6334`; `ARCHBENCH_QDRANT_API_KEY` when the server
//! wants one — it is never written anywhere). The probe works in a collection of its
//! own, dropped after (and on Ctrl-C).

use std::time::{Duration, Instant};

use qdrant_client::qdrant::point_id::PointIdOptions;
use qdrant_client::qdrant::{
    CollectionStatus, Condition, CreateCollectionBuilder, CreateFieldIndexCollectionBuilder,
    Distance, FieldType, Filter, HnswConfigDiffBuilder, OptimizersConfigDiffBuilder, PointStruct,
    SearchParamsBuilder, SearchPointsBuilder, UpsertPointsBuilder, Value, VectorParamsBuilder,
};
use qdrant_client::{Payload, Qdrant};
use uuid::Uuid;

use super::frontier;
use super::qdrant::{EF_CONSTRUCT, M, Row, USER_FIELD};
use super::truth::Query;
use crate::results::search_quality::{DesignQuality, FrontierPoint, SearchDesign};

/// The variable that names the server.
pub const URL_VARIABLE: &str = "ARCHBENCH_QDRANT_URL";
/// The variable that holds its API key, if it wants one.
pub const KEY_VARIABLE: &str = "ARCHBENCH_QDRANT_API_KEY";
/// How long the server may take to build its graph.
const BUILD_DEADLINE: Duration = Duration::from_secs(1_800);
const BATCH: usize = 500;

/// A server to measure.
#[derive(Clone)]
pub struct Endpoint {
    url: String,
    api_key: Option<String>,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The key stays out of every log line.
        f.debug_struct("Endpoint")
            .field("url", &self.shown())
            .field("api_key", &self.api_key.as_ref().map(|_| "<set>"))
            .finish()
    }
}

impl Endpoint {
    /// The server named by the environment, if any.
    pub fn from_env() -> Option<Endpoint> {
        let url = std::env::var(URL_VARIABLE)
            .ok()
            .filter(|u| !u.trim().is_empty())?;
        Some(Endpoint {
            url: url.trim().to_string(),
            api_key: std::env::var(KEY_VARIABLE).ok().filter(|k| !k.is_empty()),
        })
    }

    /// The URL without credentials or query, for a report line.
    pub fn shown(&self) -> String {
        let rest = self.url.split("://").nth(1).unwrap_or(&self.url);
        let host = rest.rsplit('@').next().unwrap_or(rest);
        let host = host.split(['/', '?']).next().unwrap_or(host);
        format!(
            "{}://{host}",
            self.url.split("://").next().unwrap_or("http")
        )
    }
}

/// The server design, or one that says why it has no figures.
pub(super) async fn design(
    endpoint: &Endpoint,
    rows: &[Row],
    (queries, k): (&[Query], u32),
    (sweep, system_ef): (&[u32], Option<u32>),
) -> DesignQuality {
    let collection = format!("archbench_probe_{}", Uuid::new_v4().simple());
    let client = match connect(endpoint) {
        Ok(c) => c,
        Err(e) => return not_measured(endpoint, k, e),
    };
    // Dropped with the probe's future (Ctrl-C) or after it: the collection goes too.
    let _cleanup = DropCollection {
        client: client.clone(),
        name: collection.clone(),
    };
    let measured = measure(&client, &collection, rows, (queries, k), (sweep, system_ef)).await;
    match measured {
        Ok((mut quality, version)) => {
            quality.plan = format!(
                "Qdrant server {version} at {} over gRPC (qdrant-client 1.20): HNSW m {M}, ef_construct {EF_CONSTRUCT}, integer payload index on {USER_FIELD}, the planner's defaults (full_scan_threshold as the server sets it)",
                endpoint.shown()
            );
            quality.note = Some(
                "Qdrant server measured over the network: its hop and request handling are in the timings; the graph's bytes are not visible through its API".into(),
            );
            quality
        }
        Err(e) => not_measured(endpoint, k, e),
    }
}

fn connect(endpoint: &Endpoint) -> Result<Qdrant, String> {
    Qdrant::from_url(&endpoint.url)
        .api_key(endpoint.api_key.clone())
        .timeout(Duration::from_secs(60))
        .connect_timeout(Duration::from_secs(5))
        .skip_compatibility_check()
        .build()
        .map_err(|e| format!("connecting: {e}"))
}

async fn measure(
    client: &Qdrant,
    collection: &str,
    rows: &[Row],
    (queries, k): (&[Query], u32),
    (sweep, system_ef): (&[u32], Option<u32>),
) -> Result<(DesignQuality, String), String> {
    let version = client
        .health_check()
        .await
        .map_err(|e| format!("health check: {e}"))?
        .version;
    let dims = rows.first().map_or(1, |r| r.2.len()) as u64;
    client
        .create_collection(
            CreateCollectionBuilder::new(collection)
                .vectors_config(VectorParamsBuilder::new(dims, Distance::Cosine))
                .hnsw_config(
                    HnswConfigDiffBuilder::default()
                        .m(M as u64)
                        .ef_construct(EF_CONSTRUCT as u64),
                )
                // Every segment gets its graph, however small the probe's data.
                .optimizers_config(OptimizersConfigDiffBuilder::default().indexing_threshold(1)),
        )
        .await
        .map_err(|e| format!("creating collection {collection}: {e}"))?;
    client
        .create_field_index(
            CreateFieldIndexCollectionBuilder::new(collection, USER_FIELD, FieldType::Integer)
                .wait(true),
        )
        .await
        .map_err(|e| format!("indexing the user payload: {e}"))?;
    for chunk in rows.chunks(BATCH) {
        let points: Vec<PointStruct> = chunk.iter().map(point).collect();
        client
            .upsert_points(UpsertPointsBuilder::new(collection, points).wait(true))
            .await
            .map_err(|e| format!("upserting: {e}"))?;
    }
    let started = Instant::now();
    wait_for_graph(client, collection, rows.len() as u64).await?;
    let build_seconds = started.elapsed().as_secs_f64();
    let mut frontier = Vec::new();
    for &ef in sweep {
        frontier.push(sweep_point(client, collection, queries, k, ef).await?);
    }
    let recall_at_k = frontier::recall_at(&frontier, system_ef);
    let quality = DesignQuality {
        design: SearchDesign::QdrantServer,
        k,
        recall_at_k,
        frontier,
        index_bytes: 0,
        build_seconds,
        plan: String::new(),
        note: None,
    };
    Ok((quality, version))
}

/// Polls until every segment is optimised (green) with its vectors indexed.
async fn wait_for_graph(client: &Qdrant, collection: &str, points: u64) -> Result<(), String> {
    let deadline = Instant::now() + BUILD_DEADLINE;
    loop {
        let info = client
            .collection_info(collection)
            .await
            .map_err(|e| format!("reading the collection: {e}"))?
            .result
            .ok_or("the server returned no collection info")?;
        let green = info.status == CollectionStatus::Green as i32;
        if green && info.indexed_vectors_count.unwrap_or(0) >= points {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!(
                "the graph was not built within {} s ({} of {points} vectors indexed)",
                BUILD_DEADLINE.as_secs(),
                info.indexed_vectors_count.unwrap_or(0)
            ));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn point((id, user, vector): &Row) -> PointStruct {
    let payload = Payload::from(std::collections::HashMap::from([(
        USER_FIELD,
        Value::from(*user),
    )]));
    PointStruct::new(id.to_string(), vector.clone(), payload)
}

/// Every query once at one `hnsw_ef` (after one unmeasured pass to warm the caches
/// and the connection), one at a time.
async fn sweep_point(
    client: &Qdrant,
    collection: &str,
    queries: &[Query],
    k: u32,
    ef: u32,
) -> Result<FrontierPoint, String> {
    for q in queries.iter().take(20) {
        search(client, collection, q, k, ef).await?;
    }
    let mut times = Vec::with_capacity(queries.len());
    let mut recall = 0.0;
    for q in queries {
        let started = Instant::now();
        let found = search(client, collection, q, k, ef).await?;
        times.push(started.elapsed());
        recall += q.truth.recall(&found);
    }
    Ok(frontier::point(Some(ef), &mut times, recall))
}

async fn search(
    client: &Qdrant,
    collection: &str,
    q: &Query,
    k: u32,
    ef: u32,
) -> Result<Vec<Uuid>, String> {
    let found = client
        .search_points(
            SearchPointsBuilder::new(collection, q.vector.to_vec(), k as u64)
                .filter(Filter::must([Condition::matches(USER_FIELD, q.user)]))
                .params(SearchParamsBuilder::default().hnsw_ef(ef as u64)),
        )
        .await
        .map_err(|e| format!("searching: {e}"))?;
    Ok(found
        .result
        .into_iter()
        .filter_map(|p| match p.id?.point_id_options? {
            PointIdOptions::Uuid(id) => Uuid::parse_str(&id).ok(),
            PointIdOptions::Num(_) => None,
        })
        .collect())
}

fn not_measured(endpoint: &Endpoint, k: u32, error: String) -> DesignQuality {
    DesignQuality::not_measured(
        SearchDesign::QdrantServer,
        k,
        format!(
            "not measured: the Qdrant server at {} ({URL_VARIABLE}) failed: {error}; start it (docker compose --profile qdrant up -d) or unset {URL_VARIABLE}",
            endpoint.shown()
        ),
    )
}

/// Drops the probe's collection when the probe ends, however it ends.
struct DropCollection {
    client: Qdrant,
    name: String,
}

impl Drop for DropCollection {
    fn drop(&mut self) {
        let (client, name) = (self.client.clone(), std::mem::take(&mut self.name));
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let _ = client.delete_collection(name).await;
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shown_endpoint_keeps_credentials_and_query_out() {
        let e = Endpoint {
            url: "https://user:secret@qdrant.example:6334/path?api-key=x".into(),
            api_key: Some("k".into()),
        };
        assert_eq!(e.shown(), "https://qdrant.example:6334");
        let debug = format!("{e:?}");
        assert!(
            debug.contains("<set>") && !debug.contains("secret") && !debug.contains("\"k\""),
            "{debug}"
        );
        let plain = Endpoint {
            url: "http://localhost:6334".into(),
            api_key: None,
        };
        assert_eq!(plain.shown(), "http://localhost:6334");
    }

    #[tokio::test]
    async fn a_server_that_cannot_be_reached_leaves_a_design_that_says_so() {
        // Port 9 (discard) is closed here: the real client's connection is refused.
        let endpoint = Endpoint {
            url: "http://127.0.0.1:9".into(),
            api_key: Some("never-shown".into()),
        };
        let rows: Vec<Row> = vec![(Uuid::new_v4(), 1, vec![0.5; 4])];
        let d = design(&endpoint, &rows, (&[], 10), (&[10], None)).await;
        assert_eq!(d.design, SearchDesign::QdrantServer);
        assert!(d.frontier.is_empty());
        let note = d.note.unwrap();
        assert!(
            note.starts_with("not measured: the Qdrant server at http://127.0.0.1:9")
                && note.contains(URL_VARIABLE)
                && !note.contains("never-shown"),
            "{note}"
        );
    }
}
