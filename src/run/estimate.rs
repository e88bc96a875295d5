//! Before anything starts: what a run will do and need — ops, bytes stored, disk and
//! memory — from the scenario alone, and whether this machine (or the caller's limits)
//! can hold it. `run --dry-run` prints it; `run` refuses a scenario that does not fit.

use std::path::Path;

use serde::Serialize;

use super::OptionError;
use super::machine::{available_memory, free_disk};
use crate::loadgen::record::histogram;
use crate::numbers::bytes;
use crate::scenario::{Scenario, Workload};

/// Limits the caller sets beyond what the machine has.
#[derive(Debug, Clone, Copy, Default)]
pub struct Limits {
    /// Most memory the run may need, bytes.
    pub max_memory: Option<u64>,
    /// Most disk the stores may fill, bytes.
    pub max_disk: Option<u64>,
}

/// What a run is expected to do and need.
#[derive(Debug, Clone, Serialize)]
pub struct Estimate {
    /// Systems run.
    pub systems: usize,
    /// Systems that keep data in the stores.
    pub stored_systems: usize,
    /// Repetitions per system.
    pub repeat: usize,
    /// Entities seeded per system.
    pub seeded_entities: u64,
    /// Ops of the open-model phases, all systems and repetitions.
    pub open_ops: u64,
    /// Closed-model phases, whose op count depends on the system's speed.
    pub closed_phases: usize,
    /// Body bytes written (seed and load), per system that uses stores.
    pub body_bytes: u64,
    /// Disk the stores will fill, all systems.
    pub disk_bytes: u64,
    /// archbench's own memory at its peak.
    pub memory_bytes: u64,
}

/// Stored bytes per body byte written (seed and load, every version): in the default
/// suite V0.2 held 2.2× (587 MB for 264 MB: five copies, TOAST-compressed, indexes,
/// events) and V0.3 1.3×; rounded up.
const STORED_PER_BODY_BYTE: f64 = 3.0;
/// A PostgreSQL cluster and an object-store volume before any data.
const EMPTY_STORES_BYTES: u64 = 200_000_000;
/// Bytes per synthetic event the growth probe adds (row, index entries, payload).
const GROWTH_EVENT_BYTES: u64 = 400;
/// Bytes per vector the search-quality probe's scratch copy holds while its designs
/// are built: the row (384 × 4 bytes and a header) and an HNSW entry about as large.
const SEARCH_PROBE_VECTOR_BYTES: u64 = 4_000;
/// Copies of a body an op in flight holds (the op, the row, the event payload, the
/// projector's step input).
const BODY_COPIES_IN_FLIGHT: u64 = 4;
/// Entities per bulk seeding batch, and bytes per key-space entry (both vectors).
const SEED_BATCH: u64 = 250;
const KEY_BYTES: u64 = 64;
/// A compressed second of one op's latency histogram (a few hundred bytes to a few KB).
const COMPRESSED_SECOND_BYTES: u64 = 4_000;
/// The process without any of the above: runtime, pools, clients.
const BASE_MEMORY_BYTES: u64 = 100_000_000;

