//! Decision matrix #3, pgvector against Qdrant, on the search-quality probe: every
//! design compared at equal recall, pgvector's on the stores and Qdrant's engine
//! in-process (with the network profile's round trip to PostgreSQL added, as a Qdrant
//! server beside the database would cost). The choice "pgvector (simpler)" is
//! confirmed when pgvector's fastest design at equal recall is within
//! [`SIMPLER_IS_ENOUGH`] of Qdrant's; beyond it, what simplicity costs per search is
//! the approver's to weigh. Without Qdrant's figures (a build without the `qdrant`
//! feature) one side is shown and the choice is left to the approver.

use super::context::{Context, not_measured};
use super::{Evidence, Outcome, Verdict};
use crate::results::search_quality::{DesignQuality, SearchDesign, SearchQuality};

/// The recall at which search designs are compared.
pub const EQUAL_RECALL: f64 = 0.95;

/// pgvector's fastest design at equal recall may be this much slower than Qdrant's
/// and "simpler" still costs nothing a user would notice.
pub const SIMPLER_IS_ENOUGH: f64 = 1.2;

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
pub(super) fn vector_choice(context: &Context, out: Verdict) -> Verdict {
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
    let run = context.results.environment.postgres_round_trip_ms();
    judge(q, q.round_trip_ms(run), out)
}

