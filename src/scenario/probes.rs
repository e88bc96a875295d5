//! `[search_quality]`: the search-quality probe's settings — the query set, k, the
//! `ef_search` sweep, and whether the other designs are tried — and their checks,
//! including a query set larger than the data it would search.

use serde::{Deserialize, Serialize};
use toml::Spanned;

use super::Problem;
use super::model::Seeding;
use super::validate::problem;

/// `[search_quality]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSearchQuality {
    #[serde(default)]
    queries: Option<Spanned<i64>>,
    #[serde(default)]
    k: Option<Spanned<i64>>,
    #[serde(default)]
    ef_search: Option<Spanned<Vec<i64>>>,
    #[serde(default)]
    variants: Option<bool>,
    #[serde(default)]
    max_partial_users: Option<Spanned<i64>>,
}

/// The search-quality probe, run after the measurements on each system's vectors.
#[derive(Debug, Clone, Serialize)]
pub struct SearchQualityProbe {
    /// Queries in the fixed set.
    pub queries: usize,
    /// Results per query (absent: the run's `search_k`).
    pub k: Option<u32>,
    /// `hnsw.ef_search` values swept, ascending.
    pub ef_search: Vec<u32>,
    /// Whether the other designs are built and measured on a copy of the vectors.
    pub variants: bool,
    /// More users than this: the partial-index-per-user design is not built (one
    /// index per user).
    pub max_partial_users: u64,
}

/// ann-benchmarks' usual sweep, up to pgvector's maximum of 1,000.
const DEFAULT_EF_SEARCH: [u32; 7] = [10, 20, 40, 80, 100, 200, 400];

/// Checks the settings against the seeded data: no more queries than entities.
pub(super) fn validate_search_quality(
    raw: Option<&Spanned<RawSearchQuality>>,
    seeding: &Seeding,
) -> Result<Option<SearchQualityProbe>, Problem> {
    let Some(spanned) = raw else {
        return Ok(None);
    };
    let r = spanned.get_ref();
    let entities = seeding.users.saturating_mul(seeding.entities_per_user);
    let queries = match &r.queries {
        None => 200.min(entities as usize).max(1),
        Some(q) => {
            let n = *q.get_ref();
            if !(1..=100_000).contains(&n) {
                return Err(problem(
                    q,
                    "search_quality.queries",
                    format!("must be within 1..=100000, got {n}"),
                ));
            }
            if n as u64 > entities {
                return Err(problem(
                    q,
                    "search_quality.queries",
                    format!(
                        "{n} queries is more than the {entities} entities seeded \
                         ({} users × {}): a query set larger than the data; at most {entities}",
                        seeding.users, seeding.entities_per_user
                    ),
                ));
            }
            n as usize
        }
    };
    let k = match &r.k {
        None => None,
        Some(k) if !(1..=1_000).contains(k.get_ref()) => {
            return Err(problem(
                k,
                "search_quality.k",
                format!("must be within 1..=1000, got {}", k.get_ref()),
            ));
        }
        Some(k) => Some(*k.get_ref() as u32),
    };
    let ef_search = match &r.ef_search {
        None => DEFAULT_EF_SEARCH.to_vec(),
        Some(list) => {
            let v = list.get_ref();
            if v.is_empty()
                || v.iter().any(|e| !(1..=1_000).contains(e))
                || v.windows(2).any(|w| w[1] <= w[0])
            {
                return Err(problem(
                    list,
                    "search_quality.ef_search",
                    "list ascending values within 1..=1000 (pgvector's range)",
                ));
            }
            v.iter().map(|e| *e as u32).collect()
        }
    };
    let max_partial_users = match &r.max_partial_users {
        None => 1_000,
        Some(m) if *m.get_ref() < 1 => {
            return Err(problem(
                m,
                "search_quality.max_partial_users",
                format!("must be a whole number > 0, got {}", m.get_ref()),
            ));
        }
        Some(m) => *m.get_ref() as u64,
    };
    Ok(Some(SearchQualityProbe {
        queries,
        k,
        ef_search,
        variants: r.variants.unwrap_or(true),
        max_partial_users,
    }))
}

