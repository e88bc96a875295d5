//! The scalability claim ("100x improvement (10K → 1M users)"): where each design
//! saturates, in users, from capacity measured at the SLO (`report --capacity`, one
//! or more dataset sizes: the scale sweep) — a projection, since users come from the
//! scenario's behaviour and the cost model's peak-to-average — beside the cost per
//! user across the document's range. Without capacity files it is not measurable here.

use super::context::{AFTER, BEFORE, Context, users_text};
use super::{Evidence, Outcome, Verdict};
use crate::numbers::thousands;
use crate::probes::capacity_file::CapacityReport;

/// One capacity file's two systems, in users at the peak.
struct Saturation<'a> {
    report: &'a CapacityReport,
    before: f64,
    after: f64,
}

impl Saturation<'_> {
    fn ratio(&self) -> f64 {
        self.after / self.before
    }
}

/// The capacity files that hold both systems in users, smallest dataset first, then
/// smallest instance.
fn saturations<'a>(context: &Context<'a>) -> Vec<Saturation<'a>> {
    let mut all: Vec<Saturation> = context
        .capacity
        .iter()
        .filter_map(|report| {
            let users = |s: &str| report.users.get(s).map(|u| u.users).filter(|u| *u > 0.0);
            Some(Saturation {
                report,
                before: users(BEFORE)?,
                after: users(AFTER)?,
            })
        })
        .collect();
    all.sort_by(|a, b| {
        a.report
            .seeded_entities
            .cmp(&b.report.seeded_entities)
            .then(
                a.report
                    .vcpu()
                    .unwrap_or(0.0)
                    .total_cmp(&b.report.vcpu().unwrap_or(0.0)),
            )
    });
    all
}

/// The scalability verdict.
pub(super) fn scale(context: &Context, mut out: Verdict) -> Verdict {
    let d = &context.targets.document;
    let (from, to) = (d.scale_from_users, d.scale_to_users);
    let factor = to as f64 / from.max(1) as f64;
    out.target = format!(
        "{}× users ({} → {})",
        to / from.max(1),
        users_text(from as f64),
        users_text(to as f64)
    );
    let cost = cost_per_user(context, from, to);
    let saturations = saturations(context);
    // The nearest to production: the largest dataset, then the largest instance.
    let Some(reference) = saturations.last() else {
        out.value = cost;
        out.outcome = Outcome::NotMeasurable;
        out.reason = "no capacity was measured (`archbench capacity`, then `report --capacity`): the projection is linear in measured per-op usage and says nothing about where either design saturates".into();
        return out;
    };
    let at_sizes: Vec<String> = saturations
        .iter()
        .map(|s| {
            format!(
                "{}: V0.2 {}, V0.3 {} ({:.1}×)",
                s.report.label(),
                users_text(s.before),
                users_text(s.after),
                s.ratio()
            )
        })
        .collect();
    out.value = format!(
        "users served at the peak within the SLO — {}; {cost}",
        at_sizes.join("; ")
    );
    out.judge(Evidence::Projection, reference.ratio() >= factor);
    let peak = reference
        .report
        .users
        .get(AFTER)
        .map_or(f64::NAN, |u| u.peak_to_average);
    out.reason = format!(
        "capacity measured at the SLO (each op's p99 ≤ {} ms, failed ops ≤ {:.2}%) on {}, turned into users by the scenario's [user_behaviour] and a peak-to-average of {peak}: on the same instance and data V0.3 serves {:.1}× the users V0.2 does, against the {factor:.0}× claimed{}. One machine cannot hold {}: that many users is a projection from these rates, not a measurement",
        reference.report.slo.p99_ms.unwrap_or(f64::NAN),
        reference.report.slo.max_error_rate * 100.0,
        reference.report.label(),
        reference.ratio(),
        trend(&saturations),
        users_text(to as f64)
    );
    out.sensitivity = format!(
        "the ratio is the two measured rates' ratio (behaviour and peak-to-average are the same for both and cancel): it reaches {factor:.0}× only if V0.3 sustains {factor:.0}× V0.2's rate; measured {:.1}×",
        reference.ratio()
    );
    out
}

/// How each design's capacity moves from the smallest dataset to the largest, on one
/// instance.
fn trend(saturations: &[Saturation]) -> String {
    let (Some(first), Some(last)) = (saturations.first(), saturations.last()) else {
        return String::new();
    };
    let same_instance = first.report.vcpu() == last.report.vcpu();
    if first.report.seeded_entities == last.report.seeded_entities || !same_instance {
        return "; one dataset size measured, so how capacity moves with data is not known".into();
    }
    format!(
        "; from {} to {} entities V0.2 keeps {:.0}% of its capacity and V0.3 {:.0}%",
        thousands(first.report.seeded_entities),
        thousands(last.report.seeded_entities),
        last.before / first.before * 100.0,
        last.after / first.after * 100.0
    )
}

/// Cost per user at the document's two ends of the range, and the vCPU at the peak at
/// the top end as the cost model sized it.
fn cost_per_user(context: &Context, from: u64, to: u64) -> String {
    let per_user = |s: &str, u: u64| context.total(s, u).map(|c| c.0 / u as f64);
    let usage = |s: &str| {
        context
            .cost
            .model
            .primary(s)
            .and_then(|dep| context.cost.at(&dep.id, to))
            .map(|p| p.usage)
    };
    let vcpu = |s: &str| usage(s).and_then(|u| u.db_vcpu_needed).unwrap_or(f64::NAN);
    let sizing = usage(AFTER).map_or("nothing", |u| u.compute_sizing.label());
    match (
        per_user(BEFORE, from),
        per_user(BEFORE, to),
        per_user(AFTER, from),
        per_user(AFTER, to),
    ) {
        (Some(a1), Some(a2), Some(b1), Some(b2)) => format!(
            "cost per user {} → {}: V0.2 ${a1:.3} → ${a2:.3}, V0.3 ${b1:.3} → ${b2:.3}; DB vCPU at peak for {}: V0.2 {:.1}, V0.3 {:.1} (projected, sized from {sizing})",
            users_text(from as f64),
            users_text(to as f64),
            users_text(to as f64),
            vcpu(BEFORE),
            vcpu(AFTER)
        ),
        _ => "cost per user not projected".into(),
    }
}
