//! The document's further checkable statements, each with its evidence: the document
//! against itself (scalability, timeline), the decision matrix (R2 or S3, projections),
//! the options' own lines (Option C's bounds and cost), the components on each op's
//! request path, and the TimescaleDB edition as a risk line.

use super::context::{AFTER, BEFORE, Context, not_measured, users_text};
use super::{Evidence, Outcome, Verdict};
use crate::cost::Usd;
use crate::results::{Store, SystemResults};

/// "10x scalability" in the summary against "100x (10K → 1M users)" in the benefits.
pub(super) fn scale_consistency(context: &Context, mut out: Verdict) -> Verdict {
    let d = &context.targets.document;
    let range = d.scale_to_users as f64 / d.scale_from_users as f64;
    out.value = format!(
        "summary {:.0}×; benefits {:.0}× ({} → {})",
        d.scale_factor_headline,
        range,
        users_text(d.scale_from_users as f64),
        users_text(d.scale_to_users as f64)
    );
    out.target = "one scalability factor".into();
    out.judge(
        Evidence::Arithmetic,
        (d.scale_factor_headline - range).abs() < 0.5,
    );
    out.reason = "the document states two factors for the same claim".into();
    out
}

/// The header's timeline against the breakdown's weeks (five working days a week).
pub(super) fn timeline(context: &Context, mut out: Verdict) -> Verdict {
    let d = &context.targets.document;
    let sum = d.development_weeks + d.testing_weeks + d.deployment_days / 5.0;
    out.value = format!(
        "breakdown: {} weeks development + {} week testing + {} days deployment = {sum:.1} weeks",
        d.development_weeks, d.testing_weeks, d.deployment_days
    );
    out.target = format!("{} weeks", d.timeline_weeks);
    out.judge(Evidence::Arithmetic, sum <= d.timeline_weeks + 0.05);
    out.reason = "the header's timeline counts development only".into();
    out
}

/// Decision matrix #2: V0.3 on R2 against V0.3 on S3 at the reference tier.
pub(super) fn storage_choice(context: &Context, mut out: Verdict) -> Verdict {
    let users = context.reference_users();
    let total = |id: &str| context.cost.at(id, users).map(|p| p.total);
    let (Some(r2), Some(s3)) = (total("v03-neon-r2"), total("v03-neon-s3")) else {
        return not_measured(out, "no V0.3 projection on both R2 and S3");
    };
    out.value = format!(
        "V0.3 at {}: {r2} per month on R2, {s3} on S3 (difference {})",
        users_text(users as f64),
        Usd(s3.0 - r2.0)
    );
    out.target = "R2 (cheaper)".into();
    out.judge(Evidence::Projection, r2.0 <= s3.0);
    out.reason = "the same measured usage priced with each provider's catalogue lines (egress is free on R2)".into();
    out
}

/// Decision matrix #4: how long a write takes to show where the projections serve it.
pub(super) fn projections(context: &Context, mut out: Verdict) -> Verdict {
    let Some(lag) = context
        .before_after()
        .1
        .and_then(|s| s.projection_lag_ms.as_ref())
    else {
        return not_measured(out, "no projection lag in the results");
    };
    out.value = format!(
        "V0.3 write → visible: list p50 {:.1} ms / p95 {:.1} ms, search p50 {:.1} ms / p95 {:.1} ms ({} writes)",
        lag.list.p50_ms, lag.list.p95_ms, lag.search.p50_ms, lag.search.p95_ms, lag.samples
    );
    out.target = "hybrid: sync where it must be fast, async where decoupled".into();
    out.evidence = Some(Evidence::Measured);
    out.outcome = Outcome::ForTheApprover;
    out.reason =
        "which lag is acceptable where is a product decision; the lags are measured".into();
    out
}

/// "Fewer moving parts": stores each op waits for on its request path.
pub(super) fn moving_parts(context: &Context, mut out: Verdict) -> Verdict {
    let parts = |s: Option<&SystemResults>| -> Option<(f64, usize)> {
        let ops = &s?.round_trips;
        let per_op: Vec<usize> = ops
            .values()
            .filter(|r| r.ops > 0)
            .map(|r| r.request_path.values().filter(|n| **n > 0).count())
            .collect();
        let max = per_op.iter().copied().max()?;
        Some((
            per_op.iter().sum::<usize>() as f64 / per_op.len() as f64,
            max,
        ))
    };
    let (a, b) = context.before_after();
    let (Some((ma, xa)), Some((mb, xb))) = (parts(a), parts(b)) else {
        return not_measured(out, "no round trips in the results");
    };
    let stores = [Store::Postgres, Store::S3, Store::Http];
    let used = |s: Option<&SystemResults>| {
        stores
            .iter()
            .filter(|st| {
                s.is_some_and(|s| {
                    s.round_trips
                        .values()
                        .any(|r| r.request_path.get(st).is_some_and(|n| *n > 0))
                })
            })
            .count()
    };
    out.value = format!(
        "stores on an op's request path: V0.2 {ma:.1} on average (at most {xa}, {} in all), V0.3 {mb:.1} (at most {xb}, {} in all)",
        used(a),
        used(b)
    );
    out.target = "fewer moving parts".into();
    out.judge(Evidence::Measured, mb <= ma);
    out.reason = "counted from the round trips each op waited for, per store (PostgreSQL, object store, Inngest)".into();
    out
}

