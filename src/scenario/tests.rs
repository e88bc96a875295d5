use std::path::Path;

use super::*;

const VALID: &str = r#"
name = "t"
rng_seed = 1
systems = ["v02", "v03"]

[seeding]
users = 2
entities_per_user = 3
body_bytes = { median = 2000, p99 = 20000 }
versions_per_entity = { min = 1, max = 3 }
history_days = 7

[mix]
get = 5
list = 2
create = 1

[keys]
distribution = "zipf"
exponent = 0.99

[[phase]]
name = "warmup"
model = "open"
rate = 20
duration = "2s"
record = false

[[phase]]
name = "steady"
model = "open"
rate = 50
ramp_to = 100
arrival = "poisson"
duration = "30s"

[[phase]]
name = "closed"
model = "closed"
concurrency = 4
think_time = "10ms"
duration = "2m"
"#;

fn err(src: &str) -> String {
    parse(src, Path::new("scenarios/x.toml"))
        .unwrap_err()
        .to_string()
}

fn replace(from: &str, to: &str) -> String {
    assert!(VALID.contains(from), "fixture lacks {from}");
    VALID.replacen(from, to, 1)
}

#[test]
fn a_valid_scenario_parses_with_normalised_weights_and_durations() {
    let s = parse(VALID, Path::new("x.toml")).unwrap();
    assert_eq!(s.phases.len(), 3);
    assert_eq!(s.phases[2].duration, std::time::Duration::from_secs(120));
    assert!(!s.phases[0].record);
    assert!((s.mix.values().sum::<f64>() - 1.0).abs() < 1e-9);
    assert!((s.mix[&crate::arch::OpKind::Get] - 0.625).abs() < 1e-9);
    assert_eq!(s.seeded_entities(), 6);
    assert!(
        matches!(s.phases[1].workload, Workload::Open { rate, ramp_to, arrival: Arrival::Poisson } if rate == 50.0 && ramp_to == 100.0)
    );
    assert_eq!(s.hash.len(), 64);
}

#[test]
fn wrong_type_names_line_column_and_field() {
    let e = err(&replace("users = 2", "users = \"two\""));
    assert!(e.starts_with("scenarios/x.toml:7:9: users:"), "{e}");
    assert!(e.contains("expected i64"), "{e}");
}

#[test]
fn unknown_key_is_rejected_with_the_allowed_ones() {
    let e = err(&replace(
        "history_days = 7",
        "history_days = 7\nhistory_dayz = 3",
    ));
    assert!(e.contains("scenarios/x.toml:12:"), "{e}");
    assert!(e.contains("unknown field `history_dayz`"), "{e}");
    assert!(
        e.contains("history_days"),
        "expected the allowed keys in: {e}"
    );
}

#[test]
fn negative_rate_is_refused() {
    let e = err(&replace("rate = 50", "rate = -5"));
    assert!(
        e.contains(":32:8: phase[1].rate: must be > 0 ops/s, got -5"),
        "{e}"
    );
}

#[test]
fn weights_summing_to_zero_are_refused() {
    let e = err(&replace(
        "get = 5\nlist = 2\ncreate = 1",
        "get = 0\nlist = 0",
    ));
    assert!(e.contains("mix: weights sum to zero"), "{e}");
    assert!(e.contains("x.toml:13:1:"), "{e}");
}

#[test]
fn negative_weight_and_unknown_op_are_refused() {
    assert!(err(&replace("list = 2", "list = -2")).contains("mix.list: weight must be >= 0"));
    assert!(
        err(&replace("list = 2", "lists = 2"))
            .contains("mix.lists: unknown op; allowed: create, update")
    );
}

#[test]
fn malformed_durations_are_refused_and_units_accepted() {
    let e = err(&replace("duration = \"30s\"", "duration = \"30 parsecs\""));
    assert!(e.contains(":35:12: duration:"), "{e}");
    assert!(e.contains("\"30s\", \"2m\""), "{e}");
    let e = err(&replace("duration = \"30s\"", "duration = 30"));
    assert!(e.contains("duration"), "{e}");
    for ok in ["\"500ms\"", "\"2m\"", "\"1h\"", "\"30s\""] {
        parse(
            &replace("duration = \"30s\"", &format!("duration = {ok}")),
            Path::new("x"),
        )
        .unwrap();
    }
}

