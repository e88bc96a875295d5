//! The report as a document model: sections of paragraphs, tables and charts, built
//! once from a [`Report`] and rendered as Markdown and HTML.

use std::collections::BTreeMap;
use std::path::Path;

use super::charts::{self, Curve, StackedBar};
use super::{Report, ReportError};
use crate::arch::{OpKind, Store};
use crate::cost::Usd;
use crate::loadgen::record::merge_interval_logs;
use crate::results::SystemResults;
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

fn table(header: &[&str], rows: Vec<Vec<String>>) -> Table {
    Table {
        header: header.iter().map(|h| h.to_string()).collect(),
        rows,
        status_col: None,
    }
}

const SYSTEMS: [(&str, &str); 2] = [("v02", "V0.2"), ("v03", "V0.3")];

fn ms(us: u64) -> String {
    format!("{:.2}", us as f64 / 1e3)
}

/// A measured value scaled and rounded, or "not measured".
fn opt(x: Option<f64>, scale: f64, prec: usize) -> String {
    x.map_or("not measured".into(), |v| format!("{:.*}", prec, v / scale))
}

fn mb(b: f64) -> String {
    format!("{:.1}", b / 1e6)
}

fn verdict_rows(vs: &[Verdict]) -> Table {
    let mut t = table(
        &[
            "claim",
            "measured / computed",
            "target",
            "verdict",
            "why",
            "sensitivity",
        ],
        vs.iter()
            .map(|v| {
                vec![
                    v.statement.clone(),
                    if v.estimate {
                        format!("{} (estimate)", v.value)
                    } else {
                        v.value.clone()
                    },
                    v.target.clone(),
                    v.outcome.label().to_string(),
                    v.reason.clone(),
                    v.sensitivity.clone(),
                ]
            })
            .collect(),
    );
    t.status_col = Some(3);
    t
}

