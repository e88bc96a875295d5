//! A synthetic system under test with a known service-time distribution, optional
//! periodic stalls and per-op extra delays: the ground truth against which the load
//! generator's timing (and the CI gate) is validated. It stores nothing.
//!
//! Spec: `synthetic[:key=value,...]` with keys `service` (fixed service time, e.g.
//! `1ms`; default 0), `stall_every` and `stall_for` (every `stall_every` the server
//! freezes for `stall_for`: an op that starts service in that window finishes at its
//! end), `servers` (ops served at once, default 1) and `delay.<op>` (extra service
//! time for one op: `20%` of `service` or an absolute duration like `2ms`).

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::time::Instant;

use super::inngest::ExecutionCounts;
use super::{
    ActivityBucket, ArchError, BodyUpdate, Entity, EntityId, EntitySummary, Footprint, Harness,
    HistoryEvent, Locations, NewEntity, OpKind, OpResult, Operations, RoundTrips, SearchHit,
    UserId,
};

/// Extra service time of one op.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Delay {
    /// A fraction of the base service time (0.2 = +20%).
    Fraction(f64),
    /// A fixed extra time.
    Fixed(Duration),
}

/// Parsed `synthetic:` spec.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntheticSpec {
    /// Base service time.
    pub service: Duration,
    /// Stall period.
    pub stall_every: Option<Duration>,
    /// Stall length.
    pub stall_for: Duration,
    /// Concurrent servers.
    pub servers: usize,
    /// Per-op extra delay.
    pub delays: BTreeMap<OpKind, Delay>,
}

impl SyntheticSpec {
    /// Parses `synthetic` or `synthetic:service=1ms,stall_every=2s,...`.
    pub fn parse(spec: &str) -> Result<Self, String> {
        let rest = spec
            .strip_prefix("synthetic")
            .ok_or_else(|| format!("`{spec}` is not a synthetic spec"))?;
        let rest = rest.strip_prefix(':').unwrap_or(rest);
        let mut s = SyntheticSpec {
            service: Duration::ZERO,
            stall_every: None,
            stall_for: Duration::ZERO,
            servers: 1,
            delays: BTreeMap::new(),
        };
        let dur = |k: &str, v: &str| {
            humantime::parse_duration(v).map_err(|e| format!("synthetic {k}=`{v}`: {e}"))
        };
        for kv in rest.split(',').filter(|p| !p.trim().is_empty()) {
            let (k, v) = kv
                .split_once('=')
                .ok_or_else(|| format!("synthetic: `{kv}` is not key=value"))?;
            let (k, v) = (k.trim(), v.trim());
            match k {
                "service" => s.service = dur(k, v)?,
                "stall_every" => s.stall_every = Some(dur(k, v)?),
                "stall_for" => s.stall_for = dur(k, v)?,
                "servers" => {
                    s.servers = v
                        .parse()
                        .ok()
                        .filter(|n| *n > 0)
                        .ok_or_else(|| format!("synthetic servers=`{v}`: a whole number > 0"))?
                }
                _ if k.starts_with("delay.") => {
                    let name = &k["delay.".len()..];
                    let op = OpKind::ALL
                        .into_iter()
                        .find(|o| o.name() == name)
                        .ok_or_else(|| format!("synthetic {k}: unknown op `{name}`"))?;
                    let d = match v.strip_suffix('%') {
                        Some(p) => Delay::Fraction(
                            p.parse::<f64>()
                                .map_err(|e| format!("synthetic {k}=`{v}`: {e}"))?
                                / 100.0,
                        ),
                        None => Delay::Fixed(dur(k, v)?),
                    };
                    s.delays.insert(op, d);
                }
                _ => {
                    return Err(format!(
                        "synthetic: unknown key `{k}`; allowed: service, stall_every, stall_for, servers, delay.<op>"
                    ));
                }
            }
        }
        if s.stall_every
            .is_some_and(|e| e.is_zero() || s.stall_for >= e)
        {
            return Err("synthetic: stall_for must be shorter than stall_every".into());
        }
        Ok(s)
    }

    /// Service time of `op` outside stalls.
    pub fn service_of(&self, op: OpKind) -> Duration {
        match self.delays.get(&op) {
            None => self.service,
            Some(Delay::Fraction(f)) => self.service.mul_f64(1.0 + f),
            Some(Delay::Fixed(d)) => self.service + *d,
        }
    }
}

/// The synthetic target.
pub struct Synthetic {
    spec: SyntheticSpec,
    name: &'static str,
    servers: tokio::sync::Semaphore,
    epoch: Instant,
    round_trips: RoundTrips,
}

impl Synthetic {
    /// A target behaving as `spec` says; stall windows are counted from now.
    pub fn new(spec: SyntheticSpec) -> Self {
        let servers = tokio::sync::Semaphore::new(spec.servers);
        Self {
            spec,
            name: "synthetic",
            servers,
            epoch: Instant::now(),
            round_trips: RoundTrips::default(),
        }
    }

