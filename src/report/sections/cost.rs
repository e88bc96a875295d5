//! The monthly cost projection: behaviour, assumptions, unit usage, bills per tier,
//! components, and a stacked chart per tier.

use crate::cost::{ComponentGroup, CostReport, Deployment, Projection};
use crate::report::ReportError;
use crate::report::charts::{self, StackedBar};
use crate::report::document::{Block, SYSTEMS, Section, SectionContext, Table, measured, table};

/// Cost.
pub(super) fn cost(
    context: &SectionContext,
    sections: &mut Vec<Section>,
) -> Result<(), ReportError> {
    let cost = &context.report.cost;
    let primaries: Vec<&Deployment> = SYSTEMS
        .iter()
        .filter_map(|(k, _)| cost.model.primary(k))
        .collect();
    let mut blocks = behaviour_and_assumptions(cost);
    blocks.push(Block::Table(unit_usage(cost)));
    if let Some(note) = super::sweep::curves_note(cost) {
        blocks.push(Block::Para(note));
    }
    blocks.push(Block::Para(compute_sizing(cost)));
    blocks.push(Block::Table(totals(cost)));
    blocks.push(Block::Para(
        "Monthly usage of the primary deployments (millions of ops and requests, GB, hours):"
            .into(),
    ));
    blocks.push(Block::Table(monthly_usage(cost, &primaries)));
    blocks.push(Block::Para(
        "Monthly cost per component of the primary deployments:".into(),
    ));
    blocks.push(Block::Table(components_per_tier(cost, &primaries)));
    blocks.push(Block::Para(format!(
        "Bill of the primary deployments at {} users:",
        cost.model.assumptions.reference_users
    )));
    blocks.push(Block::Table(reference_bill(cost)));
    blocks.push(Block::Charts(charts_per_tier(cost)?));
    sections.push(Section {
        id: "cost",
        title: "Monthly cost projection".into(),
        blocks,
    });
    Ok(())
}

fn behaviour_and_assumptions(cost: &CostReport) -> Vec<Block> {
    let b = &cost.behaviour;
    vec![
        Block::Para(format!(
            "User behaviour (from the scenario): {:.0}% of users active per day, {} read ops per active user per day (split by the measured read mix), {} new documents and {} updates per user per month.",
            b.active_share * 100.0,
            b.ops_per_active_user_per_day,
            b.new_documents_per_user_per_month,
            b.updates_per_user_per_month
        )),
        Block::Table(table(
            &["assumption", "value", "meaning"],
            cost.model
                .assumptions
                .rows()
                .into_iter()
                .map(|(n, v, m)| vec![n.into(), v, m.into()])
                .collect(),
        )),
    ]
}

fn unit_usage(cost: &CostReport) -> Table {
    let kb = |x: Option<f64>, absent: &str| {
        x.map_or(absent.to_string(), |x| format!("{:.1} KB", x / 1e3))
    };
    let rows = cost
        .unit_usage
        .iter()
        .map(|(k, u)| {
            vec![
                k.clone(),
                u.db_seconds_per_op
                    .map_or("not measured".into(), |s| format!("{:.3} ms", s * 1e3)),
                kb(u.postgres_bytes_per_write, "not measured"),
                kb(u.object_bytes_per_write, "not measured"),
                measured(u.executions_per_write, 1.0, 2),
                kb(u.mean_body_bytes, "—"),
            ]
        })
        .collect();
    table(
        &[
            "system",
            "DB time per op",
            "PostgreSQL bytes per write",
            "object bytes per write",
            "executions per write",
            "mean body",
        ],
        rows,
    )
}

/// Which figure sized compute, per system, and from what.
fn compute_sizing(cost: &CostReport) -> String {
    let per_system: Vec<String> = cost
        .unit_usage
        .iter()
        .map(|(system, u)| match &u.capacity {
            Some(c) => format!(
                "{system} from measured capacity — {:.1} ops/s per vCPU ({})",
                c.ops_per_s_per_vcpu, c.source
            ),
            None => format!(
                "{system} linearly from database time (no capacity file holds it under an instance profile)"
            ),
        })
        .collect();
    format!(
        "Compute is sized {}. The linear figure — database seconds per op measured on loopback with the data in memory, × ops at the peak ÷ the target utilisation — is shown beside the capacity figure — the peak's ops/s ÷ the sustainable ops/s per vCPU at the SLO, where the SLO itself is the headroom.",
        per_system.join("; ")
    )
}

fn totals(cost: &CostReport) -> Table {
    let tiers = &cost.model.assumptions.users;
    let mut header = vec!["deployment".to_string()];
    header.extend(tiers.iter().map(|u| format!("{u} users")));
    let rows = cost
        .model
        .deployments
        .iter()
        .map(|d| {
            let mut row = vec![format!(
                "{}{}",
                d.label,
                if d.primary { " (primary)" } else { "" }
            )];
            for u in tiers {
                row.push(cost.at(&d.id, *u).map_or("—".into(), |p| {
                    format!(
                        "{}{}",
                        p.total,
                        if p.fully_priced { "" } else { " + unpriced" }
                    )
                }));
            }
            row
        })
        .collect();
    Table {
        header,
        rows,
        status_col: None,
    }
}

