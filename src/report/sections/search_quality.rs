//! Search quality: recall@k of each system's search against exact search, the
//! recall–latency frontier of every design tried, and the designs compared at equal
//! recall.

use crate::report::ReportError;
use crate::report::charts::{self, Curve};
use crate::report::document::{Block, Section, SectionContext, table};
use crate::results::search_quality::{DesignQuality, SearchQuality};
use crate::verdict::EQUAL_RECALL;

/// Search quality.
pub(super) fn search_quality(
    context: &SectionContext,
    sections: &mut Vec<Section>,
) -> Result<(), ReportError> {
    let probes: Vec<(&str, &SearchQuality)> = context
        .systems
        .iter()
        .filter_map(|(_, label, s)| s.search_quality.as_ref().map(|q| (*label, q)))
        .collect();
    let Some((_, first)) = probes.first() else {
        return Ok(());
    };
    let mut blocks = vec![Block::Para(format!(
        "Measured on the stores after the load phases: a fixed set of {} queries (seeded \
         users in turn, a title-like text each), k = {}. The truth is computed apart from \
         PostgreSQL, in f64 from every stored vector of the query's user; a returned row \
         counts if its true distance is within the k-th true distance (ties count, as in \
         ann-benchmarks). Each query runs once per setting on one connection, after a \
         warm-up. The system's own design is timed on its own table (index rebuilt once \
         for its build time); V0.3's other designs on a copy of its vectors, each with \
         its own index alone. Embedding: {}.",
        first.queries, first.k, first.embedding
    ))];
    let rtt = first.round_trip_ms(context.report.results.environment.postgres_round_trip_ms());
    if first.designs.iter().any(|d| d.design.is_qdrant()) {
        blocks.push(Block::Para(format!(
            "Decision 3's option B: Qdrant's engine in-process (qdrant-edge 0.6.0, the \
             server's segment, HNSW graph and payload index) on the same vectors, queries \
             and truth; the user is an indexed integer payload every search filters on. \
             Its graph has pgvector's defaults (m 16, ef_construct 64). Its timings have \
             no network hop: {}",
            if rtt > 0.0 {
                format!(
                    "a Qdrant server beside the database would add the network profile's \
                     {rtt:.2} ms round trip, shown with its equal-recall figure."
                )
            } else {
                "this run played no network profile, and pgvector's figures have none either."
                    .into()
            }
        )));
        let server = first.designs.iter().any(|d| d.design.over_the_network());
        blocks.push(Block::Para(if server {
            "A real Qdrant server was measured too, over gRPC with the same graph settings and its planner's defaults: its timings include its network hop and request handling, so nothing is added to them; its graph's bytes are not visible through its API.".into()
        } else {
            "No Qdrant server was measured in this run: `ARCHBENCH_QDRANT_URL` (for example the compose profile `qdrant` on http://localhost:6334) adds one, measured over gRPC with the same vectors, queries and graph settings.".into()
        }));
    }
    let mut rows = Vec::new();
    let mut frontier_rows = Vec::new();
    let mut curves = Vec::new();
    for (label, q) in &probes {
        for (i, d) in q.designs.iter().enumerate() {
            let name = format!(
                "{label}: {}{}",
                d.design.describe(),
                if i == 0 { " (its design)" } else { "" }
            );
            rows.push(summary_row(&name, q, d, i == 0, rtt));
            for p in &d.frontier {
                frontier_rows.push(vec![
                    name.clone(),
                    p.ef_search.map_or("—".into(), |e| e.to_string()),
                    format!("{:.3}", p.recall),
                    format!("{:.2}", p.p50_ms),
                    format!("{:.2}", p.p99_ms),
                ]);
            }
            if !d.frontier.is_empty() {
                curves.push(Curve {
                    name,
                    points: d.frontier.iter().map(|p| (p.recall, p.p50_ms)).collect(),
                });
            }
        }
    }
    blocks.push(Block::Table(table(
        &[
            "design",
            "vectors",
            "recall@k (own ef_search)",
            &format!("fastest p50 at recall ≥ {EQUAL_RECALL}"),
            "index bytes",
            "build s",
            "plan (first query)",
        ],
        rows,
    )));
    blocks.push(Block::Table(table(
        &["design", "ef_search", "recall", "p50 ms", "p99 ms"],
        frontier_rows,
    )));
    blocks.push(Block::Charts(vec![(
        "search-frontier".into(),
        "Recall–latency frontier".into(),
        charts::frontier("search: recall against p50 latency", &curves)?,
    )]));
    sections.push(Section {
        id: "search-quality",
        title: "Vector search quality: recall against latency".into(),
        blocks,
    });
    Ok(())
}

fn summary_row(
    name: &str,
    q: &SearchQuality,
    d: &DesignQuality,
    own: bool,
    rtt: f64,
) -> Vec<String> {
    let at = d.at_recall(EQUAL_RECALL).map_or_else(
        || {
            d.note
                .clone()
                .unwrap_or_else(|| format!("never reached (best {:.3})", best(d)))
        },
        |p| {
            let hop = if d.design.is_qdrant() && !d.design.over_the_network() && rtt > 0.0 {
                format!(
                    " in-process; + {rtt:.2} ms round trip = {:.2} ms",
                    p.p50_ms + rtt
                )
            } else {
                String::new()
            };
            format!(
                "{:.2} ms{}{hop}",
                p.p50_ms,
                p.ef_search
                    .map_or(String::new(), |e| format!(" (ef_search {e})"))
            )
        },
    );
    let recall = if own {
        format!(
            "{:.3}{}",
            d.recall_at_k,
            q.system_ef_search
                .map_or(String::new(), |e| format!(" (ef_search {e})"))
        )
    } else {
        format!("{:.3}", d.recall_at_k)
    };
    vec![
        name.to_string(),
        format!("{} of {} users", q.rows, q.users),
        recall,
        at,
        d.index_bytes.to_string(),
        format!("{:.2}", d.build_seconds),
        d.plan.clone(),
    ]
}

fn best(d: &DesignQuality) -> f64 {
    d.frontier.iter().map(|p| p.recall).fold(0.0, f64::max)
}
