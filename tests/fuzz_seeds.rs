//! A short seeded run of every fuzz target (`fuzz/`, cargo-fuzz): each committed corpus
//! input and a few thousand deterministic mutations of it go through the same parser
//! the fuzz target calls. None may panic; each returns a value or an error. The long
//! runs are `cargo fuzz run TARGET` (README, Fuzzing).

use std::path::Path;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

type Target = fn(&[u8]);

fn text(data: &[u8]) -> Option<&str> {
    std::str::from_utf8(data).ok()
}

const TARGETS: [(&str, Target); 7] = [
    ("scenario", |d| {
        if let Some(t) = text(d) {
            let _ = archbench::scenario::parse(t, Path::new("fuzz.toml"));
        }
    }),
    ("catalogue", |d| {
        if let Some(t) = text(d) {
            let _ = archbench::cost::catalogue::parse(t, Path::new("fuzz.toml"));
        }
    }),
    ("cost_model", |d| {
        if let Some(t) = text(d) {
            let _ = archbench::cost::CostModel::parse(t, Path::new("fuzz.toml"));
        }
    }),
    ("targets", |d| {
        if let Some(t) = text(d) {
            let _ = archbench::verdict::Targets::parse(t, Path::new("fuzz.toml"));
        }
    }),
    ("results", |d| {
        let _ = archbench::results::Results::parse(d, Path::new("fuzz.json"));
    }),
    ("interval_log", |d| {
        let _ = archbench::loadgen::interval_log::merge_interval_logs(&[d.to_vec()]);
        let _ = archbench::loadgen::interval_log::interval_log_seconds(d);
    }),
    ("actuals", |d| {
        if let Some(t) = text(d) {
            let _ = archbench::cost::actuals::Actuals::parse(t, Path::new("fuzz.toml"));
        }
    }),
];

/// Mutations per target, spread over its corpus.
const MUTATIONS: usize = 3_000;

/// One random edit of `input`: a flipped byte, a deleted or repeated range, inserted
/// bytes (often TOML/JSON punctuation), or a truncation.
fn mutate(input: &[u8], rng: &mut StdRng) -> Vec<u8> {
    let mut v = input.to_vec();
    if v.is_empty() {
        return vec![rng.random()];
    }
    let at = rng.random_range(0..v.len());
    match rng.random_range(0..5) {
        0 => v[at] ^= 1 << rng.random_range(0..8),
        1 => {
            let end = (at + rng.random_range(1..64)).min(v.len());
            v.drain(at..end);
        }
        2 => {
            let end = (at + rng.random_range(1..64)).min(v.len());
            let copy = v[at..end].to_vec();
            v.splice(at..at, copy);
        }
        3 => {
            const PUNCT: &[u8] = b"[]{}=\"',.:#\n-+0e9";
            for _ in 0..rng.random_range(1..8) {
                v.insert(at, PUNCT[rng.random_range(0..PUNCT.len())]);
            }
        }
        _ => v.truncate(at),
    }
    v
}

#[test]
fn every_fuzz_target_survives_its_corpus_and_mutations_of_it() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
    for (name, target) in TARGETS {
        let mut inputs: Vec<Vec<u8>> = std::fs::read_dir(root.join(name))
            .unwrap_or_else(|e| panic!("fuzz/corpus/{name}: {e}"))
            .flatten()
            .map(|e| std::fs::read(e.path()).unwrap())
            .collect();
        assert!(!inputs.is_empty(), "fuzz/corpus/{name} is empty");
        inputs.sort();
        let mut rng = StdRng::seed_from_u64(0xf022);
        let seeds = inputs.clone();
        let mut current = seeds[0].clone();
        for i in 0..MUTATIONS {
            // Mutations stack, and start over from another corpus input now and then.
            current = if i % 8 == 0 {
                mutate(&seeds[rng.random_range(0..seeds.len())], &mut rng)
            } else {
                mutate(&current, &mut rng)
            };
            inputs.push(current.clone());
        }
        for (i, input) in inputs.iter().enumerate() {
            let ran = std::panic::catch_unwind(|| target(input));
            assert!(
                ran.is_ok(),
                "fuzz target `{name}` panicked on input {i}: {:?}",
                String::from_utf8_lossy(&input[..input.len().min(400)])
            );
        }
    }
}
