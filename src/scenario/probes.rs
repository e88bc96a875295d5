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
