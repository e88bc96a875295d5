//! Projections: each deployment profile prices a system's monthly usage with the
//! catalogue, line by line; a [`CostReport`] holds every deployment at every tier.

use std::collections::BTreeMap;

use serde::Serialize;

use super::Usd;
use super::catalogue::{PriceSource, Unit};
use super::component::{Component, ComponentGroup};
use super::decision::{Returns, returns};
use super::profiles::{
    Assumptions, CostModel, Deployment, EventHost, ModelError, ObjectHost, PostgresHost,
    VectorHost, WorkflowPlan,
};
use super::usage::{
    MeasuredCapacity, MonthlyUsage, UnitUsage, UsageCurve, UserBehaviour, monthly_usage,
};
use crate::arch::{V02_NAME, V03_NAME};
use crate::probes::capacity_file::CapacityReport;
use crate::results::Results;

/// One priced (or unpriced) line of a monthly bill.
#[derive(Debug, Clone, Serialize)]
pub struct CostLine {
    /// Component.
    pub component: Component,
    /// Catalogue id.
    pub price_id: String,
    /// Usage in the price's unit.
    pub quantity: f64,
    /// The price's unit.
    pub unit: String,
    /// Cost, or `None` when unpriced or the usage was not measured.
    pub cost: Option<Usd>,
    /// Why there is no cost.
    pub missing: Option<String>,
}

/// A monthly bill of one deployment at one user count.
#[derive(Debug, Clone, Serialize)]
pub struct Projection {
    /// Deployment id.
    pub deployment: String,
    /// System.
    pub system: String,
    /// Users.
    pub users: u64,
    /// Usage behind it.
    pub usage: MonthlyUsage,
    /// Lines.
    pub lines: Vec<CostLine>,
    /// Sum of the priced lines.
    pub total: Usd,
    /// True when every line has a cost.
    pub fully_priced: bool,
}

impl Projection {
    /// The priced lines of one component, summed (`None` when none is priced).
    pub fn cost_of(&self, component: Component) -> Option<Usd> {
        self.lines
            .iter()
            .filter(|l| l.component == component)
            .filter_map(|l| l.cost)
            .reduce(|a, b| a + b)
    }

    /// The priced lines of one chart group, summed.
    pub fn cost_of_group(&self, group: ComponentGroup) -> Usd {
        self.lines
            .iter()
            .filter(|l| l.component.group() == group)
            .filter_map(|l| l.cost)
            .fold(Usd(0.0), |a, b| a + b)
    }
}

/// Prices `usage` for `d`.
pub fn project(
    d: &Deployment,
    usage: &MonthlyUsage,
    a: &Assumptions,
    prices: &dyn PriceSource,
) -> Result<Projection, ModelError> {
    let mut bill = Bill {
        prices,
        lines: Vec::new(),
    };
    postgres_lines(&mut bill, d, usage, a)?;
    object_lines(&mut bill, d, usage)?;
    workflow_lines(&mut bill, d, usage)?;
    let lines = bill.lines;
    let total = lines
        .iter()
        .filter_map(|l| l.cost)
        .fold(Usd(0.0), |a, b| a + b);
    let fully_priced = lines.iter().all(|l| l.cost.is_some());
    Ok(Projection {
        deployment: d.id.clone(),
        system: d.system.clone(),
        users: usage.users,
        usage: *usage,
        lines,
        total,
        fully_priced,
    })
}

/// Why a line has no number when its usage is absent.
const NO_DB: &str = "no pg_stat_statements time in the results";
const NO_GROWTH: &str = "no storage growth in the results";

/// A bill being written, line by line.
struct Bill<'a> {
    prices: &'a dyn PriceSource,
    lines: Vec<CostLine>,
}

impl Bill<'_> {
    /// Adds a line: `raw` usage in base units priced by catalogue line `id`, or no cost
    /// when the price or the usage is missing (`why` says what was not measured).
    fn line(
        &mut self,
        component: Component,
        id: &str,
        raw: Option<f64>,
        why: &str,
    ) -> Result<(), ModelError> {
        let p = self.prices.price(id)?;
        let unit = p
            .unit
            .map_or_else(|| "-".to_string(), |u: Unit| u.to_string());
        let scale = p.unit.map_or(1.0, Unit::scale);
        let (cost, missing) = match (raw, p.usd) {
            (_, None) => (
                None,
                Some(
                    p.unpriced
                        .clone()
                        .unwrap_or_else(|| "not publicly priced".into()),
                ),
            ),
            (None, _) => (None, Some(format!("not measured: {why}"))),
            (Some(x), Some(_)) => (p.cost(x), None),
        };
        self.lines.push(CostLine {
            component,
            price_id: id.into(),
            quantity: raw.map_or(0.0, |x| x / scale),
            unit,
            cost,
            missing,
        });
        Ok(())
    }
}

