//! Decision sensitivity: for each input that moves the decision, a low, base and high
//! value with where the range comes from, and the payback and suggested option at each.
//! The suggestion is robust only if no input within its range changes it.

use serde::Serialize;

use super::context::{AFTER, BEFORE, Context, users_text};
use super::recommend::option_for;
use crate::cost::catalogue::{CatalogueError, Price, PriceSource};
use crate::cost::decision::returns;
use crate::cost::{Assumptions, UnitUsage, Usd};

/// One input's range and what the decision does across it.
#[derive(Debug, Clone, Serialize)]
pub struct DecisionSensitivity {
    /// The input.
    pub input: String,
    /// Its low value, as printed.
    pub low: String,
    /// Its value in the model.
    pub base: String,
    /// Its high value.
    pub high: String,
    /// Where the range comes from.
    pub source: String,
    /// Payback at each value, months (`None`: never pays back).
    pub payback_months: Triple<Option<f64>>,
    /// The suggested option at each value.
    pub recommendation: Triple<char>,
}

/// A value at the low end, the base and the high end of a range.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Triple<T> {
    /// Low.
    pub low: T,
    /// Base.
    pub base: T,
    /// High.
    pub high: T,
}

/// The catalogue with one line's price scaled: the Inngest price's range.
struct ScaledPrice<'a> {
    inner: &'a dyn PriceSource,
    line: Price,
}

impl PriceSource for ScaledPrice<'_> {
    fn price(&self, id: &str) -> Result<&Price, CatalogueError> {
        if id == self.line.id {
            Ok(&self.line)
        } else {
            self.inner.price(id)
        }
    }

    fn all(&self) -> Vec<&Price> {
        self.inner.all()
    }
}

/// A change to the assumptions and the unit usage.
type Tweak = dyn Fn(&mut Assumptions, &mut UnitUsage);

/// A change to the model for one end of a range.
enum Change {
    Model(Box<Tweak>),
    Users(u64),
    InngestPrice(f64),
}

const INNGEST_OVERAGE: &str = "inngest.pro.overage";

/// One input: its name, the printed low/base/high, where the range comes from, and the
/// change to the model at each end.
struct Range {
    input: &'static str,
    labels: [String; 3],
    source: &'static str,
    changes: [Change; 3],
}

/// An assumption of the cost model from `values[0]` to `values[2]`.
fn assumption(
    input: &'static str,
    source: &'static str,
    values: [f64; 3],
    set: fn(&mut Assumptions, f64),
) -> Range {
    Range {
        input,
        labels: values.map(|v| format!("{v}")),
        source,
        changes: values.map(|v| Change::Model(Box::new(move |a: &mut Assumptions, _| set(a, v)))),
    }
}

/// A measured per-unit figure of both systems scaled by `factors`.
fn scaled(
    input: &'static str,
    source: &'static str,
    factors: [f64; 3],
    field: fn(&mut UnitUsage) -> &mut Option<f64>,
) -> Range {
    Range {
        input,
        labels: factors.map(|f| format!("×{f:.1}")),
        source,
        changes: factors.map(|f| {
            Change::Model(Box::new(move |_, u: &mut UnitUsage| {
                if let Some(x) = field(u).as_mut() {
                    *x *= f;
                }
            }))
        }),
    }
}

/// Every input that moves the decision, with its range.
fn ranges(context: &Context) -> Vec<Range> {
    let a = &context.cost.model.assumptions;
    let price = context
        .prices
        .price(INNGEST_OVERAGE)
        .ok()
        .and_then(|p| p.usd)
        .map_or(50.0, |u| u.0);
    let executions_high = implied_executions_factor(context).unwrap_or(10.0);
    let users = [1_000, a.reference_users, 100_000];
    vec![
        Range {
            input: "Inngest overage, $ per million executions",
            labels: [price / 2.0, price, price * 2.0].map(|p| format!("${p:.0}")),
            source: "the catalogue's price (a secondary source), halved and doubled",
            changes: [price / 2.0, price, price * 2.0].map(Change::InngestPrice),
        },
        scaled(
            "Inngest executions per write (both systems)",
            "half the measured; high: the factor at which the model of V0.2 bills the document's current cost",
            [0.5, 1.0, executions_high],
            |u| &mut u.executions_per_write,
        ),
        assumption(
            "PostgreSQL compute floor, vCPU",
            "0 is Neon's scale-to-zero; the model's always-on floor; a 2-vCPU floor",
            [0.0, a.min_db_vcpu, 2.0],
            |a, v| a.min_db_vcpu = v,
        ),
        Range {
            input: "Reference users",
            labels: users.map(|u| users_text(u as f64)),
            source: "the document's NO-GO size, its reference tier, ten times it",
            changes: users.map(Change::Users),
        },
        assumption(
            "Months of data held",
            "a young product, the model's year, three years",
            [3.0, a.months_of_data, 36.0],
            |a, v| a.months_of_data = v,
        ),
        scaled(
            "Database time per op",
            "loopback on a 2-core machine against production hardware and data sizes",
            [0.5, 1.0, 4.0],
            |u| &mut u.db_seconds_per_op,
        ),
        assumption(
            "Peak-to-average load",
            "a flat day to a spiky one",
            [1.5, a.peak_to_average, 6.0],
            |a, v| a.peak_to_average = v,
        ),
        assumption(
            "Egress share of object reads",
            "all reads inside the provider, the model's share, all leaving it",
            [0.0, a.egress_share, 1.0],
            |a, v| a.egress_share = v,
        ),
        assumption(
            "TimescaleDB compression (stored / raw)",
            "the 90% TimescaleDB advertises, none (as measured on the Apache edition)",
            [0.1, a.tiger_compression, 1.0],
            |a, v| a.tiger_compression = v,
        ),
        assumption(
            "Object-store RTT, ms",
            "same region to cross-region; moves the latency estimate, not the bill",
            [5.0, a.rtt_object_ms, 80.0],
            |a, v| a.rtt_object_ms = v,
        ),
        assumption(
            "Database RTT, ms",
            "same zone to another zone; moves the latency estimate, not the bill",
            [0.5, a.rtt_postgres_ms, 5.0],
            |a, v| a.rtt_postgres_ms = v,
        ),
    ]
}

