//! `event_log_probe`: the event log of both designs on the same events — V0.2's plain
//! table with its b-tree indexes and V0.3's hypertable with its own — grown by more
//! users and by more months: ingest under concurrent writers, bytes and WAL per
//! event, the per-user window and all-user queries alone and under ingest, and
//! retention of the oldest month (`DELETE` + `VACUUM` against `drop_chunks`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Median and 99th percentile of one query's latency, ms.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct QueryLatency {
    /// Median.
    pub p50_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Queries timed.
    pub samples: usize,
}

/// One design at one size.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventLogSize {
    /// Events in the table.
    pub events: u64,
    /// Users who wrote them.
    pub users: u64,
    /// Months of history (30 days each).
    pub months: u32,
    /// Ingest rate of all writers together, rows/s.
    pub ingest_rows_per_s: f64,
    /// Stored bytes (table, TOAST, indexes; every chunk of a hypertable) per event.
    pub bytes_per_event: f64,
    /// Stored bytes in all.
    pub stored_bytes: u64,
    /// WAL written during the ingest per event.
    pub wal_bytes_per_event: f64,
    /// One user's events of the last 24 hours, bucketed per hour.
    pub per_user: QueryLatency,
    /// Every user's events of the last hour: count and distinct users.
    pub all_users: QueryLatency,
    /// Daily counts over the last 30 days, every user.
    pub daily_30d: QueryLatency,
    /// The per-user query while a writer appends newer events.
    pub per_user_under_ingest: QueryLatency,
    /// The last-hour query while a writer appends newer events.
    pub all_users_under_ingest: QueryLatency,
}

/// Dropping the oldest month at the largest size.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Retention {
    /// How: `DELETE + VACUUM` or `drop_chunks`.
    pub method: String,
    /// Events removed.
    pub rows_removed: u64,
    /// Events of the oldest month as written (what should be removed).
    pub rows_expected: u64,
    /// Wall time of the removal, seconds (the `DELETE`, or `drop_chunks`).
    pub seconds: f64,
    /// Wall time of the `VACUUM` after a `DELETE` (0 for `drop_chunks`).
    pub vacuum_seconds: f64,
    /// Stored bytes before.
    pub bytes_before: u64,
    /// Stored bytes after (a plain table keeps its pages for reuse: the bloat left).
    pub bytes_after: u64,
    /// Bytes still held for the removed rows: after − before × remaining share.
    pub bloat_bytes: u64,
    /// The per-user query while the removal ran.
    pub per_user_during: QueryLatency,
}

/// One design's findings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventLogDesign {
    /// What it is: table kind and indexes.
    pub design: String,
    /// Each size, in the scenario's order.
    pub sizes: Vec<EventLogSize>,
    /// The oldest month dropped at the size with the most months.
    pub retention: Option<Retention>,
}

/// The probe's findings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventLogProbe {
    /// How the probe ran, in words (printed by the verdict).
    pub design: String,
    /// Concurrent writers during ingest.
    pub writers: usize,
    /// Events per user per day.
    pub events_per_user_per_day: u32,
    /// Per design: `v02` (plain table) and `v03` (hypertable).
    pub designs: BTreeMap<String, EventLogDesign>,
    /// Wall time, seconds.
    pub wall_seconds: f64,
}