fn postgres_lines(
    bill: &mut Bill,
    d: &Deployment,
    usage: &MonthlyUsage,
    a: &Assumptions,
) -> Result<(), ModelError> {
    let hours = a.hours_per_month;
    match d.postgres {
        PostgresHost::NeonLaunch | PostgresHost::NeonScale => {
            let id = if d.postgres == PostgresHost::NeonLaunch {
                "neon.compute.launch"
            } else {
                "neon.compute.scale"
            };
            let cu_vcpu = bill.prices.price(id)?.vcpu.unwrap_or(1.0);
            let cu_hours = usage
                .db_vcpu_needed
                .map(|v| v.max(a.min_db_vcpu) / cu_vcpu * hours);
            bill.line(Component::PostgresCompute, id, cu_hours, NO_DB)?;
            bill.line(
                Component::PostgresStorage,
                "neon.storage",
                usage.postgres_bytes,
                NO_GROWTH,
            )?;
        }
        PostgresHost::Tiger => {
            let sizes = [
                "tiger.compute.0_5cpu",
                "tiger.compute.1cpu",
                "tiger.compute.2cpu",
                "tiger.compute.4cpu",
                "tiger.compute.8cpu",
            ];
            match usage.db_vcpu_needed.map(|v| v.max(a.min_db_vcpu)) {
                Some(v) => {
                    // The smallest size that holds the peak; beyond the largest, nodes of it.
                    let mut size = None;
                    for id in sizes {
                        if bill.prices.price(id)?.vcpu.unwrap_or(0.0) >= v {
                            size = Some((id, 1.0));
                            break;
                        }
                    }
                    let (id, nodes) = match size {
                        Some(p) => p,
                        None => {
                            let big = sizes[sizes.len() - 1];
                            (
                                big,
                                (v / bill.prices.price(big)?.vcpu.unwrap_or(8.0)).ceil(),
                            )
                        }
                    };
                    bill.line(Component::PostgresCompute, id, Some(nodes * hours), "")?;
                }
                None => bill.line(Component::PostgresCompute, sizes[0], None, NO_DB)?,
            }
            bill.line(
                Component::PostgresStorage,
                "tiger.storage",
                usage.postgres_bytes.map(|b| b * a.tiger_compression),
                NO_GROWTH,
            )?;
        }
    }
    Ok(())
}

fn object_lines(bill: &mut Bill, d: &Deployment, usage: &MonthlyUsage) -> Result<(), ModelError> {
    match d.objects {
        ObjectHost::R2 => {
            bill.line(
                Component::ObjectStorage,
                "r2.storage",
                usage.object_bytes,
                NO_GROWTH,
            )?;
            bill.line(
                Component::ObjectWritesClassA,
                "r2.class_a",
                Some(usage.object_writes),
                "",
            )?;
            bill.line(
                Component::ObjectReadsClassB,
                "r2.class_b",
                Some(usage.object_reads),
                "",
            )?;
            bill.line(
                Component::ObjectEgress,
                "r2.egress",
                usage.egress_bytes,
                "no body size",
            )?;
        }
        ObjectHost::S3 => {
            bill.line(
                Component::ObjectStorage,
                "s3.storage",
                usage.object_bytes,
                NO_GROWTH,
            )?;
            bill.line(
                Component::ObjectWritesPut,
                "s3.put",
                Some(usage.object_writes),
                "",
            )?;
            bill.line(
                Component::ObjectReadsGet,
                "s3.get",
                Some(usage.object_reads),
                "",
            )?;
            bill.line(
                Component::ObjectEgress,
                "s3.egress",
                usage.egress_bytes,
                "no body size",
            )?;
        }
    }
    Ok(())
}

fn workflow_lines(bill: &mut Bill, d: &Deployment, usage: &MonthlyUsage) -> Result<(), ModelError> {
    match d.workflows {
        WorkflowPlan::InngestPro => {
            bill.line(Component::InngestPlan, "inngest.pro.base", Some(1.0), "")?;
            bill.line(
                Component::InngestExecutions,
                "inngest.pro.overage",
                usage.executions,
                "no writes in the results",
            )?;
        }
    }
    if d.vectors == VectorHost::Qdrant {
        bill.line(Component::VectorSearchQdrant, "qdrant.cloud", None, "")?;
    }
    if d.events == EventHost::Kurrent {
        bill.line(Component::EventStoreKurrent, "kurrent.cloud", None, "")?;
    }
    Ok(())
}

/// Every deployment at every tier, for one results file.
#[derive(Debug, Clone, Serialize)]
pub struct CostReport {
    /// The model used.
    pub model: CostModel,
    /// Behaviour from the scenario.
    pub behaviour: UserBehaviour,
    /// Measured unit usage per system, at the run's dataset size.
    pub unit_usage: BTreeMap<String, UnitUsage>,
    /// Entities the run seeded: where `unit_usage` was measured.
    pub run_entities: u64,
    /// Growth fitted over a scale sweep (`report --sweep`): each tier's unit usage is
    /// the measured one scaled along these to the tier's dataset size.
    pub curves: Vec<UsageCurve>,
    /// Projections, deployments in file order, tiers ascending.
    pub projections: Vec<Projection>,
}