/// Option C is acceptable below 1K users and 1M events: what the run shows there.
pub(super) fn option_c_bounds(context: &Context, mut out: Verdict) -> Verdict {
    let Some(ret) = context.returns_at(1_000) else {
        return not_measured(out, "no projection for both systems");
    };
    let events = context.before_after().0.and_then(|s| {
        let last = s.event_growth.as_ref()?.last()?;
        Some(format!(
            "; V0.2's plain event table answered the time-window query in {:.2} ms p50 at {} events",
            last.p50_ms, last.events
        ))
    });
    out.value = format!(
        "at 1.0K users the change saves {} per month (payback {}){}",
        ret.monthly_savings,
        ret.payback_months
            .map_or("never".into(), |p| format!("{p:.0} months")),
        events.unwrap_or_default()
    );
    out.target = "V0.2 acceptable below 1K users and 1M events".into();
    out.judge(
        Evidence::Projection,
        ret.payback_months.is_none_or(|p| p > 24.0),
    );
    out.reason = "consistent when the change does not pay back within 24 months at 1K users".into();
    out
}

/// Option C: "Cost: Stay at $11,600/month" — the current cost level again.
pub(super) fn current_cost(context: &Context, mut out: Verdict) -> Verdict {
    let d = &context.targets.document;
    let users = context.reference_users();
    let Some(current) = context.total(BEFORE, users) else {
        return not_measured(out, "no projection of V0.2");
    };
    out.value = format!("V0.2 at {}: {current} per month", users_text(users as f64));
    out.target = format!("{} per month", Usd(d.current_monthly_usd));
    out.judge(
        Evidence::Projection,
        (current.0 - d.current_monthly_usd).abs() <= 0.25 * d.current_monthly_usd,
    );
    out.reason = "the same figure as the current cost level".into();
    out
}

/// TimescaleDB on the recommended host: the edition decides whether compression exists.
pub(super) fn timescale_edition(context: &Context, mut out: Verdict) -> Verdict {
    let stores = context.results.environment.stores.as_ref();
    let license = stores.and_then(|s| s.timescaledb_license.as_deref());
    out.value = format!(
        "this run's TimescaleDB: {} ({} edition); V0.3's primary deployment: {}",
        stores
            .and_then(|s| s.timescaledb.as_deref())
            .unwrap_or("absent"),
        license.unwrap_or("unknown"),
        context
            .cost
            .model
            .primary(AFTER)
            .map_or("none".into(), |d| d.label.clone())
    );
    out.target = "TimescaleDB with compression on the recommended host".into();
    out.evidence = Some(Evidence::Measured);
    out.outcome = Outcome::ForTheApprover;
    out.reason = "a risk line: managed PostgreSQL services may offer only the Apache edition, which has no compression (as here); compression is measured only on the community edition — Docker mode's TimescaleDB image, or Tiger Cloud through external stores".into();
    out
}

/// "Content stored 5 times", in bytes: what each write adds to the stores against the
/// body it carries (TOAST compresses repeated bodies, so copies and bytes differ).
pub(super) fn bytes_per_write(context: &Context, mut out: Verdict) -> Verdict {
    let d = &context.targets.document;
    let ratio = |system: &str| {
        let u = context.cost.unit_usage.get(system)?;
        let added = u.postgres_bytes_per_write? + u.object_bytes_per_write?;
        Some((added, u.mean_body_bytes?))
    };
    let (Some((aa, ba)), Some((ab, bb))) = (ratio(BEFORE), ratio(AFTER)) else {
        return not_measured(out, "no storage growth or body sizes in the results");
    };
    let kb = |b: f64| b / 1e3;
    out.value = format!(
        "bytes added per write / mean body: V0.2 {:.1} KB / {:.1} KB = {:.1}×, V0.3 {:.1} KB / {:.1} KB = {:.1}×",
        kb(aa),
        kb(ba),
        aa / ba,
        kb(ab),
        kb(bb),
        ab / bb
    );
    out.target = format!("{}× the body → {}×", d.copies_before, d.copies_after);
    out.judge(
        Evidence::Measured,
        aa / ba >= 0.8 * d.copies_before && ab / bb < aa / ba,
    );
    out.reason = format!(
        "confirmed when V0.2 adds at least 80% of {}× the body per write and V0.3 less; stored sizes before and after the measured phases (PostgreSQL relations with TOAST and indexes, objects) over the writes — indexes and event rows add to the body, TOAST compression takes from it",
        d.copies_before
    );
    out
}
