//! Stage 2, seed: every system gets its schema, is emptied, and is seeded with the same
//! data and the same history end; the key space of the first is the run's.

use std::sync::Arc;

use anyhow::Context;
use chrono::{DateTime, Utc};

use super::connect::System;
use super::progress;
use crate::loadgen::plan::KeySpace;
pub(super) use crate::loadgen::seed::SeedPath;
use crate::loadgen::seed::{SeedProgress, seed};
use crate::scenario::Scenario;

/// Prepares, resets and seeds each system in turn; counters are zeroed afterwards.
pub(super) async fn seed_systems(
    systems: &[System],
    scenario: &Scenario,
    history_end: DateTime<Utc>,
    path: SeedPath,
    out: &mut (impl std::io::Write + Send),
) -> anyhow::Result<Arc<KeySpace>> {
    let mut space: Option<Arc<KeySpace>> = None;
    for s in systems {
        s.sut
            .prepare()
            .await
            .with_context(|| format!("{}: preparing the schema", s.name))?;
        s.sut
            .reset()
            .await
            .with_context(|| format!("{}: clearing earlier data", s.name))?;
        writeln!(
            out,
            "{}: seeding {} entities",
            s.name,
            scenario.seeded_entities()
        )?;
        let seeded = Arc::new(SeedProgress::default());
        let ticker =
            progress::seed_ticker(s.name.clone(), seeded.clone(), scenario.seeded_entities());
        let keys = seed(s.sut.clone(), scenario, history_end, seeded, path)
            .await
            .with_context(|| format!("{}: seeding", s.name));
        ticker.abort();
        let keys = keys?;
        s.sut.clear_counters();
        space.get_or_insert_with(|| Arc::new(keys));
    }
    space.context("a run has at least one system")
}
