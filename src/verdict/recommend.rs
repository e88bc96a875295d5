//! The harness's recommendation (option and technical decisions) and the approval
//! checklist filled with evidence.

use super::context::{AFTER, Context, users_text};
use super::{ChecklistItem, Outcome, Recommendation, Verdict};
use crate::cost::Usd;
use crate::results::SystemResults;

/// The approval checklist, each item with the evidence this run has for it.
pub(super) fn checklist(
    context: &Context,
    claims: &[Verdict],
    rec: &Recommendation,
) -> Vec<ChecklistItem> {
    let d = &context.targets.document;
    let count = |o: Outcome| claims.iter().filter(|c| c.outcome == o).count();
    let find = |id: &str| claims.iter().find(|c| c.id == id);
    let ret = context.returns_at(context.reference_users());
    let week = super::migration::dual_write_week(context);
    vec![
        ChecklistItem {
            item: format!("Budget: {} approved", Usd(d.investment_usd)),
            evidence: format!(
                "the breakdown sums to {} (the header says {}); projected payback at {}: {}",
                Usd(d.investment_usd),
                Usd(d.investment_header_usd),
                users_text(context.reference_users() as f64),
                ret.and_then(|r| r.payback_months)
                    .map_or("never".into(), |p| format!("{p:.1} months"))
            ),
            supported: None,
        },
        ChecklistItem {
            item: "Timeline: 3 weeks acceptable".into(),
            evidence: "not measured here".into(),
            supported: None,
        },
        ChecklistItem {
            item: "Technical Decisions: Reviewed and agreed".into(),
            evidence: rec.notes.join("; "),
            supported: None,
        },
        ChecklistItem {
            item: "Migration Plan: Understood and approved".into(),
            evidence: format!(
                "reference V0.3 ran the same op sequence as V0.2 with {} errors; the migration itself is not exercised here",
                context.results.systems.get(AFTER).map_or(0, |s| s
                    .ops
                    .values()
                    .map(|o| o.errors)
                    .sum::<u64>())
            ),
            supported: None,
        },
        ChecklistItem {
            item: "Success Criteria: Clear and measurable".into(),
            evidence: format!(
                "{} of {} claims measurable here: {} held (confirmed or consistent), {} did not (refuted or not reproduced); {} not measurable",
                claims.len() - count(Outcome::NotMeasurable),
                claims.len(),
                count(Outcome::Confirmed) + count(Outcome::Consistent),
                count(Outcome::Refuted) + count(Outcome::NotReproduced),
                count(Outcome::NotMeasurable)
            ),
            // The harness's own claim list says nothing of whether the document's success
            // criteria are clear: that is the approver's reading.
            supported: None,
        },
        ChecklistItem {
            item: "Rollback Plan: Defined (keep dual-write for 1 week)".into(),
            evidence: format!(
                "one week of both systems at {} costs about {}{}",
                users_text(context.reference_users() as f64),
                week.map_or("(not projected)".into(), |w| w.to_string()),
                match find("rollback-plan").filter(|r| r.evidence.is_some()) {
                    Some(r) => format!("; rehearsed: {} ({})", r.value, r.outcome.label()),
                    None => find("latency").map_or(String::new(), |l| format!(
                        "; latency during dual-write adds V0.3's write path ({})",
                        l.value
                    )),
                }
            ),
            supported: None,
        },
    ]
}

/// The option a payback suggests: A within 12 months when every claim holds, B within
/// 24, else C.
pub(super) fn option_for(payback: Option<f64>, failing: bool) -> char {
    match payback {
        Some(p) if p <= 12.0 && !failing => 'A',
        Some(p) if p <= 24.0 => 'B',
        _ => 'C',
    }
}

