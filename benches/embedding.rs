//! The deterministic embedding runs on every write (both systems) and every search:
//! its cost is part of each op's service time, so it is measured on its own here.

use archbench::arch::EntityId;
use archbench::arch::embedding::embed;
use archbench::loadgen::content;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use rand::SeedableRng;

fn bench_embed(c: &mut Criterion) {
    let mut group = c.benchmark_group("embed");
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    for size in [1_000usize, 10_000, 100_000] {
        let body = content::body(
            &mut rng,
            EntityId(uuid::Uuid::from_u128(1)),
            1,
            "Bench",
            size,
        );
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_with_input(BenchmarkId::from_parameter(size), &body, |b, body| {
            b.iter(|| embed(body))
        });
    }
    group.finish();
}

criterion_group!(benches, bench_embed);
criterion_main!(benches);
