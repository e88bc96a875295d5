//! What every evaluator reads: the targets, the results, the cost projection and the
//! prices, with the few questions they all ask of them.

use super::{Outcome, Targets, Verdict, flip_point};
use crate::arch::{V02_NAME, V03_NAME};
use crate::cost::catalogue::PriceSource;
use crate::cost::decision::{Returns, returns};
use crate::cost::{CostReport, Usd};
use crate::probes::capacity_file::CapacityReport;
use crate::results::{Results, SystemResults};

/// The system before the change.
pub(super) const BEFORE: &str = V02_NAME;
/// The system after the change.
pub(super) const AFTER: &str = V03_NAME;

/// The inputs of every evaluator.
pub(super) struct Context<'a> {
    /// The document's figures, claims and criteria.
    pub targets: &'a Targets,
    /// The run.
    pub results: &'a Results,
    /// The projections.
    pub cost: &'a CostReport,
    /// The catalogue, for sensitivity searches that re-price.
    pub prices: &'a dyn PriceSource,
    /// Capacity files (`report --capacity`): capacity at the SLO per instance and
    /// dataset size.
    pub capacity: &'a [CapacityReport],
    /// The migration rehearsal (`report --migration`).
    pub migration: Option<&'a crate::results::migration::Migration>,
}

/// One system's results.
pub(super) fn system<'a>(r: &'a Results, name: &str) -> Option<&'a SystemResults> {
    r.systems.get(name)
}

/// A verdict not yet judged: not measurable until an evaluator says otherwise.
pub(super) fn verdict(id: &str, statement: &str) -> Verdict {
    Verdict {
        id: id.into(),
        statement: statement.into(),
        value: String::new(),
        target: String::new(),
        outcome: Outcome::NotMeasurable,
        reason: String::new(),
        sensitivity: "—".into(),
        evidence: None,
        rests_on: None,
    }
}

/// `out` marked not measured, with the reason.
pub(super) fn not_measured(mut out: Verdict, why: &str) -> Verdict {
    out.outcome = Outcome::NotMeasurable;
    out.evidence = None;
    out.value = "not measured".into();
    out.reason = why.into();
    out
}

impl Context<'_> {
    /// The results of the system before and after the change, where present.
    pub(super) fn before_after(&self) -> (Option<&SystemResults>, Option<&SystemResults>) {
        (system(self.results, BEFORE), system(self.results, AFTER))
    }

    /// The tier at which the document's dollar figures are judged.
    pub(super) fn reference_users(&self) -> u64 {
        self.cost.model.assumptions.reference_users
    }

    /// Monthly total of the primary deployment of `system` at `users`.
    pub(super) fn total(&self, system: &str, users: u64) -> Option<Usd> {
        self.cost
            .primary_total_with(system, users, self.prices, &|_, _| {})
    }

    /// Monthly totals before and after at `users`.
    pub(super) fn totals(&self, users: u64) -> Option<(Usd, Usd)> {
        Some((self.total(BEFORE, users)?, self.total(AFTER, users)?))
    }

    /// Savings, ROI and payback at `users`.
    pub(super) fn returns_at(&self, users: u64) -> Option<Returns> {
        let (a, b) = self.totals(users)?;
        Some(returns(Usd(self.targets.document.investment_usd), a, b))
    }

    /// The Inngest executions per write at which the model of V0.2 bills the document's
    /// current cost at the reference tier, other inputs as modelled.
    pub(super) fn executions_for_current_cost(&self) -> Result<f64, String> {
        crate::cost::calibration::executions_per_write_reaching(
            self.cost,
            self.reference_users(),
            Usd(self.targets.document.current_monthly_usd),
            self.prices,
            &|p| p.total,
        )
    }

    /// Whether both primary deployments have a price on every line.
    pub(super) fn fully_priced(&self) -> bool {
        [BEFORE, AFTER].iter().all(|s| {
            self.cost
                .model
                .primary(s)
                .and_then(|d| self.cost.at(&d.id, self.reference_users()))
                .is_some_and(|p| p.fully_priced)
        })
    }

    /// Users in 100..1e8 at which `pred(returns)` changes.
    pub(super) fn users_flip(&self, pred: &dyn Fn(&Returns) -> bool) -> Option<f64> {
        flip_point(100.0, 1e8, 120, true, &|u| {
            self.returns_at(u.round() as u64).is_some_and(|r| pred(&r))
        })
    }
}

/// A user count as people write it: 10.0K users.
pub(super) fn users_text(u: f64) -> String {
    if u >= 1e6 {
        format!("{:.1}M users", u / 1e6)
    } else if u >= 1e3 {
        format!("{:.1}K users", u / 1e3)
    } else {
        format!("{u:.0} users")
    }
}

/// A percentage with one decimal.
pub(super) fn pct(x: f64) -> String {
    format!("{x:.1}%")
}
