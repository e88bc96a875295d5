//! The HdrHistogram interval logs a run writes beside `results.json`, read back as one
//! histogram per system and op (the full latency distribution behind the summary
//! percentiles) and, for systems that met faults, one per second (latency over time).

use std::collections::BTreeMap;
use std::path::Path;

use hdrhistogram::Histogram;

use super::Results;
use crate::loadgen::interval_log::{interval_log_seconds, merge_interval_logs};

/// Per system, per op name, every interval of the run merged; and per system that met
/// faults, every op merged per second.
#[derive(Debug, Default)]
pub struct IntervalLogs {
    merged: BTreeMap<String, BTreeMap<String, Histogram<u64>>>,
    seconds: BTreeMap<String, BTreeMap<u64, Histogram<u64>>>,
}

impl IntervalLogs {
    /// Reads the interval log of each of `systems` from `dir`. A log that is missing or
    /// unreadable is left out: the summary percentiles in the results still stand.
    pub fn read(results: &Results, dir: &Path, systems: &[&str]) -> IntervalLogs {
        let mut logs = IntervalLogs::default();
        for name in systems {
            let Some(system) = results.systems.get(*name) else {
                continue;
            };
            let Some(Ok(bytes)) = system
                .interval_log
                .as_ref()
                .map(|f| std::fs::read(dir.join(f)))
            else {
                continue;
            };
            if !system.faults.is_empty()
                && let Ok(seconds) = interval_log_seconds(&bytes)
            {
                logs.seconds.insert(name.to_string(), seconds);
            }
            if let Ok(merged) = merge_interval_logs(&[bytes]) {
                logs.merged.insert(name.to_string(), merged);
            }
        }
        logs
    }

    /// Latency per second of `system` (every op), when it met faults and its log was read.
    pub fn seconds(&self, system: &str) -> Option<&BTreeMap<u64, Histogram<u64>>> {
        self.seconds.get(system)
    }

    /// The merged histogram of `op` of `system`, when its log was read and holds values.
    pub fn histogram(&self, system: &str, op: &str) -> Option<&Histogram<u64>> {
        self.merged
            .get(system)
            .and_then(|m| m.get(op))
            .filter(|h| !h.is_empty())
    }

    /// Every op of `system` merged into one histogram: the mix's latency.
    pub fn mix(&self, system: &str) -> Option<Histogram<u64>> {
        let mut ops = self.merged.get(system)?.values().filter(|h| !h.is_empty());
        let mut all = ops.next()?.clone();
        for h in ops {
            // Histograms of one log share their bounds; one that does not fit is
            // left out rather than failing the report.
            let _ = all.add(h);
        }
        Some(all)
    }
}