impl Estimate {
    /// The estimate for `scenario` run on `systems` systems (`stored` of them on the
    /// stores), `repeat` times each.
    pub fn of(scenario: &Scenario, systems: usize, stored: usize, repeat: usize) -> Estimate {
        let s = &scenario.seeding;
        let entities = scenario.seeded_entities();
        let mean_versions = (s.versions_min + s.versions_max) as f64 / 2.0;
        let body = mean_body_bytes(s.body_median_bytes, s.body_p99_bytes);
        let runs = (systems * repeat) as f64;
        let mut open_ops = 0.0;
        let mut recorded_seconds = 0.0;
        let mut closed_phases = 0;
        for p in &scenario.phases {
            match p.workload {
                Workload::Open { rate, ramp_to, .. } => {
                    open_ops += (rate + ramp_to) / 2.0 * p.duration.as_secs_f64() * runs
                }
                Workload::Closed { .. } => closed_phases += 1,
            }
            if p.record {
                recorded_seconds += p.duration.as_secs_f64().ceil();
            }
        }
        let write_share = ["create", "update"]
            .iter()
            .filter_map(|k| scenario.mix.iter().find(|(op, _)| op.name() == *k))
            .map(|(_, w)| *w)
            .sum::<f64>();
        let load_bodies = open_ops / runs.max(1.0) * repeat as f64 * write_share * body;
        let body_bytes = (entities as f64 * mean_versions * body + load_bodies) as u64;
        let probe_events = scenario.growth.as_ref().map_or(0.0, |g| {
            g.factors.last().copied().unwrap_or(0.0) * entities as f64 * mean_versions
        });
        // One system's copy at a time: it is dropped before the next system's probe.
        let search_probe = scenario
            .search_quality
            .as_ref()
            .map_or(0, |_| entities * SEARCH_PROBE_VECTOR_BYTES);
        let disk_bytes = stored as u64
            * ((body_bytes as f64 * STORED_PER_BODY_BYTE) as u64
                + probe_events as u64 * GROWTH_EVENT_BYTES)
            + if stored > 0 {
                EMPTY_STORES_BYTES
                    + search_probe
                    + scenario.event_log.as_ref().map_or(0, |e| e.disk_estimate())
            } else {
                0
            };
        let histogram_bytes = (histogram().distinct_values() * 8) as u64;
        let ops_in_mix = scenario.mix.len() as u64;
        // Per recorder (system × repetition): every second compressed, the last two live.
        let intervals = runs as u64
            * ops_in_mix
            * (recorded_seconds as u64 * COMPRESSED_SECOND_BYTES + 2 * histogram_bytes);
        let p99 = s.body_p99_bytes as u64;
        let seeding = (s.concurrency as u64 / 4 + 2) * SEED_BATCH * s.versions_max as u64 * p99;
        let in_flight = scenario.run.max_in_flight as u64 * p99 * BODY_COPIES_IN_FLIGHT;
        let memory_bytes =
            BASE_MEMORY_BYTES + entities * KEY_BYTES + intervals + seeding.max(in_flight);
        Estimate {
            systems,
            stored_systems: stored,
            repeat,
            seeded_entities: entities,
            open_ops: open_ops as u64,
            closed_phases,
            body_bytes,
            disk_bytes,
            memory_bytes,
        }
    }

    /// Refuses the run when it needs more than `limits` allow or the machine has:
    /// memory available now, and free disk where the stores keep their data.
    pub fn check(&self, limits: Limits, data_dir: Option<&Path>) -> Result<(), OptionError> {
        let memory = limits
            .max_memory
            .map(|m| (m, "--max-memory"))
            .or_else(|| available_memory().map(|m| (m, "the memory available on this machine")));
        if let Some((have, what)) = memory.filter(|(have, _)| self.memory_bytes > *have) {
            return Err(OptionError(format!(
                "this scenario needs about {} of memory, more than {what} ({}); make it smaller (seeded entities, phase durations, max_in_flight, body sizes) or raise the limit\n{self}",
                bytes(self.memory_bytes),
                bytes(have)
            )));
        }
        let disk = limits
            .max_disk
            .map(|d| (d, "--max-disk".to_string()))
            .or_else(|| {
                let dir = data_dir?;
                free_disk(dir).map(|d| (d, format!("the free disk under {}", dir.display())))
            });
        if let Some((have, what)) = disk.filter(|(have, _)| self.disk_bytes > *have) {
            return Err(OptionError(format!(
                "this scenario fills about {} of disk, more than {what} ({}); seed fewer entities, smaller bodies or shorter phases, or smaller probes ([event_log] sizes, [search_quality])\n{self}",
                bytes(self.disk_bytes),
                bytes(have)
            )));
        }
        Ok(())
    }
}

