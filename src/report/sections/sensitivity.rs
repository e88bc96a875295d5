//! Decision sensitivity: each input that moves the decision across its range, with the
//! payback and the suggested option at each end, a tornado chart of payback, and
//! whether the suggestion is robust.

use crate::report::ReportError;
use crate::report::charts::{self, TornadoRow};
use crate::report::document::{Block, Section, SectionContext, table};

/// Decision sensitivity.
pub(super) fn sensitivity(
    context: &SectionContext,
    sections: &mut Vec<Section>,
) -> Result<(), ReportError> {
    let ev = &context.report.evaluation;
    let rows = &ev.decision_sensitivity;
    if rows.is_empty() {
        return Ok(());
    }
    let months = |p: Option<f64>| p.map_or("never".into(), |m| format!("{m:.0}"));
    let rec = &ev.recommendation;
    let robust = if rec.flips_within_ranges.is_empty() {
        format!(
            "The suggestion (Option {}) is robust: no input within its range changes it.",
            rec.option
        )
    } else {
        format!(
            "The suggestion (Option {}) is not robust: {}.",
            rec.option,
            rec.flips_within_ranges.join("; ")
        )
    };
    let table = table(
        &[
            "input",
            "low / base / high",
            "range from",
            "payback months (low / base / high)",
            "option (low / base / high)",
        ],
        rows.iter()
            .map(|r| {
                vec![
                    r.input.clone(),
                    format!("{} / {} / {}", r.low, r.base, r.high),
                    r.source.clone(),
                    format!(
                        "{} / {} / {}",
                        months(r.payback_months.low),
                        months(r.payback_months.base),
                        months(r.payback_months.high)
                    ),
                    format!(
                        "{} / {} / {}",
                        r.recommendation.low, r.recommendation.base, r.recommendation.high
                    ),
                ]
            })
            .collect(),
    );
    let bars: Vec<TornadoRow> = rows
        .iter()
        .map(|r| TornadoRow {
            name: r.input.clone(),
            payback: [
                r.payback_months.low,
                r.payback_months.base,
                r.payback_months.high,
            ],
        })
        .collect();
    let chart = charts::tornado(
        "Payback by input (orange: low value, blue: high value)",
        &bars,
    )?;
    sections.push(Section {
        id: "sensitivity",
        title: "Decision sensitivity".into(),
        blocks: vec![
            Block::Para("Each input that moves the decision, from its low to its high value, the others as modelled (projection). Payback = investment / projected monthly savings of the primary deployments.".into()),
            Block::Para(robust),
            Block::Table(table),
            Block::Charts(vec![("tornado".into(), "Payback by input".into(), chart)]),
        ],
    });
    Ok(())
}
