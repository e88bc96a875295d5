//! Seeding: the same users, entities, versions and backdated event history for every
//! system, written with the systems' bulk paths (COPY, concurrent object PUTs) where
//! they have one, else concurrently through their own write ops.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::Distribution;

use super::content;
use super::plan::{KeySpace, body_size_distribution};
use crate::arch::{
    ArchError, BodyUpdate, EntityId, NewEntity, SeedEntity, SystemUnderTest, UserId,
};
use crate::scenario::Scenario;

/// Counters a progress display reads while seeding runs.
#[derive(Debug, Default)]
pub struct SeedProgress {
    /// Entities written (with all their versions).
    pub entities: AtomicU64,
    /// Body bytes written.
    pub bytes: AtomicU64,
}

/// The writes for one entity, derived from the scenario seed alone.
fn entity_writes(
    scenario: &Scenario,
    user: u64,
    index: u64,
    history_end: DateTime<Utc>,
) -> (NewEntity, Vec<BodyUpdate>) {
    let s = &scenario.seeding;
    let mut rng = StdRng::seed_from_u64(scenario.rng_seed ^ (user << 32) ^ index);
    let sizes = body_size_distribution(s.body_median_bytes, s.body_p99_bytes);
    let id = EntityId(uuid::Uuid::from_u128(
        ((scenario.rng_seed as u128) << 64) ^ ((user as u128) << 32) ^ index as u128,
    ));
    let title = content::title(&mut rng);
    let versions = rng.random_range(s.versions_min..=s.versions_max);
    let span_ms = (s.history_days * 86_400_000.0) as i64;
    // Version times: sorted random instants within the history window.
    let mut times: Vec<i64> = (0..versions)
        .map(|_| rng.random_range(0..span_ms.max(1)))
        .collect();
    times.sort_unstable();
    let at = |ms: i64| history_end - chrono::Duration::milliseconds(span_ms - ms);
    let size = sizes.sample(&mut rng) as usize;
    let create = NewEntity {
        user: UserId(user as i64 + 1),
        id,
        body: content::body(&mut rng, id, 1, &title, size),
        title,
        at: Some(at(times[0])),
    };
    let updates = (2..=versions as i32)
        .map(|v| {
            let size = sizes.sample(&mut rng) as usize;
            BodyUpdate {
                id,
                body: content::body(&mut rng, id, v, &create.title, size),
                at: Some(at(times[v as usize - 1])),
            }
        })
        .collect();
    (create, updates)
}

/// How seeding writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SeedPath {
    /// The system's bulk path when it has one, else its ops.
    #[default]
    Auto,
    /// Always through create/update (slower; checks the bulk path against the ops).
    Ops,
    /// Nothing written: the target already holds this seed (an external target seeded
    /// by another agent or an earlier run); the keys are derived from the seed alone.
    KeysOnly,
}

/// Entities per bulk batch (one COPY per table each).
const BULK_BATCH: usize = 250;

/// Writes the scenario's seed into `target` and returns the key space. `history_end`
/// must be the same for every system so that their event histories are identical.
/// Systems with a bulk path get COPY and concurrent PUTs; others get their ops.
pub async fn seed(
    target: Arc<dyn SystemUnderTest>,
    scenario: &Scenario,
    history_end: DateTime<Utc>,
    progress: Arc<SeedProgress>,
    path: SeedPath,
) -> Result<KeySpace, ArchError> {
    let s = &scenario.seeding;
    let bulk = path == SeedPath::Auto && target.bulk_seed_supported();
    // A bulk batch runs many PUTs at once: fewer batches in flight than op writers.
    let slots = Arc::new(tokio::sync::Semaphore::new(if bulk {
        s.concurrency.div_ceil(4).max(1)
    } else {
        s.concurrency
    }));
    let mut tasks = tokio::task::JoinSet::new();
    let batch_size = if bulk { BULK_BATCH } else { 1 };
    // Entities are made batch by batch as slots free up: memory holds the batches in
    // flight, never the whole seed.
    let mut pairs = (0..s.users).flat_map(|user| (0..s.entities_per_user).map(move |i| (user, i)));
    let mut entities: Vec<(UserId, EntityId)> = Vec::new();
    let batches = std::iter::from_fn(|| {
        let batch: Vec<SeedEntity> = pairs
            .by_ref()
            .take(batch_size)
            .map(|(user, index)| {
                let (create, updates) = entity_writes(scenario, user, index, history_end);
                SeedEntity { create, updates }
            })
            .collect();
        (!batch.is_empty()).then_some(batch)
    });
    for batch in batches {
        entities.extend(batch.iter().map(|e| (e.create.user, e.create.id)));
        if path == SeedPath::KeysOnly {
            continue;
        }
        let permit = slots.clone().acquire_owned().await.expect("never closed");
        let (t, p) = (target.clone(), progress.clone());
        tasks.spawn(async move {
            let _permit = permit;
            let bytes: u64 = batch
                .iter()
                .flat_map(|e| e.versions())
                .map(|(_, b, _)| b.len() as u64)
                .sum();
            if bulk {
                t.seed_bulk(&batch).await?;
            } else {
                for e in &batch {
                    t.create(e.create.clone()).await?;
                    for u in &e.updates {
                        t.update(u.clone()).await?;
                    }
                }
            }
            p.entities.fetch_add(batch.len() as u64, Relaxed);
            p.bytes.fetch_add(bytes, Relaxed);
            Ok::<(), ArchError>(())
        });
        // Surface a failure early instead of after the whole seed.
        while let Some(done) = tasks.try_join_next() {
            done.map_err(|e| ArchError::Setup(format!("seeding task: {e}")))??;
        }
    }
    while let Some(done) = tasks.join_next().await {
        done.map_err(|e| ArchError::Setup(format!("seeding task: {e}")))??;
    }
    if path != SeedPath::KeysOnly {
        target.settle(Duration::from_secs(600)).await?;
    }
    let mut space = KeySpace {
        users: (1..=s.users as i64).map(UserId).collect(),
        entities,
        history_end,
    };
    space.shuffle(scenario.rng_seed);
    Ok(space)
}
