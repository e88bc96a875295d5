//! Decision arithmetic: savings, ROI and payback per tier and on the document's figures.

use crate::cost::Usd;
use crate::cost::decision::Returns;
use crate::report::ReportError;
use crate::report::document::{Block, Section, SectionContext, table};

/// Decision arithmetic.
pub(super) fn decision(
    context: &SectionContext,
    sections: &mut Vec<Section>,
) -> Result<(), ReportError> {
    let report = context.report;
    let document = &report.targets.document;
    let investment = Usd(document.investment_usd);
    let mut rows: Vec<Vec<String>> = report
        .cost
        .returns_per_tier(investment)
        .into_iter()
        .map(|(users, r)| {
            let payback = r
                .payback_months
                .map_or("never".into(), |x| format!("{x:.1} months"));
            row(users.to_string(), &r, payback)
        })
        .collect();
    let own = document.own_returns();
    let payback = own.payback_months.map_or("never".into(), |x| {
        format!("{x:.2} months (document says {})", document.payback_months)
    });
    rows.push(row("document".into(), &own, payback));
    sections.push(Section {
        id: "decision",
        title: "Decision arithmetic".into(),
        blocks: vec![
            Block::Para(format!("Investment {investment} (the document's breakdown). ROI gross = annual savings / investment; net = (annual savings − investment) / investment; payback = investment / monthly savings.")),
            Block::Table(table(&["users", "V0.2 / month", "V0.3 / month", "savings / month", "savings / year", "reduction", "ROI gross", "ROI net", "payback"], rows)),
        ],
    });
    Ok(())
}

fn row(label: String, r: &Returns, payback: String) -> Vec<String> {
    vec![
        label,
        r.current_monthly.to_string(),
        r.proposed_monthly.to_string(),
        r.monthly_savings.to_string(),
        r.annual_savings.to_string(),
        r.reduction_pct.map_or("—".into(), |x| format!("{x:.1}%")),
        r.roi_gross_pct.map_or("—".into(), |x| format!("{x:.0}%")),
        r.roi_net_pct.map_or("—".into(), |x| format!("{x:.0}%")),
        payback,
    ]
}
