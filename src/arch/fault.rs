//! Fault knob for validating the CI gate: `--fault v03.create=+20%` makes every
//! `create` of V0.3 take 20% longer (the op runs, then archbench waits 20% of the time
//! it took); `+2ms` adds a fixed delay. The run's notes say what was injected.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use super::inngest::{DeadLetter, ExecutionCounts};
use super::synthetic::Delay;
use super::{
    ActivityBucket, BodyUpdate, Entity, EntityId, EntitySummary, Footprint, Harness, HistoryEvent,
    Locations, NewEntity, OpKind, OpResult, Operations, RoundTrips, SearchHit, SystemUnderTest,
    UserId,
};

/// One injected delay.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultSpec {
    /// System name (`v02`, `v03`, or a synthetic spec).
    pub system: String,
    /// The op.
    pub op: OpKind,
    /// How much longer.
    pub delay: Delay,
}

impl FaultSpec {
    /// Parses `SYSTEM.OP=+20%` or `SYSTEM.OP=+2ms`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "--fault `{s}`: write SYSTEM.OP=+PERCENT% or SYSTEM.OP=+DURATION, e.g. v03.create=+20%"
            )
        };
        let (target, amount) = s.rsplit_once('=').ok_or_else(bad)?;
        let (system, op) = target.rsplit_once('.').ok_or_else(bad)?;
        let op = OpKind::ALL
            .into_iter()
            .find(|o| o.name() == op)
            .ok_or_else(|| format!("--fault `{s}`: unknown op `{op}`"))?;
        let amount = amount.trim().trim_start_matches('+');
        let delay = match amount.strip_suffix('%') {
            Some(p) => Delay::Fraction(p.parse::<f64>().map_err(|_| bad())? / 100.0),
            None => Delay::Fixed(humantime::parse_duration(amount).map_err(|_| bad())?),
        };
        Ok(Self {
            system: system.into(),
            op,
            delay,
        })
    }

    /// As the results file records it.
    pub fn injected(&self) -> crate::results::InjectedDelay {
        let (percent, fixed_ms) = match self.delay {
            Delay::Fraction(f) => (Some(f * 100.0), None),
            Delay::Fixed(d) => (None, Some(d.as_secs_f64() * 1e3)),
        };
        crate::results::InjectedDelay {
            system: self.system.clone(),
            op: self.op.name().into(),
            percent,
            fixed_ms,
        }
    }

    /// How it reads in notes.
    pub fn describe(&self) -> String {
        match self.delay {
            Delay::Fraction(f) => format!("{}.{} +{:.0}%", self.system, self.op.name(), f * 100.0),
            Delay::Fixed(d) => format!(
                "{}.{} +{}",
                self.system,
                self.op.name(),
                humantime::format_duration(d)
            ),
        }
    }
}

/// A system with a delay added to one op.
pub struct Faulty {
    inner: Arc<dyn SystemUnderTest>,
    fault: FaultSpec,
}

impl Faulty {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn SystemUnderTest>, fault: FaultSpec) -> Self {
        Self { inner, fault }
    }

    async fn delayed<T>(&self, op: OpKind, f: impl std::future::Future<Output = T>) -> T {
        if op != self.fault.op {
            return f.await;
        }
        let start = Instant::now();
        let out = f.await;
        let extra = match self.fault.delay {
            Delay::Fraction(x) => start.elapsed().mul_f64(x.max(0.0)),
            Delay::Fixed(d) => d,
        };
        // On tokio's timer +10% of a 1 ms op would wait 1-2 ms, not 0.1 ms.
        crate::timer::sleep_precisely(extra).await;
        out
    }
}

#[async_trait::async_trait]
impl Operations for Faulty {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    async fn create(&self, e: NewEntity) -> OpResult<EntityId> {
        self.delayed(OpKind::Create, self.inner.create(e)).await
    }

    async fn update(&self, u: BodyUpdate) -> OpResult<i32> {
        self.delayed(OpKind::Update, self.inner.update(u)).await
    }

