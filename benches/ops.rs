//! Each op of each system on local stores. Needs `scripts/setup`; without the local
//! binaries it says so and measures nothing.

use std::sync::Arc;

use archbench::arch::v02::V02;
use archbench::arch::v03::V03;
use archbench::arch::{SystemConfig, SystemUnderTest};
use archbench::loadgen::executor::execute;
use archbench::loadgen::plan::{PlannedOp, Planner};
use archbench::loadgen::seed::{SeedPath, SeedProgress, seed};
use archbench::scenario::{self, RunSettings};
use archbench::stores::{LocalProvisioner, ProvisionOptions, StoreProvisioner};
use criterion::{Criterion, criterion_group, criterion_main};

const SCENARIO: &str = r#"
name = "bench-ops"
rng_seed = 11
systems = ["v02", "v03"]
[seeding]
users = 10
entities_per_user = 20
body_bytes = { median = 4096, p99 = 32768 }
versions_per_entity = { min = 1, max = 3 }
history_days = 7
concurrency = 8
[mix]
create = 1
update = 1
get = 1
list = 1
search = 1
history = 1
activity = 1
[[phase]]
name = "x"
model = "open"
rate = 1
duration = "1s"
"#;

fn bench_ops(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let stores = match rt.block_on(LocalProvisioner.provision(&ProvisionOptions::default())) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("benches/ops: skipped, local stores cannot start: {e}");
            return;
        }
    };
    let scn = scenario::parse(SCENARIO, std::path::Path::new("bench-ops.toml")).expect("valid");
    let settings = RunSettings::default();
    let cfg = SystemConfig::default();
    let systems: Vec<Arc<dyn SystemUnderTest>> = rt.block_on(async {
        vec![
            Arc::new(V02::connect(&stores.endpoints, &cfg).await.expect("v02"))
                as Arc<dyn SystemUnderTest>,
            Arc::new(V03::connect(&stores.endpoints, &cfg).await.expect("v03")),
        ]
    });
    let now = chrono::Utc::now();
    for sut in &systems {
        let space = rt.block_on(async {
            sut.prepare().await.expect("prepare");
            sut.reset().await.expect("reset");
            seed(
                sut.clone(),
                &scn,
                now,
                Arc::new(SeedProgress::default()),
                SeedPath::Auto,
            )
            .await
            .expect("seed")
        });
        let space = Arc::new(space);
        let mut group = c.benchmark_group(sut.name());
        group
            .sample_size(30)
            .measurement_time(std::time::Duration::from_secs(4));
        for kind in archbench::arch::OpKind::ALL {
            // Ops of one kind, drawn from the planner so that keys and payloads are realistic.
            let mut planner = Planner::new(&scn, space.clone(), kind as u64);
            let mut pool: Vec<PlannedOp> = Vec::new();
            while pool.len() < 2000 {
                let op = planner.next_op();
                if op.kind() == kind {
                    pool.push(op);
                }
            }
            let mut i = 0usize;
            group.bench_function(kind.name(), |b| {
                b.to_async(&rt).iter(|| {
                    i = (i + 1) % pool.len();
                    let mut op = pool[i].clone();
                    if let PlannedOp::Create(e) = &mut op {
                        e.id = archbench::arch::EntityId(uuid::Uuid::new_v4());
                    }
                    let sut = sut.clone();
                    let settings = settings.clone();
                    async move { execute(sut.as_ref(), op, &settings).await.expect("op") }
                })
            });
        }
        group.finish();
        rt.block_on(sut.settle(std::time::Duration::from_secs(120)))
            .expect("settle");
    }
    drop(systems);
    rt.block_on(stores.shutdown()).expect("stop stores");
}

criterion_group!(benches, bench_ops);
criterion_main!(benches);