/// Each input's range with the payback and suggested option at each end.
pub(super) fn decision_sensitivity(context: &Context, failing: bool) -> Vec<DecisionSensitivity> {
    ranges(context)
        .into_iter()
        .map(|r| {
            let [pl, pb, ph] = r.changes.each_ref().map(|c| payback_with(context, c));
            let [low, base, high] = r.labels;
            DecisionSensitivity {
                input: r.input.into(),
                low,
                base,
                high,
                source: r.source.into(),
                payback_months: Triple {
                    low: pl,
                    base: pb,
                    high: ph,
                },
                recommendation: Triple {
                    low: option_for(pl, failing),
                    base: option_for(pb, failing),
                    high: option_for(ph, failing),
                },
            }
        })
        .collect()
}

/// Payback with `change` applied to both systems' primary deployments.
fn payback_with(context: &Context, change: &Change) -> Option<f64> {
    let investment = Usd(context.targets.document.investment_usd);
    let (users, tweak, scaled): (u64, &Tweak, Option<ScaledPrice>) = match change {
        Change::Model(f) => (context.reference_users(), f.as_ref(), None),
        Change::Users(u) => (*u, &|_, _| {}, None),
        Change::InngestPrice(usd) => {
            let mut line = context.prices.price(INNGEST_OVERAGE).ok()?.clone();
            line.usd = Some(Usd(*usd));
            let scaled = ScaledPrice {
                inner: context.prices,
                line,
            };
            (context.reference_users(), &|_, _| {}, Some(scaled))
        }
    };
    let prices: &dyn PriceSource = scaled
        .as_ref()
        .map_or(context.prices, |s| s as &dyn PriceSource);
    let total = |system| {
        context
            .cost
            .primary_total_with(system, users, prices, tweak)
    };
    returns(investment, total(BEFORE)?, total(AFTER)?).payback_months
}

/// The factor on executions per write at which the model of V0.2 bills the document's
/// current cost at the reference tier.
fn implied_executions_factor(context: &Context) -> Option<f64> {
    let measured = context.cost.unit_usage.get(BEFORE)?.executions_per_write?;
    let needed = context.executions_for_current_cost().ok()?;
    Some(needed / measured)
}

/// Where the suggestion changes within the ranges, in words; empty when it is robust.
pub(super) fn flips_within(rows: &[DecisionSensitivity]) -> Vec<String> {
    let base = rows.first().map(|r| r.recommendation.base);
    rows.iter()
        .flat_map(|r| {
            [
                (&r.low, r.recommendation.low),
                (&r.high, r.recommendation.high),
            ]
            .into_iter()
            .filter(move |(_, option)| Some(*option) != base)
            .map(move |(value, option)| format!("{} at {value} → Option {option}", r.input))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(low: char, base: char, high: char) -> DecisionSensitivity {
        DecisionSensitivity {
            input: "x".into(),
            low: "1".into(),
            base: "2".into(),
            high: "3".into(),
            source: String::new(),
            payback_months: Triple {
                low: None,
                base: None,
                high: None,
            },
            recommendation: Triple { low, base, high },
        }
    }

    #[test]
    fn a_suggestion_is_robust_only_when_no_range_changes_it() {
        assert!(flips_within(&[row('C', 'C', 'C'), row('C', 'C', 'C')]).is_empty());
        let flips = flips_within(&[row('C', 'C', 'C'), row('C', 'C', 'B')]);
        assert_eq!(flips, ["x at 3 → Option B"]);
    }
}