impl CostReport {
    /// Projects every deployment whose system is in the results, compute sized
    /// linearly from database time.
    pub fn build(
        results: &Results,
        results_path: &str,
        model: &CostModel,
        prices: &dyn PriceSource,
    ) -> Result<CostReport, ModelError> {
        Self::build_sized(results, results_path, model, prices, &[], &[])
    }

    /// Projects every deployment whose system is in the results; compute is sized
    /// from the capacity measured in `capacity` where it holds the system, else
    /// linearly from database time (both figures are kept). Where `curves` hold a
    /// system's growth, each tier's usage is scaled along them to its dataset size.
    pub fn build_sized(
        results: &Results,
        results_path: &str,
        model: &CostModel,
        prices: &dyn PriceSource,
        capacity: &[CapacityReport],
        curves: &[UsageCurve],
    ) -> Result<CostReport, ModelError> {
        let behaviour = UserBehaviour::from_results(results, results_path)?;
        let mut unit_usage = BTreeMap::new();
        for (name, s) in &results.systems {
            let mut unit = UnitUsage::from_system(s, results.scenario.seeded_entities);
            unit.capacity = MeasuredCapacity::choose(name, capacity);
            unit_usage.insert(name.clone(), unit);
        }
        let run_entities = results.scenario.seeded_entities;
        let mut projections = Vec::new();
        for d in &model.deployments {
            let Some(u) = unit_usage.get(&d.system) else {
                continue;
            };
            for &users in &model.assumptions.users {
                let unit = u.at_tier(curves, &d.system, run_entities, users);
                let usage = monthly_usage(&unit, &behaviour, &model.assumptions, users);
                projections.push(project(d, &usage, &model.assumptions, prices)?);
            }
        }
        Ok(CostReport {
            model: model.clone(),
            behaviour,
            unit_usage,
            run_entities,
            curves: curves.to_vec(),
            projections,
        })
    }

    /// The projection of `deployment` at `users`.
    pub fn at(&self, deployment: &str, users: u64) -> Option<&Projection> {
        self.projections
            .iter()
            .find(|p| p.deployment == deployment && p.users == users)
    }

    /// Savings, ROI and payback of moving from V0.2's primary deployment to V0.3's, at
    /// every tier where both are projected.
    pub fn returns_per_tier(&self, investment: Usd) -> Vec<(u64, Returns)> {
        let total = |system: &str, users: u64| {
            self.model
                .primary(system)
                .and_then(|d| self.at(&d.id, users))
                .map(|p| p.total)
        };
        self.model
            .assumptions
            .users
            .iter()
            .filter_map(|&u| {
                let (current, proposed) = (total(V02_NAME, u)?, total(V03_NAME, u)?);
                Some((u, returns(investment, current, proposed)))
            })
            .collect()
    }

    /// Monthly total of the primary deployment of `system` at `users`, recomputed with
    /// `tweak` applied to the assumptions (for sensitivity searches).
    pub fn primary_total_with(
        &self,
        system: &str,
        users: u64,
        prices: &dyn PriceSource,
        tweak: &dyn Fn(&mut Assumptions, &mut UnitUsage),
    ) -> Option<Usd> {
        self.primary_with(system, users, prices, tweak)
            .map(|p| p.total)
    }

    /// Both systems' primary deployments running side by side for `days` at `users`:
    /// what a dual-write period costs (prorated from the monthly bills).
    pub fn side_by_side(
        &self,
        systems: [&str; 2],
        users: u64,
        days: f64,
        prices: &dyn PriceSource,
    ) -> Option<Usd> {
        let month = |s| self.primary_total_with(s, users, prices, &|_, _| {});
        let (a, b) = (month(systems[0])?, month(systems[1])?);
        Some(Usd(
            (a.0 + b.0) * days / self.model.assumptions.days_per_month
        ))
    }

    /// The bill of the primary deployment of `system` at `users` (any count, not only
    /// a tier), with `tweak` applied to the assumptions and the unit usage.
    pub fn primary_with(
        &self,
        system: &str,
        users: u64,
        prices: &dyn PriceSource,
        tweak: &dyn Fn(&mut Assumptions, &mut UnitUsage),
    ) -> Option<Projection> {
        let d = self.model.primary(system)?;
        let mut a = self.model.assumptions.clone();
        let mut u =
            self.unit_usage
                .get(system)?
                .at_tier(&self.curves, system, self.run_entities, users);
        tweak(&mut a, &mut u);
        let usage = monthly_usage(&u, &self.behaviour, &a, users);
        project(d, &usage, &a, prices).ok()
    }
}
