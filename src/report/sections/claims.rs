//! The claims and the go/no-go criteria with their verdicts: what the approver reads first.

use crate::report::ReportError;
use crate::report::document::{Block, Section, SectionContext, Table, table, verdict_rows};
use crate::verdict::{Tally, Verdict};

/// Verdicts first: this is what the approver reads.
pub(super) fn claims(
    context: &SectionContext,
    sections: &mut Vec<Section>,
) -> Result<(), ReportError> {
    let ev = &context.report.evaluation;
    let rec = &ev.recommendation;
    let mut blocks = vec![Block::Para(format!(
        "The harness's suggestion (the approver decides): Option {} — {}. It would change where {}. {}",
        rec.option,
        rec.why,
        rec.flips.join("; "),
        if rec.flips_within_ranges.is_empty() {
            "No input within its range (Decision sensitivity) changes it: it is robust.".to_string()
        } else {
            format!(
                "It is not robust — within their ranges (Decision sensitivity): {}.",
                rec.flips_within_ranges.join("; ")
            )
        }
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
    let intro = "Each line says what it rests on: measured or computed here, a plan (an input: shown at the planned size, not judged), or the approver's judgement (the run's contribution is shown).";
    let mut blocks = vec![Block::Para(intro.into())];
    for (title, lines) in [("GO", &ev.go_criteria), ("NO-GO", &ev.no_go_criteria)] {
        blocks.push(Block::Para(format!("{title} criteria:")));
        blocks.push(Block::Table(criteria_rows(lines)));
    }
    sections.push(Section {
        id: "go-no-go",
        title: "Go / No-Go criteria".into(),
        blocks,
    });
    Ok(())
}

/// Criteria: the line, what the run shows, its basis and status.
fn criteria_rows(lines: &[Verdict]) -> Table {
    let mut t = table(
        &[
            "criterion",
            "what this run shows",
            "threshold",
            "basis",
            "status",
            "why",
            "sensitivity",
        ],
        lines
            .iter()
            .map(|v| {
                vec![
                    v.statement.clone(),
                    v.value.clone(),
                    v.target.clone(),
                    v.basis().to_string(),
                    v.outcome.label().to_string(),
                    v.reason.clone(),
                    v.sensitivity.clone(),
                ]
            })
            .collect(),
    );
    t.status_col = Some(4);
    t
}