/// The rule on the probe's designs; `rtt` is the network profile's round trip to
/// PostgreSQL, ms, added to Qdrant's in-process figure.
fn judge(q: &SearchQuality, rtt: f64, mut out: Verdict) -> Verdict {
    let lines: Vec<String> = q.designs.iter().map(at_equal_recall).collect();
    out.value = format!(
        "{} vectors of {} users, recall@{} over {} queries, at recall ≥ {EQUAL_RECALL}: {}. V0.3's own setting (ef_search {}): recall {:.3}",
        q.rows,
        q.users,
        q.k,
        q.queries,
        lines.join("; "),
        q.system_ef_search.map_or("—".into(), |e| e.to_string()),
        q.recall_at_k
    );
    out.target = format!(
        "pgvector (simpler) over Qdrant (faster): pgvector's fastest design at recall ≥ {EQUAL_RECALL} within {SIMPLER_IS_ENOUGH}× of Qdrant's"
    );
    out.evidence = Some(Evidence::Measured);
    // A server's timings hold its network hop; the engine's in-process ones get the
    // network profile's round trip added, as a server beside the database would.
    let hop_of = |d: SearchDesign| if d.over_the_network() { 0.0 } else { rtt };
    let fastest = |qdrant: bool| {
        q.designs
            .iter()
            .filter(|d| d.design.is_qdrant() == qdrant)
            .filter_map(|d| d.at_recall(EQUAL_RECALL).map(|p| (d.design, p.p50_ms)))
            .min_by(|a, b| (a.1 + hop_of(a.0)).total_cmp(&(b.1 + hop_of(b.0))))
    };
    let (Some((pg_design, pg_ms)), Some((qd_design, qd_ms))) = (fastest(false), fastest(true))
    else {
        out.outcome = Outcome::ForTheApprover;
        out.reason = "one side measured at equal recall: Qdrant's engine has no figures in this run (built without the `qdrant` feature, or no design reached the recall), so \"faster\" is neither confirmed nor refuted".into();
        return out;
    };
    let added = hop_of(qd_design);
    let qdrant_total = qd_ms + added;
    let ratio = pg_ms / qdrant_total.max(1e-9);
    let hop = if qd_design.over_the_network() {
        " over the network to the server (its hop measured)".to_string()
    } else if added > 0.0 {
        format!(" in-process + the network profile's {added:.2} ms round trip")
    } else {
        " in-process (loopback: no network hop added)".into()
    };
    out.reason = format!(
        "at recall ≥ {EQUAL_RECALL}: pgvector's fastest, {}, p50 {pg_ms:.2} ms; Qdrant's fastest, {}, p50 {qd_ms:.2} ms{hop} = {qdrant_total:.2} ms; pgvector/Qdrant = {ratio:.2}×",
        pg_design.describe(),
        qd_design.describe()
    );
    // Where the rule flips: pgvector's p50 at the margin over Qdrant's total.
    let flip_ms = SIMPLER_IS_ENOUGH * qdrant_total;
    out.sensitivity = format!(
        "flips at pgvector p50 {flip_ms:.2} ms ({SIMPLER_IS_ENOUGH}× Qdrant's {qdrant_total:.2} ms); {}",
        if qd_design.over_the_network() {
            "both measured over the network"
        } else {
            "pgvector's figure went through the network proxy with its own lateness, Qdrant's has the profile's nominal round trip added — a server measured over the same network (ARCHBENCH_QDRANT_URL, compose profile `qdrant`) would settle the hop"
        }
    );
    if ratio <= SIMPLER_IS_ENOUGH {
        out.outcome = Outcome::Confirmed;
        out.reason.push_str(
            ": Qdrant's speed buys nothing here, so the simpler store is the better choice",
        );
    } else {
        out.outcome = Outcome::ForTheApprover;
        out.reason.push_str(&format!(
            ": Qdrant is faster by {:.2} ms per search at equal recall; whether one store less is worth that is the approver's call",
            pg_ms - qdrant_total
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::search_quality::{FrontierPoint, SearchDesign};
    use crate::verdict::context::verdict;

    fn design(design: SearchDesign, points: &[(f64, f64)]) -> DesignQuality {
        DesignQuality {
            design,
            k: 10,
            recall_at_k: points.last().map_or(0.0, |p| p.0),
            frontier: points
                .iter()
                .map(|&(recall, p50_ms)| FrontierPoint {
                    ef_search: Some(100),
                    recall,
                    p50_ms,
                    p99_ms: p50_ms * 2.0,
                })
                .collect(),
            index_bytes: 1,
            build_seconds: 1.0,
            plan: String::new(),
            note: None,
        }
    }

    fn quality(designs: Vec<DesignQuality>) -> SearchQuality {
        SearchQuality {
            k: 10,
            recall_at_k: 0.9,
            frontier: designs[0].frontier.clone(),
            index_bytes: 1,
            build_seconds: 1.0,
            design: designs[0].design,
            system_ef_search: Some(100),
            queries: 200,
            rows: 10_000,
            users: 200,
            embedding: "e".into(),
            designs,
            wall_seconds: 1.0,
            round_trip_ms: None,
        }
    }

    fn outcome(pg_exact_ms: f64, qdrant_ms: f64, rtt: f64) -> Verdict {
        let q = quality(vec![
            // Never reaches equal recall: it must not count.
            design(
                SearchDesign::GlobalHnswFiltered,
                &[(0.85, 0.1), (0.93, 0.2)],
            ),
            design(SearchDesign::ExactPerUser, &[(1.0, pg_exact_ms)]),
            design(SearchDesign::QdrantDefault, &[(0.99, qdrant_ms)]),
        ]);
        judge(&q, rtt, verdict("matrix-vectors", "pgvector over Qdrant"))
    }

    #[test]
    fn pgvector_within_the_margin_of_qdrant_confirms_the_simpler_choice() {
        // 1.3 ms against 0.5 + 0.6 ms of round trip: 1.18x.
        let v = outcome(1.3, 0.5, 0.6);
        assert_eq!(v.outcome, Outcome::Confirmed, "{}", v.reason);
        assert!(v.reason.contains("1.18×"), "{}", v.reason);
        assert!(v.reason.contains("0.60 ms round trip"), "{}", v.reason);
    }

    #[test]
    fn a_faster_qdrant_leaves_the_cost_of_simplicity_to_the_approver() {
        // On loopback nothing is added: 1.3 / 0.5 = 2.6x, 0.80 ms a search.
        let v = outcome(1.3, 0.5, 0.0);
        assert_eq!(v.outcome, Outcome::ForTheApprover, "{}", v.reason);
        assert!(
            v.reason.contains("2.60×") && v.reason.contains("0.80 ms per search"),
            "{}",
            v.reason
        );
        assert_eq!(v.evidence, Some(Evidence::Measured));
    }

    #[test]
    fn without_qdrant_figures_one_side_is_shown() {
        let mut q = quality(vec![design(SearchDesign::ExactPerUser, &[(1.0, 1.0)])]);
        q.designs.push(DesignQuality {
            frontier: Vec::new(),
            note: Some("not measured".into()),
            ..design(SearchDesign::QdrantDefault, &[])
        });
        let v = judge(&q, 0.0, verdict("matrix-vectors", "pgvector over Qdrant"));
        assert_eq!(v.outcome, Outcome::ForTheApprover);
        assert!(v.reason.starts_with("one side measured"), "{}", v.reason);
    }

    #[test]
    fn a_server_measured_over_the_network_gets_no_round_trip_added() {
        // In-process 0.4 + 1.0 ms of round trip = 1.4 ms; the server, its hop
        // measured, 0.6 ms: the server is Qdrant's fastest, 1.2 / 0.6 = 2.0x.
        let mut q = quality(vec![
            design(SearchDesign::ExactPerUser, &[(1.0, 1.2)]),
            design(SearchDesign::QdrantDefault, &[(1.0, 0.4)]),
        ]);
        q.designs
            .push(design(SearchDesign::QdrantServer, &[(0.99, 0.6)]));
        let v = judge(&q, 1.0, verdict("matrix-vectors", "pgvector over Qdrant"));
        assert_eq!(v.outcome, Outcome::ForTheApprover, "{}", v.reason);
        assert!(
            v.reason.contains("Qdrant server over gRPC")
                && v.reason.contains("over the network to the server")
                && v.reason.contains("2.00×"),
            "{}",
            v.reason
        );
        assert!(v.sensitivity.contains("both measured over the network"));
    }
}
