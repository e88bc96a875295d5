//! V0.2 and V0.3 on real local stores: parity of observable results, copies per item
//! measured in the stores, executions, round trips, faults and hostile input.

mod common;

use std::time::Duration;

use archbench::arch::SystemConfig;
use archbench::arch::v02::V02;
use archbench::arch::v03::V03;
use archbench::arch::{
    BodyUpdate, EntityId, Harness, NewEntity, OpKind, Operations, Store, SystemUnderTest, UserId,
};
use archbench::loadgen::content;
use archbench::measure::{copies, lag};
use archbench::stores::{LocalProvisioner, StoreProvisioner, Stores, health, s3};
use chrono::{DateTime, Duration as ChronoDuration, TimeZone, Utc};
use rand::{Rng, SeedableRng};

const SETTLE: Duration = Duration::from_secs(60);

struct Env {
    stores: Stores,
    v02: V02,
    v03: V03,
    _root: tempfile::TempDir,
}

async fn env() -> Env {
    let root = common::run_root();
    let stores = LocalProvisioner
        .provision(&common::local_opts(root.path()))
        .await
        .unwrap();
    let cfg = SystemConfig::default();
    let v02 = V02::connect(&stores.endpoints, &cfg).await.unwrap();
    let v03 = V03::connect(&stores.endpoints, &cfg).await.unwrap();
    for s in [&v02 as &dyn SystemUnderTest, &v03] {
        s.prepare().await.unwrap();
        s.prepare().await.unwrap(); // idempotent
        s.reset().await.unwrap();
    }
    Env {
        stores,
        v02,
        v03,
        _root: root,
    }
}

fn systems(e: &Env) -> [&dyn SystemUnderTest; 2] {
    [&e.v02, &e.v03]
}

/// A seeded sequence of writes: `users` users, `per_user` entities each, some updated,
/// spread over three days. Returns the ids per user.
async fn seed(
    sut: &dyn SystemUnderTest,
    users: i64,
    per_user: usize,
    seed: u64,
) -> Vec<(UserId, Vec<EntityId>)> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let start: DateTime<Utc> = Utc.with_ymd_and_hms(2026, 11, 1, 8, 0, 0).unwrap();
    let mut out = Vec::new();
    let mut tick = 0i64;
    for u in 1..=users {
        let user = UserId(u);
        let mut ids = Vec::new();
        for i in 0..per_user {
            let id = EntityId(uuid::Uuid::from_u128(((u as u128) << 64) | i as u128));
            let title = content::title(&mut rng);
            let size = rng.random_range(300..6000);
            let body = content::body(&mut rng, id, 1, &title, size);
            tick += 1;
            let at = start + ChronoDuration::minutes(tick * 37);
            sut.create(NewEntity {
                user,
                id,
                title: title.clone(),
                body,
                at: Some(at),
            })
            .await
            .unwrap();
            for v in 2..=rng.random_range(1..4) {
                tick += 1;
                let at = start + ChronoDuration::minutes(tick * 37);
                let size = rng.random_range(300..6000);
                let body = content::body(&mut rng, id, v, &title, size);
                assert_eq!(
                    sut.update(BodyUpdate {
                        id,
                        body,
                        at: Some(at)
                    })
                    .await
                    .unwrap(),
                    v
                );
            }
            ids.push(id);
        }
        out.push((user, ids));
    }
    sut.settle(SETTLE).await.unwrap();
    out
}