/// `[event_log]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawEventLog {
    sizes: Spanned<Vec<RawEventLogSize>>,
    #[serde(default)]
    events_per_user_per_day: Option<Spanned<i64>>,
    #[serde(default)]
    writers: Option<Spanned<i64>>,
    #[serde(default)]
    samples: Option<Spanned<i64>>,
    #[serde(default)]
    payload_bytes: Option<Spanned<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEventLogSize {
    users: i64,
    months: i64,
}

/// One size of the event-log probe.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct EventLogSizeConfig {
    /// Users writing events.
    pub users: u64,
    /// Months of history (30 days each).
    pub months: u32,
}

/// The event-log probe: both designs' event tables filled with the same events at
/// each size, after the measurements.
#[derive(Debug, Clone, Serialize)]
pub struct EventLogConfig {
    /// Sizes, in order: grow by users, by months, or both.
    pub sizes: Vec<EventLogSizeConfig>,
    /// Events per user per day.
    pub events_per_user_per_day: u32,
    /// Concurrent writers during ingest.
    pub writers: usize,
    /// Queries timed per query kind and size.
    pub samples: usize,
    /// Bytes of V0.2's JSONB payload per event (its events copy the body; 256 is about
    /// the heap tuple a TOASTed body leaves). V0.3's events hold a reference.
    pub payload_bytes: u32,
}

impl EventLogConfig {
    /// Events of one size.
    pub fn events(&self, size: &EventLogSizeConfig) -> u64 {
        size.users * u64::from(size.months) * 30 * u64::from(self.events_per_user_per_day)
    }

    /// Bytes both designs hold at the largest size, with indexes and WAL kept until
    /// a checkpoint: what the disk must have free.
    pub fn disk_estimate(&self) -> u64 {
        let largest = self.sizes.iter().map(|s| self.events(s)).max().unwrap_or(0);
        // Row header, ids, time, indexes: about 200 bytes beside the payloads.
        largest * (2 * 200 + u64::from(self.payload_bytes) + 100) * 2
    }
}

fn bounded(
    s: &Option<Spanned<i64>>,
    field: &str,
    range: std::ops::RangeInclusive<i64>,
    default: i64,
) -> Result<i64, Problem> {
    match s {
        None => Ok(default),
        Some(v) if !range.contains(v.get_ref()) => Err(problem(
            v,
            field,
            format!(
                "must be within {}..={}, got {}",
                range.start(),
                range.end(),
                v.get_ref()
            ),
        )),
        Some(v) => Ok(*v.get_ref()),
    }
}

/// Checks `[event_log]`: sizes within reason, 1 to 64 writers.
pub(super) fn validate_event_log(
    raw: Option<&Spanned<RawEventLog>>,
) -> Result<Option<EventLogConfig>, Problem> {
    let Some(spanned) = raw else {
        return Ok(None);
    };
    let r = spanned.get_ref();
    let sizes = r.sizes.get_ref();
    if sizes.is_empty()
        || sizes
            .iter()
            .any(|s| !(1..=10_000_000).contains(&s.users) || !(1..=120).contains(&s.months))
    {
        return Err(problem(
            &r.sizes,
            "event_log.sizes",
            "list { users = 1..=10000000, months = 1..=120 } tables, at least one",
        ));
    }
    let per_day = bounded(
        &r.events_per_user_per_day,
        "event_log.events_per_user_per_day",
        1..=100_000,
        20,
    )?;
    let writers = bounded(&r.writers, "event_log.writers", 1..=64, 4)?;
    let samples = bounded(&r.samples, "event_log.samples", 10..=100_000, 200)?;
    let payload = bounded(
        &r.payload_bytes,
        "event_log.payload_bytes",
        0..=1_000_000,
        256,
    )?;
    Ok(Some(EventLogConfig {
        sizes: sizes
            .iter()
            .map(|s| EventLogSizeConfig {
                users: s.users as u64,
                months: s.months as u32,
            })
            .collect(),
        events_per_user_per_day: per_day as u32,
        writers: writers as usize,
        samples: samples as usize,
        payload_bytes: payload as u32,
    }))
}