    /// The spec.
    pub fn spec(&self) -> &SyntheticSpec {
        &self.spec
    }

    async fn serve(&self, op: OpKind) {
        let _server = self.servers.acquire().await.expect("never closed");
        if let Some(every) = self.spec.stall_every {
            let since = self.epoch.elapsed();
            let into = Duration::from_nanos((since.as_nanos() % every.as_nanos()) as u64);
            if into < self.spec.stall_for {
                crate::timer::sleep_precisely(self.spec.stall_for - into).await;
            }
        }
        // On the precise timer: tokio's rounds a 2 ms service up to 2-3 ms, by where
        // the op falls between its ticks, which made the target's own median move
        // ±15% between repetitions.
        crate::timer::sleep_precisely(self.spec.service_of(op)).await;
        self.round_trips.op_done(op);
    }
}

#[async_trait::async_trait]
impl Operations for Synthetic {
    fn name(&self) -> &'static str {
        self.name
    }

    async fn create(&self, e: NewEntity) -> OpResult<EntityId> {
        self.serve(OpKind::Create).await;
        Ok(e.id)
    }

    async fn update(&self, _u: BodyUpdate) -> OpResult<i32> {
        self.serve(OpKind::Update).await;
        Ok(2)
    }

    async fn get(&self, id: EntityId) -> OpResult<Entity> {
        self.serve(OpKind::Get).await;
        Ok(Entity {
            id,
            user: UserId(0),
            title: String::new(),
            body: String::new(),
            version: 1,
        })
    }

    async fn list(&self, _user: UserId, _limit: i64) -> OpResult<Vec<EntitySummary>> {
        self.serve(OpKind::List).await;
        Ok(Vec::new())
    }

    async fn search(&self, _user: UserId, _query: &str, _k: i64) -> OpResult<Vec<SearchHit>> {
        self.serve(OpKind::Search).await;
        Ok(Vec::new())
    }

    async fn history(&self, _id: EntityId) -> OpResult<Vec<HistoryEvent>> {
        self.serve(OpKind::History).await;
        Ok(Vec::new())
    }

    async fn activity(
        &self,
        _u: UserId,
        _f: DateTime<Utc>,
        _t: DateTime<Utc>,
    ) -> OpResult<Vec<ActivityBucket>> {
        self.serve(OpKind::Activity).await;
        Ok(Vec::new())
    }
}

#[async_trait::async_trait]
impl Harness for Synthetic {
    async fn prepare(&self) -> OpResult<()> {
        Ok(())
    }

    async fn reset(&self) -> OpResult<()> {
        self.round_trips.clear();
        Ok(())
    }

    async fn settle(&self, _timeout: Duration) -> OpResult<()> {
        Ok(())
    }

    fn clear_counters(&self) {
        self.round_trips.clear();
    }

    fn round_trips(&self) -> &RoundTrips {
        &self.round_trips
    }

    fn inngest(&self) -> ExecutionCounts {
        ExecutionCounts::default()
    }

    async fn footprint(&self) -> OpResult<Footprint> {
        Err(ArchError::Setup(
            "the synthetic target stores nothing".into(),
        ))
    }

    fn locations(&self) -> Locations {
        Locations {
            schema: "synthetic",
            prefix: "synthetic/",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_key() {
        let s = SyntheticSpec::parse("synthetic:service=2ms,stall_every=1s,stall_for=100ms,servers=2,delay.create=20%,delay.get=1ms").unwrap();
        assert_eq!(s.service, Duration::from_millis(2));
        assert_eq!(s.stall_every, Some(Duration::from_secs(1)));
        assert_eq!(s.servers, 2);
        assert_eq!(s.service_of(OpKind::Create), Duration::from_micros(2400));
        assert_eq!(s.service_of(OpKind::Get), Duration::from_millis(3));
        assert_eq!(s.service_of(OpKind::List), Duration::from_millis(2));
        assert_eq!(
            SyntheticSpec::parse("synthetic").unwrap().service,
            Duration::ZERO
        );
    }

    #[test]
    fn bad_specs_are_explained() {
        assert!(
            SyntheticSpec::parse("synthetic:speed=1")
                .unwrap_err()
                .contains("allowed: service")
        );
        assert!(
            SyntheticSpec::parse("synthetic:service=fast")
                .unwrap_err()
                .contains("service=`fast`")
        );
        assert!(
            SyntheticSpec::parse("synthetic:delay.frobnicate=1ms")
                .unwrap_err()
                .contains("unknown op")
        );
        assert!(
            SyntheticSpec::parse("synthetic:stall_every=1s,stall_for=2s")
                .unwrap_err()
                .contains("shorter")
        );
    }
}
