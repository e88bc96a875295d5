//! The evaluators, one per [`Check`].

use serde::Serialize;

use super::*;
use crate::arch::{OpKind, Store};
use crate::cost::catalogue::PriceSource;
use crate::cost::decision::{Returns, returns};
use crate::cost::{Assumptions, CostReport};
use crate::cost::{ComponentGroup, Usd};
use crate::results::{Results, SystemResults};

const BEFORE: &str = "v02";
const AFTER: &str = "v03";

/// Production latency estimate of one op: the measured median plus each request-path
/// round trip times the stated network RTT of its store.
#[derive(Debug, Clone, Serialize)]
pub struct LatencyEstimate {
    /// Op kind.
    pub op: String,
    /// Share of monthly ops (user behaviour).
    pub weight: f64,
    /// Measured p50 here (loopback), ms, per system.
    pub measured_ms: [f64; 2],
    /// Request-path round trips (postgres, s3, http) per system.
    pub round_trips: [[f64; 3]; 2],
    /// Estimate, ms, per system.
    pub estimate_ms: [f64; 2],
}

struct Ctx<'a> {
    t: &'a Targets,
    r: &'a Results,
    cost: &'a CostReport,
    prices: &'a dyn PriceSource,
}

fn sys<'a>(r: &'a Results, name: &str) -> Option<&'a SystemResults> {
    r.systems.get(name)
}

fn v(id: &str, statement: &str) -> Verdict {
    Verdict {
        id: id.into(),
        statement: statement.into(),
        value: String::new(),
        target: String::new(),
        outcome: Outcome::NotMeasurable,
        reason: String::new(),
        sensitivity: "—".into(),
        estimate: false,
    }
}

fn not_measured(mut out: Verdict, why: &str) -> Verdict {
    out.outcome = Outcome::NotMeasurable;
    out.value = "not measured".into();
    out.reason = why.into();
    out
}

impl Ctx<'_> {
    fn refu(&self) -> u64 {
        self.cost.model.assumptions.reference_users
    }

    fn total(&self, system: &str, users: u64) -> Option<Usd> {
        self.cost
            .primary_total_with(system, users, self.prices, &|_, _| {})
    }

    fn totals(&self, users: u64) -> Option<(Usd, Usd)> {
        Some((self.total(BEFORE, users)?, self.total(AFTER, users)?))
    }

    fn returns_at(&self, users: u64) -> Option<Returns> {
        let (a, b) = self.totals(users)?;
        Some(returns(Usd(self.t.document.investment_usd), a, b))
    }

    fn fully_priced(&self) -> bool {
        [BEFORE, AFTER].iter().all(|s| {
            self.cost
                .model
                .primary(s)
                .and_then(|d| self.cost.at(&d.id, self.refu()))
                .is_some_and(|p| p.fully_priced)
        })
    }

    /// Users in 100..1e8 at which `pred(returns)` changes.
    fn users_flip(&self, pred: &dyn Fn(&Returns) -> bool) -> Option<f64> {
        flip_point(100.0, 1e8, 120, true, &|u| {
            self.returns_at(u.round() as u64).is_some_and(|r| pred(&r))
        })
    }
}

fn users_text(u: f64) -> String {
    if u >= 1e6 {
        format!("{:.1}M users", u / 1e6)
    } else if u >= 1e3 {
        format!("{:.1}K users", u / 1e3)
    } else {
        format!("{u:.0} users")
    }
}

fn pct(x: f64) -> String {
    format!("{x:.1}%")
}

/// Evaluates every claim and criterion of `t`.
pub fn evaluate(
    t: &Targets,
    r: &Results,
    cost: &CostReport,
    prices: &dyn PriceSource,
) -> Evaluation {
    let cx = Ctx { t, r, cost, prices };
    let latency = latency_estimates(&cx, &cost.model.assumptions);
    let claims: Vec<Verdict> = t
        .claims
        .iter()
        .map(|c| claim(&cx, &c.id, &c.quote, c.check, &latency))
        .collect();
    let criteria: Vec<Verdict> = t.criteria.iter().map(|c| criterion(&cx, c)).collect();
    let recommendation = recommend(&cx, &claims);
    let checklist = checklist(&cx, &claims, &recommendation);
    Evaluation {
        claims,
        criteria,
        checklist,
        recommendation,
        latency_estimate: latency,
    }
}