/// Latency by percentile for one op of one system: the interval log when it is beside
/// the results (the full distribution), else the summary percentiles.
fn curve(
    s: &SystemResults,
    logs: &BTreeMap<String, BTreeMap<String, hdrhistogram::Histogram<u64>>>,
    sys: &str,
    op: &str,
) -> Option<Vec<(f64, f64)>> {
    if let Some(h) = logs
        .get(sys)
        .and_then(|m| m.get(op))
        .filter(|h| !h.is_empty())
    {
        let mut pts = Vec::new();
        for k in 0..=60 {
            let q = 1.0 - 10f64.powf(-(k as f64) / 10.0);
            if k > 0 && 1.0 / (1.0 - q) > h.len() as f64 {
                break;
            }
            pts.push((q * 100.0, h.value_at_quantile(q) as f64 / 1e3));
        }
        pts.push((
            100.0 * (1.0 - 1.0 / (h.len() as f64 + 1.0)),
            h.max() as f64 / 1e3,
        ));
        return Some(pts);
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

pub(crate) fn document(r: &Report, logs_dir: &Path) -> Result<Doc, ReportError> {
    let res = &r.results;
    let systems: Vec<(&str, &str, &SystemResults)> = SYSTEMS
        .iter()
        .filter_map(|(k, l)| res.systems.get(*k).map(|s| (*k, *l, s)))
        .collect();
    let mut logs = BTreeMap::new();
    for (k, _, s) in &systems {
        if let Some(name) = &s.interval_log
            && let Ok(bytes) = std::fs::read(logs_dir.join(name))
            && let Ok(m) = merge_interval_logs(&[bytes])
        {
            logs.insert(k.to_string(), m);
        }
    }

    let st = res.environment.stores.as_ref();
    let meta = vec![
        (
            "scenario".into(),
            format!(
                "{} ({} entities seeded, seed {})",
                res.scenario.name, res.scenario.seeded_entities, res.scenario.seed
            ),
        ),
        ("results".into(), r.results_path.clone()),
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
    ];

    let cx = Cx { r, systems, logs };
    let mut sections = Vec::new();
    claims(&cx, &mut sections)?;
    latency(&cx, &mut sections)?;
    storage(&cx, &mut sections)?;
    growth(&cx, &mut sections)?;
    work(&cx, &mut sections)?;
    cost(&cx, &mut sections)?;
    decision(&cx, &mut sections)?;
    lag(&cx, &mut sections)?;
    checklist(&cx, &mut sections)?;
    prices(&cx, &mut sections)?;
    Ok(Doc {
        title: format!("archbench approval report — {}", res.scenario.name),
        meta,
        sections,
    })
}

/// What every section builder reads.
struct Cx<'a> {
    r: &'a Report,
    systems: Vec<(&'static str, &'static str, &'a SystemResults)>,
    logs: BTreeMap<String, BTreeMap<String, hdrhistogram::Histogram<u64>>>,
}

/// Verdicts first: this is what the approver reads.
fn claims(cx: &Cx, sections: &mut Vec<Section>) -> Result<(), ReportError> {
    let ev = &cx.r.evaluation;
    let mut blocks = vec![Block::Para(format!(
        "Harness recommendation: Option {} — {}",
        ev.recommendation.option, ev.recommendation.why
    ))];
    blocks.push(Block::Table(verdict_rows(&ev.claims)));
    blocks.push(Block::Para("Values marked (estimate) are projections from measured per-op usage and the named assumptions below, not production measurements.".into()));
    sections.push(Section {
        id: "claims",
        title: "Claims of the decision document".into(),
        blocks,
    });
    sections.push(Section {
        id: "go-no-go",
        title: "Go / No-Go criteria".into(),
        blocks: vec![Block::Table({
            let mut t = verdict_rows(&ev.criteria);
            t.header[0] = "criterion".into();
            t
        })],
    });
    Ok(())
}

/// Latency.
fn latency(cx: &Cx, sections: &mut Vec<Section>) -> Result<(), ReportError> {
    let a = &cx.r.cost.model.assumptions;
    let ev = &cx.r.evaluation;
    let systems = cx.systems.clone();
    let logs = &cx.logs;
    let mut lat_rows = Vec::new();
    let mut lat_charts = Vec::new();
    for op in OpKind::ALL {
        let name = op.name();
        let mut row = vec![name.to_string()];
        let mut curves = Vec::new();
        for (k, l, s) in &systems {
            match s.ops.get(name) {
                Some(o) => row.extend([
                    o.count.to_string(),
                    ms(o.latency_us.p50),
                    ms(o.latency_us.p99),
                    ms(o.latency_us.p999),
                    o.errors.to_string(),
                ]),
                None => row.extend(std::iter::repeat_n("—".to_string(), 5)),
            }
            if let Some(points) = curve(s, logs, k, name) {
                curves.push(Curve {
                    name: l.to_string(),
                    points,
                });
            }
        }
        if !curves.is_empty() {
            let title = format!("{name}: latency by percentile");
            lat_charts.push((
                format!("latency-{name}"),
                title.clone(),
                charts::latency(&title, &curves)?,
            ));
        }
        lat_rows.push(row);
    }
    let mut header = vec!["op".to_string()];
    for (_, l, _) in &systems {
        for h in ["ops", "p50 ms", "p99 ms", "p99.9 ms", "errors"] {
            header.push(format!("{l} {h}"));
        }
    }
    let est_rows = ev
        .latency_estimate
        .iter()
        .map(|e| {
            let rt = |r: [f64; 3]| format!("{:.1} PG + {:.1} S3 + {:.1} HTTP", r[0], r[1], r[2]);
            vec![
                e.op.clone(),
                format!("{:.1}%", e.weight * 100.0),
                rt(e.round_trips[0]),
                rt(e.round_trips[1]),
                format!("{:.2} → {:.2}", e.measured_ms[0], e.measured_ms[1]),
                format!("{:.1} → {:.1}", e.estimate_ms[0], e.estimate_ms[1]),
            ]
        })
        .collect();
    sections.push(Section {
        id: "latency",
        title: "Latency".into(),
        blocks: vec![
            Block::Para("Latency is measured from each op's intended start (coordinated-omission corrected), on loopback stores. Curves come from the interval logs beside the results when present.".into()),
            Block::Table(Table { header, rows: lat_rows, status_col: None }),
            Block::Charts(lat_charts),
            Block::Para(format!(
                "Production estimate per op: measured p50 + request-path round trips × RTT (database {} ms, object store {} ms, Inngest {} ms). Labelled an estimate: it assumes round trips are sequential and server work does not change with distance.",
                a.rtt_postgres_ms, a.rtt_object_ms, a.rtt_workflow_ms
            )),
            Block::Table(table(&["op", "share of ops", "V0.2 request-path round trips", "V0.3 request-path round trips", "measured p50 ms (V0.2 → V0.3)", "estimated p50 ms (V0.2 → V0.3)"], est_rows)),
        ],
    });
    Ok(())
}

/// Storage.
fn storage(cx: &Cx, sections: &mut Vec<Section>) -> Result<(), ReportError> {
    let systems = cx.systems.clone();
    let mut bars = Vec::new();
    let mut rows = Vec::new();
    for (_, l, s) in &systems {
        if let Some(f) = &s.footprint {
            bars.push(StackedBar {
                label: format!("{l} ({:.1} copies)", f.copies_per_item),
                values: vec![
                    f.stored_bytes.postgres as f64 / 1e6,
                    f.stored_bytes.object_store as f64 / 1e6,
                ],
            });
            rows.push(vec![
                l.to_string(),
                mb(f.logical_body_bytes as f64),
                mb(f.stored_bytes.postgres as f64),
                mb(f.stored_bytes.object_store as f64),
                format!("{:.1}×", f.amplification.unwrap_or(0.0)),
                format!(
                    "{:.1} (min {}, max {})",
                    f.copies_per_item, f.copies.min, f.copies.max
                ),
                f.copies
                    .places
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", "),
                s.storage_growth.map_or("—".into(), |g| {
                    format!(
                        "{:.1} KB PG + {:.1} KB objects",
                        g.postgres_bytes as f64 / g.writes.max(1) as f64 / 1e3,
                        g.object_bytes as f64 / g.writes.max(1) as f64 / 1e3
                    )
                }),
            ]);
        }
    }
    let mut blocks = vec![Block::Table(table(
        &[
            "system",
            "bodies MB",
            "PostgreSQL MB",
            "objects MB",
            "stored / bodies",
            "copies per item",
            "where",
            "growth per write",
        ],
        rows,
    ))];
    if !bars.is_empty() {
        blocks.push(Block::Charts(vec![(
            "storage".into(),
            "Storage per store".into(),
            charts::stacked(
                "Storage per store (MB)",
                "MB",
                &["PostgreSQL".into(), "object store".into()],
                &bars,
                (520, 320),
            )?,
        )]));
    }
    sections.push(Section {
        id: "storage",
        title: "Storage and redundancy".into(),
        blocks,
    });
    Ok(())
}

/// Event-log growth.
fn growth(cx: &Cx, sections: &mut Vec<Section>) -> Result<(), ReportError> {
    let systems = cx.systems.clone();
    let mut rows = Vec::new();
    let mut curves = Vec::new();
    for (_, l, s) in &systems {
        if let Some(g) = &s.event_growth {
            for p in g {
                rows.push(vec![
                    l.to_string(),
                    format!("×{}", p.factor),
                    p.events.to_string(),
                    p.samples.to_string(),
                    format!("{:.2}", p.p50_ms),
                    format!("{:.2}", p.p95_ms),
                ]);
            }
            curves.push(Curve {
                name: format!(
                    "{l} ({})",
                    if *l == "V0.2" {
                        "plain table"
                    } else {
                        "hypertable"
                    }
                ),
                points: g.iter().map(|p| (p.events as f64, p.p50_ms)).collect(),
            });
        }
    }
    if !rows.is_empty() {
        sections.push(Section {
            id: "growth",
            title: "Event log growth: the time-window query".into(),
            blocks: vec![
                Block::Para("After the measurements, synthetic events of additional users are added to each system's event store over the same history span, and the same seeded users' activity query (24-hour window, hourly buckets; its answer does not change) is timed sequentially at each size. Probe events of V0.2 carry a 256-byte payload, about the heap tuple its TOASTed real payloads leave.".into()),
                Block::Table(table(&["system", "size", "events", "queries", "p50 ms", "p95 ms"], rows)),
                Block::Charts(vec![(
                    "growth".into(),
                    "Time-window query as events grow".into(),
                    charts::growth("activity p50 as the event log grows", &curves)?,
                )]),
            ],
        });
    }
    Ok(())
}

/// Round trips, executions, database time.
fn work(cx: &Cx, sections: &mut Vec<Section>) -> Result<(), ReportError> {
    let systems = cx.systems.clone();
    let mut rows = Vec::new();
    for (_, l, s) in &systems {
        for op in OpKind::ALL {
            if let Some(rt) = s.round_trips.get(op.name()) {
                rows.push(vec![
                    l.to_string(),
                    op.name().into(),
                    rt.ops.to_string(),
                    format!("{:.2}", rt.per_op(Store::Postgres)),
                    format!("{:.2}", rt.per_op(Store::S3)),
                    format!("{:.2}", rt.per_op(Store::Http)),
                    format!(
                        "{:.2} PG + {:.2} S3",
                        rt.background_per_op(Store::Postgres),
                        rt.background_per_op(Store::S3)
                    ),
                ]);
            }
        }
    }
    let exec_rows = systems
        .iter()
        .map(|(_, l, s)| {
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

/// Cost.
fn cost(cx: &Cx, sections: &mut Vec<Section>) -> Result<(), ReportError> {
    let r = cx.r;
    let a = &cx.r.cost.model.assumptions;
    let b = &r.cost.behaviour;
    let mut blocks = vec![Block::Para(format!(
        "User behaviour (from the scenario): {:.0}% of users active per day, {} read ops per active user per day (split by the measured read mix), {} new documents and {} updates per user per month.",
        b.active_share * 100.0,
        b.ops_per_active_user_per_day,
        b.new_documents_per_user_per_month,
        b.updates_per_user_per_month
    ))];
    blocks.push(Block::Table(table(
        &["assumption", "value", "meaning"],
        a.rows()
            .into_iter()
            .map(|(n, v, m)| vec![n.into(), v, m.into()])
            .collect(),
    )));
    let unit_rows = r
        .cost
        .unit_usage
        .iter()
        .map(|(k, u)| {
            vec![
                k.clone(),
                u.db_seconds_per_op
                    .map_or("not measured".into(), |s| format!("{:.3} ms", s * 1e3)),
                u.postgres_bytes_per_write
                    .map_or("not measured".into(), |x| format!("{:.1} KB", x / 1e3)),
                u.object_bytes_per_write
                    .map_or("not measured".into(), |x| format!("{:.1} KB", x / 1e3)),
                opt(u.executions_per_write, 1.0, 2),
                u.mean_body_bytes
                    .map_or("—".into(), |x| format!("{:.1} KB", x / 1e3)),
            ]
        })
        .collect();
    blocks.push(Block::Table(table(
        &[
            "system",
            "DB time per op",
            "PostgreSQL bytes per write",
            "object bytes per write",
            "executions per write",
            "mean body",
        ],
        unit_rows,
    )));
    let tiers = &a.users;
    let mut header = vec!["deployment".to_string()];
    header.extend(tiers.iter().map(|u| format!("{u} users")));
    let deployments = &r.cost.model.deployments;
    let cost_rows = deployments
        .iter()
        .map(|d| {
            let mut row = vec![format!(
                "{}{}",
                d.label,
                if d.primary { " (primary)" } else { "" }
            )];
            for u in tiers {
                row.push(r.cost.at(&d.id, *u).map_or("—".into(), |p| {
                    format!(
                        "{}{}",
                        p.total,
                        if p.fully_priced { "" } else { " + unpriced" }
                    )
                }));
            }
            row
        })
        .collect();
    blocks.push(Block::Table(Table {
        header,
        rows: cost_rows,
        status_col: None,
    }));
    // Monthly usage and cost per component of the primary deployments, every tier.
    let primaries: Vec<_> = SYSTEMS
        .iter()
        .filter_map(|(k, _)| r.cost.model.primary(k))
        .collect();
    let mut usage_rows = Vec::new();
    for d in &primaries {
        for &u in &a.users {
            if let Some(p) = r.cost.at(&d.id, u) {
                let m = &p.usage;
                usage_rows.push(vec![
                    d.system.clone(),
                    u.to_string(),
                    format!("{:.2}", m.ops / 1e6),
                    format!("{:.3}", m.writes / 1e6),
                    format!("{:.3}", m.object_writes / 1e6),
                    format!("{:.3}", m.object_reads / 1e6),
                    opt(m.egress_bytes, 1e9, 1),
                    opt(m.executions, 1e6, 2),
                    opt(m.db_seconds, 3600.0, 1),
                    opt(m.db_vcpu_needed, 1.0, 2),
                    opt(m.postgres_bytes, 1e9, 1),
                    opt(m.object_bytes, 1e9, 1),
                ]);
            }
        }
    }
    blocks.push(Block::Para(
        "Monthly usage of the primary deployments (millions of ops and requests, GB, hours):"
            .into(),
    ));
    blocks.push(Block::Table(table(
        &[
            "system",
            "users",
            "ops M",
            "writes M",
            "object PUTs M",
            "object GETs M",
            "egress GB",
            "executions M",
            "DB hours",
            "DB vCPU at peak",
            "PostgreSQL GB held",
            "objects GB held",
        ],
        usage_rows,
    )));
    let mut header = vec!["deployment".to_string(), "component".to_string()];
    header.extend(a.users.iter().map(|u| format!("{u} users")));
    let mut comp_tiers = Vec::new();
    for d in &primaries {
        let Some(first) = r.cost.at(&d.id, a.users[0]) else {
            continue;
        };
        for (i, l) in first.lines.iter().enumerate() {
            let mut row = vec![d.id.clone(), l.component.clone()];
            for u in &a.users {
                row.push(r.cost.at(&d.id, *u).and_then(|p| p.lines.get(i)).map_or(
                    "—".into(),
                    |l| {
                        l.cost.map_or_else(
                            || l.missing.clone().unwrap_or_default(),
                            |c| c.to_string(),
                        )
                    },
                ));
            }
            comp_tiers.push(row);
        }
    }
    blocks.push(Block::Para(
        "Monthly cost per component of the primary deployments:".into(),
    ));
    blocks.push(Block::Table(Table {
        header,
        rows: comp_tiers,
        status_col: None,
    }));

    // Components of the primary deployments at the reference tier.
    let mut comp_rows = Vec::new();
    for (k, _) in SYSTEMS {
        if let Some(p) = r
            .cost
            .model
            .primary(k)
            .and_then(|d| r.cost.at(&d.id, a.reference_users))
        {
            for l in &p.lines {
                comp_rows.push(vec![
                    p.deployment.clone(),
                    l.component.clone(),
                    format!("{:.3} {}", l.quantity, l.unit),
                    l.price_id.clone(),
                    l.cost
                        .map_or_else(|| l.missing.clone().unwrap_or_default(), |c| c.to_string()),
                ]);
            }
        }
    }
    blocks.push(Block::Para(format!(
        "Bill of the primary deployments at {} users:",
        a.reference_users
    )));
    blocks.push(Block::Table(table(
        &["deployment", "component", "usage", "price", "cost / month"],
        comp_rows,
    )));
    let mut cost_charts = Vec::new();
    let priced: Vec<_> = deployments
        .iter()
        .filter(|d| {
            tiers
                .iter()
                .all(|u| r.cost.at(&d.id, *u).is_some_and(|p| p.fully_priced))
        })
        .collect();
    for u in tiers {
        let mut components: Vec<String> = Vec::new();
        for d in &priced {
            for l in &r.cost.at(&d.id, *u).expect("filtered").lines {
                let c = component_group(&l.component);
                if !components.iter().any(|x| x == c) {
                    components.push(c.into());
                }
            }
        }
        let bars = priced
            .iter()
            .map(|d| {
                let p = r.cost.at(&d.id, *u).expect("filtered");
                let values = components
                    .iter()
                    .map(|c| {
                        p.lines
                            .iter()
                            .filter(|l| component_group(&l.component) == c)
                            .filter_map(|l| l.cost)
                            .fold(Usd(0.0), |a, b| a + b)
                            .0
                    })
                    .collect();
                StackedBar {
                    label: d.id.clone(),
                    values,
                }
            })
            .collect::<Vec<_>>();
        let title = format!("Monthly cost at {u} users (USD)");
        cost_charts.push((
            format!("cost-{u}"),
            title.clone(),
            charts::stacked(&title, "USD / month", &components, &bars, (620, 340))?,
        ));
    }
    blocks.push(Block::Charts(cost_charts));
    sections.push(Section {
        id: "cost",
        title: "Monthly cost projection".into(),
        blocks,
    });
    Ok(())
}

/// Decision arithmetic.
fn decision(cx: &Cx, sections: &mut Vec<Section>) -> Result<(), ReportError> {
    let r = cx.r;
    let mut rows = Vec::new();
    for u in &cx.r.cost.model.assumptions.users {
        let (Some(pa), Some(pb)) = (
            r.cost
                .model
                .primary("v02")
                .and_then(|d| r.cost.at(&d.id, *u)),
            r.cost
                .model
                .primary("v03")
                .and_then(|d| r.cost.at(&d.id, *u)),
        ) else {
            continue;
        };
        let ret = crate::cost::decision::returns(
            Usd(r.targets.document.investment_usd),
            pa.total,
            pb.total,
        );
        rows.push(vec![
            u.to_string(),
            ret.current_monthly.to_string(),
            ret.proposed_monthly.to_string(),
            ret.monthly_savings.to_string(),
            ret.annual_savings.to_string(),
            ret.reduction_pct.map_or("—".into(), |x| format!("{x:.1}%")),
            ret.roi_gross_pct.map_or("—".into(), |x| format!("{x:.0}%")),
            ret.roi_net_pct.map_or("—".into(), |x| format!("{x:.0}%")),
            ret.payback_months
                .map_or("never".into(), |x| format!("{x:.1} months")),
        ]);
    }
    let d = crate::cost::decision::returns(
        Usd(r.targets.document.investment_usd),
        Usd(r.targets.document.current_monthly_usd),
        Usd(r.targets.document.proposed_monthly_usd),
    );
    rows.push(vec![
        "document".into(),
        d.current_monthly.to_string(),
        d.proposed_monthly.to_string(),
        d.monthly_savings.to_string(),
        d.annual_savings.to_string(),
        d.reduction_pct.map_or("—".into(), |x| format!("{x:.1}%")),
        d.roi_gross_pct.map_or("—".into(), |x| format!("{x:.0}%")),
        d.roi_net_pct.map_or("—".into(), |x| format!("{x:.0}%")),
        d.payback_months.map_or("never".into(), |x| {
            format!("{x:.2} months (document says 1.4)")
        }),
    ]);
    sections.push(Section {
        id: "decision",
        title: "Decision arithmetic".into(),
        blocks: vec![
            Block::Para(format!("Investment {} (the document's breakdown). ROI gross = annual savings / investment; net = (annual savings − investment) / investment; payback = investment / monthly savings.", Usd(r.targets.document.investment_usd))),
            Block::Table(table(&["users", "V0.2 / month", "V0.3 / month", "savings / month", "savings / year", "reduction", "ROI gross", "ROI net", "payback"], rows)),
        ],
    });
    Ok(())
}

/// Projection lag.
fn lag(cx: &Cx, sections: &mut Vec<Section>) -> Result<(), ReportError> {
    let systems = cx.systems.clone();
    let mut rows = Vec::new();
    let mut bars = Vec::new();
    for (_, l, s) in &systems {
        if let Some(lag) = &s.projection_lag_ms {
            rows.push(vec![
                l.to_string(),
                lag.samples.to_string(),
                format!(
                    "{:.1} / {:.1} ({} of {} on first read)",
                    lag.list.p50_ms, lag.list.p95_ms, lag.list.visible_on_first_read, lag.samples
                ),
                format!(
                    "{:.1} / {:.1} ({} of {} on first read)",
                    lag.search.p50_ms,
                    lag.search.p95_ms,
                    lag.search.visible_on_first_read,
                    lag.samples
                ),
            ]);
            bars.push(StackedBar {
                label: format!("{l} list"),
                values: vec![lag.list.p50_ms],
            });
            bars.push(StackedBar {
                label: format!("{l} search"),
                values: vec![lag.search.p50_ms],
            });
        }
    }
    let mut blocks = vec![Block::Table(table(
        &[
            "system",
            "writes timed",
            "list p50 / p95 ms",
            "search p50 / p95 ms",
        ],
        rows,
    ))];
    if !bars.is_empty() {
        blocks.push(Block::Charts(vec![(
            "lag".into(),
            "Projection lag".into(),
            charts::stacked(
                "Projection lag, p50 (ms)",
                "ms",
                &["p50".into()],
                &bars,
                (560, 300),
            )?,
        )]));
    }
    sections.push(Section {
        id: "lag",
        title: "Projection lag (write → visible)".into(),
        blocks,
    });
    Ok(())
}

/// Checklist and signature.
fn checklist(cx: &Cx, sections: &mut Vec<Section>) -> Result<(), ReportError> {
    let ev = &cx.r.evaluation;
    sections.push(Section {
        id: "checklist",
        title: "Approval checklist, with evidence".into(),
        blocks: vec![Block::Table(table(
            &[
                "item",
                "evidence from this run",
                "evidence supports ticking",
            ],
            ev.checklist
                .iter()
                .map(|c| {
                    vec![
                        c.item.clone(),
                        c.evidence.clone(),
                        c.supported.map_or("for a person to decide".into(), |s| {
                            if s { "yes".into() } else { "no".into() }
                        }),
                    ]
                })
                .collect(),
        ))],
    });
    let rec = &ev.recommendation;
    let tick = |on: bool| if on { "[x]" } else { "[ ]" };
    let sig = format!(
        "I approve the V0.3 architecture refactoring:\n\nOption: {} A (Full) {} B (Incremental) {} C (No change)\n\nTechnical Decisions:\n{} TimescaleDB  {} EventStoreDB  {} Keep PostgreSQL\n{} R2 Storage   {} S3 Storage\n{} pgvector     {} Qdrant\n\nSignature: ___________________\nDate: _________________________",
        tick(rec.option == 'A'),
        tick(rec.option == 'B'),
        tick(rec.option == 'C'),
        tick(rec.event_db == "TimescaleDB"),
        tick(rec.event_db == "EventStoreDB"),
        tick(rec.event_db == "Keep PostgreSQL"),
        tick(rec.storage == "R2 Storage"),
        tick(rec.storage == "S3 Storage"),
        tick(rec.vectors == "pgvector"),
        tick(rec.vectors == "Qdrant"),
    );
    let mut blocks = vec![Block::Para("Ticks are the harness's recommendation from the evidence above; the signature is for a person.".into()), Block::Pre(sig)];
    blocks.push(Block::Para(format!(
        "Why Option {}: {}",
        rec.option, rec.why
    )));
    for n in &rec.notes {
        blocks.push(Block::Para(n.clone()));
    }
    sections.push(Section {
        id: "signature",
        title: "Approval signature".into(),
        blocks,
    });
    Ok(())
}

/// Prices and caveats.
fn prices(cx: &Cx, sections: &mut Vec<Section>) -> Result<(), ReportError> {
    let r = cx.r;
    let res = &cx.r.results;
    sections.push(Section {
        id: "prices",
        title: "Price catalogue".into(),
        blocks: vec![Block::Table(table(
            &[
                "id",
                "provider",
                "item",
                "price",
                "unit",
                "free / included",
                "source",
                "read",
                "confidence",
            ],
            r.catalogue
                .prices
                .values()
                .map(|p| {
                    vec![
                        p.id.clone(),
                        p.provider.clone(),
                        p.item.clone(),
                        p.usd.map_or_else(
                            || p.unpriced.clone().unwrap_or_default(),
                            |u| format!("{}", u.0),
                        ),
                        p.unit.map_or("—".into(), |u| u.to_string()),
                        if p.free > 0.0 || p.included > 0.0 {
                            format!("{} / {}", p.free, p.included)
                        } else {
                            "—".into()
                        },
                        p.source.clone(),
                        p.read.clone(),
                        format!("{:?}", p.confidence).to_lowercase(),
                    ]
                })
                .collect(),
        ))],
    });
    sections.push(Section {
        id: "notes",
        title: "Caveats".into(),
        blocks: res.notes.iter().map(|n| Block::Para(n.clone())).collect(),
    });
    Ok(())
}

fn component_group(c: &str) -> &str {
    if c.starts_with("PostgreSQL compute") {
        "DB compute"
    } else if c.starts_with("PostgreSQL storage") {
        "DB storage"
    } else if c.starts_with("Object storage") {
        "object storage"
    } else if c.starts_with("Object") {
        "object ops + egress"
    } else if c.starts_with("Inngest") {
        "Inngest"
    } else {
        "other"
    }
}

impl Outcome {
    /// CSS class of a verdict label.
    pub(crate) fn css_of(label: &str) -> &'static str {
        match label {
            "confirmed" => "ok",
            "refuted" => "bad",
            _ => "nm",
        }
    }
}
