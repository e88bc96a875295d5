//! The load generator's own cost per op, against a target that does nothing: planning,
//! recording into the histograms, and a full execute+record round.

use std::sync::Arc;

use archbench::arch::synthetic::{Synthetic, SyntheticSpec};
use archbench::arch::{EntityId, OpKind, SystemUnderTest, UserId};
use archbench::loadgen::executor::execute;
use archbench::loadgen::plan::{KeySpace, Planner};
use archbench::loadgen::record::Recorder;
use archbench::scenario::{self, RunSettings};
use criterion::{Criterion, criterion_group, criterion_main};
use tokio::time::Instant;

const SCENARIO: &str = r#"
name = "bench-gen"
rng_seed = 1
systems = ["synthetic"]
[seeding]
users = 100
entities_per_user = 100
body_bytes = { median = 4096, p99 = 32768 }
versions_per_entity = { min = 1, max = 1 }
history_days = 1
[mix]
get = 45
list = 20
search = 10
history = 5
activity = 5
update = 11
create = 4
[keys]
distribution = "zipf"
exponent = 0.99
[[phase]]
name = "x"
model = "open"
rate = 1
duration = "1s"
"#;

fn bench_generator(c: &mut Criterion) {
    let scn = scenario::parse(SCENARIO, std::path::Path::new("bench-gen.toml")).expect("valid");
    let space = Arc::new(KeySpace {
        users: (1..=100).map(UserId).collect(),
        entities: (0..10_000u128)
            .map(|i| {
                (
                    UserId(1 + (i % 100) as i64),
                    EntityId(uuid::Uuid::from_u128(i)),
                )
            })
            .collect(),
        history_end: chrono::Utc::now(),
    });
    let mut planner = Planner::new(&scn, space, 1);
    c.bench_function("generator/plan_op", |b| b.iter(|| planner.next_op()));

    let rec = Recorder::new(std::time::Duration::from_millis(10));
    let t0 = Instant::now();
    c.bench_function("generator/record", |b| {
        b.iter(|| {
            let now = Instant::now();
            rec.record(OpKind::Get, t0, now, now, &Ok(()));
        })
    });

    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let target: Arc<dyn SystemUnderTest> = Arc::new(Synthetic::new(
        SyntheticSpec::parse("synthetic:servers=64").expect("spec"),
    ));
    let settings = RunSettings::default();
    let rec = Arc::new(Recorder::new(std::time::Duration::from_millis(10)));
    let mut gen_planner = Planner::new(
        &scn,
        Arc::new(KeySpace {
            users: vec![UserId(1)],
            entities: vec![(UserId(1), EntityId(uuid::Uuid::nil()))],
            history_end: chrono::Utc::now(),
        }),
        2,
    );
    let ops: Vec<_> = (0..4096).map(|_| gen_planner.next_op()).collect();
    let mut i = 0;
    c.bench_function("generator/execute_and_record_noop", |b| {
        b.to_async(&rt).iter(|| {
            i = (i + 1) % ops.len();
            let op = ops[i].clone();
            let (t, r, s) = (target.clone(), rec.clone(), settings.clone());
            async move {
                let kind = op.kind();
                let start = Instant::now();
                let res = execute(t.as_ref(), op, &s).await;
                r.record(kind, start, start, Instant::now(), &res);
            }
        })
    });
}

criterion_group!(benches, bench_generator);
criterion_main!(benches);
