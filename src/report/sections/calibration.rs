//! Calibration to the real bill (`--actuals`): the model of the current system beside
//! production's figures, the factors they imply, the executions per write they imply,
//! and V0.3 re-projected with them. Without actuals, says what would check the model.

use crate::cost::Usd;
use crate::cost::calibration::Calibration;
use crate::report::ReportError;
use crate::report::document::{Block, Section, SectionContext, table};

/// Calibration.
pub(super) fn calibration(
    context: &SectionContext,
    sections: &mut Vec<Section>,
) -> Result<(), ReportError> {
    let stated = Usd(context.report.targets.document.current_monthly_usd);
    let blocks = match &context.report.calibration {
        None => vec![Block::Para(format!(
            "No actual bill was given. The current-cost figures above project the reference \
             V0.2 built from the document's description; the document's {stated} a month can be \
             checked only against production's invoice. Pass --actuals FILE (documented in \
             deployments/actuals-example.toml) with the month's bill, per component or in \
             total, and usage from the providers' dashboards: this section then shows the \
             model beside it, the factors it implies, and V0.3 re-projected with them."
        ))],
        Some(c) => calibrated(c),
    };
    sections.push(Section {
        id: "calibration",
        title: "Calibration to the real bill".into(),
        blocks,
    });
    Ok(())
}

fn money(x: Option<Usd>) -> String {
    x.map_or("–".into(), |u| u.to_string())
}

fn times(x: Option<f64>) -> String {
    x.map_or("–".into(), |f| format!("× {f:.2}"))
}

fn calibrated(c: &Calibration) -> Vec<Block> {
    let a = &c.actuals;
    let mut blocks = vec![Block::Para(format!(
        "Actuals from {} ({}){}, {} users, against the model of {} at the same size \
         (projection from measured usage and the named assumptions).",
        a.file,
        a.source,
        a.month.as_ref().map_or(String::new(), |m| format!(", {m}")),
        a.users,
        c.deployment
    ))];
    let mut rows: Vec<Vec<String>> = c
        .rows
        .iter()
        .map(|r| {
            let usage = |x: Option<f64>| x.map_or("–".into(), |v| format!("{v:.1}"));
            vec![
                r.component.label().to_string(),
                money(r.model_usd),
                money(r.actual_usd),
                times(r.factor),
                usage(r.model_usage),
                usage(r.actual_usage),
                r.unit.clone().unwrap_or_else(|| "–".into()),
                times(r.usage_factor),
            ]
        })
        .collect();
    if let Some(t) = c.total {
        rows.push(vec![
            "whole bill".into(),
            t.model.to_string(),
            t.actual.to_string(),
            times(Some(t.factor)),
            "–".into(),
            "–".into(),
            "–".into(),
            "–".into(),
        ]);
    }
    blocks.push(Block::Table(table(
        &[
            "component",
            "model",
            "actual",
            "actual / model",
            "model usage",
            "actual usage",
            "unit",
            "usage actual / model",
        ],
        rows,
    )));
    if let Some(e) = &c.executions {
        blocks.push(Block::Para(match (e.implied_per_write, &e.note) {
            (Some(x), _) => format!(
                "To reproduce {}, V0.2 would need {x:.0} Inngest executions per write, other inputs as modelled; the reference V0.2 makes {:.1}.",
                e.reproduces, e.measured_per_write
            ),
            (None, Some(why)) => format!("Executions per write cannot reproduce {}: {why}.", e.reproduces),
            (None, None) => String::new(),
        }));
    }
    if let Some(v) = &c.v03 {
        let how = if v.how.is_empty() {
            "no factor applies".to_string()
        } else {
            v.how.join("; ")
        };
        blocks.push(Block::Para(format!(
            "V0.3 re-projected with those factors: {} a month, where the model says {} ({how}). \
             This assumes the reference implementations miss production by the same factors on both systems.",
            v.reprojected, v.model
        )));
    }
    blocks
}
