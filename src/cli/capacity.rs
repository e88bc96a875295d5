//! `archbench capacity`: the search's settings checked, the search run, its table
//! printed and `capacity.json` named.

use super::exit::UsageError;
use crate::probes::capacity::Search;
use crate::probes::capacity_file::{markdown, sweep_markdown};
use crate::run::capacity::{CapacityOptions, capacity as search_capacity};

/// The search's settings, or a usage error naming the flag.
pub fn search(
    start_rate: f64,
    max_rate: f64,
    precision: f64,
    max_steps: usize,
) -> Result<Search, UsageError> {
    if !(start_rate.is_finite() && start_rate > 0.0) {
        return Err(UsageError(format!(
            "--start-rate: must be > 0 ops/s, got {start_rate}"
        )));
    }
    if !(max_rate.is_finite() && max_rate >= start_rate && max_rate <= 50_000.0) {
        return Err(UsageError(format!(
            "--max-rate: must be at least --start-rate and at most 50,000 ops/s (the generator's ceiling), got {max_rate}"
        )));
    }
    if !(precision.is_finite() && precision > 1.0 && precision <= 2.0) {
        return Err(UsageError(format!(
            "--precision: a factor in (1, 2], e.g. 1.1 for within 10%, got {precision}"
        )));
    }
    if max_steps < 2 {
        return Err(UsageError(format!(
            "--max-steps: at least 2, got {max_steps}"
        )));
    }
    Ok(Search {
        start_rate,
        max_rate,
        precision,
        max_steps,
    })
}

/// The sweep's sizes: at least two distinct sizes, each from 10 to 10M entities.
pub fn sweep(sizes: Vec<u64>) -> Result<Vec<u64>, UsageError> {
    if let Some(bad) = sizes.iter().find(|n| !(10..=10_000_000).contains(*n)) {
        return Err(UsageError(format!(
            "--sweep: each size is a number of entities from 10 to 10,000,000, got {bad}"
        )));
    }
    let mut distinct = sizes.clone();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() == 1 {
        return Err(UsageError(format!(
            "--sweep: a sweep needs at least two sizes, got only {}; for one size, set the scenario's [seeding] instead",
            distinct[0]
        )));
    }
    Ok(distinct)
}

/// Runs the search, prints the tables and where the capacity files are.
pub async fn capacity(
    options: CapacityOptions,
    out: &mut (impl std::io::Write + Send),
) -> anyhow::Result<()> {
    let written = search_capacity(options, out).await?;
    for (path, report) in &written {
        writeln!(out, "{}", markdown(report))?;
        writeln!(out, "capacity: {}", path.display())?;
    }
    let reports: Vec<_> = written.into_iter().map(|(_, r)| r).collect();
    if reports.len() > 1 {
        writeln!(out, "{}", sweep_markdown(&reports))?;
    }
    if reports.iter().any(|r| !r.complete) {
        return Err(crate::shutdown::Interrupted.into());
    }
    Ok(())
}
