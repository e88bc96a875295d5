//! "PostgreSQL is NOT time-series", judged on the event-log probe when the results
//! hold one: both designs on the same events at each size, the time-window queries
//! alone and under ingest, and retention of the oldest month.

use super::context::users_text;
use super::{Evidence, Verdict};
use crate::numbers::{bytes, thousands};
use crate::results::event_log::{EventLogProbe, EventLogSize};

/// A speed-up counts when the faster design is at least this much faster.
const MARGIN: f64 = 1.2;

/// The size with the most events that both designs reached; of two with as many
/// events, the one with more months (the longer history, whose old rows the
/// time-window queries must skip).
fn largest(probe: &EventLogProbe) -> Option<(&EventLogSize, &EventLogSize)> {
    let (plain, hyper) = (probe.designs.get("v02")?, probe.designs.get("v03")?);
    plain
        .sizes
        .iter()
        .zip(&hyper.sizes)
        .max_by_key(|(p, _)| (p.events, p.months))
}

/// The claim on the probe: the hypertable must answer the time-window queries at the
/// largest size faster (by [`MARGIN`]) or, not slower than that margin, drop a month
/// far faster than `DELETE` + `VACUUM`.
pub(super) fn time_series(probe: &EventLogProbe, mut out: Verdict) -> Option<Verdict> {
    let (p, h) = largest(probe)?;
    let ratio = |a: f64, b: f64| a / b.max(1e-9);
    let per_user = ratio(p.per_user.p50_ms, h.per_user.p50_ms);
    let all_users = ratio(p.all_users.p50_ms, h.all_users.p50_ms);
    let daily = ratio(p.daily_30d.p50_ms, h.daily_30d.p50_ms);
    let busy = ratio(
        p.per_user_under_ingest.p99_ms,
        h.per_user_under_ingest.p99_ms,
    );
    let retention = match (
        probe.designs["v02"].retention.as_ref(),
        probe.designs["v03"].retention.as_ref(),
    ) {
        (Some(a), Some(b)) => Some((a, b)),
        _ => None,
    };
    let queries_faster = per_user >= MARGIN || all_users >= MARGIN;
    let queries_not_worse = per_user * MARGIN >= 1.0 && all_users * MARGIN >= 1.0;
    let retention_faster = retention
        .is_some_and(|(a, b)| (a.seconds + a.vacuum_seconds) >= 10.0 * b.seconds.max(1e-3));
    out.value = format!(
        "at {} events ({} over {} months): per-user 24 h p50 plain {:.2} / hypertable {:.2} ms ({per_user:.2}×), \
         last hour of every user {:.2} / {:.2} ms ({all_users:.2}×), daily counts over 30 days {:.1} / {:.1} ms ({daily:.2}×), \
         per-user p99 under ingest {:.2} / {:.2} ms ({busy:.2}×); ingest {} / {} rows/s, {:.0} / {:.0} bytes per event{}",
        thousands(p.events),
        users_text(p.users as f64),
        p.months,
        p.per_user.p50_ms,
        h.per_user.p50_ms,
        p.all_users.p50_ms,
        h.all_users.p50_ms,
        p.daily_30d.p50_ms,
        h.daily_30d.p50_ms,
        p.per_user_under_ingest.p99_ms,
        h.per_user_under_ingest.p99_ms,
        thousands(p.ingest_rows_per_s.round() as u64),
        thousands(h.ingest_rows_per_s.round() as u64),
        p.bytes_per_event,
        h.bytes_per_event,
        retention.map_or(String::new(), |(a, b)| format!(
            "; dropping the oldest month: DELETE {:.2} s + VACUUM {:.2} s leaving {} of bloat, drop_chunks {:.3} s freeing {}",
            a.seconds,
            a.vacuum_seconds,
            bytes(a.bloat_bytes),
            b.seconds,
            bytes(b.bytes_before.saturating_sub(b.bytes_after))
        ))
    );
    out.target = "the plain table is the wrong store for events: the hypertable answers time-window queries faster, or drops old events far cheaper".into();
    out.judge(
        Evidence::Measured,
        queries_faster || (queries_not_worse && retention_faster),
    );
    out.reason = format!(
        "event-log probe: {}. Rule: confirmed when the hypertable is {MARGIN}× faster on the per-user or the all-user query at the largest size, or not {MARGIN}× slower on either and its retention is ≥ 10× faster",
        probe.design
    );
    out.sensitivity = format!(
        "{} — at this size the plain table held {} and the hypertable {}: the ratios are those of data that size on the probe's instance (its run's environment); data beyond memory moves them (probes-full.toml, an --instance profile)",
        if all_users >= MARGIN && per_user < MARGIN {
            "the all-user query decides it: V0.2's indexes lead with user_id, so the plain table scans for it; a b-tree on created_at alone (not in V0.2's design) would narrow that gap, and retention would still favour the hypertable"
        } else if queries_faster {
            "the queries alone decide it"
        } else if retention_faster && queries_not_worse {
            "retention decides it; the queries are within the margin"
        } else {
            "neither the queries nor retention favour the hypertable at this size"
        },
        bytes(p.stored_bytes),
        bytes(h.stored_bytes)
    );
    Some(out)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::results::event_log::{EventLogDesign, QueryLatency, Retention};
    use crate::verdict::Outcome;
    use crate::verdict::context::verdict;

    fn q(p50_ms: f64) -> QueryLatency {
        QueryLatency {
            p50_ms,
            p99_ms: p50_ms * 2.0,
            samples: 200,
        }
    }

    fn size(events: u64, per_user: f64, all_users: f64) -> EventLogSize {
        EventLogSize {
            events,
            users: 1000,
            months: 3,
            ingest_rows_per_s: 50_000.0,
            bytes_per_event: 400.0,
            stored_bytes: events * 400,
            wal_bytes_per_event: 600.0,
            per_user: q(per_user),
            all_users: q(all_users),
            daily_30d: q(100.0),
            per_user_under_ingest: q(per_user),
            all_users_under_ingest: q(all_users),
        }
    }

    fn retention(seconds: f64) -> Retention {
        Retention {
            method: "m".into(),
            rows_removed: 10,
            rows_expected: 10,
            seconds,
            vacuum_seconds: 0.0,
            bytes_before: 100,
            bytes_after: 50,
            bloat_bytes: 0,
            per_user_during: q(1.0),
        }
    }

    /// Plain and hypertable at a small and a large size; only the large one counts.
    fn probe(plain: (f64, f64, f64), hyper: (f64, f64, f64)) -> EventLogProbe {
        let design = |(per_user, all_users, retention_s): (f64, f64, f64)| EventLogDesign {
            design: "d".into(),
            // The small size says the opposite: the largest decides.
            sizes: vec![
                size(1_000, all_users, per_user),
                size(9_000, per_user, all_users),
            ],
            retention: Some(retention(retention_s)),
        };
        EventLogProbe {
            design: "probe".into(),
            writers: 4,
            events_per_user_per_day: 20,
            designs: BTreeMap::from([("v02".into(), design(plain)), ("v03".into(), design(hyper))]),
            wall_seconds: 1.0,
        }
    }

    fn judge(p: &EventLogProbe) -> Outcome {
        time_series(p, verdict("time-series", "q")).unwrap().outcome
    }

    #[test]
    fn the_rule_reads_the_largest_size_and_retention() {
        // The hypertable 2× faster per user: confirmed.
        assert_eq!(
            judge(&probe((2.0, 1.0, 1.0), (1.0, 1.0, 1.0))),
            Outcome::Confirmed
        );
        // Queries even, retention 100× faster: confirmed.
        assert_eq!(
            judge(&probe((1.0, 1.0, 10.0), (1.0, 1.0, 0.1))),
            Outcome::Confirmed
        );
        // Queries even, retention even: refuted.
        assert_eq!(
            judge(&probe((1.0, 1.0, 1.0), (1.0, 1.0, 1.0))),
            Outcome::Refuted
        );
        // Retention faster but the hypertable 2× slower on a query: refuted.
        assert_eq!(
            judge(&probe((1.0, 1.0, 10.0), (2.0, 1.0, 0.1))),
            Outcome::Refuted
        );
    }

    #[test]
    fn of_two_sizes_with_as_many_events_the_longer_history_counts() {
        // The same events grown by users (1 month) and by months (4): the hypertable
        // is even on the first and 2× faster per user on the second, whichever order
        // the sizes come in.
        for by_months_first in [false, true] {
            let mut p = probe((2.0, 1.0, 1.0), (1.0, 1.0, 1.0));
            for name in ["v02", "v03"] {
                let sizes = &mut p.designs.get_mut(name).unwrap().sizes;
                let mut by_users = size(9_000, 1.0, 1.0);
                by_users.months = 1;
                sizes[1].months = 4;
                sizes.push(by_users);
                if by_months_first {
                    sizes.swap(1, 2);
                }
            }
            let judged = time_series(&p, verdict("time-series", "q")).unwrap();
            assert_eq!(judged.outcome, Outcome::Confirmed, "{}", judged.value);
            assert!(judged.value.contains("over 4 months"), "{}", judged.value);
        }
    }
}
