//! The system the load sees while a migration runs: writes go to the primary, then
//! to the secondary, one entity at a time (a lock per stripe of ids keeps both in the
//! same order); the primary's answer is served. A secondary write that fails, or
//! answers a different version than the primary did, queues the entity for repair
//! (in the checkpoint, so that a kill keeps it): the repair copies the entity again
//! from the primary. Reads are the primary's; a sample is shadowed on the secondary.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use rand::{Rng, SeedableRng, rngs::StdRng};

use super::shadow::{Answer, ReadRequest, ShadowLog};
use super::state::Checkpoint;
use crate::arch::{
    ActivityBucket, ArchError, BodyUpdate, Entity, EntityId, EntitySummary, HistoryEvent,
    ImportMode, NewEntity, OpResult, Operations, Portable, SearchHit, UserId,
};

/// Lock stripes: enough that unrelated writes rarely wait on each other.
const STRIPES: usize = 1024;

/// One lock per stripe of entity ids: a mirrored write holds its entity's, and so
/// do a repair and a shadow read's second look, so that no write is in flight between
/// the two systems while they run.
pub struct Stripes(Vec<tokio::sync::Mutex<()>>);

impl Stripes {
    fn new() -> Self {
        Self((0..STRIPES).map(|_| tokio::sync::Mutex::new(())).collect())
    }

    fn stripe(id: EntityId) -> usize {
        (id.0.as_u128() % STRIPES as u128) as usize
    }

    /// Waits for `id`'s stripe.
    pub async fn lock(&self, id: EntityId) -> tokio::sync::MutexGuard<'_, ()> {
        self.0[Self::stripe(id)].lock().await
    }

    /// Waits for the stripes of all `ids`, in stripe order: every other holder takes
    /// one stripe at a time, so this cannot deadlock.
    async fn lock_all(&self, ids: &[EntityId]) -> Vec<tokio::sync::MutexGuard<'_, ()>> {
        let mut stripes: Vec<usize> = ids.iter().map(|id| Self::stripe(*id)).collect();
        stripes.sort_unstable();
        stripes.dedup();
        let mut guards = Vec::with_capacity(stripes.len());
        for s in stripes {
            guards.push(self.0[s].lock().await);
        }
        guards
    }
}

/// Primary and secondary behind the app's operations.
pub struct DualWrite {
    primary: Arc<dyn Portable>,
    secondary: Option<Arc<dyn Portable>>,
    stripes: Arc<Stripes>,
    checkpoint: Checkpoint,
    failures: Mutex<BTreeMap<String, u64>>,
    writes: AtomicU64,
    shadow: Option<Arc<ShadowLog>>,
    experiments: Mutex<tokio::task::JoinSet<()>>,
    rng: Mutex<StdRng>,
}

impl DualWrite {
    /// Writes to `primary` and, when given, `secondary`; reads shadowed per `shadow`.
    pub fn new(
        primary: Arc<dyn Portable>,
        secondary: Option<Arc<dyn Portable>>,
        checkpoint: Checkpoint,
        shadow: Option<Arc<ShadowLog>>,
        seed: u64,
    ) -> Self {
        Self {
            primary,
            secondary,
            stripes: Arc::new(Stripes::new()),
            checkpoint,
            failures: Mutex::new(BTreeMap::new()),
            writes: AtomicU64::new(0),
            shadow,
            experiments: Mutex::new(tokio::task::JoinSet::new()),
            rng: Mutex::new(StdRng::seed_from_u64(seed)),
        }
    }

