//! The HdrHistogram interval logs a run writes beside `results.json`, read back as one
//! histogram per system and op: the full latency distribution behind the summary
//! percentiles.

use std::collections::BTreeMap;
use std::path::Path;

use hdrhistogram::Histogram;

use super::Results;
use crate::loadgen::interval_log::merge_interval_logs;

/// Per system, per op name: every interval of the run merged.
#[derive(Debug, Default)]
pub struct IntervalLogs(BTreeMap<String, BTreeMap<String, Histogram<u64>>>);

impl IntervalLogs {
    /// Reads the interval log of each of `systems` from `dir`. A log that is missing or
    /// unreadable is left out: the summary percentiles in the results still stand.
    pub fn read(results: &Results, dir: &Path, systems: &[&str]) -> IntervalLogs {
        let mut logs = BTreeMap::new();
        for name in systems {
            if let Some(file) = results
                .systems
                .get(*name)
                .and_then(|s| s.interval_log.as_ref())
                && let Ok(bytes) = std::fs::read(dir.join(file))
                && let Ok(merged) = merge_interval_logs(&[bytes])
            {
                logs.insert(name.to_string(), merged);
            }
        }
        IntervalLogs(logs)
    }

    /// The merged histogram of `op` of `system`, when its log was read and holds values.
    pub fn histogram(&self, system: &str, op: &str) -> Option<&Histogram<u64>> {
        self.0
            .get(system)
            .and_then(|m| m.get(op))
            .filter(|h| !h.is_empty())
    }
}
