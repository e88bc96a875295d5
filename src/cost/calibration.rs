//! Calibration to the real bill: the model of the current system (V0.2's primary
//! deployment at the users the actuals cover) beside what production's bill and
//! dashboards say, the factor each actual figure implies, the executions per write an
//! Inngest figure (or the whole bill) implies, and V0.3 re-projected with those factors.

use serde::Serialize;

use super::actuals::Actuals;
use super::catalogue::PriceSource;
use super::component::Component;
use super::projection::{CostReport, Projection};
use super::usage::UnitUsage;
use super::{Assumptions, Usd};
use crate::arch::{V02_NAME, V03_NAME};

/// The model beside the actuals.
#[derive(Debug, Clone, Serialize)]
pub struct Calibration {
    /// The actuals as read.
    pub actuals: Actuals,
    /// The deployment of the current system the actuals are compared with.
    pub deployment: String,
    /// Per component the actuals name.
    pub rows: Vec<CalibrationRow>,
    /// The whole bill, when the actuals give it.
    pub total: Option<Factor>,
    /// Executions per write that the actuals imply, beside the measured ones.
    pub executions: Option<ImpliedExecutions>,
    /// V0.3 re-projected with the factors the actuals imply.
    pub v03: Option<Reprojection>,
}

/// One component: the model and the actual figure.
#[derive(Debug, Clone, Serialize)]
pub struct CalibrationRow {
    /// Which.
    pub component: Component,
    /// What the model bills for it.
    pub model_usd: Option<Usd>,
    /// What production's bill says.
    pub actual_usd: Option<Usd>,
    /// Actual over model, for money.
    pub factor: Option<f64>,
    /// The model's usage, in `unit`.
    pub model_usage: Option<f64>,
    /// Production's usage, in `unit`.
    pub actual_usage: Option<f64>,
    /// The unit both usages are in (the model's).
    pub unit: Option<String>,
    /// Actual over model, for usage.
    pub usage_factor: Option<f64>,
}

/// A model figure against an actual one.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Factor {
    /// The model's.
    pub model: Usd,
    /// The actual.
    pub actual: Usd,
    /// Actual over model.
    pub factor: f64,
}

/// What the actuals imply for executions per write.
#[derive(Debug, Clone, Serialize)]
pub struct ImpliedExecutions {
    /// The reference V0.2's, measured by the run.
    pub measured_per_write: f64,
    /// The value that reproduces the actual figure, other inputs as modelled; `None`
    /// when no value does (`note` says why).
    pub implied_per_write: Option<f64>,
    /// Which actual figure it reproduces.
    pub reproduces: String,
    /// Why there is no value.
    pub note: Option<String>,
}

/// V0.3's bill with the actuals' factors applied.
#[derive(Debug, Clone, Serialize)]
pub struct Reprojection {
    /// As modelled.
    pub model: Usd,
    /// With the factors.
    pub reprojected: Usd,
    /// The factors applied, in words.
    pub how: Vec<String>,
}

/// Highest executions per write the search tries: far past any real workflow.
const MAX_EXECUTIONS_PER_WRITE: f64 = 1e6;

/// Compares the model with `actuals`; `None` when the results have no V0.2 to compare.
pub fn calibrate(
    cost: &CostReport,
    actuals: &Actuals,
    prices: &dyn PriceSource,
) -> Option<Calibration> {
    let current = cost.primary_with(V02_NAME, actuals.users, prices, &|_, _| {})?;
    let rows = actuals
        .components
        .iter()
        .map(|a| {
            row(
                &current,
                a.component,
                a.usd,
                a.usage,
                a.unit.map(|u| u.to_string()),
            )
        })
        .collect::<Vec<_>>();
    let total = actuals.total.map(|actual| Factor {
        model: current.total,
        actual,
        factor: actual.0 / current.total.0,
    });
    let executions = implied_executions(cost, actuals, prices, &current);
    let v03 = reproject(cost, actuals, prices, &rows, executions.as_ref());
    Some(Calibration {
        actuals: actuals.clone(),
        deployment: current.deployment.clone(),
        rows,
        total,
        executions,
        v03,
    })
}

fn row(
    model: &Projection,
    component: Component,
    actual_usd: Option<Usd>,
    actual_usage: Option<f64>,
    actual_unit: Option<String>,
) -> CalibrationRow {
    let lines: Vec<_> = model
        .lines
        .iter()
        .filter(|l| l.component == component)
        .collect();
    let model_usd = model.cost_of(component);
    let unit = lines.first().map(|l| l.unit.clone());
    // Usage compares only in one unit (a CU-hour is not an instance hour).
    let same_unit = unit.is_some() && unit == actual_unit;
    let model_usage = (!lines.is_empty()).then(|| lines.iter().map(|l| l.quantity).sum::<f64>());
    let ratio = |a: f64, m: f64| (m > 0.0).then(|| a / m);
    CalibrationRow {
        component,
        model_usd,
        actual_usd,
        factor: actual_usd.zip(model_usd).and_then(|(a, m)| ratio(a.0, m.0)),
        model_usage,
        actual_usage,
        unit,
        usage_factor: actual_usage
            .zip(model_usage)
            .filter(|_| same_unit)
            .and_then(|(a, m)| ratio(a, m)),
    }
}

