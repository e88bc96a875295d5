//! Projection lag: the time from a write's acknowledgement until the entity is
//! visible in `list` and in `search`, observed through the system's own read ops.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::arch::{ArchError, EntityId, NewEntity, Operations, UserId};
use crate::loadgen::content;

/// Lag distribution over the samples, in milliseconds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LagSummary {
    /// Median.
    pub p50_ms: f64,
    /// 95th percentile.
    pub p95_ms: f64,
    /// 99th percentile (absent in results written before it was kept).
    #[serde(default)]
    pub p99_ms: Option<f64>,
    /// Largest.
    pub max_ms: f64,
    /// Samples where the entity was visible on the first read after the ack.
    pub visible_on_first_read: usize,
}

/// Lag of `list` and `search`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LagReport {
    /// Writes measured.
    pub samples: usize,
    /// Until visible in `list`.
    pub list: LagSummary,
    /// Until visible in `search` (top 3 for the body as query).
    pub search: LagSummary,
    /// From the write's start (not its acknowledgement) until visible: what a user
    /// who saves and then looks waits, the write's own latency included.
    #[serde(default)]
    pub write_to_visible: Option<WriteToVisible>,
}

/// From the start of the write until the entity is visible.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WriteToVisible {
    /// In `list`.
    pub list: LagSummary,
    /// In `search`.
    pub search: LagSummary,
}

fn summarise(mut v: Vec<(Duration, bool)>) -> LagSummary {
    v.sort_by_key(|(d, _)| *d);
    let pick = |q: f64| -> f64 {
        if v.is_empty() {
            return 0.0;
        }
        let i = ((v.len() as f64 - 1.0) * q).round() as usize;
        v[i].0.as_secs_f64() * 1e3
    };
    LagSummary {
        p50_ms: pick(0.5),
        p95_ms: pick(0.95),
        p99_ms: Some(pick(0.99)),
        max_ms: pick(1.0),
        visible_on_first_read: v.iter().filter(|(_, first)| *first).count(),
    }
}

/// Creates `samples` entities for `user` one after another and polls `list` and
/// `search` after each until both show it, or fails after `timeout`.
pub async fn measure(
    sut: &dyn Operations,
    user: UserId,
    samples: usize,
    seed: u64,
    timeout: Duration,
) -> Result<LagReport, ArchError> {
    use rand::SeedableRng;
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut list_lags = Vec::new();
    let mut search_lags = Vec::new();
    let (mut list_from_write, mut search_from_write) = (Vec::new(), Vec::new());
    for _ in 0..samples {
        let id = EntityId(uuid::Uuid::new_v4());
        let title = content::title(&mut rng);
        let body = content::body(&mut rng, id, 1, &title, 800);
        let written = Instant::now();
        sut.create(NewEntity {
            user,
            id,
            title,
            body: body.clone(),
            at: None,
        })
        .await?;
        let acked = Instant::now();
        let write = acked - written;
        let (mut in_list, mut in_search) = (None, None);
        let mut reads = 0u32;
        while in_list.is_none() || in_search.is_none() {
            if acked.elapsed() > timeout {
                return Err(ArchError::SettleTimeout(timeout));
            }
            reads += 1;
            if in_list.is_none() && sut.list(user, 10_000).await?.iter().any(|e| e.id == id) {
                in_list = Some((acked.elapsed(), reads == 1));
            }
            if in_search.is_none() && sut.search(user, &body, 3).await?.iter().any(|h| h.id == id) {
                in_search = Some((acked.elapsed(), reads == 1));
            }
            if in_list.is_none() || in_search.is_none() {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        list_from_write.extend(in_list.map(|(d, first)| (d + write, first)));
        search_from_write.extend(in_search.map(|(d, first)| (d + write, first)));
        list_lags.extend(in_list);
        search_lags.extend(in_search);
    }
    Ok(LagReport {
        samples,
        list: summarise(list_lags),
        search: summarise(search_lags),
        write_to_visible: Some(WriteToVisible {
            list: summarise(list_from_write),
            search: summarise(search_from_write),
        }),
    })
}
