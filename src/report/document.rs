//! The report as a document model: sections of paragraphs, tables and charts, built
//! once from a [`Report`] and rendered as Markdown and HTML.

use super::sections;
use super::{Report, ReportError};
use crate::arch::{V02_NAME, V03_NAME};
use crate::results::{IntervalLogs, SystemResults};
use crate::verdict::{Outcome, Verdict};

pub(crate) struct Doc {
    pub title: String,
    pub meta: Vec<(String, String)>,
    pub sections: Vec<Section>,
}

pub(crate) struct Section {
    pub id: &'static str,
    pub title: String,
    pub blocks: Vec<Block>,
}

pub(crate) enum Block {
    Para(String),
    Table(Table),
    /// Charts side by side: (id, title, svg).
    Charts(Vec<(String, String, String)>),
    /// Preformatted text (the signature block).
    Pre(String),
}

pub(crate) struct Table {
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
    /// Column holding a verdict label, styled by its value.
    pub status_col: Option<usize>,
}

pub(super) fn table(header: &[&str], rows: Vec<Vec<String>>) -> Table {
    Table {
        header: header.iter().map(|h| h.to_string()).collect(),
        rows,
        status_col: None,
    }
}

/// The systems a report compares, with their labels.
pub(super) const SYSTEMS: [(&str, &str); 2] = [(V02_NAME, "V0.2"), (V03_NAME, "V0.3")];

pub(super) fn ms(us: u64) -> String {
    format!("{:.2}", us as f64 / 1e3)
}

/// A measured value scaled and rounded, or "not measured".
pub(super) fn measured(x: Option<f64>, scale: f64, prec: usize) -> String {
    x.map_or("not measured".into(), |v| format!("{:.*}", prec, v / scale))
}

pub(super) fn mb(b: f64) -> String {
    format!("{:.1}", b / 1e6)
}

pub(super) fn verdict_rows(vs: &[Verdict]) -> Table {
    let mut t = table(
        &[
            "claim",
            "value",
            "target",
            "evidence",
            "verdict",
            "why",
            "sensitivity",
        ],
        vs.iter()
            .map(|v| {
                vec![
                    v.statement.clone(),
                    v.value.clone(),
                    v.target.clone(),
                    v.evidence.map_or("–", |e| e.label()).to_string(),
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

/// Latency by percentile for one op of one system: the interval log when it is beside
/// the results (the full distribution), else the summary percentiles.
pub(super) fn curve(
    s: &SystemResults,
    logs: &IntervalLogs,
    system: &str,
    op: &str,
) -> Option<Vec<(f64, f64)>> {
    if let Some(h) = logs.histogram(system, op) {
        let mut points = Vec::new();
        for k in 0..=60 {
            let q = 1.0 - 10f64.powf(-(k as f64) / 10.0);
            if k > 0 && 1.0 / (1.0 - q) > h.len() as f64 {
                break;
            }
            points.push((q * 100.0, h.value_at_quantile(q) as f64 / 1e3));
        }
        points.push((
            100.0 * (1.0 - 1.0 / (h.len() as f64 + 1.0)),
            h.max() as f64 / 1e3,
        ));
        return Some(points);
    }
    let p = &s.ops.get(op)?.latency_us;
    Some(vec![
        (50.0, p.p50 as f64 / 1e3),
        (90.0, p.p90 as f64 / 1e3),
        (95.0, p.p95 as f64 / 1e3),
        (99.0, p.p99 as f64 / 1e3),
        (99.9, p.p999 as f64 / 1e3),
    ])
}

/// What every section builder reads.
pub(super) struct SectionContext<'a> {
    /// The report.
    pub report: &'a Report,
    /// (name, label, results) of V0.2 and V0.3, those present.
    pub systems: Vec<(&'static str, &'static str, &'a SystemResults)>,
    /// Interval logs read beside the results.
    pub logs: IntervalLogs,
}

/// The document: header lines, then every section in reading order.
pub(crate) fn document(report: &Report, logs: IntervalLogs) -> Result<Doc, ReportError> {
    let results = &report.results;
    let systems: Vec<(&str, &str, &SystemResults)> = SYSTEMS
        .iter()
        .filter_map(|(k, l)| results.systems.get(*k).map(|s| (*k, *l, s)))
        .collect();
    let context = SectionContext {
        report,
        systems,
        logs,
    };
    let mut sections = Vec::new();
    for build in sections::ALL {
        build(&context, &mut sections)?;
    }
    Ok(Doc {
        title: format!("archbench approval report — {}", results.scenario.name),
        meta: meta(report),
        sections,
    })
}

/// The header: scenario, results file, run times, revision, machine, stores.
fn meta(report: &Report) -> Vec<(String, String)> {
    let res = &report.results;
    let st = res.environment.stores.as_ref();
    vec![
        (
            "scenario".into(),
            format!(
                "{} ({} entities seeded, seed {})",
                res.scenario.name, res.scenario.seeded_entities, res.scenario.seed
            ),
        ),
        ("results".into(), report.results_path.clone()),
        (
            "run".into(),
            format!(
                "{} → {}{}",
                res.started_at,
                res.finished_at,
                if res.complete { "" } else { " — INCOMPLETE" }
            ),
        ),
        (
            "revision".into(),
            res.environment
                .git_revision
                .clone()
                .unwrap_or_else(|| "unknown".into()),
        ),
        (
            "machine".into(),
            format!(
                "{} CPUs, {:.0} GB RAM, kernel {}",
                res.environment.machine.cpus,
                res.environment.machine.memory_bytes as f64 / 1e9,
                res.environment.machine.kernel
            ),
        ),
        (
            "stores".into(),
            st.map_or("none".into(), |s| {
                format!(
                    "{} — PostgreSQL {}, TimescaleDB {} ({}), pgvector {}",
                    s.mode,
                    s.postgres_version.as_deref().unwrap_or("?"),
                    s.timescaledb.as_deref().unwrap_or("absent"),
                    s.timescaledb_license.as_deref().unwrap_or("?"),
                    s.vector.as_deref().unwrap_or("absent")
                )
            }),
        ),
    ]
}

impl Outcome {
    /// CSS class of a verdict label.
    pub(crate) fn css_of(label: &str) -> &'static str {
        match label {
            "confirmed" | "consistent" => "ok",
            "refuted" => "bad",
            "not reproduced" => "warn",
            _ => "nm",
        }
    }
}
