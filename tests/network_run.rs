//! A run under the `same-region` network profile on local stores: the systems reach
//! PostgreSQL, the object store and the workflow service through delay proxies, the
//! results record the profile and the proxies' lateness, and the distance shows where
//! the designs put it — V0.3's `get` reads the object store (25 ms away), V0.2's
//! reads PostgreSQL only (1 ms away).

mod common;

use std::path::{Path, PathBuf};

use archbench::results::Results;
use archbench::rig::network::{Hop, NETWORKS_FILE, Networks};
use archbench::run::{RunOptions, run};
use archbench::stores::StoreMode;
use common::assert_valid;

fn repo(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(p)
}

const SCENARIO: &str = r#"
name = "network-check"
rng_seed = 11
systems = ["v02", "v03"]
[seeding]
users = 4
entities_per_user = 5
body_bytes = { median = 2000, p99 = 8000 }
versions_per_entity = { min = 1, max = 2 }
history_days = 2
concurrency = 4
[mix]
get = 6
list = 1
create = 1
[[phase]]
name = "steady"
model = "open"
rate = 40
duration = "4s"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_region_puts_the_object_store_on_v03s_get_path() {
    let root = common::run_root();
    let out = tempfile::tempdir().unwrap();
    let scenario = out.path().join("network.toml");
    std::fs::write(&scenario, SCENARIO).unwrap();
    let profile = Networks::load(&repo(NETWORKS_FILE))
        .unwrap()
        .get("same-region")
        .unwrap()
        .clone();
    let object_rtt = profile.links[&Hop::ObjectStore].rtt_ms;
    let postgres_rtt = profile.links[&Hop::Postgres].rtt_ms;
    let options = RunOptions {
        scenario,
        systems: None,
        stores: StoreMode::Local,
        provision: common::local_opts(root.path()),
        out: out.path().join("run"),
        repeat: 1,
        faults: Vec::new(),
        limits: Default::default(),
        fault_at: Vec::new(),
        network: Some(profile),
        instance: None,
        agent: None,
        seeded: false,
    };
    let mut log = Vec::new();
    let summary = run(options, &mut log).await.unwrap();
    println!("{}", String::from_utf8_lossy(&log));
    assert_valid(&summary.results_path);
    let r = Results::read(&summary.results_path).unwrap();
    assert!(r.complete, "{:?}", r.notes);
    let network = r.environment.network.as_ref().expect("network recorded");
    assert_eq!(network.profile.name, "same-region");
    for hop in [Hop::Postgres, Hop::ObjectStore, Hop::Workflow] {
        let o = network.proxy_overhead.get(&hop).expect("every hop proxied");
        assert!(o.chunks > 0, "{hop:?}: {o:?}");
        println!("{hop:?} proxy lateness {o:?}");
    }
    let p50 = |system: &str, op: &str| r.systems[system].ops[op].latency_us.p50 as f64 / 1e3;
    println!(
        "get p50: v02 {:.2} ms, v03 {:.2} ms",
        p50("v02", "get"),
        p50("v03", "get")
    );
    // V0.3's get waits for one object-store round trip at least.
    assert!(p50("v03", "get") >= object_rtt, "{}", p50("v03", "get"));
    // V0.2's get is database round trips only.
    assert!(p50("v02", "get") >= postgres_rtt, "{}", p50("v02", "get"));
    assert!(p50("v02", "get") < object_rtt, "{}", p50("v02", "get"));
}
