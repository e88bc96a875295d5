//! `archbench capacity`: the search's settings checked, the search run, its table
//! printed and `capacity.json` named.

use super::exit::UsageError;
use crate::probes::capacity::Search;
use crate::run::capacity::{CapacityOptions, capacity as search_capacity, markdown};

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

/// Runs the search, prints the table and where capacity.json is.
pub async fn capacity(
    options: CapacityOptions,
    out: &mut (impl std::io::Write + Send),
) -> anyhow::Result<()> {
    let (path, report) = search_capacity(options, out).await?;
    writeln!(out, "{}", markdown(&report))?;
    writeln!(out, "capacity: {}", path.display())?;
    if !report.complete {
        return Err(crate::shutdown::Interrupted.into());
    }
    Ok(())
}
