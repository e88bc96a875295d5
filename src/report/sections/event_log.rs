//! The event-log probe: both designs on the same events, per size, and retention.

use crate::report::ReportError;
use crate::report::document::{Block, Section, SectionContext, table};
use crate::results::event_log::QueryLatency;

fn latency(q: &QueryLatency) -> String {
    format!("{:.2} / {:.2}", q.p50_ms, q.p99_ms)
}

/// The event log.
pub(super) fn event_log(
    context: &SectionContext,
    sections: &mut Vec<Section>,
) -> Result<(), ReportError> {
    let Some(probe) = context.report.results.event_log_probe.as_ref() else {
        return Ok(());
    };
    let label = |key: &str| if key == "v02" { "V0.2" } else { "V0.3" };
    let mut blocks = vec![Block::Para(format!(
        "Measured on the stores: {}. Latencies are p50 / p99 in ms. Probe wall time {:.0} s.",
        probe.design, probe.wall_seconds
    ))];
    for (key, d) in &probe.designs {
        blocks.push(Block::Para(format!("{}: {}.", label(key), d.design)));
    }
    let mut rows = Vec::new();
    for (key, d) in &probe.designs {
        for s in &d.sizes {
            rows.push(vec![
                label(key).to_string(),
                s.events.to_string(),
                format!("{} users × {} mo", s.users, s.months),
                format!("{:.0}", s.ingest_rows_per_s),
                format!("{:.0}", s.bytes_per_event),
                format!("{:.0}", s.wal_bytes_per_event),
                latency(&s.per_user),
                latency(&s.all_users),
                latency(&s.daily_30d),
                latency(&s.per_user_under_ingest),
                latency(&s.all_users_under_ingest),
            ]);
        }
    }
    blocks.push(Block::Table(table(
        &[
            "design",
            "events",
            "grown to",
            "ingest rows/s",
            "bytes/event",
            "WAL bytes/event",
            "per user 24 h",
            "all users, last hour",
            "daily counts, 30 d",
            "per user, under ingest",
            "all users, under ingest",
        ],
        rows,
    )));
    let retention: Vec<Vec<String>> = probe
        .designs
        .iter()
        .filter_map(|(key, d)| d.retention.as_ref().map(|r| (key, r)))
        .map(|(key, r)| {
            vec![
                label(key).to_string(),
                r.method.clone(),
                format!("{} of {}", r.rows_removed, r.rows_expected),
                format!("{:.2}", r.seconds),
                format!("{:.2}", r.vacuum_seconds),
                format!("{} → {}", r.bytes_before, r.bytes_after),
                r.bloat_bytes.to_string(),
                latency(&r.per_user_during),
            ]
        })
        .collect();
    if !retention.is_empty() {
        blocks.push(Block::Table(table(
            &[
                "design",
                "retention",
                "rows removed (expected)",
                "seconds",
                "VACUUM s",
                "bytes before → after",
                "bloat bytes",
                "per user during",
            ],
            retention,
        )));
    }
    sections.push(Section {
        id: "event-log",
        title: "Event log: both designs on the same events".into(),
        blocks,
    });
    Ok(())
}