    async fn get(&self, id: EntityId) -> OpResult<Entity> {
        self.delayed(OpKind::Get, self.inner.get(id)).await
    }

    async fn list(&self, user: UserId, limit: i64) -> OpResult<Vec<EntitySummary>> {
        self.delayed(OpKind::List, self.inner.list(user, limit))
            .await
    }

    async fn search(&self, user: UserId, query: &str, k: i64) -> OpResult<Vec<SearchHit>> {
        self.delayed(OpKind::Search, self.inner.search(user, query, k))
            .await
    }

    async fn history(&self, id: EntityId) -> OpResult<Vec<HistoryEvent>> {
        self.delayed(OpKind::History, self.inner.history(id)).await
    }

    async fn activity(
        &self,
        user: UserId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> OpResult<Vec<ActivityBucket>> {
        self.delayed(OpKind::Activity, self.inner.activity(user, from, to))
            .await
    }
}

#[async_trait::async_trait]
impl Harness for Faulty {
    async fn prepare(&self) -> OpResult<()> {
        self.inner.prepare().await
    }

    async fn reset(&self) -> OpResult<()> {
        self.inner.reset().await
    }

    fn bulk_seed_supported(&self) -> bool {
        self.inner.bulk_seed_supported()
    }

    async fn seed_bulk(&self, batch: &[super::SeedEntity]) -> OpResult<()> {
        self.inner.seed_bulk(batch).await
    }

    async fn grow_events(&self, g: &super::EventGrowth) -> OpResult<u64> {
        self.inner.grow_events(g).await
    }

    async fn settle(&self, timeout: Duration) -> OpResult<()> {
        self.inner.settle(timeout).await
    }

    fn round_trips(&self) -> &RoundTrips {
        self.inner.round_trips()
    }

    fn clear_counters(&self) {
        self.inner.clear_counters()
    }

    fn inngest(&self) -> ExecutionCounts {
        self.inner.inngest()
    }

    fn emulator(&self) -> Option<Arc<super::inngest::EmulatorControl>> {
        self.inner.emulator()
    }

    fn dead_letters(&self) -> Vec<DeadLetter> {
        self.inner.dead_letters()
    }

    async fn footprint(&self) -> OpResult<Footprint> {
        self.inner.footprint().await
    }

    fn locations(&self) -> Locations {
        self.inner.locations()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arch::synthetic::{Synthetic, SyntheticSpec};

    #[test]
    fn parses_percent_and_duration() {
        let f = FaultSpec::parse("v03.create=+20%").unwrap();
        assert_eq!(
            (f.system.as_str(), f.op, f.delay),
            ("v03", OpKind::Create, Delay::Fraction(0.2))
        );
        assert_eq!(f.describe(), "v03.create +20%");
        let f = FaultSpec::parse("synthetic:service=1ms.get=2ms").unwrap();
        assert_eq!(
            (f.system.as_str(), f.delay),
            (
                "synthetic:service=1ms",
                Delay::Fixed(Duration::from_millis(2))
            )
        );
        assert!(
            FaultSpec::parse("v03.create")
                .unwrap_err()
                .contains("SYSTEM.OP")
        );
        assert!(
            FaultSpec::parse("v03.frob=+1%")
                .unwrap_err()
                .contains("unknown op")
        );
    }

    #[tokio::test]
    async fn only_the_named_op_is_slowed() {
        let inner: Arc<dyn SystemUnderTest> = Arc::new(Synthetic::new(
            SyntheticSpec::parse("synthetic:service=20ms,servers=4").unwrap(),
        ));
        let f = Faulty::new(inner, FaultSpec::parse("synthetic.get=+50%").unwrap());
        let t = Instant::now();
        f.get(EntityId(uuid::Uuid::nil())).await.unwrap();
        let slowed = t.elapsed();
        let t = Instant::now();
        f.list(UserId(1), 1).await.unwrap();
        let plain = t.elapsed();
        assert!(slowed >= Duration::from_millis(30), "{slowed:?}");
        assert!(plain < Duration::from_millis(29), "{plain:?}");
    }
}
