//! The op sequence: which op, on which key, with which payload, at which intended
//! time. Everything comes from one seeded RNG per stream, so both systems get the
//! same sequence and a rerun gets it again.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_distr::weighted::WeightedIndex;
use rand_distr::{Distribution, Exp, LogNormal, Zipf};

use super::content;
use crate::arch::{BodyUpdate, EntityId, NewEntity, OpKind, UserId};
use crate::scenario::{Arrival, KeyDistributionKind, Scenario, Workload};

/// The seeded data the load addresses.
#[derive(Debug, Clone)]
pub struct KeySpace {
    /// Users.
    pub users: Vec<UserId>,
    /// Entities with their owners, in popularity order (index 0 is the hottest).
    pub entities: Vec<(UserId, EntityId)>,
    /// End of the seeded event history (activity windows end here).
    pub history_end: DateTime<Utc>,
}

impl KeySpace {
    /// Shuffles popularity ranks with `seed`, so that hot entities spread over users.
    pub fn shuffle(&mut self, seed: u64) {
        self.entities
            .shuffle(&mut StdRng::seed_from_u64(seed ^ 0x5eed));
    }
}

/// One op to run.
#[derive(Debug, Clone)]
pub enum PlannedOp {
    /// New entity.
    Create(NewEntity),
    /// New version.
    Update(BodyUpdate),
    /// Read one.
    Get(EntityId),
    /// A user's list.
    List(UserId),
    /// Top-k search.
    Search(UserId, String),
    /// An entity's history.
    History(EntityId),
    /// A user's activity in a window.
    Activity(UserId, DateTime<Utc>, DateTime<Utc>),
}

impl PlannedOp {
    /// The op's kind.
    pub fn kind(&self) -> OpKind {
        match self {
            PlannedOp::Create(_) => OpKind::Create,
            PlannedOp::Update(_) => OpKind::Update,
            PlannedOp::Get(_) => OpKind::Get,
            PlannedOp::List(_) => OpKind::List,
            PlannedOp::Search(..) => OpKind::Search,
            PlannedOp::History(_) => OpKind::History,
            PlannedOp::Activity(..) => OpKind::Activity,
        }
    }
}

/// Body sizes: log-normal from the scenario's median and p99.
pub fn body_size_distribution(median: f64, p99: f64) -> LogNormal<f64> {
    // z(0.99) = 2.3263: p99 = median * exp(2.3263 * sigma).
    let sigma = ((p99 / median).ln() / 2.326_347_874).max(0.0);
    LogNormal::new(median.ln(), sigma).expect("validated: median >= 1, p99 >= median")
}

/// Generates ops from a stream of the scenario's RNG.
pub struct Planner {
    rng: StdRng,
    seed: u64,
    kinds: Vec<OpKind>,
    mix: WeightedIndex<f64>,
    zipf: Option<Zipf<f64>>,
    sizes: LogNormal<f64>,
    space: Arc<KeySpace>,
    window: chrono::Duration,
    serial: u64,
}

impl Planner {
    /// A planner for stream `stream` (a phase, or a closed-model user) of `scenario`.
    pub fn new(scenario: &Scenario, space: Arc<KeySpace>, stream: u64) -> Self {
        let kinds: Vec<OpKind> = scenario.mix.keys().copied().collect();
        let weights: Vec<f64> = scenario.mix.values().copied().collect();
        let n = space.entities.len().max(1) as f64;
        let zipf = (scenario.keys.kind == KeyDistributionKind::Zipf)
            .then(|| Zipf::new(n, scenario.keys.exponent).expect("validated exponent > 0"));
        let seed = scenario
            .rng_seed
            .wrapping_mul(0x9e37_79b9_7f4a_7c15)
            .wrapping_add(stream);
        Self {
            rng: StdRng::seed_from_u64(seed),
            seed,
            kinds,
            mix: WeightedIndex::new(weights).expect("validated: weights sum > 0"),
            zipf,
            sizes: body_size_distribution(
                scenario.seeding.body_median_bytes,
                scenario.seeding.body_p99_bytes,
            ),
            space,
            window: chrono::Duration::from_std(scenario.run.activity_window)
                .unwrap_or(chrono::Duration::hours(24)),
            serial: 0,
        }
    }