#[tokio::test]
async fn both_systems_answer_alike_once_projections_settle() {
    let e = env().await;
    let seeded02 = seed(&e.v02, 3, 8, 42).await;
    let seeded03 = seed(&e.v03, 3, 8, 42).await;
    assert_eq!(seeded02, seeded03);
    let from = Utc.with_ymd_and_hms(2026, 10, 31, 0, 0, 0).unwrap();
    let to = Utc.with_ymd_and_hms(2026, 11, 5, 0, 0, 0).unwrap();
    let mut compared = 0;
    for (user, ids) in &seeded02 {
        let (l2, l3) = (
            e.v02.list(*user, 100).await.unwrap(),
            e.v03.list(*user, 100).await.unwrap(),
        );
        assert_eq!(l2, l3, "list differs for {user:?}");
        assert_eq!(l2.len(), ids.len());
        let (a2, a3) = (
            e.v02.activity(*user, from, to).await.unwrap(),
            e.v03.activity(*user, from, to).await.unwrap(),
        );
        assert_eq!(a2, a3, "activity differs");
        assert!(a2.iter().map(|b| b.events).sum::<i64>() >= ids.len() as i64);
        for id in ids {
            let (g2, g3) = (e.v02.get(*id).await.unwrap(), e.v03.get(*id).await.unwrap());
            assert_eq!(g2.body.as_bytes(), g3.body.as_bytes());
            assert_eq!(
                (g2.title.clone(), g2.version, g2.user),
                (g3.title.clone(), g3.version, g3.user)
            );
            let (h2, h3) = (
                e.v02.history(*id).await.unwrap(),
                e.v03.history(*id).await.unwrap(),
            );
            assert_eq!(h2, h3);
            assert_eq!(h2.len() as i32, g2.version);
            assert_eq!(h2[0].event_type, "entity.created");
            // Search with a passage of this entity's body: same top-5 ids, this one first.
            let query: String = g2
                .body
                .split("\n\n")
                .nth(2)
                .unwrap_or(&g2.title)
                .to_string();
            let (s2, s3) = (
                e.v02.search(*user, &query, 5).await.unwrap(),
                e.v03.search(*user, &query, 5).await.unwrap(),
            );
            let ids2: Vec<_> = s2.iter().map(|h| h.id).collect();
            let ids3: Vec<_> = s3.iter().map(|h| h.id).collect();
            assert_eq!(ids2, ids3, "search top-5 differs for query {query:?}");
            assert_eq!(ids2.len(), 5);
            compared += 1;
        }
    }
    assert_eq!(compared, 24);
    e.stores.shutdown().await.unwrap();
}

async fn copies_of(
    e: &Env,
    sut: &dyn SystemUnderTest,
    sample: &[EntityId],
) -> copies::CopiesReport {
    let pool = health::connect(&e.stores.endpoints.postgres, 2)
        .await
        .unwrap();
    let client = s3::client(&e.stores.endpoints.s3);
    let r = copies::measure(sut, &pool, &client, &e.stores.endpoints.s3.bucket, sample)
        .await
        .unwrap();
    pool.close().await;
    r
}

#[tokio::test]
async fn copies_per_item_is_five_for_v02_and_one_for_v03_and_can_rise() {
    let e = env().await;
    let mut samples = Vec::new();
    for s in systems(&e) {
        let seeded = seed(s, 2, 5, 7).await;
        samples = seeded.iter().flat_map(|(_, ids)| ids.clone()).collect();
    }
    let r02 = copies_of(&e, &e.v02, &samples).await;
    let r03 = copies_of(&e, &e.v03, &samples).await;
    println!("v02 copies: {r02:?}\nv03 copies: {r03:?}");
    assert_eq!((r02.min, r02.max), (5, 5), "{r02:?}");
    assert_eq!(r02.copies_per_item, 5.0);
    for place in [
        "postgres:v02.entities.content",
        "postgres:v02.content_blocks.block",
        "postgres:v02.events.payload",
        "postgres:v02.read_model.content",
        "s3:v02/files",
    ] {
        assert_eq!(
            r02.places.get(place),
            Some(&samples.len()),
            "{place} in {r02:?}"
        );
    }
    assert_eq!((r03.min, r03.max), (1, 1), "{r03:?}");
    assert_eq!(r03.places.get("s3:v03/content"), Some(&samples.len()));

    // One more copy of one body, somewhere the code does not know about: the count rises.
    let pool = health::connect(&e.stores.endpoints.postgres, 1)
        .await
        .unwrap();
    sqlx::query("CREATE TABLE v03.test_extra_copy (note text)")
        .execute(&pool)
        .await
        .unwrap();
    let body = e.v03.get(samples[0]).await.unwrap().body;
    sqlx::query("INSERT INTO v03.test_extra_copy VALUES ($1)")
        .bind(&body)
        .execute(&pool)
        .await
        .unwrap();
    let again = copies_of(&e, &e.v03, &samples).await;
    assert_eq!(again.max, 2, "{again:?}");
    assert_eq!(
        again.places.get("postgres:v03.test_extra_copy.note"),
        Some(&1)
    );
    sqlx::query("DROP TABLE v03.test_extra_copy")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    e.stores.shutdown().await.unwrap();
}