impl std::fmt::Display for Estimate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "estimate: {} system(s) ({} on stores) × {} repetition(s)",
            self.systems, self.stored_systems, self.repeat
        )?;
        writeln!(f, "  entities seeded per system  {}", self.seeded_entities)?;
        write!(f, "  ops (open-model phases)     {}", self.open_ops)?;
        if self.closed_phases > 0 {
            write!(
                f,
                " + {} closed-model phase(s), paced by the system",
                self.closed_phases
            )?;
        }
        writeln!(f)?;
        writeln!(
            f,
            "  body bytes written          {} per system",
            bytes(self.body_bytes)
        )?;
        writeln!(
            f,
            "  disk for the stores         {}",
            bytes(self.disk_bytes)
        )?;
        write!(
            f,
            "  archbench memory at peak    {}",
            bytes(self.memory_bytes)
        )
    }
}

/// Mean of the log-normal body size with this median and p99.
fn mean_body_bytes(median: f64, p99: f64) -> f64 {
    let sigma = (p99 / median).ln() / 2.326_347_874;
    median * (sigma * sigma / 2.0).exp()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario(extra: &str) -> Scenario {
        let src = format!(
            r#"name = "e"
rng_seed = 1
systems = ["v02", "v03"]
[seeding]
users = 100
entities_per_user = 10
body_bytes = {{ median = 1000, p99 = 1000 }}
versions_per_entity = {{ min = 2, max = 2 }}
history_days = 1
[mix]
get = 1
create = 1
[[phase]]
name = "p"
model = "open"
rate = 100
duration = "10s"
{extra}"#
        );
        crate::scenario::parse(&src, Path::new("e.toml")).unwrap()
    }

    #[test]
    fn ops_bytes_and_disk_follow_the_scenario() {
        let e = Estimate::of(&scenario(""), 2, 2, 3);
        assert_eq!(e.seeded_entities, 1000);
        assert_eq!(e.open_ops, 100 * 10 * 2 * 3);
        // 1000 entities × 2 versions × 1000 B, plus 3 repetitions × 1000 ops × half
        // of them creates × 1000 B.
        assert_eq!(e.body_bytes, 2_000_000 + 1_500_000);
        assert_eq!(
            e.disk_bytes,
            2 * (3_500_000.0 * STORED_PER_BODY_BYTE) as u64 + EMPTY_STORES_BYTES
        );
        assert!(e.memory_bytes > BASE_MEMORY_BYTES);
        let text = e.to_string();
        assert!(text.contains("ops (open-model phases)     6000"), "{text}");
    }

    #[test]
    fn limits_refuse_with_the_estimate() {
        let e = Estimate::of(&scenario(""), 2, 2, 1);
        let tight = Limits {
            max_memory: Some(1_000),
            max_disk: None,
        };
        let msg = e.check(tight, None).unwrap_err().to_string();
        assert!(
            msg.contains("more than --max-memory") && msg.contains("estimate:"),
            "{msg}"
        );
        let tight = Limits {
            max_memory: Some(u64::MAX),
            max_disk: Some(1_000),
        };
        let msg = e.check(tight, None).unwrap_err().to_string();
        assert!(msg.contains("more than --max-disk"), "{msg}");
        let roomy = Limits {
            max_memory: Some(u64::MAX),
            max_disk: Some(u64::MAX),
        };
        assert!(e.check(roomy, None).is_ok());
    }

    #[test]
    fn the_probes_are_in_the_disk_estimate_and_refused_beyond_it() {
        let plain = Estimate::of(&scenario(""), 2, 2, 1);
        // 10M users × 120 months × 30 days × 20 events: far beyond any disk.
        let probe = "[event_log]\nsizes = [{ users = 10000000, months = 120 }]\n[search_quality]\n";
        let probed = Estimate::of(&scenario(probe), 2, 2, 1);
        let events: u64 = 10_000_000 * 120 * 30 * 20;
        let vectors = 1000 * SEARCH_PROBE_VECTOR_BYTES;
        assert!(
            probed.disk_bytes >= plain.disk_bytes + events * (2 * 200 + 256 + 100) * 2 + vectors
        );
        let limits = Limits {
            max_memory: Some(u64::MAX),
            max_disk: Some(plain.disk_bytes * 2),
        };
        assert!(plain.check(limits, None).is_ok());
        let msg = probed.check(limits, None).unwrap_err().to_string();
        assert!(
            msg.contains("[event_log] sizes") && msg.contains("estimate:"),
            "{msg}"
        );
    }
}
