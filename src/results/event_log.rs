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