    async fn lock(&self, id: EntityId) -> tokio::sync::MutexGuard<'_, ()> {
        self.stripes.lock(id).await
    }

    /// Writes the primary served.
    pub fn writes(&self) -> u64 {
        self.writes.load(Relaxed)
    }

    /// Secondary failures and divergences, by reason.
    pub fn failures(&self) -> BTreeMap<String, u64> {
        self.failures.lock().expect("failures").clone()
    }

    /// Waits for the shadow comparisons still running.
    pub async fn finish_experiments(&self) {
        let mut set = std::mem::take(&mut *self.experiments.lock().expect("experiments"));
        while set.join_next().await.is_some() {}
    }

    async fn diverged(&self, id: EntityId, reason: &str) {
        *self
            .failures
            .lock()
            .expect("failures")
            .entry(reason.to_string())
            .or_default() += 1;
        if let Err(e) = self.checkpoint.queue_repair(id, reason).await {
            // The final parity check still finds the entity; say why it was not queued.
            eprintln!("archbench: could not queue {id} for repair ({reason}): {e}");
        }
    }

    /// Copies entities again from the primary into the secondary, in one export and
    /// one import, under their locks so that no mirrored write interleaves. Returns how
    /// many were written (an id the primary does not hold is skipped).
    pub async fn repair(&self, ids: &[EntityId]) -> OpResult<u64> {
        let Some(secondary) = &self.secondary else {
            return Ok(0);
        };
        let _guards = self.stripes.lock_all(ids).await;
        let batch: Vec<_> = self
            .primary
            .export(ids)
            .await?
            .iter()
            .filter_map(|s| s.to_seed())
            .collect();
        if batch.is_empty() {
            return Ok(0);
        }
        Ok(secondary.import(&batch, ImportMode::Replace).await?.written)
    }

    /// For a sample of reads, compares the secondary's answer with the primary's,
    /// off the request path. The answer is copied only for a read that is sampled:
    /// the others pay nothing on the load's path.
    fn read<T: Clone>(
        &self,
        request: ReadRequest,
        answer: OpResult<T>,
        wrap: impl FnOnce(T) -> Answer,
    ) -> OpResult<T> {
        let (Some(log), Some(secondary), Ok(served)) = (&self.shadow, &self.secondary, &answer)
        else {
            return answer;
        };
        if !self.rng.lock().expect("rng").random_bool(log.sample()) {
            return answer;
        }
        let served = wrap(served.clone());
        let (log, primary, secondary) = (log.clone(), self.primary.clone(), secondary.clone());
        let stripes = self.stripes.clone();
        self.experiments
            .lock()
            .expect("experiments")
            .spawn(async move {
                log.experiment(
                    &request,
                    served,
                    primary.as_ref(),
                    secondary.as_ref(),
                    &stripes,
                )
                .await;
            });
        answer
    }
}

fn reason(e: &ArchError) -> &'static str {
    match e {
        ArchError::Postgres {
            source: sqlx::Error::Database(d),
            ..
        } if d.is_unique_violation() => "exists",
        e => e.kind(),
    }
}

#[async_trait::async_trait]
impl Operations for DualWrite {
    fn name(&self) -> &'static str {
        self.primary.name()
    }

    async fn create(&self, mut e: NewEntity) -> OpResult<EntityId> {
        // One event time for both: their histories must match to the microsecond.
        e.at.get_or_insert_with(Utc::now);
        let _guard = self.lock(e.id).await;
        let id = self.primary.create(e.clone()).await?;
        self.writes.fetch_add(1, Relaxed);
        if let Some(secondary) = &self.secondary
            && let Err(err) = secondary.create(e).await
        {
            self.diverged(id, reason(&err)).await;
        }
        Ok(id)
    }

    async fn update(&self, mut u: BodyUpdate) -> OpResult<i32> {
        u.at.get_or_insert_with(Utc::now);
        let _guard = self.lock(u.id).await;
        let id = u.id;
        let version = self.primary.update(u.clone()).await?;
        self.writes.fetch_add(1, Relaxed);
        if let Some(secondary) = &self.secondary {
            match secondary.update(u).await {
                Ok(v) if v == version => {}
                Ok(_) => self.diverged(id, "version_diverged").await,
                Err(err) => self.diverged(id, reason(&err)).await,
            }
        }
        Ok(version)
    }

    async fn get(&self, id: EntityId) -> OpResult<Entity> {
        let answer = self.primary.get(id).await;
        self.read(ReadRequest::Get(id), answer, Answer::Get)
    }

    async fn list(&self, user: UserId, limit: i64) -> OpResult<Vec<EntitySummary>> {
        let answer = self.primary.list(user, limit).await;
        self.read(ReadRequest::List(user, limit), answer, Answer::List)
    }

    async fn search(&self, user: UserId, query: &str, k: i64) -> OpResult<Vec<SearchHit>> {
        let answer = self.primary.search(user, query, k).await;
        let request = ReadRequest::Search(user, query.to_string(), k);
        self.read(request, answer, Answer::Search)
    }

    async fn history(&self, id: EntityId) -> OpResult<Vec<HistoryEvent>> {
        let answer = self.primary.history(id).await;
        self.read(ReadRequest::History(id), answer, Answer::History)
    }

    async fn activity(
        &self,
        user: UserId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> OpResult<Vec<ActivityBucket>> {
        let answer = self.primary.activity(user, from, to).await;
        self.read(
            ReadRequest::Activity(user, from, to),
            answer,
            Answer::Activity,
        )
    }
}
