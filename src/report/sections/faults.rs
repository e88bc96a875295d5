//! Store faults: shown only for a run that injected them. When each fault was injected,
//! restored and serving again, the failed ops in its window, each op's time to its
//! first success after the restore, and latency over time with the windows shaded.

use crate::report::ReportError;
use crate::report::charts::{self, Curve, Window};
use crate::report::document::{Block, Section, SectionContext, table};
use crate::results::{FaultResult, SystemResults};

/// Faults.
pub(super) fn faults(
    context: &SectionContext,
    sections: &mut Vec<Section>,
) -> Result<(), ReportError> {
    let faulted: Vec<_> = context
        .systems
        .iter()
        .filter(|(_, _, s)| !s.faults.is_empty())
        .collect();
    if faulted.is_empty() {
        return Ok(());
    }
    let mut blocks = vec![Block::Para(
        "This run injected store faults into each system's measured phases (measured on the stores: \
         local servers killed with SIGKILL to their whole process group and started again on the same \
         data, or stopped with SIGSTOP and continued; the workflow emulator, which runs inside archbench, \
         closes its listener or holds its requests). Its latency, error and cost figures include the \
         faults: read it for resilience, not for the approval decision. Times are seconds from the start \
         of the repetition, warm-up included; recovery is from the restore to the op's first success."
            .into(),
    )];
    let mut rows = Vec::new();
    let mut op_rows = Vec::new();
    let mut charts = Vec::new();
    for (name, label, s) in faulted {
        for f in &s.faults {
            rows.push(fault_row(label, f));
            for (op, o) in &f.ops {
                op_rows.push(vec![
                    label.to_string(),
                    describe(f),
                    op.clone(),
                    o.errors.to_string(),
                    o.recovery_ms
                        .map_or("no success after".into(), |ms| format!("{ms}")),
                ]);
            }
        }
        if let Some(svg) = over_time(context, name, label, s)? {
            charts.push((
                format!("faults-{name}"),
                format!("{label} latency over time"),
                svg,
            ));
        }
    }
    blocks.push(Block::Table(table(
        &[
            "system",
            "fault",
            "repetition",
            "injected s",
            "restored s",
            "serving s",
            "failed ops in window",
            "slowest recovery",
        ],
        rows,
    )));
    blocks.push(Block::Table(table(
        &["system", "fault", "op", "failed in window", "recovery ms"],
        op_rows,
    )));
    if !charts.is_empty() {
        blocks.push(Block::Charts(charts));
    }
    sections.push(Section {
        id: "faults",
        title: "Store faults".into(),
        blocks,
    });
    Ok(())
}

fn describe(f: &FaultResult) -> String {
    format!(
        "{} {} for {:.1} s",
        f.events.target.name(),
        f.events.action.name(),
        f.events.down_for_ms as f64 / 1e3
    )
}

fn seconds(ms: Option<u64>) -> String {
    ms.map_or("–".into(), |ms| format!("{:.1}", ms as f64 / 1e3))
}

fn fault_row(label: &str, f: &FaultResult) -> Vec<String> {
    let slowest = f
        .ops
        .iter()
        .filter_map(|(op, o)| o.recovery_ms.map(|ms| (ms, op)))
        .max();
    let mut fault = describe(f);
    if let Some(e) = &f.events.error {
        fault.push_str(&format!(" ({e})"));
    }
    vec![
        label.to_string(),
        fault,
        (f.repetition + 1).to_string(),
        seconds(f.events.injected_ms),
        seconds(f.events.restored_ms),
        seconds(f.events.serving_ms),
        f.ops.values().map(|o| o.errors).sum::<u64>().to_string(),
        slowest.map_or("–".into(), |(ms, op)| format!("{op} {ms} ms")),
    ]
}

/// p50 and p99 of every op per second, the faults' windows shaded.
fn over_time(
    context: &SectionContext,
    name: &str,
    label: &str,
    s: &SystemResults,
) -> Result<Option<String>, ReportError> {
    let Some(per_second) = context.logs.seconds(name) else {
        return Ok(None);
    };
    let curve = |q: f64, what: &str| Curve {
        name: format!("{label} {what}"),
        points: per_second
            .iter()
            .map(|(second, h)| (*second as f64 + 0.5, h.value_at_quantile(q) as f64 / 1e3))
            .collect(),
    };
    let windows: Vec<Window> = s
        .faults
        .iter()
        .filter_map(|f| {
            let from = f.events.injected_ms? as f64 / 1e3;
            let to = f.events.serving_ms.or(f.events.restored_ms)? as f64 / 1e3;
            Some((
                from,
                to,
                format!("{} {}", f.events.target.name(), f.events.action.name()),
            ))
        })
        .collect();
    let title = format!("{label}: latency per second, faults shaded");
    let svg = charts::over_time(&title, &[curve(0.5, "p50"), curve(0.99, "p99")], &windows)?;
    Ok(Some(svg))
}
