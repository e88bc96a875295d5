//! The gate's outputs: a Markdown table for CI job summaries and JUnit XML.

use super::{Comparison, Detectable, GateReport, Method, Verdict};
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
    if let Some(line) = power_summary(r) {
        s.push_str(&format!("{line}\n\n"));
    }
    s.push_str(&comparison_table(r.comparisons.iter()));
    s.push_str(&format!(
        "\nbaseline `{}` · current `{}`\n",
        escape_md(&r.baseline),
        escape_md(&r.current)
    ));
    s
}

/// The verdict word of a comparison.
pub(super) fn verdict_word(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "pass",
        Verdict::Regression => "**REGRESSION**",
        Verdict::Improvement => "improvement",
        Verdict::TooFewSamples => "too few samples",
    }
}

/// The comparisons as a Markdown table, with the noise and the detectable regression
/// on every line; a threshold the test cannot resolve is marked.
pub(super) fn comparison_table<'a>(comparisons: impl Iterator<Item = &'a Comparison>) -> String {
    let mut s = String::from(
        "| system | op | percentile | baseline | current | change | needs | p | noise | detectable | verdict |\n",
    );
    s.push_str("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|\n");
    let mut flagged = false;
    for c in comparisons {
        let p = c.p_value.map_or("–".to_string(), |p| format!("{p:.3}"));
        let noise = c.noise_pct.map_or("–".to_string(), |n| format!("±{n:.0}%"));
        let unresolved = c.threshold_below_detectable && c.detectable != Detectable::NotGated;
        flagged |= unresolved;
        let flag = if unresolved { " ⚠" } else { "" };
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} | {:+.1}% | {}{flag} | {} | {noise} | {} | {} |\n",
            escape_md(&c.system),
            c.op,
            c.percentile,
            ms(c.baseline_us),
            ms(c.current_us),
            c.change_pct,
            needs(c),
            p,
            c.detectable.cell(),
            verdict_word(c.verdict)
        ));
    }
    if flagged {
        s.push_str(
            "\n⚠ threshold below what the test can resolve with these repetitions: it promises more than it delivers; add repetitions or raise it.\n",
        );
    }
    s
}

/// The change a line needs to call a regression: its threshold, or the run-to-run
/// tolerance when that is larger (with the spread it comes from).
pub(super) fn needs(c: &Comparison) -> String {
    match c.run_to_run_pct {
        Some(spread) if c.required_pct > c.threshold_pct => {
            format!("{:.0}% (runs ±{spread:.0}%)", c.required_pct)
        }
        _ => format!("{:.0}%", c.threshold_pct),
    }
}

/// "A pass rules out regressions larger than …": the widest detectable regression
/// over the gated lines, and how many lines cannot detect anything.
pub(super) fn power_summary(r: &GateReport) -> Option<String> {
    let gated: Vec<&Comparison> = r
        .comparisons
        .iter()
        .filter(|c| !matches!(c.detectable, Detectable::NotGated | Detectable::Unknown))
        .collect();
    if gated.is_empty() {
        return None;
    }
    let never = gated
        .iter()
        .filter(|c| c.detectable == Detectable::Never)
        .count();
    let widest = gated
        .iter()
        .filter_map(|c| c.detectable.percent().map(|p| (p, c)))
        .max_by(|a, b| a.0.total_cmp(&b.0));
    let mut line = String::new();
    if let Some((p, c)) = widest {
        line.push_str(&format!(
            "Power: on every gated line a regression of its *detectable* size or more is called {:.0}% of the time; the widest is {p:.0}% at {} of {} {}",
            super::power::DETECTION_POWER * 100.0,
            c.percentile,
            escape_md(&c.system),
            c.op
        ));
    }
    if never > 0 {
        line.push_str(&format!(
            "{}{never} line(s) cannot call a regression of any size at alpha {} with {} against {} repetitions",
            if line.is_empty() { "Power: " } else { "; " },
            r.config.alpha,
            r.repetitions.0,
            r.repetitions.1
        ));
    }
    line.push('.');
    Some(line)
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
                "{} {} {}: baseline {}, current {}, change {:+.1}% (needs {}{}; detectable {})",
                c.system,
                c.op,
                c.percentile,
                ms(c.baseline_us),
                ms(c.current_us),
                c.change_pct,
                needs(c),
                match (c.method, c.p_value) {
                    (Method::MannWhitney, Some(p)) => format!(", Mann-Whitney p = {p:.4}"),
                    _ => ", no repetitions: threshold only".into(),
                },
                c.detectable.cell()
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
