//! Growth as curves (`report --sweep`): each metric of the scale sweep, and capacity
//! at several dataset sizes, fitted against dataset size; the fits, their residuals,
//! and which of them the cost projection scales each tier by.

use crate::cost::CostReport;
use crate::growth::{Growth, Metric, Series, Trend};
use crate::numbers::thousands;
use crate::report::ReportError;
use crate::report::charts::{self, Curve, Fitted};
use crate::report::document::{Block, SYSTEMS, Section, SectionContext, table};

/// The system's label ("V0.2"), or its name.
fn label(system: &str) -> &str {
    SYSTEMS
        .iter()
        .find(|(k, _)| *k == system)
        .map_or(system, |(_, l)| l)
}

fn value(metric: Metric, v: f64) -> String {
    match metric {
        Metric::PostgresBytesPerWrite | Metric::ObjectBytesPerWrite => thousands(v.round() as u64),
        Metric::CapacityPerVcpu => format!("{v:.0}"),
        _ if v < 1.0 => format!("{v:.3}"),
        _ => format!("{v:.2}"),
    }
}

fn row(s: &Series) -> Vec<String> {
    let measured = s
        .points
        .iter()
        .map(|(x, y)| format!("{}: {}", thousands(*x as u64), value(s.metric, *y)))
        .collect::<Vec<_>>()
        .join("; ");
    let (exponent, residual, trend) = match &s.fit {
        Some(f) => (
            f.exponent_text(),
            format!("{:.1}%", f.worst_residual() * 100.0),
            match f.worst_point().filter(|_| !f.follows()) {
                Some((x, r)) => format!(
                    "not a power law: {:+.0}% off the curve at {} entities",
                    r * 100.0,
                    thousands(x as u64)
                ),
                None => f.trend().label().to_string(),
            },
        ),
        None => (
            "—".into(),
            "—".into(),
            "no fit (a zero value, or one size)".into(),
        ),
    };
    let poor = s.fit.as_ref().is_some_and(|f| !f.follows());
    let used = match (s.metric.usage_field(), s.used_in_cost()) {
        (None, _) => "not a cost figure",
        (Some(_), true) => "yes: scales each tier",
        (Some(_), false) if poor => "no: no curve to follow; the run's figure stands",
        (Some(_), false) => "no: the run's figure stands",
    };
    vec![
        label(&s.system).to_string(),
        format!("{} ({})", s.metric.label(), s.metric.unit()),
        s.source.clone(),
        measured,
        exponent,
        residual,
        trend,
        used.into(),
    ]
}

/// What the cost projection did with the sweep, in one paragraph.
pub(super) fn curves_note(cost: &CostReport) -> Option<String> {
    let largest = cost.model.assumptions.users.iter().max().copied()?;
    if cost.curves.is_empty() {
        return None;
    }
    let each: Vec<String> = cost
        .curves
        .iter()
        .map(|c| {
            format!(
                "{} {}; at {} users ({} entities) × {:.2}, extrapolated {:.0}× beyond the largest size measured",
                label(&c.system),
                c.source,
                thousands(largest),
                thousands((largest as f64 * c.entities_per_user) as u64),
                c.factor(cost.run_entities, largest),
                c.extrapolation(largest)
            )
        })
        .collect();
    Some(format!(
        "Per-op figures scaled to each tier's dataset size along the scale sweep's fitted growth (the run measured them at {} entities; a projection, not a measurement, and an extrapolation beyond the sweep's sizes): {}.",
        thousands(cost.run_entities),
        each.join("; ")
    ))
}

/// Fitted series of one metric, both systems, as chart lines.
fn fitted(series: &[&Series]) -> Vec<Fitted> {
    series
        .iter()
        .filter_map(|s| {
            let f = s.fit.as_ref()?;
            let (low, high) = f.x_range;
            let curve = (0..=16)
                .map(|i| {
                    let x = low * (high / low).powf(i as f64 / 16.0);
                    (x, f.at(x))
                })
                .collect();
            Some(Fitted {
                name: format!("{} (exponent {})", label(&s.system), f.exponent_text()),
                points: s.points.clone(),
                curve,
            })
        })
        .collect()
}

