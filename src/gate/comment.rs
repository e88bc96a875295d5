//! The gate's answer laid out for a pull-request comment: the verdict in one line,
//! the regressions (with what the gate could have detected), and everything else
//! folded away in `<details>`.

use super::output::{comparison_table, power_summary};
use super::{GateReport, Verdict};
use crate::escape::markdown as escape_md;

/// Markdown for a pull-request comment.
pub fn pull_request_comment(r: &GateReport) -> String {
    let mut s = format!("### {}\n\n", headline(r));
    let regressions: Vec<_> = r.regressions().collect();
    if !regressions.is_empty() {
        s.push_str(&comparison_table(regressions.iter().copied()));
        s.push('\n');
    }
    if let Some(b) = &r.blocked {
        s.push_str(&format!("**Blocked:** {}\n\n", escape_md(b)));
    }
    for b in r.error_budget.iter().filter(|b| !b.within()) {
        s.push_str(&format!(
            "**Over its error budget:** {} failed {:.2}% of its ops (SLO ≤ {:.2}%).\n\n",
            escape_md(&b.system),
            b.error_rate * 100.0,
            b.max_error_rate * 100.0
        ));
    }
    if let Some(line) = power_summary(r) {
        s.push_str(&format!("{line}\n\n"));
    }
    s.push_str(&format!(
        "<details><summary>All {} comparisons</summary>\n\n{}\n</details>\n\n",
        r.comparisons.len(),
        comparison_table(r.comparisons.iter())
    ));
    s.push_str(&format!(
        "<details><summary>Method</summary>\n\n{}.\n\nbaseline `{}` · current `{}`\n</details>\n",
        escape_md(&r.method_note),
        escape_md(&r.baseline),
        escape_md(&r.current)
    ));
    s
}

/// One line: pass or fail, and why.
fn headline(r: &GateReport) -> String {
    let count = |v: Verdict| r.comparisons.iter().filter(|c| c.verdict == v).count();
    let gated = r.comparisons.len() - count(Verdict::TooFewSamples);
    let regressions = count(Verdict::Regression);
    if r.passed() {
        let improvements = count(Verdict::Improvement);
        let mut line = format!(
            "✅ archbench gate: pass — no regression on {gated} gated lines of {}",
            r.comparisons.len()
        );
        if improvements > 0 {
            line.push_str(&format!(", {improvements} improvement(s)"));
        }
        return line;
    }
    let mut why = Vec::new();
    if regressions > 0 {
        let worst: Vec<String> = r
            .regressions()
            .take(3)
            .map(|c| {
                format!(
                    "{} {} {} {:+.0}%",
                    escape_md(&c.system),
                    c.op,
                    c.percentile,
                    c.change_pct
                )
            })
            .collect();
        let more = if regressions > 3 { ", …" } else { "" };
        why.push(format!(
            "{regressions} regression(s): {}{more}",
            worst.join(", ")
        ));
    }
    if r.blocked.is_some() {
        why.push("incomplete run".into());
    }
    let over = r.error_budget.iter().filter(|b| !b.within()).count();
    if over > 0 {
        why.push(format!("{over} system(s) over the error budget"));
    }
    format!("❌ archbench gate: FAIL — {}", why.join("; "))
}
