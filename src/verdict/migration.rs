//! The lines a migration rehearsal (`archbench migrate`, `report --migration`) makes
//! measurable: decision #5's pace (fast against safe), the rollback plan, and what the
//! risk criteria can be shown. The rehearsal's own figures are measured; its
//! durations at the production size are projected from its rates.

use super::context::{Context, not_measured, users_text};
use super::{Evidence, Outcome, Verdict};
use crate::cost::Usd;
use crate::numbers::thousands;
use crate::results::migration::Migration;

/// Hours in the deployment window the fast plan gives the move (its breakdown's
/// deployment days).
fn window_hours(context: &Context) -> f64 {
    context.targets.document.deployment_days * 24.0
}

/// The rehearsal when it ran to the end, else why the line is not measured.
fn complete<'a>(context: &Context<'a>) -> Result<&'a Migration, &'static str> {
    match context.migration {
        None => Err(
            "no migration rehearsal given: `archbench migrate` writes migration.json, `archbench report --migration FILE` reads it",
        ),
        Some(m) if !m.complete => Err("the rehearsal given did not complete (resume it)"),
        Some(m) => Ok(m),
    }
}

/// One line of what the rehearsal measured.
pub(super) fn rehearsal_summary(m: &Migration) -> String {
    format!(
        "rehearsal at {} entities: parity after the backfill {} missing / {} extra / {} mismatched; shadow reads {} compared, {} mismatched; after {} resume(s) {} lost, {} doubled; dual-write +{:.1} ms p50 / +{:.1} ms p99 on writes",
        thousands(m.seeded_entities),
        m.parity.missing,
        m.parity.extra,
        m.parity.mismatched,
        m.shadow_reads.compared,
        m.shadow_reads.mismatched,
        m.resume.resumes,
        m.resume.lost,
        m.resume.duplicated,
        m.dual_write_overhead.p50_ms,
        m.dual_write_overhead.p99_ms
    )
}

/// Decision #5: the fast pace holds if the rehearsal found nothing the safe pace's
/// extra weeks would be needed for, and the move's size-dependent stages fit the
/// fast plan's deployment window at the production size.
pub(super) fn pace(context: &Context, mut out: Verdict) -> Verdict {
    let m = match complete(context) {
        Ok(m) => m,
        Err(why) => return not_measured(out, why),
    };
    let window = window_hours(context);
    let rollback_clean = m.rollback.as_ref().is_some_and(|r| r.parity.clean());
    let mut found = Vec::new();
    if !m.parity.clean() {
        found.push("parity differences after the backfill".to_string());
    }
    if m.shadow_reads.mismatched > 0 {
        found.push(format!(
            "{} shadow-read mismatches",
            m.shadow_reads.mismatched
        ));
    }
    if m.resume.lost + m.resume.duplicated > 0 {
        found.push("losses or doubles across a resume".into());
    }
    if !rollback_clean {
        found.push("a rollback that did not reach parity".into());
    }
    if m.projected_hours > window {
        found.push(format!(
            "{:.1} h of backfill and parity against a {window:.0} h window",
            m.projected_hours
        ));
    }
    out.value = format!(
        "{}; backfill and parity at {} entities projected {:.1} h",
        rehearsal_summary(m),
        thousands(m.projection.entities),
        m.projected_hours
    );
    out.target =
        format!("fast: the move fits the plan's {window:.0} h deployment window, risk acceptable");
    out.judge(Evidence::Projection, found.is_empty());
    out.reason = if found.is_empty() {
        format!(
            "the rehearsal (measured on {} stores) found nothing the safe pace's extra weeks would be needed for; its durations at the production size are projected from its measured rates ({})",
            m.rig.stores, m.projection.basis
        )
    } else {
        format!("the rehearsal found {}", found.join(", "))
    };
    let per_user = m.projection.entities_per_user.max(1) as f64;
    out.sensitivity = if m.backfill.entities_per_s > 0.0 && m.projected_hours > 0.0 {
        // Hours grow linearly with entities: the window is used up at this many users.
        let users = m.projection.users as f64 * window / m.projected_hours;
        format!(
            "backfill and parity outgrow the {window:.0} h window from {} ({per_user:.0} entities each, at the rates measured)",
            users_text(users)
        )
    } else {
        "—".into()
    };
    out
}

/// The rollback plan: writes made after the cut-over carried back, checked by parity;
/// the week of dual-write priced from the cost model.
pub(super) fn rollback(context: &Context, mut out: Verdict) -> Verdict {
    let m = match complete(context) {
        Ok(m) => m,
        Err(why) => return not_measured(out, why),
    };
    let Some(r) = &m.rollback else {
        return not_measured(out, "the rehearsal has no rollback stage");
    };
    let writes = m.cutover.as_ref().map_or(0, |c| c.writes_after);
    if writes == 0 {
        return not_measured(
            out,
            "no writes reached V0.3 after the cut-over: nothing to carry back",
        );
    }
    let week = dual_write_week(context);
    out.value = format!(
        "{} entities written after the cut-over ({writes} writes) carried back into V0.2 in {:.1} s; parity after: {} missing / {} extra / {} mismatched; one week of dual-write (both systems) at {}: {}",
        r.carried_back,
        r.seconds,
        r.parity.missing,
        r.parity.extra,
        r.parity.mismatched,
        users_text(context.reference_users() as f64),
        week.map_or("not projected".into(), |w| w.to_string())
    );
    out.target = "rollback defined: dual-write kept for 1 week".into();
    out.judge(Evidence::Measured, r.parity.clean() && r.carried_back > 0);
    out.reason = "measured: the rehearsal cut over, served writes from V0.3 alone, carried them back into V0.2 and compared both by content hash; the week's cost is projected from the cost model".into();
    out
}

/// Both systems' monthly bills for seven days, at the reference size.
pub(super) fn dual_write_week(context: &Context) -> Option<Usd> {
    use super::context::{AFTER, BEFORE};
    context.cost.side_by_side(
        [BEFORE, AFTER],
        context.reference_users(),
        7.0,
        context.prices,
    )
}

/// The risk lines: the rehearsal's figures beside the week's cost; the appetite stays
/// the approver's.
pub(super) fn risk(context: &Context, mut out: Verdict) -> Verdict {
    let week = dual_write_week(context);
    let errors: u64 = context
        .results
        .systems
        .get(super::context::AFTER)
        .map_or(0, |s| s.ops.values().map(|o| o.errors).sum());
    let rehearsal = match complete(context) {
        Ok(m) => {
            out.evidence = Some(Evidence::Measured);
            format!("; {}", rehearsal_summary(m))
        }
        Err(_) => "; no migration rehearsal given".into(),
    };
    out.value = format!(
        "V0.3 errors in this run: {errors}; one week of dual-write (both systems) at {}: {}{rehearsal}",
        users_text(context.reference_users() as f64),
        week.map_or("not projected".into(), |w| w.to_string())
    );
    out.target = "medium risk, rollback by dual-write for 1 week".into();
    out.outcome = Outcome::ForTheApprover;
    out.reason = "risk appetite and downtime tolerance are the approver's; the figures above are what the run and the rehearsal can contribute".into();
    out
}