#[tokio::test]
async fn executions_round_trips_and_footprint_are_measured() {
    let e = env().await;
    for s in systems(&e) {
        seed(s, 2, 5, 11).await;
    }
    let writes = {
        let rt = e.v03.round_trips().snapshot();
        rt.per_op[&OpKind::Create].ops + rt.per_op.get(&OpKind::Update).map_or(0, |u| u.ops)
    };
    let (x02, x03) = (e.v02.inngest(), e.v03.inngest());
    println!("writes {writes}; v02 {x02:?}; v03 {x03:?}");
    // V0.2: 4 functions, 6 steps; V0.3: 1 function, 2 steps — per write, no retries here.
    assert_eq!(x02.events, writes);
    assert_eq!(
        (x02.runs, x02.steps, x02.executions),
        (4 * writes, 6 * writes, 10 * writes)
    );
    assert_eq!(
        (x03.runs, x03.steps, x03.executions),
        (writes, 2 * writes, 3 * writes)
    );
    assert!(e.v02.runtime().dead_letters().is_empty() && e.v03.runtime().dead_letters().is_empty());

    let c02 = &e.v02.round_trips().snapshot().per_op[&OpKind::Create];
    let c03 = &e.v03.round_trips().snapshot().per_op[&OpKind::Create];
    println!("create round trips v02 {c02:?}\nv03 {c03:?}");
    assert_eq!(
        (
            c02.per_op(Store::Postgres),
            c02.per_op(Store::S3),
            c02.per_op(Store::Http)
        ),
        (4.0, 0.0, 1.0)
    );
    assert_eq!(c02.background_per_op(Store::S3), 1.0);
    assert!(c02.background_per_op(Store::Postgres) >= 3.0);
    assert_eq!(
        (
            c03.per_op(Store::Postgres),
            c03.per_op(Store::S3),
            c03.per_op(Store::Http)
        ),
        (5.0, 1.0, 1.0)
    );
    assert_eq!(
        (
            c03.background_per_op(Store::S3),
            c03.background_per_op(Store::Postgres)
        ),
        (1.0, 1.0)
    );

    let (f02, f03) = (
        e.v02.footprint().await.unwrap(),
        e.v03.footprint().await.unwrap(),
    );
    println!(
        "footprint v02 {f02:?} amp {:?}\nv03 {f03:?} amp {:?}",
        f02.amplification(),
        f03.amplification()
    );
    assert_eq!(f02.logical_body_bytes, f03.logical_body_bytes);
    assert!(f02.logical_body_bytes > 0);
    // Every version is kept as an object by both (V0.2's file copies, V0.3's content keys).
    assert_eq!(f02.object_count, f03.object_count);
    assert!(
        f03.postgres_relations.contains_key("events"),
        "hypertable measured: {f03:?}"
    );
    assert!(f03.postgres_relations["events"] > 0);
    assert!(f02.amplification().unwrap() > f03.amplification().unwrap());
    e.stores.shutdown().await.unwrap();
}

#[tokio::test]
async fn failing_projector_steps_are_retried_then_dead_lettered() {
    let e = env().await;
    let mut rng = rand::rngs::StdRng::seed_from_u64(3);
    let mk = |rng: &mut rand::rngs::StdRng, u: i64| {
        let id = EntityId(uuid::Uuid::new_v4());
        let title = content::title(rng);
        let body = content::body(rng, id, 1, &title, 1000);
        NewEntity {
            user: UserId(u),
            id,
            title,
            body,
            at: None,
        }
    };
    // Two failures are absorbed by retries: everything still projects.
    e.v03.runtime().fail_next_steps(2);
    let ent = mk(&mut rng, 1);
    e.v03.create(ent.clone()).await.unwrap();
    e.v03.settle(SETTLE).await.unwrap();
    let x = e.v03.inngest();
    assert_eq!(x.retries, 2);
    assert_eq!(
        x.executions,
        3 + 2,
        "retried steps are executions too: {x:?}"
    );
    assert!(
        e.v03
            .search(UserId(1), &ent.body, 1)
            .await
            .unwrap()
            .iter()
            .any(|h| h.id == ent.id)
    );
    assert!(e.v03.runtime().dead_letters().is_empty());

    // More failures than attempts: the run is dead-lettered and reported, not lost.
    e.v02.runtime().fail_next_steps(1000);
    let ent = mk(&mut rng, 2);
    e.v02.create(ent.clone()).await.unwrap();
    e.v02.settle(SETTLE).await.unwrap();
    let dead = e.v02.runtime().dead_letters();
    assert_eq!(dead.len(), 4, "each of the 4 functions gives up: {dead:?}");
    assert!(dead.iter().all(|d| d.error.contains("injected failure")));
    assert_eq!(e.v02.inngest().dead_letters, 4);
    // The write itself was committed; the projections it needed are missing.
    assert_eq!(e.v02.get(ent.id).await.unwrap().body, ent.body);
    assert!(e.v02.list(UserId(2), 10).await.unwrap().is_empty());
    e.v02.runtime().fail_next_steps(0);
    e.stores.shutdown().await.unwrap();
}