#[test]
fn impossible_combinations_are_explained() {
    let e = err(&replace("concurrency = 4", "concurrency = 4\nrate = 10"));
    assert!(
        e.contains("phase[2].rate: `rate` belongs to the open model"),
        "{e}"
    );
    let e = err(&replace("ramp_to = 100", "ramp_to = 100\nconcurrency = 3"));
    assert!(
        e.contains("phase[1].concurrency: an open-model phase is driven by `rate`"),
        "{e}"
    );
    let e = err(&replace("rate = 20\n", ""));
    assert!(
        e.contains("phase[0].rate: an open-model phase needs `rate`"),
        "{e}"
    );
    let e = err(&replace(
        "distribution = \"zipf\"\nexponent = 0.99",
        "distribution = \"uniform\"\nexponent = 0.99",
    ));
    assert!(
        e.contains("keys.exponent: only zipf takes an exponent"),
        "{e}"
    );
    let e = err(&replace("min = 1, max = 3", "min = 3, max = 1"));
    assert!(
        e.contains("seeding.versions_per_entity: needs 1 <= min <= max"),
        "{e}"
    );
    let e = err(&replace("record = false\n", "record = false\n")
        .replace("duration = \"30s\"", "duration = \"30s\"\nrecord = false")
        .replace("duration = \"2m\"", "duration = \"2m\"\nrecord = false"));
    assert!(e.contains("nothing would be measured"), "{e}");
}

#[test]
fn sweep_sizes_are_read_and_checked() {
    let s = parse(
        &format!("{VALID}\n[sweep]\nusers = [1, 5, 20]\n"),
        Path::new("x"),
    )
    .unwrap();
    assert_eq!(s.sweep_users, vec![1, 5, 20]);
    let e = err(&format!("{VALID}\n[sweep]\nusers = [3, 0]\n"));
    assert!(
        e.contains("sweep.users: list one or more user counts"),
        "{e}"
    );
}

#[test]
fn unknown_system_and_model_are_named() {
    let e = err(&replace("[\"v02\", \"v03\"]", "[\"v02\", \"v04\"]"));
    assert!(e.contains("systems: unknown system `v04`"), "{e}");
    let e = err(&replace("model = \"closed\"", "model = \"half-open\""));
    assert!(
        e.contains("unknown variant `half-open`") && e.contains("open") && e.contains("closed"),
        "{e}"
    );
}

#[test]
fn shipped_scenarios_are_valid() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.extension().is_some_and(|e| e == "toml") {
            load(&p).unwrap_or_else(|e| panic!("{e}"));
            n += 1;
        }
    }
    assert!(
        n >= 3,
        "expected smoke, decision-doc and scale-sweep scenarios"
    );
}

#[test]
fn two_phases_of_one_name_are_refused_at_the_second() {
    let e = err(&replace("name = \"closed\"", "name = \"steady\""));
    assert!(
        e.contains("phase[2].name: `steady` is already the name of phase[1]"),
        "{e}"
    );
    assert!(
        e.contains("x.toml:37:1:"),
        "the second phase's [[phase]] header: {e}"
    );
}

#[test]
fn loads_past_what_the_machine_can_issue_or_hold_are_refused() {
    let e = err(&replace("rate = 50", "rate = 5000000"));
    assert!(
        e.contains("phase[1].rate: at most 50000 ops/s") && e.contains(":32:8:"),
        "{e}"
    );
    let e = err(&replace("ramp_to = 100", "ramp_to = 1e9"));
    assert!(e.contains(".ramp_to: at most 50000 ops/s"), "{e}");
    let e = err(&replace("concurrency = 4", "concurrency = 1000000"));
    assert!(e.contains(".concurrency: at most 10000 users"), "{e}");
    let e = err(&replace("p99 = 20000", "p99 = 1e12"));
    assert!(e.contains("seeding.body_bytes.p99: at most"), "{e}");
}