/// The section.
pub(super) fn sweep(
    context: &SectionContext,
    sections: &mut Vec<Section>,
) -> Result<(), ReportError> {
    let Some(growth) = &context.report.growth else {
        return Ok(());
    };
    let mut blocks = vec![Block::Para(method(growth))];
    blocks.push(Block::Table(table(
        &[
            "system",
            "metric",
            "from",
            "measured (entities: value)",
            "exponent (95%)",
            "largest residual",
            "growth",
            "in the cost projection",
        ],
        growth.series.iter().map(row).collect(),
    )));
    if let Some(knees) = knees(growth) {
        blocks.push(Block::Para(knees));
    }
    blocks.push(Block::Para(
        curves_note(&context.report.cost).unwrap_or_else(|| {
            "The cost projection uses none of these fits: no per-op cost figure both follows a power law and grows or shrinks beyond the sweep's noise, so the run's measured figures stand at every tier — costs then scale linearly with users.".into()
        }),
    ));
    let mut charts_out = Vec::new();
    for metric in Metric::ALL {
        let series: Vec<&Series> = growth
            .series
            .iter()
            .filter(|s| s.metric == metric)
            .collect();
        let lines = fitted(&series);
        if lines.is_empty() {
            continue;
        }
        let y = format!("{} ({})", metric.label(), metric.unit());
        charts_out.push((
            format!("sweep-{metric:?}").to_lowercase(),
            format!("{}: measured (dots) and fitted (lines)", metric.label()),
            charts::fitted(metric.label(), &y, &lines)?,
        ));
    }
    for (system, system_label) in SYSTEMS {
        let curves: Vec<Curve> = growth
            .series
            .iter()
            .filter(|s| s.system == system)
            .filter_map(|s| {
                let f = s
                    .fit
                    .as_ref()
                    .filter(|f| f.trend() != Trend::Undetermined)?;
                Some(Curve {
                    name: s.metric.label().into(),
                    points: f.residuals.iter().map(|(x, r)| (*x, r * 100.0)).collect(),
                })
            })
            .collect();
        if !curves.is_empty() {
            charts_out.push((
                format!("sweep-residuals-{system}"),
                format!("{system_label}: residuals of each fit"),
                charts::residuals(&format!("{system_label}: residuals"), &curves)?,
            ));
        }
    }
    blocks.push(Block::Charts(charts_out));
    sections.push(Section {
        id: "sweep",
        title: "Growth across the scale sweep: fitted curves".into(),
        blocks,
    });
    Ok(())
}

/// The series no power law follows, each with the point furthest off: where a plan
/// changed with size, the cost projection's linear figures understate beyond it.
fn knees(growth: &Growth) -> Option<String> {
    let each: Vec<String> = growth
        .series
        .iter()
        .filter_map(|s| {
            let f = s.fit.as_ref().filter(|f| !f.follows())?;
            let (x, r) = f.worst_point()?;
            Some(format!(
                "{} {} ({:+.0}% off the curve at {} entities)",
                label(&s.system),
                s.metric.label(),
                r * 100.0,
                thousands(x as u64)
            ))
        })
        .collect();
    (!each.is_empty()).then(|| {
        format!(
            "No power law follows {} (a point more than {:.0}% off the curve): a knee — a plan or a cache that changes at some size — rather than a steady growth. Those are not extrapolated; where the knee is at the largest sizes, the run's figure understates every larger tier.",
            each.join("; "),
            crate::growth::POOR_FIT * 100.0
        )
    })
}

fn method(growth: &Growth) -> String {
    let mut text = format!(
        "From the scale sweep `{}` ({} entities per user): each metric of each system is fitted against dataset size with a power law, value = a × entities^b, by least squares on log–log axes. The exponent b says how it grows (0 flat, 1 linear); its 95% interval (Student's t on the residual spread) says whether these few sizes tell growth from noise. Only a per-op cost figure whose interval excludes zero scales the cost projection; the rest are shown, not used.",
        growth.index,
        growth.entities_per_user.round()
    );
    for note in &growth.notes {
        text.push(' ');
        text.push_str(note);
        text.push('.');
    }
    text
}
