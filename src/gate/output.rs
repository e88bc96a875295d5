//! The gate's outputs: a Markdown table for CI job summaries and JUnit XML.

use super::{GateReport, Method, Verdict};
use crate::escape::{markdown as escape_md, xml};

fn ms(us: f64) -> String {
    format!("{:.2} ms", us / 1e3)
}

/// Markdown summary: a table of op, baseline, current, change, verdict.
pub fn markdown(r: &GateReport) -> String {
    let mut s = String::new();
    let head = if r.passed() {
        "✅ archbench gate: pass"
    } else {
        "❌ archbench gate: FAIL"
    };
    s.push_str(&format!("## {head}\n\n"));
    if let Some(b) = &r.blocked {
        s.push_str(&format!("**Blocked:** {}\n\n", escape_md(b)));
    }
    if !r.error_budget.is_empty() {
        s.push_str("| system | failed ops | ops | error rate | SLO | verdict |\n");
        s.push_str("|---|---:|---:|---:|---:|---|\n");
        for b in &r.error_budget {
            s.push_str(&format!(
                "| {} | {} | {} | {:.2}% | ≤ {:.2}% | {} |\n",
                escape_md(&b.system),
                b.errors,
                b.ops,
                b.error_rate * 100.0,
                b.max_error_rate * 100.0,
                if b.within() {
                    "pass"
                } else {
                    "**OVER BUDGET**"
                }
            ));
        }
        s.push('\n');
    }
    s.push_str(&format!("{}.\n\n", escape_md(&r.method_note)));
    s.push_str(
        "| system | op | percentile | baseline | current | change | threshold | p | verdict |\n",
    );
    s.push_str("|---|---|---|---:|---:|---:|---:|---:|---|\n");
    for c in &r.comparisons {
        let p = c.p_value.map_or("–".to_string(), |p| format!("{p:.3}"));
        let v = match c.verdict {
            Verdict::Pass => "pass",
            Verdict::Regression => "**REGRESSION**",
            Verdict::Improvement => "improvement",
            Verdict::TooFewSamples => "too few samples",
        };
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} | {:+.1}% | {:.0}% | {} | {} |\n",
            escape_md(&c.system),
            c.op,
            c.percentile,
            ms(c.baseline_us),
            ms(c.current_us),
            c.change_pct,
            c.threshold_pct,
            p,
            v
        ));
    }
    s.push_str(&format!(
        "\nbaseline `{}` · current `{}`\n",
        escape_md(&r.baseline),
        escape_md(&r.current)
    ));
    s
}

/// JUnit XML: one test suite per system, one test case per op and percentile.
pub fn junit(r: &GateReport) -> String {
    let mut systems: Vec<&str> = r.comparisons.iter().map(|c| c.system.as_str()).collect();
    systems.dedup();
    let over_budget = r.error_budget.iter().filter(|b| !b.within()).count();
    let failures = r.regressions().count() + usize::from(r.blocked.is_some()) + over_budget;
    let mut s = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"archbench gate\" tests=\"{}\" failures=\"{}\">\n",
        r.comparisons.len() + usize::from(r.blocked.is_some()) + r.error_budget.len(),
        failures
    );
    if !r.error_budget.is_empty() {
        s.push_str(&error_budget_suite(&r.error_budget, over_budget));
    }
    if let Some(b) = &r.blocked {
        s.push_str(&format!(
            "  <testsuite name=\"run\" tests=\"1\" failures=\"1\">\n    <testcase classname=\"archbench.run\" name=\"complete\"><failure message=\"{}\"/></testcase>\n  </testsuite>\n",
            xml(b)
        ));
    }
    for sys in systems {
        let cases: Vec<_> = r.comparisons.iter().filter(|c| c.system == sys).collect();
        let fails = cases
            .iter()
            .filter(|c| c.verdict == Verdict::Regression)
            .count();
        s.push_str(&format!(
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{fails}\">\n",
            xml(sys),
            cases.len()
        ));
        for c in cases {
            let detail = format!(
                "{} {} {}: baseline {}, current {}, change {:+.1}% (threshold {:.0}%{})",
                c.system,
                c.op,
                c.percentile,
                ms(c.baseline_us),
                ms(c.current_us),
                c.change_pct,
                c.threshold_pct,
                match (c.method, c.p_value) {
                    (Method::MannWhitney, Some(p)) => format!(", Mann-Whitney p = {p:.4}"),
                    _ => ", no repetitions: threshold only".into(),
                }
            );
            s.push_str(&format!(
                "    <testcase classname=\"archbench.{}.{}\" name=\"{}\">",
                xml(sys),
                xml(&c.op),
                xml(&c.percentile)
            ));
            if c.verdict == Verdict::Regression {
                s.push_str(&format!(
                    "<failure message=\"{}\">{}</failure>",
                    xml("latency regression"),
                    xml(&detail)
                ));
            } else {
                s.push_str(&format!("<system-out>{}</system-out>", xml(&detail)));
            }
            s.push_str("</testcase>\n");
        }
        s.push_str("  </testsuite>\n");
    }
    s.push_str("</testsuites>\n");
    s
}

/// The `slo` test suite: one case per system, failed when it is over its error budget.
fn error_budget_suite(budgets: &[super::ErrorBudget], over_budget: usize) -> String {
    let mut s = format!(
        "  <testsuite name=\"slo\" tests=\"{}\" failures=\"{over_budget}\">\n",
        budgets.len()
    );
    for b in budgets {
        s.push_str(&format!(
            "    <testcase classname=\"archbench.slo\" name=\"{}.error_rate\">",
            xml(&b.system)
        ));
        if !b.within() {
            s.push_str(&format!(
                "<failure message=\"{} of {} ops failed ({:.2}%), above the SLO of {:.2}%\"/>",
                b.errors,
                b.ops,
                b.error_rate * 100.0,
                b.max_error_rate * 100.0
            ));
        }
        s.push_str("</testcase>\n");
    }
    s.push_str("  </testsuite>\n");
    s
}
