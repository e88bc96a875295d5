//! `archbench merge`: HdrHistogram interval logs of runs or agents, merged and printed
//! as percentiles per op. Agents' logs (`run --agent`) merge only as a whole set: one
//! run, every agent once (its latest attempt); histograms are added, never their
//! percentiles averaged.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::UsageError;
use crate::loadgen::agent::{self, LogKey};
use crate::loadgen::interval_log::merge_interval_logs;
use crate::loadgen::record::Percentiles;

/// Merges the interval logs at `paths` and prints percentiles (ms) per op, or JSON.
pub fn merge(paths: &[PathBuf], json: bool, out: &mut impl std::io::Write) -> anyhow::Result<()> {
    let mut inputs = Vec::new();
    for p in paths {
        inputs.push(std::fs::read(p).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?);
    }
    let keys: Vec<Option<LogKey>> = inputs.iter().map(|b| LogKey::find(b)).collect();
    let names: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    let chosen = agent::choose(&keys, &names).map_err(|e| UsageError(e.to_string()))?;
    if chosen.len() < inputs.len() {
        let left: Vec<&str> = (0..inputs.len())
            .filter(|i| !chosen.contains(i))
            .map(|i| names[i].as_str())
            .collect();
        eprintln!(
            "archbench merge: left out earlier attempts: {}",
            left.join(", ")
        );
    }
    let inputs: Vec<Vec<u8>> = chosen
        .into_iter()
        .map(|i| std::mem::take(&mut inputs[i]))
        .collect();
    let merged = merge_interval_logs(&inputs).map_err(|e| {
        anyhow::anyhow!(
            "{e} ({})",
            paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )
    })?;
    let table: BTreeMap<String, (u64, Percentiles)> = merged
        .iter()
        .map(|(k, h)| (k.clone(), (h.len(), Percentiles::of(h))))
        .collect();
    if json {
        serde_json::to_writer_pretty(&mut *out, &table)?;
        writeln!(out)?;
        return Ok(());
    }
    writeln!(
        out,
        "{:<10} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "op", "count", "p50 ms", "p90 ms", "p99 ms", "p99.9 ms", "max ms"
    )?;
    for (op, (n, p)) in &table {
        let ms = |v: u64| v as f64 / 1e3;
        writeln!(
            out,
            "{op:<10} {n:>9} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>9.2}",
            ms(p.p50),
            ms(p.p90),
            ms(p.p99),
            ms(p.p999),
            ms(p.max)
        )?;
    }
    Ok(())
}
