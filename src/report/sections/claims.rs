//! The claims and the go/no-go criteria with their verdicts: what the approver reads first.

use crate::report::ReportError;
use crate::report::document::{Block, Section, SectionContext, verdict_rows};
use crate::verdict::Tally;

/// Verdicts first: this is what the approver reads.
pub(super) fn claims(
    context: &SectionContext,
    sections: &mut Vec<Section>,
) -> Result<(), ReportError> {
    let ev = &context.report.evaluation;
    let mut blocks = vec![Block::Para(format!(
        "Harness recommendation: Option {} — {}",
        ev.recommendation.option, ev.recommendation.why
    ))];
    blocks.push(Block::Table(verdict_rows(&ev.claims)));
    blocks.push(Block::Para(format!(
        "{} claims, counted as findings: {}.",
        ev.claims.len(),
        Tally::of(&ev.claims)
    )));
    blocks.push(Block::Para("Evidence: measured = this run's stores and counters; arithmetic = the document's own numbers checked against each other; projection = cost or latency from measured per-op usage and the named assumptions below. A measurement or the arithmetic confirms or refutes; a projection is consistent with a claim or does not reproduce it, and never refutes it: it models a rebuild of the system from the document, not production.".into()));
    sections.push(Section {
        id: "claims",
        title: "Claims of the decision document".into(),
        blocks,
    });
    sections.push(Section {
        id: "go-no-go",
        title: "Go / No-Go criteria".into(),
        blocks: vec![Block::Table({
            let mut t = verdict_rows(&ev.criteria);
            t.header[0] = "criterion".into();
            t
        })],
    });
    Ok(())
}
