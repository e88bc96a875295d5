//! The migration rehearsal (`report --migration`): its stages, the backfill, the
//! dual-write's cost on writes, the shadow reads, parity, the resume and the rollback,
//! each measured in the rehearsal, and the durations at the production size and the
//! week of dual-write, projected.

use crate::arch::{V02_NAME, V03_NAME};
use crate::numbers::thousands;
use crate::report::ReportError;
use crate::report::document::{Block, Section, SectionContext, table};
use crate::results::migration::{Migration, Parity, WriteLatency};

/// The rehearsal, when one was given.
pub(super) fn migration(
    context: &SectionContext,
    sections: &mut Vec<Section>,
) -> Result<(), ReportError> {
    let Some(m) = &context.report.migration else {
        return Ok(());
    };
    let report = context.report;
    let users = report.cost.model.assumptions.reference_users;
    let week = report
        .cost
        .side_by_side([V02_NAME, V03_NAME], users, 7.0, &report.catalogue);
    let mut blocks = vec![Block::Para(format!(
        "From `archbench migrate` ({}): scenario {}, {} entities seeded into {}, moved to {} on {} stores{}{}; {}. Every figure is measured in the rehearsal unless its row says projected.",
        if m.complete { "complete" } else { "INCOMPLETE" },
        m.scenario,
        thousands(m.seeded_entities),
        m.from,
        m.to,
        m.rig.stores,
        m.rig
            .network
            .as_ref()
            .map(|n| format!(", network {n}"))
            .unwrap_or_default(),
        m.rig
            .instance
            .as_ref()
            .map(|n| format!(", instance {n}"))
            .unwrap_or_default(),
        m.stage
    ))];
    blocks.push(Block::Table(table(
        &["stage", "seconds"],
        m.stages
            .iter()
            .map(|s| vec![s.stage.clone(), format!("{:.1}", s.seconds)])
            .collect(),
    )));
    blocks.push(Block::Table(table(
        &["measure", "value", "how obtained"],
        rows(m, week),
    )));
    blocks.push(Block::Table(table(
        &[
            "shadowed op",
            "compared",
            "mismatched",
            "transient",
            "target failed",
        ],
        m.shadow_reads
            .ops
            .iter()
            .map(|(op, o)| {
                vec![
                    op.clone(),
                    o.compared.to_string(),
                    o.mismatched.to_string(),
                    o.transient.to_string(),
                    o.failed.to_string(),
                ]
            })
            .collect(),
    )));
    let mut kept = m.parity.samples.clone();
    kept.extend(m.shadow_reads.samples.iter().cloned());
    if !kept.is_empty() {
        blocks.push(Block::Table(table(
            &["kind", "id", "what differed"],
            kept.into_iter()
                .take(20)
                .map(|s| vec![s.op, s.key, s.detail])
                .collect(),
        )));
    }
    sections.push(Section {
        id: "migration",
        title: "Migration rehearsal (V0.2 → V0.3)".into(),
        blocks,
    });
    Ok(())
}

fn latency(w: &WriteLatency) -> String {
    format!(
        "p50 {:.1} ms, p99 {:.1} ms ({} writes)",
        w.p50_ms, w.p99_ms, w.count
    )
}

fn parity(p: &Parity) -> String {
    let tables: Vec<String> = p
        .tables
        .iter()
        .map(|t| format!("{} {}", t.table, if t.matches { "=" } else { "≠" }))
        .collect();
    format!(
        "{} entities: {} missing, {} extra, {} mismatched; versions {} lost, {} doubled; tables {}; objects {} missing, {} prefixes differ, {} unreferenced",
        thousands(p.entities),
        p.missing,
        p.extra,
        p.mismatched,
        p.missing_versions,
        p.duplicated_versions,
        tables.join(", "),
        p.objects.missing,
        p.objects.mismatched_prefixes,
        p.objects.unreferenced
    )
}

fn rows(m: &Migration, week: Option<crate::cost::Usd>) -> Vec<Vec<String>> {
    let measured = || "measured".to_string();
    let b = &m.backfill;
    let o = &m.dual_write_overhead;
    let mut rows = vec![
        vec![
            "backfill".into(),
            format!(
                "{} entities ({} versions, {:.1} MB) at {:.0} entities/s, {:.2} MB/s; {} held already, {} pages retried, {} resume(s)",
                thousands(b.entities),
                thousands(b.versions),
                b.bytes as f64 / 1e6,
                b.entities_per_s,
                b.mb_per_s,
                b.skipped,
                b.retries,
                b.resumes
            ),
            measured(),
        ],
        vec![
            "writes, V0.2 alone".into(),
            latency(&o.source_alone),
            measured(),
        ],
        vec![
            "writes, dual-write".into(),
            latency(&o.dual_write),
            measured(),
        ],
        vec![
            "writes, dual-write during the backfill".into(),
            latency(&o.during_backfill),
            measured(),
        ],
        vec![
            "dual-write overhead".into(),
            format!("+{:.1} ms p50, +{:.1} ms p99", o.p50_ms, o.p99_ms),
            "measured (dual-write minus V0.2 alone, same load)".into(),
        ],
        vec![
            "mirrored writes".into(),
            format!(
                "{} writes; target failed or diverged: {}; {} entities repaired, {} re-copied on resume",
                m.dual_write.writes,
                if m.dual_write.target_failures.is_empty() {
                    "none".to_string()
                } else {
                    m.dual_write
                        .target_failures
                        .iter()
                        .map(|(k, v)| format!("{k} {v}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                },
                m.dual_write.repaired,
                m.dual_write.requeued_on_resume
            ),
            measured(),
        ],
        vec![
            "shadow reads".into(),
            format!(
                "{} compared ({:.0}% sampled), {} mismatched ({:.2}%); search recall@k {} (a mismatch below {:.2})",
                m.shadow_reads.compared,
                100.0 * m.shadow_reads.sample,
                m.shadow_reads.mismatched,
                100.0 * m.shadow_reads.mismatch_rate,
                m.shadow_reads
                    .search_recall
                    .map_or("—".into(), |r| format!("{r:.3}")),
                m.shadow_reads.min_recall
            ),
            measured(),
        ],
        vec![
            "parity after the backfill".into(),
            parity(&m.parity),
            measured(),
        ],
        vec![
            "kill and resume".into(),
            format!(
                "{} resume(s): {} lost, {} doubled",
                m.resume.resumes, m.resume.lost, m.resume.duplicated
            ),
            measured(),
        ],
    ];
    if let Some(r) = &m.rollback {
        rows.push(vec![
            "rollback".into(),
            format!(
                "{} entities carried back in {:.1} s; {}",
                r.carried_back,
                r.seconds,
                parity(&r.parity)
            ),
            measured(),
        ]);
    }
    let hours: Vec<String> = m
        .projection
        .hours
        .iter()
        .map(|(k, h)| format!("{k} {h:.2} h"))
        .collect();
    rows.push(vec![
        format!("at {} entities", thousands(m.projection.entities)),
        format!(
            "{} = {:.2} h ({})",
            hours.join(" + "),
            m.projected_hours,
            m.projection.basis
        ),
        m.projection.method.clone(),
    ]);
    rows.push(vec![
        "one week of dual-write".into(),
        week.map_or("not projected".into(), |w| {
            format!("{w} (both systems' bills at the reference size, prorated)")
        }),
        "projected from the cost model".into(),
    ]);
    rows
}
