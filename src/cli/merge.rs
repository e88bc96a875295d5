//! `archbench merge`: HdrHistogram interval logs of runs or agents, merged and printed
//! as percentiles per op.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::loadgen::interval_log::merge_interval_logs;
use crate::loadgen::record::Percentiles;

/// Merges the interval logs at `paths` and prints percentiles (ms) per op, or JSON.
pub fn merge(paths: &[PathBuf], json: bool, out: &mut impl std::io::Write) -> anyhow::Result<()> {
    let mut inputs = Vec::new();
    for p in paths {
        inputs.push(std::fs::read(p).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?);
    }
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
