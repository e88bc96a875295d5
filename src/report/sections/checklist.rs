//! The approval checklist with its evidence, and the signature block.

use crate::report::ReportError;
use crate::report::document::{Block, Section, SectionContext, table};

/// Checklist and signature.
pub(super) fn checklist(
    context: &SectionContext,
    sections: &mut Vec<Section>,
) -> Result<(), ReportError> {
    let ev = &context.report.evaluation;
    sections.push(Section {
        id: "checklist",
        title: "Approval checklist, with evidence".into(),
        blocks: vec![Block::Table(table(
            &[
                "item",
                "evidence from this run",
                "evidence supports ticking",
            ],
            ev.checklist
                .iter()
                .map(|c| {
                    vec![
                        c.item.clone(),
                        c.evidence.clone(),
                        c.supported.map_or("for a person to decide".into(), |s| {
                            if s { "yes".into() } else { "no".into() }
                        }),
                    ]
                })
                .collect(),
        ))],
    });
    let rec = &ev.recommendation;
    let tick = |on: bool| if on { "[x]" } else { "[ ]" };
    let sig = format!(
        "I approve the V0.3 architecture refactoring:\n\nOption: {} A (Full) {} B (Incremental) {} C (No change)\n\nTechnical Decisions:\n{} TimescaleDB  {} EventStoreDB  {} Keep PostgreSQL\n{} R2 Storage   {} S3 Storage\n{} pgvector     {} Qdrant\n\nSignature: ___________________\nDate: _________________________",
        tick(rec.option == 'A'),
        tick(rec.option == 'B'),
        tick(rec.option == 'C'),
        tick(rec.event_db == "TimescaleDB"),
        tick(rec.event_db == "EventStoreDB"),
        tick(rec.event_db == "Keep PostgreSQL"),
        tick(rec.storage == "R2 Storage"),
        tick(rec.storage == "S3 Storage"),
        tick(rec.vectors == "pgvector"),
        tick(rec.vectors == "Qdrant"),
    );
    let mut blocks = vec![Block::Para("Ticks are the harness's recommendation from the evidence above; the signature is for a person.".into()), Block::Pre(sig)];
    blocks.push(Block::Para(format!(
        "Why Option {}: {}",
        rec.option, rec.why
    )));
    for n in &rec.notes {
        blocks.push(Block::Para(n.clone()));
    }
    sections.push(Section {
        id: "signature",
        title: "Approval signature".into(),
        blocks,
    });
    Ok(())
}