#[tokio::test]
async fn hostile_titles_unicode_and_one_megabyte_bodies_round_trip() {
    let e = env().await;
    let titles = [
        "Robert'); DROP TABLE v02.entities;--",
        "Ünïcödé — 日本語のタイトル 🚀 \"quoted\" \\back\\slash",
        "$1 $2 %s {} <script>alert(1)</script>",
    ];
    let mut rng = rand::rngs::StdRng::seed_from_u64(5);
    for (i, t) in titles.iter().enumerate() {
        let id = EntityId(uuid::Uuid::from_u128(1000 + i as u128));
        let mut body = content::body(&mut rng, id, 1, t, if i == 0 { 1 << 20 } else { 5000 });
        body.push_str("\n\nbinary-looking: \u{1}\u{7f}\u{fffd}ÿþ \\x00 ' \" ` ; -- /* */");
        for s in systems(&e) {
            s.create(NewEntity {
                user: UserId(9),
                id,
                title: t.to_string(),
                body: body.clone(),
                at: None,
            })
            .await
            .unwrap();
            s.settle(SETTLE).await.unwrap();
            let got = s.get(id).await.unwrap();
            assert_eq!(got.title, *t, "{}", s.name());
            assert_eq!(got.body, body, "{} body differs", s.name());
            assert!(
                s.list(UserId(9), 10)
                    .await
                    .unwrap()
                    .iter()
                    .any(|x| x.title == *t)
            );
        }
    }
    // A body over a megabyte, measured: V0.2 holds it many times over.
    let (f02, f03) = (
        e.v02.footprint().await.unwrap(),
        e.v03.footprint().await.unwrap(),
    );
    assert!(f02.logical_body_bytes > 1 << 20);
    assert!(f02.stored_bytes() > f03.stored_bytes());
    // Unknown ids are typed errors, not panics.
    let missing = EntityId(uuid::Uuid::new_v4());
    for s in systems(&e) {
        assert_eq!(s.get(missing).await.unwrap_err().kind(), "not_found");
        assert_eq!(
            s.update(BodyUpdate {
                id: missing,
                body: "x".into(),
                at: None
            })
            .await
            .unwrap_err()
            .kind(),
            "not_found"
        );
    }
    e.stores.shutdown().await.unwrap();
}