/// Executions per write from the most direct figure the actuals hold: the executions
/// counted, else the executions' bill line, else the whole bill.
fn implied_executions(
    cost: &CostReport,
    actuals: &Actuals,
    prices: &dyn PriceSource,
    current: &Projection,
) -> Option<ImpliedExecutions> {
    let measured = cost.unit_usage.get(V02_NAME)?.executions_per_write?;
    let inngest = actuals.component(Component::InngestExecutions);
    let mut implied = ImpliedExecutions {
        measured_per_write: measured,
        implied_per_write: None,
        reproduces: String::new(),
        note: None,
    };
    if let Some(count) = inngest.and_then(|c| c.usage.zip(c.unit)) {
        implied.reproduces = "the executions counted".into();
        implied.implied_per_write = Some(count.0 * count.1.scale() / current.usage.writes);
        return Some(implied);
    }
    let (target, what): (Usd, &dyn Fn(&Projection) -> Usd) = match inngest.and_then(|c| c.usd) {
        Some(usd) => {
            implied.reproduces = "the Inngest executions line of the bill".into();
            (usd, &|p| {
                p.cost_of(Component::InngestExecutions).unwrap_or_default()
            })
        }
        None => {
            implied.reproduces = "the whole bill".into();
            (actuals.total?, &|p| p.total)
        }
    };
    match executions_per_write_reaching(cost, actuals.users, target, prices, what) {
        Ok(x) => implied.implied_per_write = Some(x),
        Err(why) => implied.note = Some(why),
    }
    Some(implied)
}

/// The executions per write at which `what` of V0.2's primary deployment at `users`
/// reaches `target`, other inputs as modelled (it rises with them).
pub fn executions_per_write_reaching(
    cost: &CostReport,
    users: u64,
    target: Usd,
    prices: &dyn PriceSource,
    what: &dyn Fn(&Projection) -> Usd,
) -> Result<f64, String> {
    let at = |per_write: f64| {
        let tweak =
            |_: &mut Assumptions, u: &mut UnitUsage| u.executions_per_write = Some(per_write);
        cost.primary_with(V02_NAME, users, prices, &tweak)
            .map(|p| what(&p))
    };
    solve(&at, target)
}

/// The executions per write at which `at` reaches `target` (it rises with them).
fn solve(at: &dyn Fn(f64) -> Option<Usd>, target: Usd) -> Result<f64, String> {
    let (mut low, mut high) = (0.0, MAX_EXECUTIONS_PER_WRITE);
    let lowest = at(low).ok_or("the model cannot be priced")?;
    if lowest.0 > target.0 {
        return Err(format!(
            "the model bills {lowest} with no executions at all, above the actual {target}: executions do not explain it"
        ));
    }
    if at(high).is_none_or(|v| v.0 < target.0) {
        return Err(format!(
            "not even {MAX_EXECUTIONS_PER_WRITE:.0} executions per write reach {target}"
        ));
    }
    for _ in 0..100 {
        let mid = (low + high) / 2.0;
        if at(mid).is_some_and(|v| v.0 < target.0) {
            low = mid;
        } else {
            high = mid;
        }
    }
    Ok(high)
}

/// V0.3 with its executions per write scaled by the ratio the actuals imply for V0.2,
/// and each other component the actuals bill scaled by its factor.
fn reproject(
    cost: &CostReport,
    actuals: &Actuals,
    prices: &dyn PriceSource,
    rows: &[CalibrationRow],
    executions: Option<&ImpliedExecutions>,
) -> Option<Reprojection> {
    let model = cost.primary_with(V03_NAME, actuals.users, prices, &|_, _| {})?;
    let mut how = Vec::new();
    let ratio = executions
        .and_then(|e| Some(e.implied_per_write? / e.measured_per_write))
        .filter(|r| r.is_finite());
    if let Some(r) = ratio {
        how.push(format!(
            "executions per write × {r:.2}, the ratio the actuals imply for V0.2"
        ));
    }
    let tweak = |_: &mut Assumptions, u: &mut UnitUsage| {
        if let (Some(r), Some(e)) = (ratio, u.executions_per_write.as_mut()) {
            *e *= r;
        }
    };
    let scaled = cost.primary_with(V03_NAME, actuals.users, prices, &tweak)?;
    let mut total = scaled.total;
    for r in rows
        .iter()
        .filter(|r| r.component != Component::InngestExecutions || ratio.is_none())
    {
        if let (Some(k), Some(line)) = (r.factor, scaled.cost_of(r.component)) {
            total += Usd(line.0 * (k - 1.0));
            how.push(format!(
                "{} × {k:.2}, its bill line over the model's",
                r.component
            ));
        }
    }
    Some(Reprojection {
        model: model.total,
        reprojected: total,
        how,
    })
}
