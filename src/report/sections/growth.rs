//! Event-log growth: the time-window query as the event log grows.

use crate::report::ReportError;
use crate::report::charts::{self, Curve};
use crate::report::document::{Block, Section, SectionContext, table};

/// Event-log growth.
pub(super) fn growth(
    context: &SectionContext,
    sections: &mut Vec<Section>,
) -> Result<(), ReportError> {
    let systems = context.systems.clone();
    let mut rows = Vec::new();
    let mut curves = Vec::new();
    for (_, l, s) in &systems {
        if let Some(g) = &s.event_growth {
            for p in g {
                rows.push(vec![
                    l.to_string(),
                    format!("×{}", p.factor),
                    p.events.to_string(),
                    p.samples.to_string(),
                    format!("{:.2}", p.p50_ms),
                    format!("{:.2}", p.p95_ms),
                ]);
            }
            curves.push(Curve {
                name: format!(
                    "{l} ({})",
                    if *l == "V0.2" {
                        "plain table"
                    } else {
                        "hypertable"
                    }
                ),
                points: g.iter().map(|p| (p.events as f64, p.p50_ms)).collect(),
            });
        }
    }
    if !rows.is_empty() {
        sections.push(Section {
            id: "growth",
            title: "Event log growth: the time-window query".into(),
            blocks: vec![
                Block::Para("After the measurements, synthetic events of additional users are added to each system's event store over the same history span, and the same seeded users' activity query (24-hour window, hourly buckets; its answer does not change) is timed sequentially at each size. Probe events of V0.2 carry a 256-byte payload, about the heap tuple its TOASTed real payloads leave.".into()),
                Block::Table(table(&["system", "size", "events", "queries", "p50 ms", "p95 ms"], rows)),
                Block::Charts(vec![(
                    "growth".into(),
                    "Time-window query as events grow".into(),
                    charts::growth("activity p50 as the event log grows", &curves)?,
                )]),
            ],
        });
    }
    Ok(())
}
