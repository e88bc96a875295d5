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

/// Every input that moves the decision, with its range.
pub(super) fn decision_sensitivity(context: &Context, failing: bool) -> Vec<DecisionSensitivity> {
    let a = &context.cost.model.assumptions;
    let price = context
        .prices
        .price(INNGEST_OVERAGE)
        .ok()
        .and_then(|p| p.usd)
        .map_or(50.0, |u| u.0);
    let executions_high = implied_executions_factor(context).unwrap_or(10.0);
    let scale = |f: f64| -> Change {
        Change::Model(Box::new(move |_, u: &mut UnitUsage| {
            if let Some(e) = u.executions_per_write.as_mut() {
                *e *= f;
            }
        }))
    };
    let db = |f: f64| -> Change {
        Change::Model(Box::new(move |_, u: &mut UnitUsage| {
            if let Some(s) = u.db_seconds_per_op.as_mut() {
                *s *= f;
            }
        }))
    };
    let assume = |set: fn(&mut Assumptions, f64), v: f64| -> Change {
        Change::Model(Box::new(move |a: &mut Assumptions, _| set(a, v)))
    };
    let rows: Vec<(&str, [String; 3], &str, [Change; 3])> = vec![
        (
            "Inngest overage, $ per million executions",
            [price / 2.0, price, price * 2.0].map(|p| format!("${p:.0}")),
            "the catalogue's price (a secondary source), halved and doubled",
            [
                Change::InngestPrice(price / 2.0),
                Change::InngestPrice(price),
                Change::InngestPrice(price * 2.0),
            ],
        ),
        (
            "Inngest executions per write (both systems)",
            [
                "×0.5".into(),
                "×1 (measured)".into(),
                format!("×{executions_high:.0}"),
            ],
            "half the measured; high: the factor at which the model of V0.2 bills the document's current cost",
            [scale(0.5), scale(1.0), scale(executions_high)],
        ),
        (
            "PostgreSQL compute floor, vCPU",
            [
                "0 (scale to zero)".into(),
                format!("{}", a.min_db_vcpu),
                "2".into(),
            ],
            "Neon's scale-to-zero, the model's always-on floor, a 2-vCPU floor",
            [
                assume(|a, v| a.min_db_vcpu = v, 0.0),
                assume(|a, v| a.min_db_vcpu = v, a.min_db_vcpu),
                assume(|a, v| a.min_db_vcpu = v, 2.0),
            ],
        ),
        (
            "Reference users",
            [1_000, a.reference_users, 100_000].map(|u| users_text(u as f64)),
            "the document's NO-GO size, its reference tier, ten times it",
            [
                Change::Users(1_000),
                Change::Users(a.reference_users),
                Change::Users(100_000),
            ],
        ),
        (
            "Months of data held",
            ["3".into(), format!("{}", a.months_of_data), "36".into()],
            "a young product, the model's year, three years",
            [
                assume(|a, v| a.months_of_data = v, 3.0),
                assume(|a, v| a.months_of_data = v, a.months_of_data),
                assume(|a, v| a.months_of_data = v, 36.0),
            ],
        ),
        (
            "Database time per op",
            ["×0.5".into(), "×1 (measured)".into(), "×4".into()],
            "loopback on a 2-core machine against production hardware and data sizes",
            [db(0.5), db(1.0), db(4.0)],
        ),
        (
            "Peak-to-average load",
            ["1.5".into(), format!("{}", a.peak_to_average), "6".into()],
            "a flat day to a spiky one",
            [
                assume(|a, v| a.peak_to_average = v, 1.5),
                assume(|a, v| a.peak_to_average = v, a.peak_to_average),
                assume(|a, v| a.peak_to_average = v, 6.0),
            ],
        ),
        (
            "Egress share of object reads",
            ["0".into(), format!("{}", a.egress_share), "1".into()],
            "all reads inside the provider, the model's share, all leaving it",
            [
                assume(|a, v| a.egress_share = v, 0.0),
                assume(|a, v| a.egress_share = v, a.egress_share),
                assume(|a, v| a.egress_share = v, 1.0),
            ],
        ),
        (
            "TimescaleDB compression (stored / raw)",
            ["0.1".into(), format!("{}", a.tiger_compression), "1".into()],
            "the 90% TimescaleDB advertises, none (as measured on the Apache edition)",
            [
                assume(|a, v| a.tiger_compression = v, 0.1),
                assume(|a, v| a.tiger_compression = v, a.tiger_compression),
                assume(|a, v| a.tiger_compression = v, 1.0),
            ],
        ),
        (
            "Object-store and database RTT, ms",
            [
                "1 / 5".into(),
                format!("{} / {}", a.rtt_postgres_ms, a.rtt_object_ms),
                "5 / 80".into(),
            ],
            "same region to cross-region; moves the latency estimate, not the bill",
            [
                assume(
                    |a, v| {
                        a.rtt_postgres_ms = v;
                        a.rtt_object_ms = 5.0
                    },
                    1.0,
                ),
                assume(|_, _| {}, 0.0),
                assume(
                    |a, v| {
                        a.rtt_postgres_ms = v;
                        a.rtt_object_ms = 80.0
                    },
                    5.0,
                ),
            ],
        ),
    ];
    rows.into_iter()
        .map(|(input, [low, base, high], source, [l, b, h])| {
            let payback = |c: &Change| payback_with(context, c);
            let (pl, pb, ph) = (payback(&l), payback(&b), payback(&h));
            DecisionSensitivity {
                input: input.into(),
                low,
                base,
                high,
                source: source.into(),
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
    let needed = crate::cost::calibration::executions_per_write_reaching(
        context.cost,
        context.reference_users(),
        Usd(context.targets.document.current_monthly_usd),
        context.prices,
        &|p| p.total,
    )
    .ok()?;
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