#[tokio::test]
async fn v03_lists_synchronously_and_both_systems_eventually_search() {
    let e = env().await;
    let r03 = lag::measure(&e.v03, UserId(50), 5, 1, SETTLE)
        .await
        .unwrap();
    let r02 = lag::measure(&e.v02, UserId(50), 5, 1, SETTLE)
        .await
        .unwrap();
    println!("lag v02 {r02:?}\nlag v03 {r03:?}");
    // V0.3 updates the list model in the write's transaction: visible at the first read.
    assert_eq!(r03.list.visible_on_first_read, 5);
    assert_eq!(r03.samples, 5);
    assert_eq!(r02.samples, 5);
    assert!(r02.search.max_ms >= r02.search.p50_ms);
    e.stores.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_store_that_goes_away_is_a_typed_error() {
    let e = env().await;
    let Env {
        stores,
        v02,
        v03,
        _root,
    } = e;
    stores.shutdown().await.unwrap();
    let ent = NewEntity {
        user: UserId(1),
        id: EntityId(uuid::Uuid::new_v4()),
        title: "t".into(),
        body: "b".into(),
        at: None,
    };
    let err = v03.create(ent.clone()).await.unwrap_err();
    assert_eq!(err.kind(), "s3", "{err}");
    let err = v02.create(ent).await.unwrap_err();
    assert_eq!(err.kind(), "postgres", "{err}");
}

const BULK_SCENARIO: &str = r#"
name = "bulk"
rng_seed = 31
systems = ["v02", "v03"]
[seeding]
users = 3
entities_per_user = 7
body_bytes = { median = 2000, p99 = 20000 }
versions_per_entity = { min = 1, max = 4 }
history_days = 3
concurrency = 8
[mix]
get = 1
[[phase]]
name = "x"
model = "open"
rate = 1
duration = "1s"
"#;

/// The bulk path (COPY, concurrent PUTs) must leave what the ops leave: seed one
/// system each way, compare everything observable, then swap.
#[tokio::test]
async fn bulk_seeding_leaves_what_the_ops_would() {
    use archbench::loadgen::seed::{SeedPath, SeedProgress, seed};
    use std::sync::Arc;
    let root = common::run_root();
    let stores = LocalProvisioner
        .provision(&common::local_opts(root.path()))
        .await
        .unwrap();
    let cfg = SystemConfig::default();
    let v02: Arc<dyn SystemUnderTest> =
        Arc::new(V02::connect(&stores.endpoints, &cfg).await.unwrap());
    let v03: Arc<dyn SystemUnderTest> =
        Arc::new(V03::connect(&stores.endpoints, &cfg).await.unwrap());
    let scn = archbench::scenario::parse(BULK_SCENARIO, std::path::Path::new("bulk.toml")).unwrap();
    let end = Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0).unwrap();
    for (p02, p03) in [
        (SeedPath::Auto, SeedPath::Ops),
        (SeedPath::Ops, SeedPath::Auto),
    ] {
        for s in [&v02, &v03] {
            s.prepare().await.unwrap();
            s.reset().await.unwrap();
        }
        let k02 = seed(
            v02.clone(),
            &scn,
            end,
            Arc::new(SeedProgress::default()),
            p02,
        )
        .await
        .unwrap();
        let k03 = seed(
            v03.clone(),
            &scn,
            end,
            Arc::new(SeedProgress::default()),
            p03,
        )
        .await
        .unwrap();
        assert_eq!(k02.entities, k03.entities);
        for user in &k02.users {
            assert_eq!(
                v02.list(*user, 100).await.unwrap(),
                v03.list(*user, 100).await.unwrap()
            );
            let (from, to) = (end - ChronoDuration::days(4), end);
            assert_eq!(
                v02.activity(*user, from, to).await.unwrap(),
                v03.activity(*user, from, to).await.unwrap()
            );
        }
        for (user, id) in &k02.entities {
            let (a, b) = (v02.get(*id).await.unwrap(), v03.get(*id).await.unwrap());
            assert_eq!(a, b);
            assert_eq!(
                v02.history(*id).await.unwrap(),
                v03.history(*id).await.unwrap()
            );
            let q = a.body.split("\n\n").nth(1).unwrap_or(&a.title).to_string();
            let ids = |hits: Vec<archbench::arch::SearchHit>| {
                hits.into_iter().map(|h| h.id).collect::<Vec<_>>()
            };
            assert_eq!(
                ids(v02.search(*user, &q, 5).await.unwrap()),
                ids(v03.search(*user, &q, 5).await.unwrap())
            );
        }
        let (f02, f03) = (
            v02.footprint().await.unwrap(),
            v03.footprint().await.unwrap(),
        );
        assert_eq!(f02.logical_body_bytes, f03.logical_body_bytes);
        let pool = health::connect(&stores.endpoints.postgres, 2)
            .await
            .unwrap();
        let client = s3::client(&stores.endpoints.s3);
        let sample: Vec<EntityId> = k02.entities.iter().take(10).map(|(_, id)| *id).collect();
        let c02 = copies::measure(
            v02.as_ref(),
            &pool,
            &client,
            &stores.endpoints.s3.bucket,
            &sample,
        )
        .await
        .unwrap();
        let c03 = copies::measure(
            v03.as_ref(),
            &pool,
            &client,
            &stores.endpoints.s3.bucket,
            &sample,
        )
        .await
        .unwrap();
        assert_eq!(
            (c02.min, c02.max, c03.min, c03.max),
            (5, 5, 1, 1),
            "{c02:?} {c03:?}"
        );
        pool.close().await;
    }
    drop((v02, v03));
    stores.shutdown().await.unwrap();
}