fn claim(cx: &Ctx, id: &str, quote: &str, check: Check, lat: &[LatencyEstimate]) -> Verdict {
    let d = &cx.t.document;
    let mut out = v(id, quote);
    let (a, b) = (sys(cx.r, BEFORE), sys(cx.r, AFTER));
    match check {
        Check::Copies => {
            let (Some(fa), Some(fb)) = (
                a.and_then(|s| s.footprint.as_ref()),
                b.and_then(|s| s.footprint.as_ref()),
            ) else {
                return not_measured(
                    out,
                    "the results hold no copies-per-item scan for both systems",
                );
            };
            out.value = format!(
                "{:.1} → {:.1} copies per item ({} bodies sampled; stored/logical {:.1}× → {:.1}×)",
                fa.copies_per_item,
                fb.copies_per_item,
                fa.copies.sampled,
                fa.amplification.unwrap_or(0.0),
                fb.amplification.unwrap_or(0.0)
            );
            out.target = format!("{} → {}", d.copies_before, d.copies_after);
            let ok = (fa.copies_per_item - d.copies_before).abs() < 0.05
                && (fb.copies_per_item - d.copies_after).abs() < 0.05;
            out.outcome = Outcome::judge(ok);
            out.reason = format!(
                "a marker unique to each sampled version was searched in every text/JSON column and every object; V0.2 holds it in {}",
                fa.copies
                    .places
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            out.sensitivity = "a count, not an estimate: it changes only with the code paths. Bytes differ from copies: TOAST compresses repeated bodies, so 5 copies cost less than 5× the bytes".into();
        }
        Check::EventsReference => {
            let (Some(fa), Some(fb)) = (
                a.and_then(|s| s.footprint.as_ref()),
                b.and_then(|s| s.footprint.as_ref()),
            ) else {
                return not_measured(out, "no copies scan in the results");
            };
            let holds = |f: &crate::results::FootprintResults| {
                f.copies.places.keys().any(|k| k.contains("events"))
            };
            let mb = |f: &crate::results::FootprintResults| {
                f.postgres_relations.get("events").copied().unwrap_or(0) as f64 / 1e6
            };
            out.value = format!(
                "body in event payloads: V0.2 {}, V0.3 {}; event table {:.1} MB → {:.1} MB",
                if holds(fa) { "yes" } else { "no" },
                if holds(fb) { "yes" } else { "no" },
                mb(fa),
                mb(fb)
            );
            out.target = "events reference the object, never copy the body".into();
            out.outcome = Outcome::judge(holds(fa) && !holds(fb));
            out.reason = "from the same marker scan as copies per item".into();
            out.sensitivity = "a count, not an estimate".into();
        }
        Check::TimeSeries => {
            let g = |s: Option<&SystemResults>| {
                s.and_then(|s| s.event_growth.clone())
                    .filter(|p| p.len() >= 2)
            };
            let (Some(ga), Some(gb)) = (g(a), g(b)) else {
                let p = |s: Option<&SystemResults>| {
                    s.and_then(|s| s.ops.get("activity"))
                        .map(|o| o.latency_us.p50 as f64 / 1e3)
                };
                let (Some(pa), Some(pb)) = (p(a), p(b)) else {
                    return not_measured(out, "no activity (time-window) ops in the results");
                };
                out.value = format!(
                    "activity p50 at one size: plain table {pa:.2} ms, hypertable {pb:.2} ms"
                );
                out.target =
                    "the plain table degrades as events grow; the hypertable does not".into();
                out.reason = format!(
                    "the claim is about growth and this run has no growth probe ([growth] in the scenario); at this size the plain table was {}",
                    if pa <= pb { "faster" } else { "slower" }
                );
                out.sensitivity = "run with [growth] factors = [10, 100] to measure it".into();
                return out;
            };
            let (a0, an) = (ga[0], ga[ga.len() - 1]);
            let (b0, bn) = (gb[0], gb[gb.len() - 1]);
            let (ra, rb) = (an.p50_ms / a0.p50_ms, bn.p50_ms / b0.p50_ms);
            out.value = format!(
                "activity p50 from {} to {} events (×{:.0}): plain table {:.2} → {:.2} ms ({ra:.2}×), hypertable {:.2} → {:.2} ms ({rb:.2}×)",
                a0.events, an.events, an.factor, a0.p50_ms, an.p50_ms, b0.p50_ms, bn.p50_ms
            );
            out.target = "the plain table degrades as events grow; the hypertable does not".into();
            let plain_worse = an.p50_ms > bn.p50_ms * 1.2 && ra > rb;
            out.outcome = Outcome::judge(plain_worse);
            out.reason = format!(
                "synthetic events of more users added to each event store (same history span), then the same users' 24-hour query timed at each size; the plain table's b-tree on (user_id, created_at) {} and the hypertable's 1-day chunks {}",
                if ra < 1.5 {
                    "kept it flat"
                } else {
                    "did not keep it flat"
                },
                if rb < 1.5 {
                    "kept it flat"
                } else {
                    "did not keep it flat"
                }
            );
            // Log-linear extrapolation from the last two sizes of each curve.
            let slope = |p: &[crate::measure::growth::GrowthPoint]| {
                let (x, y) = (p[p.len() - 2], p[p.len() - 1]);
                (y.p50_ms / x.p50_ms).ln() / (y.events as f64 / x.events as f64).ln()
            };
            let (ka, kb) = (slope(&ga), slope(&gb));
            let (xa, xb) = ((an.events as f64).ln(), (bn.events as f64).ln());
            let x = ((bn.p50_ms.ln() - kb * xb) - (an.p50_ms.ln() - ka * xa)) / (ka - kb);
            out.sensitivity = if plain_worse {
                "the plain table is already slower at the largest size measured".into()
            } else if ka > kb && x.is_finite() && x > xa && x < 1e12f64.ln() {
                format!(
                    "extrapolated log-linearly from the last two sizes, the plain table becomes slower than the hypertable at about {:.1e} events",
                    x.exp()
                )
            } else {
                "extrapolated log-linearly from the last two sizes, the plain table does not become slower than the hypertable below 10^12 events".into()
            };
        }
        Check::Inngest => {
            // Measured by the usage model: executions / (creates + updates).
            let per = |s: &str| {
                cx.cost
                    .unit_usage
                    .get(s)
                    .and_then(|u| u.executions_per_write)
            };
            let (Some(ea), Some(eb)) = (per(BEFORE), per(AFTER)) else {
                return not_measured(out, "no writes in the results");
            };
            let cost = |s: &str| {
                cx.cost
                    .model
                    .primary(s)
                    .and_then(|d| cx.cost.at(&d.id, cx.t.document.scale_to_users))
                    .map(|p| {
                        p.lines
                            .iter()
                            .filter(|l| l.component.group() == ComponentGroup::Inngest)
                            .filter_map(|l| l.cost)
                            .fold(Usd(0.0), |a, b| a + b)
                    })
            };
            out.value = format!(
                "{ea:.1} → {eb:.1} executions per write ({:+.0}%)",
                (eb / ea - 1.0) * 100.0
            );
            out.target = "simple projections leave Inngest; only complex workflows stay".into();
            out.outcome = Outcome::judge(eb < ea);
            out.reason =
                "counted by the emulator: every run and every step (Inngest's billing unit)".into();
            if let (Some(ca), Some(cb)) = (cost(BEFORE), cost(AFTER)) {
                out.sensitivity = format!(
                    "at {} the Inngest bill is {ca} → {cb}/month; it is linear in executions per write",
                    users_text(cx.t.document.scale_to_users as f64)
                );
            }
        }
        Check::CostReduction => {
            let Some(ret) = cx.returns_at(cx.refu()) else {
                return not_measured(out, "no projection for both systems");
            };
            let red = ret.reduction_pct.unwrap_or(0.0);
            out.value = format!(
                "{}: {} → {} per month ({})",
                users_text(cx.refu() as f64),
                ret.current_monthly,
                ret.proposed_monthly,
                pct(red)
            );
            out.target = format!("−{}%", d.cost_reduction_pct);
            out.estimate = true;
            let ok = red >= d.cost_reduction_pct;
            out.outcome = Outcome::judge(ok);
            out.reason = format!(
                "projected from measured usage with catalogue prices{}",
                if cx.fully_priced() {
                    ""
                } else {
                    " (some lines unpriced)"
                }
            );
            let target = d.cost_reduction_pct;
            out.sensitivity = match cx.users_flip(&|r| r.reduction_pct.unwrap_or(0.0) >= target) {
                Some(u) => format!("the reduction crosses {target}% at {}", users_text(u)),
                None => {
                    let best = [1e3, 1e4, 1e5, 1e6, 1e7]
                        .iter()
                        .filter_map(|u| cx.returns_at(*u as u64).and_then(|r| r.reduction_pct))
                        .fold(f64::MIN, f64::max);
                    format!(
                        "no user count from 100 to 100M reaches {target}% (best {})",
                        pct(best)
                    )
                }
            };
        }
        Check::CostLevels => {
            let Some((ca, cb)) = cx.totals(cx.refu()) else {
                return not_measured(out, "no projection for both systems");
            };
            out.value = format!("{ca} → {cb} per month at {}", users_text(cx.refu() as f64));
            out.target = format!(
                "{} → {}",
                Usd(d.current_monthly_usd),
                Usd(d.proposed_monthly_usd)
            );
            out.estimate = true;
            let near = |x: Usd, y: f64| (x.0 - y).abs() <= 0.25 * y;
            out.outcome =
                Outcome::judge(near(ca, d.current_monthly_usd) && near(cb, d.proposed_monthly_usd));
            out.reason = "confirmed when both levels are within ±25% of the document's".into();
            let cur = d.current_monthly_usd;
            out.sensitivity = match flip_point(100.0, 1e8, 120, true, &|u| {
                cx.total(BEFORE, u as u64).is_some_and(|c| c.0 >= cur)
            }) {
                Some(u) => format!(
                    "V0.2 costs {} per month at {} on this model; V0.3 then costs {}",
                    Usd(cur),
                    users_text(u),
                    cx.total(AFTER, u as u64).unwrap_or_default()
                ),
                None => format!("V0.2 never reaches {} below 100M users", Usd(cur)),
            };
        }
        Check::Latency => {
            let w = |i: usize| lat.iter().map(|e| e.weight * e.estimate_ms[i]).sum::<f64>();
            let m = |i: usize| lat.iter().map(|e| e.weight * e.measured_ms[i]).sum::<f64>();
            if lat.is_empty() {
                return not_measured(out, "no per-op latency for both systems");
            }
            let (ea, eb) = (w(0), w(1));
            let (ma, mb) = (m(0), m(1));
            let target_ratio = d.latency_after_ms / d.latency_before_ms;
            out.value = format!(
                "estimate (typical op, p50): {ea:.1} ms → {eb:.1} ms ({:+.0}%); measured here (loopback): {ma:.2} → {mb:.2} ms ({:+.0}%)",
                (eb / ea - 1.0) * 100.0,
                (mb / ma - 1.0) * 100.0
            );
            out.target = format!(
                "{} ms → {} ms ({:+.0}%)",
                d.latency_before_ms,
                d.latency_after_ms,
                (target_ratio - 1.0) * 100.0
            );
            out.estimate = true;
            out.outcome = Outcome::judge(eb / ea <= target_ratio);
            out.reason = format!(
                "estimate = measured p50 + request-path round trips × stated RTT (database {} ms, object store {} ms, Inngest {} ms), weighted by the user behaviour's op mix; the document's 500 ms baseline is {}× this estimate of V0.2",
                cx.cost.model.assumptions.rtt_postgres_ms,
                cx.cost.model.assumptions.rtt_object_ms,
                cx.cost.model.assumptions.rtt_workflow_ms,
                (d.latency_before_ms / ea).round()
            );
            let ratio_with = |f: &dyn Fn(&mut Assumptions)| {
                let mut a = cx.cost.model.assumptions.clone();
                f(&mut a);
                let l = latency_estimates(cx, &a);
                let s = |i: usize| l.iter().map(|e| e.weight * e.estimate_ms[i]).sum::<f64>();
                s(1) / s(0) <= target_ratio
            };
            let pg = flip_point(0.0, 200.0, 200, false, &|x| {
                ratio_with(&|a| a.rtt_postgres_ms = x)
            });
            let obj = flip_point(0.0, 500.0, 200, false, &|x| {
                ratio_with(&|a| a.rtt_object_ms = x)
            });
            out.sensitivity = match (pg, obj) {
                (None, None) => format!(
                    "no database RTT in 0–200 ms and no object-store RTT in 0–500 ms makes V0.3 {:.0}% faster: V0.3 makes at least as many round trips as V0.2 on every op",
                    (1.0 - target_ratio) * 100.0
                ),
                (p, o) => format!(
                    "flips at database RTT {} / object-store RTT {}",
                    p.map_or("never".into(), |x| format!("{x:.1} ms")),
                    o.map_or("never".into(), |x| format!("{x:.1} ms"))
                ),
            };
        }
        Check::Scale => {
            let per_user = |s: &str, u: u64| cx.total(s, u).map(|c| c.0 / u as f64);
            let (from, to) = (d.scale_from_users, d.scale_to_users);
            let vcpu = |s: &str| {
                cx.cost
                    .model
                    .primary(s)
                    .and_then(|dep| cx.cost.at(&dep.id, to))
                    .and_then(|p| p.usage.db_vcpu_needed)
            };
            out.value = match (
                per_user(BEFORE, from),
                per_user(BEFORE, to),
                per_user(AFTER, from),
                per_user(AFTER, to),
            ) {
                (Some(a1), Some(a2), Some(b1), Some(b2)) => format!(
                    "cost per user {} → {}: V0.2 ${a1:.3} → ${a2:.3}, V0.3 ${b1:.3} → ${b2:.3}; DB vCPU at peak for {}: V0.2 {:.1}, V0.3 {:.1} (projected)",
                    users_text(from as f64),
                    users_text(to as f64),
                    users_text(to as f64),
                    vcpu(BEFORE).unwrap_or(f64::NAN),
                    vcpu(AFTER).unwrap_or(f64::NAN)
                ),
                _ => "not projected".into(),
            };
            out.target = format!(
                "{}× users ({} → {})",
                to / from.max(1),
                users_text(from as f64),
                users_text(to as f64)
            );
            out.outcome = Outcome::NotMeasurable;
            out.reason = "one 2-core machine on loopback cannot carry 1M users; the projection is linear in measured per-op usage and says nothing about where either design saturates".into();
        }
        Check::Roi => {
            let doc = returns(
                Usd(d.investment_usd),
                Usd(d.current_monthly_usd),
                Usd(d.proposed_monthly_usd),
            );
            let Some(ret) = cx.returns_at(cx.refu()) else {
                return not_measured(out, "no projection for both systems");
            };
            out.value = format!(
                "projected at {}: gross {}, net {} (document's own figures: gross {}, net {})",
                users_text(cx.refu() as f64),
                pct(ret.roi_gross_pct.unwrap_or(0.0)),
                pct(ret.roi_net_pct.unwrap_or(0.0)),
                pct(doc.roi_gross_pct.unwrap_or(0.0)),
                pct(doc.roi_net_pct.unwrap_or(0.0)),
            );
            out.target = format!("{}%", d.roi_pct);
            out.estimate = true;
            out.outcome = Outcome::judge(ret.roi_gross_pct.unwrap_or(f64::MIN) >= d.roi_pct);
            out.reason = "annual savings / investment ($18,500); the document's 708% is the gross figure, net of the investment it is 608%".into();
            let target = d.roi_pct;
            out.sensitivity =
                match cx.users_flip(&|r| r.roi_gross_pct.unwrap_or(f64::MIN) >= target) {
                    Some(u) => format!("gross ROI reaches {target}% at {}", users_text(u)),
                    None => format!("no user count from 100 to 100M reaches {target}%"),
                };
        }
        Check::Payback => {
            let doc = returns(
                Usd(d.investment_usd),
                Usd(d.current_monthly_usd),
                Usd(d.proposed_monthly_usd),
            );
            let doc_p = doc.payback_months.unwrap_or(f64::INFINITY);
            let proj = cx.returns_at(cx.refu());
            out.value = format!(
                "document's own figures: {} / {} = {doc_p:.2} months; projected at {}: {}",
                Usd(d.investment_usd),
                doc.monthly_savings,
                users_text(cx.refu() as f64),
                proj.and_then(|r| r.payback_months)
                    .map_or("never (no savings)".into(), |p| format!("{p:.1} months"))
            );
            out.target = format!("{} months", d.payback_months);
            out.estimate = true;
            let arithmetic_ok = (doc_p - d.payback_months).abs() < 0.05;
            let proj_ok = proj
                .and_then(|r| r.payback_months)
                .is_some_and(|p| p <= d.payback_months);
            out.outcome = Outcome::judge(arithmetic_ok && proj_ok);
            out.reason = format!(
                "{}; the document's 1.4 matches the header's {} ({:.2} months), not its own {} breakdown",
                if arithmetic_ok {
                    "the document's arithmetic holds"
                } else {
                    "the document's arithmetic does not hold"
                },
                Usd(d.investment_header_usd),
                d.investment_header_usd / doc.monthly_savings.0,
                Usd(d.investment_usd)
            );
            let target = d.payback_months;
            out.sensitivity = format!(
                "{} months holds for an investment up to {} at the document's savings; {}",
                target,
                Usd(target * doc.monthly_savings.0),
                match cx.users_flip(&|r| r.payback_months.is_some_and(|p| p <= target)) {
                    Some(u) => format!("on projected savings, from {}", users_text(u)),
                    None => "on projected savings, at no user count up to 100M".into(),
                }
            );
        }
        Check::Investment => {
            out.value = format!(
                "header {} vs breakdown {} ({:+.0}%)",
                Usd(d.investment_header_usd),
                Usd(d.investment_usd),
                (d.investment_usd / d.investment_header_usd - 1.0) * 100.0
            );
            out.target = "one investment figure".into();
            out.outcome = Outcome::judge((d.investment_usd - d.investment_header_usd).abs() < 1.0);
            out.reason = "the document's figures disagree; this report uses the breakdown ($18,500), as the approval checklist does".into();
        }
        other => {
            out = not_measured(out, &format!("{other:?} is a go/no-go check, not a claim"));
        }
    }
    out
}

fn criterion(cx: &Ctx, c: &Criterion) -> Verdict {
    let d = &cx.t.document;
    let id = match c.kind {
        CriterionKind::Go => "GO",
        CriterionKind::NoGo => "NO-GO",
    };
    let mut out = v(id, &c.text);
    match c.check {
        Check::Budget => {
            out.value = format!(
                "investment {} vs budget {}: headroom {} ({:.1}%)",
                Usd(d.investment_usd),
                Usd(d.budget_usd),
                Usd(d.budget_usd - d.investment_usd),
                (d.budget_usd - d.investment_usd) / d.investment_usd * 100.0
            );
            out.target = format!("investment ≤ {}", Usd(d.budget_usd));
            out.outcome = Outcome::judge(d.investment_usd <= d.budget_usd);
            out.reason = "the threshold is consistent with the document's own investment; whether the money exists is the approver's fact".into();
            out.sensitivity = format!(
                "an overrun above {:.1}% breaks a {} budget",
                (d.budget_usd / d.investment_usd - 1.0) * 100.0,
                Usd(d.budget_usd)
            );
        }
        Check::Risk => {
            let week = cx
                .totals(cx.refu())
                .map(|(a, b)| Usd((a.0 + b.0) * 7.0 / cx.cost.model.assumptions.days_per_month));
            let errors: u64 =
                cx.r.systems
                    .get(AFTER)
                    .map_or(0, |s| s.ops.values().map(|o| o.errors).sum());
            out.value = format!(
                "V0.3 errors in this run: {errors}; one week of dual-write (both systems) at {}: {}",
                users_text(cx.refu() as f64),
                week.map_or("not projected".into(), |w| w.to_string())
            );
            out.target = "medium risk, rollback by dual-write for 1 week".into();
            out.outcome = Outcome::NotMeasurable;
            out.reason = "risk appetite and downtime tolerance are the approver's; the figures above are what this run can contribute".into();
        }
        Check::ScaleGo | Check::ScaleNogo => {
            let users = if c.check == Check::ScaleGo {
                d.scale_from_users
            } else {
                1_000
            };
            let Some(ret) = cx.returns_at(users) else {
                return not_measured(out, "no projection for both systems");
            };
            let p = ret.payback_months;
            out.estimate = true;
            out.value = format!(
                "at {}: savings {} per month, payback {}",
                users_text(users as f64),
                ret.monthly_savings,
                p.map_or("never".into(), |p| format!("{p:.1} months"))
            );
            let horizon = if c.check == Check::ScaleGo { 6.0 } else { 24.0 };
            if c.check == Check::ScaleGo {
                out.target = "the change pays back within 6 months at 10K users".into();
                out.outcome = Outcome::judge(p.is_some_and(|p| p <= horizon));
            } else {
                out.target = "below 1K users the change does not pay back (> 24 months)".into();
                out.outcome = Outcome::judge(p.is_none_or(|p| p > horizon));
            }
            out.reason =
                "payback = investment / projected monthly savings of the primary deployments"
                    .into();
            out.sensitivity =
                match cx.users_flip(&|r| r.payback_months.is_some_and(|p| p <= horizon)) {
                    Some(u) => format!(
                        "payback falls under {horizon} months from {}",
                        users_text(u)
                    ),
                    None => format!(
                        "payback stays above {horizon} months at every user count up to 100M"
                    ),
                };
        }
        _ => {
            out = not_measured(
                out,
                c.reason.as_deref().unwrap_or("not measured by a benchmark"),
            );
            out.value = "—".into();
        }
    }
    out
}

fn latency_estimates(cx: &Ctx, a: &Assumptions) -> Vec<LatencyEstimate> {
    let (Some(sa), Some(sb)) = (sys(cx.r, BEFORE), sys(cx.r, AFTER)) else {
        return Vec::new();
    };
    let b = &cx.cost.behaviour;
    let mix = cx
        .cost
        .unit_usage
        .get(BEFORE)
        .map(|u| u.read_mix.clone())
        .unwrap_or_default();
    let reads = b.active_share * b.ops_per_active_user_per_day * a.days_per_month;
    let total = reads + b.writes_per_user_per_month();
    let mut out = Vec::new();
    for op in OpKind::ALL {
        let weight = match op {
            OpKind::Create => b.new_documents_per_user_per_month,
            OpKind::Update => b.updates_per_user_per_month,
            other => reads * mix.get(&other).copied().unwrap_or(0.0),
        } / total.max(f64::MIN_POSITIVE);
        let one = |s: &SystemResults| -> Option<(f64, [f64; 3])> {
            let m = s.ops.get(op.name())?.latency_us.p50 as f64 / 1e3;
            let rt = s.round_trips.get(op.name())?;
            Some((
                m,
                [
                    rt.per_op(Store::Postgres),
                    rt.per_op(Store::S3),
                    rt.per_op(Store::Http),
                ],
            ))
        };
        let (Some((ma, ra)), Some((mb, rb))) = (one(sa), one(sb)) else {
            continue;
        };
        let est = |m: f64, r: [f64; 3]| {
            m + r[0] * a.rtt_postgres_ms + r[1] * a.rtt_object_ms + r[2] * a.rtt_workflow_ms
        };
        out.push(LatencyEstimate {
            op: op.name().into(),
            weight,
            measured_ms: [ma, mb],
            round_trips: [ra, rb],
            estimate_ms: [est(ma, ra), est(mb, rb)],
        });
    }
    out
}

fn checklist(cx: &Ctx, claims: &[Verdict], rec: &Recommendation) -> Vec<ChecklistItem> {
    let d = &cx.t.document;
    let count = |o: Outcome| claims.iter().filter(|c| c.outcome == o).count();
    let find = |id: &str| claims.iter().find(|c| c.id == id);
    let ret = cx.returns_at(cx.refu());
    let week = cx
        .totals(cx.refu())
        .map(|(a, b)| Usd((a.0 + b.0) * 7.0 / cx.cost.model.assumptions.days_per_month));
    vec![
        ChecklistItem {
            item: format!("Budget: {} approved", Usd(d.investment_usd)),
            evidence: format!(
                "the breakdown sums to {} (the header says {}); projected payback at {}: {}",
                Usd(d.investment_usd),
                Usd(d.investment_header_usd),
                users_text(cx.refu() as f64),
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
                cx.r.systems.get(AFTER).map_or(0, |s| s
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
                "{} of {} claims measurable here: {} confirmed, {} refuted; {} not measurable",
                claims.len() - count(Outcome::NotMeasurable),
                claims.len(),
                count(Outcome::Confirmed),
                count(Outcome::Refuted),
                count(Outcome::NotMeasurable)
            ),
            // Clear and measurable: at least three in four claims have a measured verdict,
            // whichever way it went.
            supported: Some(count(Outcome::NotMeasurable) * 4 <= claims.len()),
        },
        ChecklistItem {
            item: "Rollback Plan: Defined (keep dual-write for 1 week)".into(),
            evidence: format!(
                "one week of both systems at {} costs about {}{}",
                users_text(cx.refu() as f64),
                week.map_or("(not projected)".into(), |w| w.to_string()),
                find("latency").map_or(String::new(), |l| format!(
                    "; latency during dual-write adds V0.3's write path ({})",
                    l.value
                ))
            ),
            supported: None,
        },
    ]
}

fn recommend(cx: &Ctx, claims: &[Verdict]) -> Recommendation {
    let outcome = |id: &str| claims.iter().find(|c| c.id == id).map(|c| c.outcome);
    let ret = cx.returns_at(cx.refu());
    let payback = ret.and_then(|r| r.payback_months);
    let refuted: Vec<&str> = claims
        .iter()
        .filter(|c| c.outcome == Outcome::Refuted)
        .map(|c| c.id.as_str())
        .collect();
    let (option, why) = match payback {
        Some(p) if p <= 12.0 && refuted.is_empty() => (
            'A',
            format!("every measurable claim holds and the change pays back in {p:.1} months"),
        ),
        Some(p) if p <= 24.0 => (
            'B',
            format!(
                "V0.3 pays back in {p:.1} months at {}, but these claims did not hold: {} — take it in steps and re-measure",
                users_text(cx.refu() as f64),
                refuted.join(", ")
            ),
        ),
        Some(p) => (
            'C',
            format!(
                "payback of {p:.0} months at {} does not justify the change now",
                users_text(cx.refu() as f64)
            ),
        ),
        None => (
            'C',
            format!(
                "V0.3 saves nothing at {} on this model",
                users_text(cx.refu() as f64)
            ),
        ),
    };
    let mut notes = Vec::new();
    let (a, b) = (sys(cx.r, BEFORE), sys(cx.r, AFTER));
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
    let cost_of = |id: &str| cx.cost.at(id, cx.refu()).map(|p| p.total);
    let storage = match (cost_of("v03-neon-r2"), cost_of("v03-neon-s3")) {
        (Some(r2), Some(s3)) => {
            notes.push(format!(
                "storage: V0.3 costs {r2}/month on R2 vs {s3} on S3 at {}",
                users_text(cx.refu() as f64)
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
    notes.push(format!(
        "vectors: pgvector measured (search p50 {} ms); Qdrant not measured here and not publicly priced",
        search(b).map_or("n/a".into(), |x| format!("{x:.2}"))
    ));
    Recommendation {
        option,
        why,
        event_db,
        storage,
        vectors: "pgvector",
        notes,
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::cost::catalogue::Catalogue;
    use crate::cost::{CostModel, ModelError};

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
        let cost = CostReport::build(&r, "r.json", &m, &c).unwrap();
        let e = evaluate(&t, &r, &cost, &c);
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
        let e = evaluate(&t, &r, &cost, &c);
        let pay = e.claims.iter().find(|c| c.id == "payback").unwrap();
        assert!(pay.value.contains("1.69 months"), "{}", pay.value);
        assert_eq!(pay.outcome, Outcome::Refuted);
        assert_eq!(outcome(&e, "investment"), Outcome::Refuted);
        // Sensitivity is a number where the verdict flips, not a shrug.
        assert!(pay.sensitivity.contains("$15,288"), "{}", pay.sensitivity);
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
}
