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
                "the harness's reading (not a tick)",
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
    // Nothing is ticked on the approver's behalf: the harness's suggestion is printed
    // beside the block, with where it would change.
    let sig = "I approve the V0.3 architecture refactoring:\n\nOption: [ ] A (Full) [ ] B (Incremental) [ ] C (No change)\n\nTechnical Decisions:\n[ ] TimescaleDB  [ ] EventStoreDB  [ ] Keep PostgreSQL\n[ ] R2 Storage   [ ] S3 Storage\n[ ] pgvector     [ ] Qdrant\n\nSignature: ___________________\nDate: _________________________";
    let mut blocks = vec![
        Block::Pre(sig.into()),
        Block::Para(format!(
            "The harness's suggestion, not a tick: Option {} — {}; technical: {}, {}, {}.",
            rec.option, rec.why, rec.event_db, rec.storage, rec.vectors
        )),
        Block::Para(format!(
            "Where the suggestion would change, on this model: {}.",
            rec.flips.join("; ")
        )),
    ];
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
