//! Evaluation: every claim and criterion of a targets file judged by its evaluator,
//! then the recommendation and the checklist.

use super::claims::claim;
use super::context::Context;
use super::criteria::criterion;
use super::latency::latency_estimates;
use super::recommend::{checklist, recommend};
use super::sensitivity::{decision_sensitivity, flips_within};
use super::{Check, CriterionKind, Evaluation, Evidence, Targets, Verdict};
use crate::cost::CostReport;
use crate::cost::catalogue::PriceSource;
use crate::probes::capacity_file::CapacityReport;
use crate::results::Results;

/// Evaluates every claim and criterion of `t`; `capacity` holds the capacity files
/// given (the scalability claim is projected from them).
pub fn evaluate(
    t: &Targets,
    r: &Results,
    cost: &CostReport,
    prices: &dyn PriceSource,
    capacity: &[CapacityReport],
    migration: Option<&crate::results::migration::Migration>,
) -> Evaluation {
    let context = Context {
        targets: t,
        results: r,
        cost,
        prices,
        capacity,
        migration,
    };
    let latency = latency_estimates(&context, &cost.model.assumptions);
    let mut claims: Vec<Verdict> = t
        .claims
        .iter()
        .map(|c| claim(&context, c, &latency))
        .collect();
    let mut criteria: Vec<Verdict> = t.criteria.iter().map(|c| criterion(&context, c)).collect();
    link_dependents(t, &mut claims, &mut criteria);
    let mut recommendation = recommend(&context, &claims);
    let failing = claims.iter().any(|c| c.outcome.held() == Some(false));
    let decision_sensitivity = decision_sensitivity(&context, failing);
    recommendation.flips_within_ranges = flips_within(&decision_sensitivity);
    let checklist = checklist(&context, &claims, &recommendation);
    let (go_criteria, no_go_criteria) = t
        .criteria
        .iter()
        .zip(criteria)
        .partition::<Vec<_>, _>(|(c, _)| c.kind == CriterionKind::Go);
    Evaluation {
        claims,
        go_criteria: go_criteria.into_iter().map(|(_, v)| v).collect(),
        no_go_criteria: no_go_criteria.into_iter().map(|(_, v)| v).collect(),
        checklist,
        recommendation,
        latency_estimate: latency,
        decision_sensitivity,
    }
}