/// Option A, B or C, and the technical decisions, from the claims and the projection.
pub(super) fn recommend(context: &Context, claims: &[Verdict]) -> Recommendation {
    let outcome = |id: &str| claims.iter().find(|c| c.id == id).map(|c| c.outcome);
    let ret = context.returns_at(context.reference_users());
    let payback = ret.and_then(|r| r.payback_months);
    let refuted: Vec<&str> = claims
        .iter()
        .filter(|c| c.outcome.held() == Some(false))
        .map(|c| c.id.as_str())
        .collect();
    let option = option_for(payback, !refuted.is_empty());
    let at = users_text(context.reference_users() as f64);
    let why = match (option, payback) {
        ('A', Some(p)) => {
            format!("every measurable claim holds and the change pays back in {p:.1} months")
        }
        ('B', Some(p)) => format!(
            "V0.3 pays back in {p:.1} months at {at}, but these claims did not hold: {} — take it in steps and re-measure",
            refuted.join(", ")
        ),
        (_, Some(p)) => format!("payback of {p:.0} months at {at} does not justify the change now"),
        (_, None) => format!("V0.3 saves nothing at {at} on this model"),
    };
    let mut notes = Vec::new();
    let (a, b) = context.before_after();
    // The largest event table measured: the growth probe's last point, else the run.
    let act = |s: Option<&SystemResults>| {
        let s = s?;
        s.event_growth
            .as_ref()
            .and_then(|g| g.last())
            .map(|p| p.p50_ms)
            .or_else(|| s.ops.get("activity").map(|o| o.latency_us.p50 as f64 / 1e3))
    };
    let event_db = match (act(a), act(b), outcome("time-series")) {
        (_, _, Some(Outcome::Confirmed)) => "TimescaleDB",
        (Some(pa), Some(pb), _) if pa < pb => {
            notes.push(format!("events: the plain table answered the time-window query faster at the largest event table measured ({pa:.2} vs {pb:.2} ms p50) — keep PostgreSQL for events until a measurement says otherwise"));
            "Keep PostgreSQL"
        }
        _ => {
            notes.push("events: the hypertable was not slower at this size; EventStoreDB is unpriced and unmeasured".into());
            "TimescaleDB"
        }
    };
    let cost_of = |id: &str| {
        context
            .cost
            .at(id, context.reference_users())
            .map(|p| p.total)
    };
    let storage = match (cost_of("v03-neon-r2"), cost_of("v03-neon-s3")) {
        (Some(r2), Some(s3)) => {
            notes.push(format!(
                "storage: V0.3 costs {r2}/month on R2 vs {s3} on S3 at {}",
                users_text(context.reference_users() as f64)
            ));
            if r2.0 <= s3.0 {
                "R2 Storage"
            } else {
                "S3 Storage"
            }
        }
        _ => "R2 Storage",
    };
    let search = |s: Option<&SystemResults>| {
        s.and_then(|s| s.ops.get("search"))
            .map(|o| o.latency_us.p50 as f64 / 1e3)
    };
    let quality = b.and_then(|s| s.search_quality.as_ref()).map_or_else(
        || "no search-quality probe".to_string(),
        |q| {
            q.designs
                .iter()
                .map(super::vectors::at_equal_recall)
                .collect::<Vec<_>>()
                .join("; ")
        },
    );
    let qdrant_measured = b.and_then(|s| s.search_quality.as_ref()).is_some_and(|q| {
        q.designs
            .iter()
            .any(|d| d.design.is_qdrant() && !d.frontier.is_empty())
    });
    notes.push(format!(
        "vectors: search p50 {} ms under load on pgvector; at equal recall: {quality}; {}",
        search(b).map_or("n/a".into(), |x| format!("{x:.2}")),
        if qdrant_measured {
            "Qdrant's engine measured in-process, its server not publicly priced"
        } else {
            "Qdrant not measured here and not publicly priced"
        }
    ));
    Recommendation {
        option,
        why,
        event_db,
        storage,
        vectors: "pgvector",
        notes,
        flips: flips(context),
        flips_within_ranges: Vec::new(),
    }
}

/// The user counts at which the suggested option changes: payback within 24 months
/// (Option B) and within 12 (Option A, if every claim holds), on this model.
fn flips(context: &Context) -> Vec<String> {
    [(24.0, "B"), (12.0, "A, if every claim holds")]
        .into_iter()
        .map(|(months, option)| {
            match context.users_flip(&|r| r.payback_months.is_some_and(|p| p <= months)) {
                Some(u) => format!(
                    "payback falls within {months} months (Option {option}) from {}",
                    users_text(u)
                ),
                None => format!(
                    "payback never falls within {months} months (Option {option}) between 100 and 100M users"
                ),
            }
        })
        .collect()
}
