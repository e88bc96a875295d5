//! The event-log growth probe: does the time-window query slow down as the event log
//! grows? Synthetic events of additional users (the document's "10K → 1M users") are
//! added to each system's event store, spread over the same history, and the `activity`
//! query of seeded users — whose answer does not change — is timed at each size.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::arch::{EventGrowth, OpResult, SystemUnderTest, UserId};
use crate::loadgen::plan::KeySpace;
use crate::scenario::GrowthProbe;

/// The time-window query at one event-table size.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct GrowthPoint {
    /// Event rows / seeded event rows.
    pub factor: f64,
    /// Event rows.
    pub events: u64,
    /// Queries timed.
    pub samples: usize,
    /// Median, ms.
    pub p50_ms: f64,
    /// 95th percentile, ms.
    pub p95_ms: f64,
}

/// Users of the probe's synthetic events start here: past the seeded users and the
/// projection-lag user.
const FIRST_PROBE_USER: i64 = 2_000_000_000;

/// Runs the probe on `sut`; the event store keeps the added rows (run it last).
pub async fn probe(
    sut: &dyn SystemUnderTest,
    space: &KeySpace,
    window: Duration,
    history_days: f64,
    cfg: &GrowthProbe,
) -> OpResult<Vec<GrowthPoint>> {
    let end = space.history_end;
    let from = end - chrono::Duration::milliseconds((history_days * 86_400_000.0) as i64);
    let window = chrono::Duration::from_std(window).unwrap_or(chrono::Duration::hours(24));
    let count = |n: u64, users: i64| EventGrowth {
        n,
        first_user: FIRST_PROBE_USER,
        users,
        from,
        to: end,
    };
    let base = sut.grow_events(&count(0, 1)).await?.max(1);
    let seeded_users = space.users.len().max(1) as f64;
    let mut points = vec![time(sut, &space.users, end, window, cfg.samples, 1.0, base).await?];
    let mut events = base;
    for &f in &cfg.factors {
        let target = (base as f64 * f).round() as u64;
        // More users, as the document's scale claim has it: the history span stays.
        let users = (seeded_users * (f - 1.0)).round().max(1.0) as i64;
        events = sut
            .grow_events(&count(target.saturating_sub(events), users))
            .await?;
        points.push(time(sut, &space.users, end, window, cfg.samples, f, events).await?);
    }
    Ok(points)
}

async fn time(
    sut: &dyn SystemUnderTest,
    users: &[UserId],
    end: chrono::DateTime<chrono::Utc>,
    window: chrono::Duration,
    samples: usize,
    factor: f64,
    events: u64,
) -> OpResult<GrowthPoint> {
    let user = |i: usize| users[(i * 7919) % users.len().max(1)];
    // A short warm-up so that plans and index pages of this size are cached, as they
    // are in steady state.
    for i in 0..samples.min(20) {
        sut.activity(user(i), end - window, end).await?;
    }
    let mut ms = Vec::with_capacity(samples);
    for i in 0..samples {
        let t = Instant::now();
        sut.activity(user(i + 20), end - window, end).await?;
        ms.push(t.elapsed().as_secs_f64() * 1e3);
    }
    ms.sort_by(f64::total_cmp);
    let q = |p: f64| ms[((ms.len() as f64 - 1.0) * p).round() as usize];
    Ok(GrowthPoint {
        factor,
        events,
        samples,
        p50_ms: q(0.5),
        p95_ms: q(0.95),
    })
}
