//! Storage and redundancy: bytes per store, copies per item, growth per write.

use crate::report::ReportError;
use crate::report::charts::{self, StackedBar};
use crate::report::document::{Block, Section, SectionContext, mb, table};

/// Storage.
pub(super) fn storage(
    context: &SectionContext,
    sections: &mut Vec<Section>,
) -> Result<(), ReportError> {
    let systems = context.systems.clone();
    let mut bars = Vec::new();
    let mut rows = Vec::new();
    for (_, l, s) in &systems {
        if let Some(f) = &s.footprint {
            bars.push(StackedBar {
                label: format!("{l} ({:.1} copies)", f.copies_per_item),
                values: vec![
                    f.stored_bytes.postgres as f64 / 1e6,
                    f.stored_bytes.object_store as f64 / 1e6,
                ],
            });
            rows.push(vec![
                l.to_string(),
                mb(f.logical_body_bytes as f64),
                mb(f.stored_bytes.postgres as f64),
                mb(f.stored_bytes.object_store as f64),
                format!("{:.1}×", f.amplification.unwrap_or(0.0)),
                format!(
                    "{:.1} (min {}, max {})",
                    f.copies_per_item, f.copies.min, f.copies.max
                ),
                f.copies
                    .places
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", "),
                s.storage_growth.map_or("—".into(), |g| {
                    let (postgres, objects) = g.per_write();
                    format!(
                        "{:.1} KB PG + {:.1} KB objects",
                        postgres / 1e3,
                        objects / 1e3
                    )
                }),
            ]);
        }
    }
    let mut blocks = vec![Block::Table(table(
        &[
            "system",
            "bodies MB",
            "PostgreSQL MB",
            "objects MB",
            "stored / bodies",
            "copies per item",
            "where",
            "growth per write",
        ],
        rows,
    ))];
    if !bars.is_empty() {
        blocks.push(Block::Charts(vec![(
            "storage".into(),
            "Storage per store".into(),
            charts::stacked(
                "Storage per store (MB)",
                "MB",
                &["PostgreSQL".into(), "object store".into()],
                &bars,
                (520, 320),
            )?,
        )]));
    }
    sections.push(Section {
        id: "storage",
        title: "Storage and redundancy".into(),
        blocks,
    });
    Ok(())
}