impl EventLogProbe {
    /// Adds the sizes of another run of the same probe (same writers and events per
    /// user per day) that this one lacks, so that a size measured in a run of its own
    /// joins the others: a size is taken only when both designs reached it, the sizes
    /// are then ordered by events and months, and a retention this probe lacks is
    /// taken. Returns the sizes taken; a different probe design is refused with why.
    pub fn merge(&mut self, other: EventLogProbe) -> Result<usize, String> {
        if (other.writers, other.events_per_user_per_day)
            != (self.writers, self.events_per_user_per_day)
        {
            return Err(format!(
                "its event-log probe ran {} writers at {} events per user per day, this one {} at {}: sizes of different designs are not put side by side",
                other.writers,
                other.events_per_user_per_day,
                self.writers,
                self.events_per_user_per_day
            ));
        }
        let key = |s: &EventLogSize| (s.users, s.months);
        let shape = |probe: &EventLogProbe, design: &str| -> Vec<(u64, u32)> {
            probe
                .designs
                .get(design)
                .map_or_else(Vec::new, |d| d.sizes.iter().map(key).collect())
        };
        // Sizes both designs reached in the other run and neither holds here.
        let ours = shape(self, "v02");
        let wanted: Vec<(u64, u32)> = shape(&other, "v02")
            .into_iter()
            .filter(|k| shape(&other, "v03").contains(k) && !ours.contains(k))
            .collect();
        for (name, theirs) in other.designs {
            let Some(mine) = self.designs.get_mut(&name) else {
                continue;
            };
            mine.sizes.extend(
                theirs
                    .sizes
                    .into_iter()
                    .filter(|s| wanted.contains(&key(s))),
            );
            mine.sizes.sort_by_key(|s| (s.events, s.months));
            if mine.retention.is_none() {
                mine.retention = theirs.retention;
            }
        }
        self.wall_seconds += other.wall_seconds;
        Ok(wanted.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn size(users: u64, months: u32) -> EventLogSize {
        EventLogSize {
            events: users * u64::from(months) * 600,
            users,
            months,
            ingest_rows_per_s: 1.0,
            bytes_per_event: 1.0,
            stored_bytes: 1,
            wal_bytes_per_event: 1.0,
            per_user: QueryLatency::default(),
            all_users: QueryLatency::default(),
            daily_30d: QueryLatency::default(),
            per_user_under_ingest: QueryLatency::default(),
            all_users_under_ingest: QueryLatency::default(),
        }
    }

    fn probe(sizes: &[(u64, u32)], v03_sizes: &[(u64, u32)], retention: bool) -> EventLogProbe {
        let design = |sizes: &[(u64, u32)]| EventLogDesign {
            design: "d".into(),
            sizes: sizes.iter().map(|&(u, m)| size(u, m)).collect(),
            retention: retention.then(|| Retention {
                method: "drop_chunks".into(),
                rows_removed: 1,
                rows_expected: 1,
                seconds: 1.0,
                vacuum_seconds: 0.0,
                bytes_before: 2,
                bytes_after: 1,
                bloat_bytes: 0,
                per_user_during: QueryLatency::default(),
            }),
        };
        EventLogProbe {
            design: "probe".into(),
            writers: 4,
            events_per_user_per_day: 20,
            designs: [
                ("v02".into(), design(sizes)),
                ("v03".into(), design(v03_sizes)),
            ]
            .into_iter()
            .collect(),
            wall_seconds: 10.0,
        }
    }

    #[test]
    fn a_size_measured_apart_joins_the_others_in_order_with_its_retention() {
        let mut one_month = probe(&[(40_000, 1)], &[(40_000, 1)], false);
        // The other run holds a size already here, one both designs reached, and one
        // only the plain table reached (stopped): only the second is taken.
        let four_months = probe(
            &[(40_000, 1), (10_000, 4), (20_000, 4)],
            &[(40_000, 1), (10_000, 4)],
            true,
        );
        assert_eq!(one_month.merge(four_months), Ok(1));
        for design in one_month.designs.values() {
            let shape: Vec<(u64, u32)> = design.sizes.iter().map(|s| (s.users, s.months)).collect();
            assert_eq!(shape, [(40_000, 1), (10_000, 4)]);
            assert!(design.retention.is_some());
        }
        assert_eq!(one_month.wall_seconds, 20.0);
    }

    #[test]
    fn a_probe_of_another_design_is_refused() {
        let mut mine = probe(&[(10, 1)], &[(10, 1)], false);
        let mut other = probe(&[(10, 4)], &[(10, 4)], true);
        other.writers = 8;
        let why = mine.merge(other).unwrap_err();
        assert!(why.contains("8 writers"), "{why}");
        assert_eq!(mine.designs["v02"].sizes.len(), 1);
    }
}