fn monthly_usage(cost: &CostReport, primaries: &[&Deployment]) -> Table {
    let mut rows = Vec::new();
    for d in primaries {
        for &u in &cost.model.assumptions.users {
            if let Some(p) = cost.at(&d.id, u) {
                let m = &p.usage;
                rows.push(vec![
                    d.system.clone(),
                    u.to_string(),
                    format!("{:.2}", m.ops / 1e6),
                    format!("{:.3}", m.writes / 1e6),
                    format!("{:.3}", m.object_writes / 1e6),
                    format!("{:.3}", m.object_reads / 1e6),
                    measured(m.egress_bytes, 1e9, 1),
                    measured(m.executions, 1e6, 2),
                    measured(m.db_seconds, 3600.0, 1),
                    measured(m.db_vcpu_from_capacity, 1.0, 2),
                    measured(m.db_vcpu_linear, 1.0, 2),
                    measured(m.postgres_bytes, 1e9, 1),
                    measured(m.object_bytes, 1e9, 1),
                ]);
            }
        }
    }
    table(
        &[
            "system",
            "users",
            "ops M",
            "writes M",
            "object PUTs M",
            "object GETs M",
            "egress GB",
            "executions M",
            "DB hours",
            "DB vCPU at peak, from capacity",
            "DB vCPU at peak, linear",
            "PostgreSQL GB held",
            "objects GB held",
        ],
        rows,
    )
}

/// A line's cost, or why it has none.
fn line_cost(l: &crate::cost::CostLine) -> String {
    l.cost
        .map_or_else(|| l.missing.clone().unwrap_or_default(), |c| c.to_string())
}

fn components_per_tier(cost: &CostReport, primaries: &[&Deployment]) -> Table {
    let users = &cost.model.assumptions.users;
    let mut header = vec!["deployment".to_string(), "component".to_string()];
    header.extend(users.iter().map(|u| format!("{u} users")));
    let mut rows = Vec::new();
    for d in primaries {
        let Some(first) = cost.at(&d.id, users[0]) else {
            continue;
        };
        for (i, l) in first.lines.iter().enumerate() {
            let mut row = vec![d.id.clone(), l.component.to_string()];
            for u in users {
                row.push(
                    cost.at(&d.id, *u)
                        .and_then(|p| p.lines.get(i))
                        .map_or("—".into(), line_cost),
                );
            }
            rows.push(row);
        }
    }
    Table {
        header,
        rows,
        status_col: None,
    }
}

fn reference_bill(cost: &CostReport) -> Table {
    let mut rows = Vec::new();
    for (k, _) in SYSTEMS {
        if let Some(p) = cost
            .model
            .primary(k)
            .and_then(|d| cost.at(&d.id, cost.model.assumptions.reference_users))
        {
            for l in &p.lines {
                rows.push(vec![
                    p.deployment.clone(),
                    l.component.to_string(),
                    format!("{:.3} {}", l.quantity, l.unit),
                    l.price_id.clone(),
                    line_cost(l),
                ]);
            }
        }
    }
    table(
        &["deployment", "component", "usage", "price", "cost / month"],
        rows,
    )
}

/// One stacked bar chart per tier, of the deployments priced at every tier.
fn charts_per_tier(cost: &CostReport) -> Result<Vec<(String, String, String)>, ReportError> {
    let tiers = &cost.model.assumptions.users;
    let priced: Vec<&Deployment> = cost
        .model
        .deployments
        .iter()
        .filter(|d| {
            tiers
                .iter()
                .all(|u| cost.at(&d.id, *u).is_some_and(|p| p.fully_priced))
        })
        .collect();
    let mut out = Vec::new();
    for u in tiers {
        let bills: Vec<&Projection> = priced
            .iter()
            .map(|d| cost.at(&d.id, *u).expect("filtered"))
            .collect();
        let mut groups: Vec<ComponentGroup> = Vec::new();
        for l in bills.iter().flat_map(|p| &p.lines) {
            if !groups.contains(&l.component.group()) {
                groups.push(l.component.group());
            }
        }
        let bars = priced
            .iter()
            .zip(&bills)
            .map(|(d, p)| StackedBar {
                label: d.id.clone(),
                values: groups.iter().map(|g| p.cost_of_group(*g).0).collect(),
            })
            .collect::<Vec<_>>();
        let legend: Vec<String> = groups.iter().map(|g| g.label().to_string()).collect();
        let title = format!("Monthly cost at {u} users (USD)");
        out.push((
            format!("cost-{u}"),
            title.clone(),
            charts::stacked(&title, "USD / month", &legend, &bars, (620, 340))?,
        ));
    }
    Ok(out)
}
