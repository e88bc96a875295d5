//! Latency: measured percentiles and curves per op, and the production estimate.

use crate::arch::OpKind;
use crate::report::ReportError;
use crate::report::charts::{self, Curve};
use crate::report::document::{Block, Section, SectionContext, Table, curve, ms, table};

/// Latency.
pub(super) fn latency(
    context: &SectionContext,
    sections: &mut Vec<Section>,
) -> Result<(), ReportError> {
    let a = &context.report.cost.model.assumptions;
    let ev = &context.report.evaluation;
    let systems = context.systems.clone();
    let logs = &context.logs;
    let mut lat_rows = Vec::new();
    let mut lat_charts = Vec::new();
    for op in OpKind::ALL {
        let name = op.name();
        let mut row = vec![name.to_string()];
        let mut curves = Vec::new();
        for (k, l, s) in &systems {
            match s.ops.get(name) {
                Some(o) => row.extend([
                    o.count.to_string(),
                    ms(o.latency_us.p50),
                    ms(o.latency_us.p99),
                    ms(o.latency_us.p999),
                    o.errors.to_string(),
                ]),
                None => row.extend(std::iter::repeat_n("—".to_string(), 5)),
            }
            if let Some(points) = curve(s, logs, k, name) {
                curves.push(Curve {
                    name: l.to_string(),
                    points,
                });
            }
        }
        if !curves.is_empty() {
            let title = format!("{name}: latency by percentile");
            lat_charts.push((
                format!("latency-{name}"),
                title.clone(),
                charts::latency(&title, &curves)?,
            ));
        }
        lat_rows.push(row);
    }
    let mut header = vec!["op".to_string()];
    for (_, l, _) in &systems {
        for h in ["ops", "p50 ms", "p99 ms", "p99.9 ms", "errors"] {
            header.push(format!("{l} {h}"));
        }
    }
    let est_rows = ev
        .latency_estimate
        .iter()
        .map(|e| {
            let trips = |r: [f64; 3]| format!("{:.1} PG + {:.1} S3 + {:.1} HTTP", r[0], r[1], r[2]);
            vec![
                e.op.clone(),
                format!("{:.1}%", e.weight * 100.0),
                trips(e.round_trips[0]),
                trips(e.round_trips[1]),
                format!("{:.2} → {:.2}", e.measured_ms[0], e.measured_ms[1]),
                format!("{:.1} → {:.1}", e.estimate_ms[0], e.estimate_ms[1]),
            ]
        })
        .collect();
    let network = context
        .report
        .results
        .environment
        .network
        .as_ref()
        .filter(|n| !n.profile.is_loopback());
    let (where_measured, estimate) = match network {
        Some(n) => (
            format!(
                "under network profile `{}` ({}): the systems reached PostgreSQL, the object store and the workflow service through archbench's userspace delay proxies, so these figures include the distance",
                n.profile.name, n.profile.description
            ),
            "Cross-check only: the round-trip estimate below adds the cost model's stated RTTs to figures that already include this profile's; the latency claim is judged on the measurement.".to_string(),
        ),
        None => (
            "on loopback stores".to_string(),
            format!(
                "Production estimate per op: measured p50 + request-path round trips × RTT (database {} ms, object store {} ms, Inngest {} ms). Labelled an estimate: it assumes round trips are sequential and server work does not change with distance; `run --network same-region` measures instead.",
                a.rtt_postgres_ms, a.rtt_object_ms, a.rtt_workflow_ms
            ),
        ),
    };
    sections.push(Section {
        id: "latency",
        title: "Latency".into(),
        blocks: vec![
            Block::Para(format!("Latency is measured from each op's intended start (coordinated-omission corrected), {where_measured}. Curves come from the interval logs beside the results when present.")),
            Block::Table(Table { header, rows: lat_rows, status_col: None }),
            Block::Charts(lat_charts),
            Block::Para(estimate),
            Block::Table(table(&["op", "share of ops", "V0.2 request-path round trips", "V0.3 request-path round trips", "measured p50 ms (V0.2 → V0.3)", "estimated p50 ms (V0.2 → V0.3)"], est_rows)),
        ],
    });
    Ok(())
}