/// Every projected cost figure of the document — the reduction, ROI, payback, Option C's
/// cost and the scale criteria's payback — follows from one finding: the cost levels the model
/// projects. Each such verdict names it and is not counted as another.
fn link_dependents(t: &Targets, claims: &mut [Verdict], criteria: &mut [Verdict]) {
    let Some(finding) = t
        .claims
        .iter()
        .zip(claims.iter())
        .find(|(c, v)| c.check == Check::CostLevels && v.evidence == Some(Evidence::Projection))
        .map(|(c, _)| c.id.clone())
    else {
        return;
    };
    let follows = [
        Check::CostReduction,
        Check::Roi,
        Check::Payback,
        Check::CurrentCost,
        Check::ScaleGo,
        Check::ScaleNogo,
    ];
    let checks = t
        .claims
        .iter()
        .map(|c| c.check)
        .zip(claims.iter_mut())
        .chain(t.criteria.iter().map(|c| c.check).zip(criteria.iter_mut()));
    for (check, v) in checks {
        if follows.contains(&check) && v.evidence == Some(Evidence::Projection) {
            v.rests_on = Some(finding.clone());
            v.reason = format!(
                "rests on the {finding} finding (counted there): {}",
                v.reason
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::cost::catalogue::Catalogue;
    use crate::cost::{CostModel, ModelError};
    use crate::verdict::Outcome;

    fn root() -> &'static Path {
        Path::new(env!("CARGO_MANIFEST_DIR"))
    }

    fn inputs() -> (Results, Catalogue, CostModel, Targets) {
        (
            Results::read(&root().join("reports/example/results.json")).unwrap(),
            Catalogue::load_dir(&root().join("pricing")).unwrap(),
            CostModel::load(&root().join("deployments/decision-doc.toml")).unwrap(),
            Targets::load(&root().join("targets/decision-doc.toml")).unwrap(),
        )
    }

    fn outcome(e: &Evaluation, id: &str) -> Outcome {
        e.claims.iter().find(|c| c.id == id).unwrap().outcome
    }

    #[test]
    fn unmeasured_inputs_are_not_measurable_never_pass_or_fail() {
        let (mut r, c, m, t) = inputs();
        for s in r.systems.values_mut() {
            s.footprint = None;
            s.db_time = None;
            s.ops.remove("activity");
            s.event_growth = None;
        }
        r.event_log_probe = None;
        let cost = CostReport::build(&r, "r.json", &m, &c).unwrap();
        let e = evaluate(&t, &r, &cost, &c, &[], None);
        for id in ["copies", "events-reference", "time-series"] {
            assert_eq!(outcome(&e, id), Outcome::NotMeasurable, "{id}");
        }
        // Without database time the compute line is unpriced, and the bill says so.
        let p = cost.at("v02-neon-r2", 10_000).unwrap();
        assert!(!p.fully_priced);
        assert!(p.lines.iter().any(|l| {
            l.missing
                .as_deref()
                .is_some_and(|m| m.starts_with("not measured"))
        }));
    }

    #[test]
    fn the_documents_own_arithmetic_is_checked() {
        let (r, c, m, t) = inputs();
        let cost = CostReport::build(&r, "r.json", &m, &c).unwrap();
        let e = evaluate(&t, &r, &cost, &c, &[], None);
        let pay = e.claims.iter().find(|c| c.id == "payback").unwrap();
        assert!(pay.value.contains("1.69 months"), "{}", pay.value);
        assert_eq!(pay.outcome, Outcome::Refuted);
        assert_eq!(outcome(&e, "investment"), Outcome::Refuted);
        // Sensitivity is a number where the verdict flips, not a shrug.
        assert!(pay.sensitivity.contains("$15,288"), "{}", pay.sensitivity);
    }

    #[test]
    fn a_projection_is_never_refuted_and_measurements_never_merely_consistent() {
        use crate::verdict::Evidence;
        for agrees in [true, false] {
            assert_eq!(
                Outcome::judge(Evidence::Projection, agrees),
                if agrees {
                    Outcome::Consistent
                } else {
                    Outcome::NotReproduced
                }
            );
            for evidence in [Evidence::Measured, Evidence::Arithmetic] {
                let expected = if agrees {
                    Outcome::Confirmed
                } else {
                    Outcome::Refuted
                };
                assert_eq!(Outcome::judge(evidence, agrees), expected);
            }
        }
        // On the example run: every verdict's words match its evidence.
        let (r, c, m, t) = inputs();
        let cost = CostReport::build(&r, "r.json", &m, &c).unwrap();
        let e = evaluate(&t, &r, &cost, &c, &[], None);
        for v in e
            .claims
            .iter()
            .chain(&e.go_criteria)
            .chain(&e.no_go_criteria)
        {
            match (v.evidence, v.outcome) {
                (None, Outcome::NotMeasurable | Outcome::ForTheApprover) => {}
                (Some(_), Outcome::Input | Outcome::ForTheApprover) => {}
                (Some(Evidence::Projection), Outcome::Consistent | Outcome::NotReproduced) => {}
                (
                    Some(Evidence::Measured | Evidence::Arithmetic),
                    Outcome::Confirmed | Outcome::Refuted,
                ) => {}
                other => panic!("{}: {other:?}", v.id),
            }
        }
        let evidence = |id: &str| e.claims.iter().find(|c| c.id == id).unwrap().evidence;
        assert_eq!(evidence("copies"), Some(Evidence::Measured));
        assert_eq!(evidence("investment"), Some(Evidence::Arithmetic));
        // The $11,600 current cost is a projection of the rebuild: not reproduced, not refuted.
        assert_eq!(evidence("cost-levels"), Some(Evidence::Projection));
        assert_eq!(outcome(&e, "cost-levels"), Outcome::NotReproduced);
    }

    #[test]
    fn a_finding_is_counted_once_and_what_follows_from_it_names_it() {
        use crate::verdict::Tally;
        let (r, c, m, t) = inputs();
        let cost = CostReport::build(&r, "r.json", &m, &c).unwrap();
        let e = evaluate(&t, &r, &cost, &c, &[], None);
        let rests_on = |id: &str| {
            e.claims
                .iter()
                .find(|c| c.id == id)
                .unwrap()
                .rests_on
                .clone()
        };
        let finding = Some("cost-levels".to_string());
        // The reduction and the ROI follow from the projected cost levels.
        assert_eq!(rests_on("cost"), finding);
        assert_eq!(rests_on("roi"), finding);
        assert_eq!(rests_on("cost-levels"), None, "the finding itself");
        // Payback is refuted by the document's own arithmetic: a finding of its own.
        assert_eq!(rests_on("payback"), None);
        // So are the scale criteria's paybacks.
        let scale: Vec<_> = e
            .go_criteria
            .iter()
            .chain(&e.no_go_criteria)
            .filter(|c| c.statement.contains("Scale"))
            .collect();
        assert!(!scale.is_empty() && scale.iter().all(|c| c.rests_on == finding));
        assert_eq!(
            rests_on("option-c-cost"),
            finding,
            "Option C's cost is the same figure"
        );
        let tally = Tally::of(&e.claims);
        assert_eq!(tally.dependent, 3);
        assert_eq!(
            tally.projection,
            (2, 1),
            "R2 and Option C's bounds; cost levels"
        );
        // The example ran under a network profile: latency is a measured finding.
        assert_eq!(
            e.claims
                .iter()
                .find(|c| c.id == "latency")
                .unwrap()
                .evidence,
            Some(Evidence::Measured)
        );
        assert_eq!(
            tally.arithmetic,
            (0, 4),
            "payback, investment, scalability, timeline"
        );
        let counted = tally.measured.0 + tally.measured.1 + tally.arithmetic.0 + tally.arithmetic.1;
        let counted = counted + tally.projection.0 + tally.projection.1;
        let counted = counted + tally.not_measurable + tally.for_the_approver;
        assert_eq!(counted + tally.dependent, e.claims.len());
    }

    #[test]
    fn a_missing_user_behaviour_field_is_named() {
        let (mut r, c, m, _) = inputs();
        r.scenario.user_behaviour.remove("active_share");
        let e = CostReport::build(&r, "r.json", &m, &c).unwrap_err();
        assert!(matches!(e, ModelError::Input { .. }));
        assert!(
            e.to_string()
                .contains("r.json: field `scenario.user_behaviour.active_share`"),
            "{e}"
        );
    }

    #[test]
    fn a_rehearsal_grades_the_pace_as_a_projection_and_the_rollback_as_measured() {
        use crate::results::migration::{Cutover, Migration, Projection, Rollback};
        use crate::verdict::Evidence;
        let (r, c, m, t) = inputs();
        let cost = CostReport::build(&r, "r.json", &m, &c).unwrap();
        let e = evaluate(&t, &r, &cost, &c, &[], None);
        assert_eq!(outcome(&e, "matrix-migration"), Outcome::NotMeasurable);
        assert_eq!(outcome(&e, "rollback-plan"), Outcome::NotMeasurable);
        let mut rehearsal = Migration {
            complete: true,
            seeded_entities: 10_000,
            cutover: Some(Cutover {
                at: "2026-12-02T00:00:00Z".into(),
                writes_after: 40,
                write_latency: Default::default(),
            }),
            rollback: Some(Rollback {
                carried_back: 30,
                seconds: 1.0,
                parity: Default::default(),
            }),
            projection: Projection {
                users: 10_000,
                entities_per_user: 50,
                entities: 500_000,
                ..Default::default()
            },
            projected_hours: 1.0,
            ..Migration::default()
        };
        rehearsal.backfill.entities_per_s = 140.0;
        let judged = |m: &Migration| evaluate(&t, &r, &cost, &c, &[], Some(m));
        let e = judged(&rehearsal);
        let pace = e
            .claims
            .iter()
            .find(|c| c.id == "matrix-migration")
            .unwrap();
        assert_eq!(
            (pace.evidence, pace.outcome),
            (Some(Evidence::Projection), Outcome::Consistent)
        );
        // 1 h at 10K users: the 3 deployment days (72 h) are used up at 720K users.
        assert!(
            pace.sensitivity.contains("720.0K users"),
            "{}",
            pace.sensitivity
        );
        let rollback = e.claims.iter().find(|c| c.id == "rollback-plan").unwrap();
        assert_eq!(
            (rollback.evidence, rollback.outcome),
            (Some(Evidence::Measured), Outcome::Confirmed)
        );
        let risk = e
            .go_criteria
            .iter()
            .find(|c| c.statement.contains("Risk"))
            .unwrap();
        assert!(
            risk.value.contains("rehearsal at 10,000 entities"),
            "{}",
            risk.value
        );

        rehearsal.shadow_reads.mismatched = 3;
        rehearsal.projected_hours = 100.0;
        let e = judged(&rehearsal);
        let pace = e
            .claims
            .iter()
            .find(|c| c.id == "matrix-migration")
            .unwrap();
        assert_eq!(pace.outcome, Outcome::NotReproduced);
        assert!(
            pace.reason.contains("3 shadow-read mismatches") && pace.reason.contains("100.0 h"),
            "{}",
            pace.reason
        );
        rehearsal.rollback.as_mut().unwrap().parity.missing = 1;
        assert_eq!(
            outcome(&judged(&rehearsal), "rollback-plan"),
            Outcome::Refuted
        );
    }
}
