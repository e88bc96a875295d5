//! Decision matrix #3, pgvector against Qdrant, on the search-quality probe: the
//! pgvector designs compared at equal recall. Qdrant (option B) has no measurement in
//! this build, so the line shows one side measured and leaves the choice to the
//! approver rather than judging "Qdrant (faster)".

use super::context::{Context, not_measured};
use super::{Evidence, Outcome, Verdict};
use crate::results::search_quality::{DesignQuality, SearchQuality};

/// The recall at which search designs are compared.
pub const EQUAL_RECALL: f64 = 0.95;

/// One design at equal recall, in words.
pub(super) fn at_equal_recall(d: &DesignQuality) -> String {
    match d.at_recall(EQUAL_RECALL) {
        Some(p) => format!(
            "{}: p50 {:.2} ms, p99 {:.2} ms at recall {:.3}{}",
            d.design.describe(),
            p.p50_ms,
            p.p99_ms,
            p.recall,
            p.ef_search
                .map_or(String::new(), |e| format!(" (ef_search {e})"))
        ),
        None => format!(
            "{}: recall {EQUAL_RECALL} never reached (best {:.3}{})",
            d.design.describe(),
            d.frontier.iter().map(|p| p.recall).fold(0.0, f64::max),
            d.note
                .as_deref()
                .map_or(String::new(), |n| format!("; {n}"))
        ),
    }
}

/// Decision matrix #3: pgvector (simpler) over Qdrant (faster).
pub(super) fn vector_choice(context: &Context, mut out: Verdict) -> Verdict {
    let q: Option<&SearchQuality> = context
        .before_after()
        .1
        .and_then(|s| s.search_quality.as_ref());
    let Some(q) = q else {
        return not_measured(
            out,
            "no search-quality probe in the results (`[search_quality]` in the scenario)",
        );
    };
    let lines: Vec<String> = q.designs.iter().map(at_equal_recall).collect();
    out.value = format!(
        "pgvector, {} vectors of {} users, recall@{} over {} queries, at recall ≥ {EQUAL_RECALL}: {}. V0.3's own setting (ef_search {}): recall {:.3}",
        q.rows,
        q.users,
        q.k,
        q.queries,
        lines.join("; "),
        q.system_ef_search.map_or("—".into(), |e| e.to_string()),
        q.recall_at_k
    );
    out.target = "pgvector (simpler) over Qdrant (faster)".into();
    out.evidence = Some(Evidence::Measured);
    out.outcome = Outcome::ForTheApprover;
    out.reason = "one side measured: pgvector's designs at equal recall on the stores; Qdrant's engine has no measurement in this build, so \"faster\" is neither confirmed nor refuted".into();
    out
}
