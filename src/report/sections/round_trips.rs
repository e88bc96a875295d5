//! Round trips per op and store, Inngest executions, and database time.

use crate::arch::{OpKind, Store};
use crate::report::ReportError;
use crate::report::document::{Block, Section, SectionContext, table};

/// Round trips, executions, database time.
pub(super) fn round_trips(
    context: &SectionContext,
    sections: &mut Vec<Section>,
) -> Result<(), ReportError> {
    let systems = context.systems.clone();
    let mut rows = Vec::new();
    const EXTERNAL: &str = "not measured (external target)";
    for (_, l, s) in &systems {
        if !s.not_measured.is_empty() {
            let mut row = vec![l.to_string(), "every op".into(), EXTERNAL.into()];
            row.extend(std::iter::repeat_n("".to_string(), 4));
            rows.push(row);
            continue;
        }
        for op in OpKind::ALL {
            if let Some(round_trips) = s.round_trips.get(op.name()) {
                rows.push(vec![
                    l.to_string(),
                    op.name().into(),
                    round_trips.ops.to_string(),
                    format!("{:.2}", round_trips.per_op(Store::Postgres)),
                    format!("{:.2}", round_trips.per_op(Store::S3)),
                    format!("{:.2}", round_trips.per_op(Store::Http)),
                    format!(
                        "{:.2} PG + {:.2} S3",
                        round_trips.background_per_op(Store::Postgres),
                        round_trips.background_per_op(Store::S3)
                    ),
                ]);
            }
        }
    }
    let exec_rows = systems
        .iter()
        .map(|(_, l, s)| {
            if !s.not_measured.is_empty() {
                let mut row = vec![l.to_string(), EXTERNAL.into()];
                row.extend(std::iter::repeat_n("".to_string(), 6));
                return row;
            }
            let e = &s.inngest_executions;
            vec![
                l.to_string(),
                e.events.to_string(),
                e.runs.to_string(),
                e.steps.to_string(),
                e.executions.to_string(),
                e.retries.to_string(),
                e.dead_letters.to_string(),
                s.db_time.map_or("not measured".into(), |d| {
                    format!("{:.1} s over {} statements", d.total_s(), d.calls)
                }),
            ]
        })
        .collect();
    sections.push(Section {
        id: "work",
        title: "Round trips, executions and database time".into(),
        blocks: vec![
            Block::Table(table(&["system", "op", "ops", "PG / op", "S3 / op", "HTTP / op", "background / op"], rows)),
            Block::Table(table(&["system", "events", "runs", "steps", "executions (runs + steps)", "retries", "dead letters", "database time (pg_stat_statements)"], exec_rows)),
            Block::Para("Inngest is emulated: its execution model (runs, steps invoked over HTTP, retries) counted exactly as Inngest bills it; the real service is not involved. Database time is execution time of the system's statements, an upper bound on CPU.".into()),
        ],
    });
    Ok(())
}