    fn entity(&mut self) -> (UserId, EntityId) {
        let n = self.space.entities.len();
        let i = match &self.zipf {
            Some(z) => (z.sample(&mut self.rng) as usize).clamp(1, n) - 1,
            None => self.rng.random_range(0..n),
        };
        self.space.entities[i]
    }

    fn user(&mut self) -> UserId {
        self.space.users[self.rng.random_range(0..self.space.users.len())]
    }

    /// The next op.
    pub fn next_op(&mut self) -> PlannedOp {
        self.serial += 1;
        match self.kinds[self.mix.sample(&mut self.rng)] {
            OpKind::Create => {
                let user = self.user();
                let id = EntityId(uuid::Uuid::from_u128(self.rng.random()));
                let title = content::title(&mut self.rng);
                let size = self.sizes.sample(&mut self.rng) as usize;
                let body = content::body(&mut self.rng, id, 1, &title, size);
                PlannedOp::Create(NewEntity {
                    user,
                    id,
                    title,
                    body,
                    at: None,
                })
            }
            OpKind::Update => {
                let (_, id) = self.entity();
                let size = self.sizes.sample(&mut self.rng) as usize;
                let title = content::title(&mut self.rng);
                // Version numbers of load-phase updates are not known in advance; the
                // marker only has to be unique, so it takes the planner's serial.
                let body = content::body(
                    &mut self.rng,
                    id,
                    1_000_000 + self.serial as i32,
                    &title,
                    size,
                );
                PlannedOp::Update(BodyUpdate { id, body, at: None })
            }
            OpKind::Get => PlannedOp::Get(self.entity().1),
            OpKind::List => PlannedOp::List(self.user()),
            OpKind::Search => {
                let (user, _) = self.entity();
                PlannedOp::Search(user, content::title(&mut self.rng))
            }
            OpKind::History => PlannedOp::History(self.entity().1),
            OpKind::Activity => {
                let user = self.user();
                let end = self.space.history_end;
                PlannedOp::Activity(user, end - self.window, end)
            }
        }
    }

    /// The intended start offsets of an open-model phase, generated as they are
    /// consumed: memory does not grow with rate × duration. Poisson gaps come from a
    /// stream of their own, so the op sequence does not depend on the arrival process.
    /// A closed-model workload has no schedule.
    pub fn schedule(&self, workload: &Workload, duration: Duration) -> Schedule {
        let (rate, ramp_to, arrival) = match *workload {
            Workload::Open {
                rate,
                ramp_to,
                arrival,
            } => (rate, ramp_to, arrival),
            Workload::Closed { .. } => (1.0, 1.0, Arrival::Constant),
        };
        let total = match workload {
            Workload::Open { .. } => duration.as_secs_f64(),
            Workload::Closed { .. } => 0.0,
        };
        Schedule {
            rng: StdRng::seed_from_u64(self.seed ^ 0xa771_7a15),
            rate,
            ramp_to,
            arrival,
            total,
            t: 0.0,
        }
    }
}

/// Intended start offsets of an open-model phase, in order (see [`Planner::schedule`]).
pub struct Schedule {
    rng: StdRng,
    rate: f64,
    ramp_to: f64,
    arrival: Arrival,
    total: f64,
    t: f64,
}

