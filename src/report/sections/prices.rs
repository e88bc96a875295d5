//! The price catalogue used, and the run's caveats.

use crate::report::ReportError;
use crate::report::document::{Block, Section, SectionContext, table};

/// Prices and caveats.
pub(super) fn prices(
    context: &SectionContext,
    sections: &mut Vec<Section>,
) -> Result<(), ReportError> {
    let r = context.report;
    let res = &context.report.results;
    sections.push(Section {
        id: "prices",
        title: "Price catalogue".into(),
        blocks: vec![Block::Table(table(
            &[
                "id",
                "provider",
                "item",
                "price",
                "unit",
                "free / included",
                "source",
                "read",
                "confidence",
            ],
            r.catalogue
                .prices
                .values()
                .map(|p| {
                    vec![
                        p.id.clone(),
                        p.provider.clone(),
                        p.item.clone(),
                        p.usd.map_or_else(
                            || p.unpriced.clone().unwrap_or_default(),
                            |u| format!("{}", u.0),
                        ),
                        p.unit.map_or("—".into(), |u| u.to_string()),
                        if p.free > 0.0 || p.included > 0.0 {
                            format!("{} / {}", p.free, p.included)
                        } else {
                            "—".into()
                        },
                        p.source.clone(),
                        p.read.clone(),
                        format!("{:?}", p.confidence).to_lowercase(),
                    ]
                })
                .collect(),
        ))],
    });
    sections.push(Section {
        id: "notes",
        title: "Caveats".into(),
        blocks: res.notes.iter().map(|n| Block::Para(n.clone())).collect(),
    });
    Ok(())
}
