//! The go/no-go criteria's evaluators, one per [`Check`] a criterion can name.

use super::context::{Context, not_measured, users_text, verdict};
use super::{Check, Criterion, CriterionKind, Evidence, Outcome, Verdict};
use crate::cost::Usd;

/// Judges one go/no-go line with the evaluator its check names.
pub(super) fn criterion(context: &Context, c: &Criterion) -> Verdict {
    let id = match c.kind {
        CriterionKind::Go => "GO",
        CriterionKind::NoGo => "NO-GO",
    };
    let out = verdict(id, &c.text);
    let go = c.kind == CriterionKind::Go;
    match c.check {
        Check::Budget => budget(context, out, go),
        Check::Risk => super::migration::risk(context, out),
        Check::ScaleGo => payback_horizon(context, out, true),
        Check::ScaleNogo => payback_horizon(context, out, false),
        _ => {
            let mut out = not_measured(
                out,
                c.reason.as_deref().unwrap_or("not measured by a benchmark"),
            );
            out.value = "—".into();
            out.outcome = Outcome::ForTheApprover;
            out
        }
    }
}

/// The investment against the budget: the GO line's threshold is computed from the
/// document's own figures; the NO-GO line ("less is available") is the approver's fact.
fn budget(context: &Context, mut out: Verdict, go: bool) -> Verdict {
    let d = &context.targets.document;
    out.value = format!(
        "investment {} vs budget {}: headroom {} ({:.1}%)",
        Usd(d.investment_usd),
        Usd(d.budget_usd),
        Usd(d.budget_usd - d.investment_usd),
        (d.budget_usd - d.investment_usd) / d.investment_usd * 100.0
    );
    out.target = format!("investment ≤ {}", Usd(d.budget_usd));
    if go {
        out.judge(Evidence::Arithmetic, d.investment_usd <= d.budget_usd);
        out.reason = "the threshold is consistent with the document's own investment; whether the money exists is the approver's fact".into();
    } else {
        out.outcome = Outcome::ForTheApprover;
        out.target = format!("less than {} available", Usd(d.budget_usd));
        out.reason = format!(
            "the change needs {} by the document's breakdown; how much is available is the approver's fact",
            Usd(d.investment_usd)
        );
    }
    out.sensitivity = format!(
        "an overrun above {:.1}% breaks a {} budget",
        (d.budget_usd / d.investment_usd - 1.0) * 100.0,
        Usd(d.budget_usd)
    );
    out
}

/// Payback at the GO scale (within 6 months) or the NO-GO scale (beyond 24 months).
fn payback_horizon(context: &Context, mut out: Verdict, go: bool) -> Verdict {
    let d = &context.targets.document;
    let users = if go { d.scale_from_users } else { 1_000 };
    let Some(ret) = context.returns_at(users) else {
        return not_measured(out, "no projection for both systems");
    };
    let p = ret.payback_months;
    out.value = format!(
        "at {}: savings {} per month, payback {}",
        users_text(users as f64),
        ret.monthly_savings,
        p.map_or("never".into(), |p| format!("{p:.1} months"))
    );
    let horizon = if go { 6.0 } else { 24.0 };
    // A plan is an input: the line shows the change at the planned size and leaves the
    // plan to the approver.
    out.evidence = Some(Evidence::Projection);
    out.outcome = Outcome::Input;
    out.target = format!("the plan: {}", users_text(users as f64));
    out.reason = format!(
        "a planning statement, not a claim: at the planned size the change {} (payback = investment / projected monthly savings of the primary deployments)",
        match p {
            Some(p) if p <= horizon => format!("pays back within {horizon} months"),
            Some(_) => format!("takes longer than {horizon} months to pay back"),
            None => "saves nothing".into(),
        }
    );
    out.sensitivity = match context.users_flip(&|r| r.payback_months.is_some_and(|p| p <= horizon))
    {
        Some(u) => format!(
            "payback falls under {horizon} months from {}",
            users_text(u)
        ),
        None => format!("payback stays above {horizon} months at every user count up to 100M"),
    };
    out
}