impl Iterator for Schedule {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        // The tolerance keeps float rounding from adding an op at the very end.
        if self.t >= self.total - 1e-9 {
            return None;
        }
        let offset = Duration::from_secs_f64(self.t);
        let r = self.rate + (self.ramp_to - self.rate) * (self.t / self.total);
        self.t += match self.arrival {
            Arrival::Constant => 1.0 / r,
            Arrival::Poisson => Exp::new(r).expect("rate > 0").sample(&mut self.rng),
        };
        Some(offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario(extra: &str) -> Scenario {
        let src = format!(
            r#"name = "p"
rng_seed = 5
systems = ["synthetic"]
[seeding]
users = 3
entities_per_user = 4
body_bytes = {{ median = 1000, p99 = 8000 }}
versions_per_entity = {{ min = 1, max = 1 }}
history_days = 1
[mix]
get = 3
create = 1
{extra}
[[phase]]
name = "s"
model = "open"
rate = 100
duration = "10s"
"#
        );
        crate::scenario::parse(&src, std::path::Path::new("p.toml")).unwrap()
    }

    fn space() -> Arc<KeySpace> {
        let users: Vec<UserId> = (1..=3).map(UserId).collect();
        let entities = (0..12)
            .map(|i| {
                (
                    UserId(1 + i % 3),
                    EntityId(uuid::Uuid::from_u128(i as u128)),
                )
            })
            .collect();
        Arc::new(KeySpace {
            users,
            entities,
            history_end: Utc::now(),
        })
    }

    #[test]
    fn same_seed_same_sequence_and_mix_follows_weights() {
        let s = scenario("");
        let sp = space();
        let a: Vec<String> = {
            let mut p = Planner::new(&s, sp.clone(), 1);
            (0..2000).map(|_| format!("{:?}", p.next_op())).collect()
        };
        let b: Vec<String> = {
            let mut p = Planner::new(&s, sp.clone(), 1);
            (0..2000).map(|_| format!("{:?}", p.next_op())).collect()
        };
        assert_eq!(a, b);
        let gets = a.iter().filter(|o| o.starts_with("Get")).count() as f64 / 2000.0;
        assert!((gets - 0.75).abs() < 0.04, "{gets}");
    }

    #[test]
    fn zipf_makes_the_first_key_hottest() {
        let s = scenario("[keys]\ndistribution = \"zipf\"\nexponent = 1.2");
        let sp = space();
        let mut p = Planner::new(&s, sp.clone(), 2);
        let mut counts = vec![0u32; 12];
        for _ in 0..5000 {
            let (_, id) = p.entity();
            counts[sp.entities.iter().position(|(_, e)| *e == id).unwrap()] += 1;
        }
        assert!(counts[0] > counts[5] * 3, "{counts:?}");
    }

    #[test]
    fn schedules_hit_the_rate_constant_ramped_and_poisson() {
        let s = scenario("");
        let p = Planner::new(&s, space(), 3);
        let d = Duration::from_secs(10);
        let c: Vec<Duration> = p
            .schedule(
                &Workload::Open {
                    rate: 100.0,
                    ramp_to: 100.0,
                    arrival: Arrival::Constant,
                },
                d,
            )
            .collect();
        assert_eq!(c.len(), 1000);
        let r: Vec<Duration> = p
            .schedule(
                &Workload::Open {
                    rate: 100.0,
                    ramp_to: 300.0,
                    arrival: Arrival::Constant,
                },
                d,
            )
            .collect();
        assert!((r.len() as f64 - 2000.0).abs() < 20.0, "{}", r.len());
        let q: Vec<Duration> = p
            .schedule(
                &Workload::Open {
                    rate: 100.0,
                    ramp_to: 100.0,
                    arrival: Arrival::Poisson,
                },
                d,
            )
            .collect();
        assert!((q.len() as f64 - 1000.0).abs() < 100.0, "{}", q.len());
        assert!(q.windows(2).all(|w| w[0] <= w[1]));
    }

    #[test]
    fn log_normal_sizes_have_the_requested_median_and_p99() {
        let d = body_size_distribution(4000.0, 40000.0);
        let mut rng = StdRng::seed_from_u64(1);
        let mut v: Vec<f64> = (0..20000).map(|_| d.sample(&mut rng)).collect();
        v.sort_by(f64::total_cmp);
        assert!(
            (v[10000] / 4000.0 - 1.0).abs() < 0.05,
            "median {}",
            v[10000]
        );
        assert!((v[19800] / 40000.0 - 1.0).abs() < 0.15, "p99 {}", v[19800]);
    }
}
