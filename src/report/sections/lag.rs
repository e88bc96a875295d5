//! Projection lag: how long a write takes to show in list and search.

use crate::report::ReportError;
use crate::report::charts::{self, StackedBar};
use crate::report::document::{Block, Section, SectionContext, table};

/// Projection lag.
pub(super) fn lag(
    context: &SectionContext,
    sections: &mut Vec<Section>,
) -> Result<(), ReportError> {
    let systems = context.systems.clone();
    let mut rows = Vec::new();
    let mut bars = Vec::new();
    for (_, l, s) in &systems {
        if let Some(lag) = &s.projection_lag_ms {
            rows.push(vec![
                l.to_string(),
                lag.samples.to_string(),
                format!(
                    "{:.1} / {:.1} ({} of {} on first read)",
                    lag.list.p50_ms, lag.list.p95_ms, lag.list.visible_on_first_read, lag.samples
                ),
                format!(
                    "{:.1} / {:.1} ({} of {} on first read)",
                    lag.search.p50_ms,
                    lag.search.p95_ms,
                    lag.search.visible_on_first_read,
                    lag.samples
                ),
            ]);
            bars.push(StackedBar {
                label: format!("{l} list"),
                values: vec![lag.list.p50_ms],
            });
            bars.push(StackedBar {
                label: format!("{l} search"),
                values: vec![lag.search.p50_ms],
            });
        }
    }
    let mut blocks = vec![Block::Table(table(
        &[
            "system",
            "writes timed",
            "list p50 / p95 ms",
            "search p50 / p95 ms",
        ],
        rows,
    ))];
    if !bars.is_empty() {
        blocks.push(Block::Charts(vec![(
            "lag".into(),
            "Projection lag".into(),
            charts::stacked(
                "Projection lag, p50 (ms)",
                "ms",
                &["p50".into()],
                &bars,
                (560, 300),
            )?,
        )]));
    }
    sections.push(Section {
        id: "lag",
        title: "Projection lag (write → visible)".into(),
        blocks,
    });
    Ok(())
}