#[test]
fn faults_and_the_error_budget_are_read_and_checked() {
    let with = |extra: &str| format!("{VALID}\n{extra}");
    let fault = |target: &str, action: &str, at: &str, down: &str| {
        format!(
            "[[fault]]\ntarget = \"{target}\"\naction = \"{action}\"\nat = \"{at}\"\nfor = \"{down}\"\n"
        )
    };
    let s = parse(
        &with(&format!(
            "{}{}[slo]\nmax_error_rate = 0.02\n",
            fault("postgres", "kill", "10s", "5s"),
            fault("emulator", "pause", "12s", "3s")
        )),
        Path::new("x.toml"),
    )
    .unwrap();
    assert_eq!(s.faults.len(), 2);
    assert_eq!(s.faults[0].describe(), "postgres kill at 10s for 5s");
    assert_eq!(s.slo.unwrap().max_error_rate, 0.02);
    assert!(parse(VALID, Path::new("x.toml")).unwrap().faults.is_empty());

    let e = err(&with(&fault("redis", "kill", "10s", "5s")));
    assert!(
        e.contains(
            "fault[0].target: unknown target `redis`; one of: postgres, object_store, emulator"
        ),
        "{e}"
    );
    assert!(e.contains("x.toml:45:10:"), "the target's value: {e}");
    let e = err(&with(&fault("postgres", "stop", "10s", "5s")));
    assert!(
        e.contains("fault[0].action: unknown action `stop`; one of: kill, pause"),
        "{e}"
    );
    let e = err(&with(&fault("postgres", "kill", "10s", "0s")));
    assert!(e.contains("fault[0].for: must be above zero"), "{e}");
    // The measured phases last 2m 30s (the warm-up does not count).
    let e = err(&with(&fault("postgres", "kill", "2m 28s", "2s")));
    assert!(
        e.contains(
            "fault[0].at: the fault ends at 2m 30s into the measured phases, which last 2m 30s"
        ),
        "{e}"
    );
    let e = err(&with(&format!(
        "{}{}",
        fault("object_store", "kill", "10s", "5s"),
        fault("object_store", "pause", "14s", "1s")
    )));
    assert!(
        e.contains("fault[1].at: overlaps `object_store kill at 10s for 5s`"),
        "{e}"
    );
    let e = err(&with("[slo]\nmax_error_rate = 5\n"));
    assert!(
        e.contains("slo.max_error_rate: must be a share of ops within 0..=1"),
        "{e}"
    );
}

#[test]
fn search_quality_settings_are_checked_against_the_data() {
    let with = |table: &str| format!("{VALID}\n[search_quality]\n{table}\n");
    let s = parse(&with("queries = 6"), Path::new("x.toml")).unwrap();
    let probe = s.search_quality.unwrap();
    assert_eq!((probe.queries, probe.k), (6, None));
    assert_eq!(probe.ef_search, [10, 20, 40, 80, 100, 200, 400]);
    assert!(probe.variants);
    // The default query count is capped by the data (2 users × 3 entities).
    let s = parse(&with(""), Path::new("x.toml")).unwrap();
    assert_eq!(s.search_quality.unwrap().queries, 6);

    // A query set larger than the data: the field, its line, and the most allowed.
    let e = parse(&with("queries = 7"), Path::new("scenarios/x.toml"))
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("scenarios/x.toml:45:11: search_quality.queries:"),
        "{e}"
    );
    assert!(e.contains("larger than the data; at most 6"), "{e}");
    for (table, field) in [
        ("ef_search = [40, 20]", "search_quality.ef_search"),
        ("ef_search = [2000]", "search_quality.ef_search"),
        ("k = 0", "search_quality.k"),
        ("max_partial_users = 0", "search_quality.max_partial_users"),
        ("querys = 3", "querys"),
    ] {
        let e = parse(&with(table), Path::new("x.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains(field), "{table}: {e}");
    }
}
