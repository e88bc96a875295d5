//! Growth as curves. A scale sweep (`run` of a scenario with `[sweep]`: one results
//! file per seed size, indexed by `sweep.json`) and capacity files measured at several
//! dataset sizes are fitted per system and metric against dataset size (entities
//! seeded) with a power law. The fits whose growth the sizes can tell from noise
//! become [`UsageCurve`]s, which the cost projection evaluates at each tier's size.

pub mod fit;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use fit::{POOR_FIT, PowerFit, Trend};

use crate::cost::{UnitUsage, UsageCurve, UsageField};
use crate::numbers::thousands;
use crate::probes::capacity_file::CapacityReport;
use crate::results::{IntervalLogs, Results, ResultsError};

/// A metric fitted against dataset size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Latency of every op of the mix merged, median.
    LatencyP50,
    /// Latency of every op of the mix merged, 99th percentile.
    LatencyP99,
    /// Database time per op (`pg_stat_statements`), background work included.
    DbTimePerOp,
    /// PostgreSQL bytes added per write.
    PostgresBytesPerWrite,
    /// Object-store bytes added per write.
    ObjectBytesPerWrite,
    /// Sustainable ops/s at the SLO per vCPU of the instance (capacity files).
    CapacityPerVcpu,
}

impl Metric {
    /// Every metric, in the order a report shows them.
    pub const ALL: [Metric; 6] = [
        Metric::LatencyP50,
        Metric::LatencyP99,
        Metric::DbTimePerOp,
        Metric::PostgresBytesPerWrite,
        Metric::ObjectBytesPerWrite,
        Metric::CapacityPerVcpu,
    ];

    /// As a report names it.
    pub fn label(self) -> &'static str {
        match self {
            Metric::LatencyP50 => "latency p50, all ops",
            Metric::LatencyP99 => "latency p99, all ops",
            Metric::DbTimePerOp => "database time per op",
            Metric::PostgresBytesPerWrite => "PostgreSQL bytes per write",
            Metric::ObjectBytesPerWrite => "object bytes per write",
            Metric::CapacityPerVcpu => "capacity per vCPU at the SLO",
        }
    }

    /// The unit of its values.
    pub fn unit(self) -> &'static str {
        match self {
            Metric::LatencyP50 | Metric::LatencyP99 | Metric::DbTimePerOp => "ms",
            Metric::PostgresBytesPerWrite | Metric::ObjectBytesPerWrite => "bytes",
            Metric::CapacityPerVcpu => "ops/s",
        }
    }

    /// The cost model's per-op figure this metric is, when it is one.
    pub fn usage_field(self) -> Option<UsageField> {
        match self {
            Metric::DbTimePerOp => Some(UsageField::DbSecondsPerOp),
            Metric::PostgresBytesPerWrite => Some(UsageField::PostgresBytesPerWrite),
            Metric::ObjectBytesPerWrite => Some(UsageField::ObjectBytesPerWrite),
            Metric::CapacityPerVcpu => Some(UsageField::CapacityPerVcpu),
            Metric::LatencyP50 | Metric::LatencyP99 => None,
        }
    }
}

/// One system's metric at each dataset size, and the power law through it.
#[derive(Debug, Clone, Serialize)]
pub struct Series {
    /// System name.
    pub system: String,
    /// What was measured.
    pub metric: Metric,
    /// Where the points come from: the sweep, or capacity files on one instance.
    pub source: String,
    /// (entities seeded, value in the metric's unit), ascending size.
    pub points: Vec<(f64, f64)>,
    /// The fit; absent below two positive points.
    pub fit: Option<PowerFit>,
}

impl Series {
    fn new(system: &str, metric: Metric, source: String, mut points: Vec<(f64, f64)>) -> Self {
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
        Series {
            system: system.into(),
            metric,
            source,
            fit: PowerFit::fit(&points),
            points,
        }
    }

    /// Whether the cost projection uses this fit: a per-op cost figure that follows
    /// a power law and whose growth (or shrinkage) the sizes tell from noise at 95%.
    pub fn used_in_cost(&self) -> bool {
        self.metric.usage_field().is_some()
            && self
                .fit
                .as_ref()
                .is_some_and(|f| f.follows() && matches!(f.trend(), Trend::Grows | Trend::Shrinks))
    }
}

/// One entry of `sweep.json`, as `run` writes it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SweepEntry {
    /// Seeded users.
    pub users: u64,
    /// The size's results file: relative to the index's folder (older indexes: to
    /// where the run was started).
    pub results: PathBuf,
    /// Whether the size's run completed.
    pub complete: bool,
}

/// Fitted growth of both systems across a sweep.
#[derive(Debug, Clone, Serialize)]
pub struct Growth {
    /// The sweep index read.
    pub index: String,
    /// Entities per user in the sweep: a tier of N users is N × this many entities.
    pub entities_per_user: f64,
    /// Every series with at least one point.
    pub series: Vec<Series>,
    /// What was left out and why.
    pub notes: Vec<String>,
}

/// A sweep that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum GrowthError {
    /// The index itself.
    #[error("{}: {message}", .path.display())]
    Index {
        /// The index file.
        path: PathBuf,
        /// What is wrong and what to do.
        message: String,
    },
    /// One size's results.
    #[error(transparent)]
    Results(#[from] ResultsError),
}

/// Where `entry`'s results file is: beside the index, else as recorded.
fn results_path(index: &Path, entry: &SweepEntry) -> PathBuf {
    let folder = index.parent().unwrap_or(Path::new("."));
    let beside = folder.join(&entry.results);
    if entry.results.is_relative() && beside.exists() {
        return beside;
    }
    let conventional = folder
        .join(format!("users-{}", entry.users))
        .join("results.json");
    if !entry.results.exists() && conventional.exists() {
        return conventional;
    }
    entry.results.clone()
}

impl Growth {
    /// Reads the sweep at `index` and fits it, with `capacity` files fitted per
    /// instance where they hold two or more dataset sizes.
    pub fn read(index: &Path, capacity: &[CapacityReport]) -> Result<Growth, GrowthError> {
        let bad = |message: String| GrowthError::Index {
            path: index.to_path_buf(),
            message,
        };
        let text = std::fs::read(index).map_err(|e| bad(format!("cannot read: {e}")))?;
        let entries: Vec<SweepEntry> = serde_json::from_slice(&text).map_err(|e| {
            bad(format!(
                "line {}, column {}: {e} (expected the `sweep.json` that `archbench run` writes for a scenario with [sweep])",
                e.line(),
                e.column()
            ))
        })?;
        let mut notes = Vec::new();
        let mut sizes = Vec::new();
        for entry in &entries {
            let path = results_path(index, entry);
            let results = Results::read(&path)?;
            if !results.complete || !entry.complete {
                notes.push(format!(
                    "{} users left out: its run did not complete ({})",
                    entry.users,
                    path.display()
                ));
                continue;
            }
            sizes.push((entry.users, path, results));
        }
        if sizes.len() < 2 {
            return Err(bad(format!(
                "{} complete size(s): a curve needs two or more (run the sweep to the end, or add sizes to [sweep] users)",
                sizes.len()
            )));
        }
        let mut growth = Growth::from_sizes(&sizes);
        growth.index = index.display().to_string();
        growth.notes.extend(notes);
        growth.series.extend(capacity_series(capacity));
        Ok(growth)
    }

    /// Fits `sizes` (users, results path, results) of one sweep.
    fn from_sizes(sizes: &[(u64, PathBuf, Results)]) -> Growth {
        let (users, _, largest) = sizes
            .iter()
            .max_by_key(|(_, _, r)| r.scenario.seeded_entities)
            .expect("two sizes or more");
        let entities_per_user = largest.scenario.seeded_entities as f64 / (*users).max(1) as f64;
        let mut systems: Vec<&String> = sizes
            .iter()
            .flat_map(|(_, _, r)| r.systems.keys())
            .collect();
        systems.sort();
        systems.dedup();
        let mut series = Vec::new();
        for system in systems {
            for metric in Metric::ALL {
                let points: Vec<(f64, f64)> = sizes
                    .iter()
                    .filter_map(|(_, path, r)| {
                        Some((
                            r.scenario.seeded_entities as f64,
                            measure(r, path, system, metric)?,
                        ))
                    })
                    .collect();
                if !points.is_empty() {
                    series.push(Series::new(system, metric, "scale sweep".into(), points));
                }
            }
        }
        Growth {
            index: String::new(),
            entities_per_user,
            series,
            notes: Vec::new(),
        }
    }

    /// The fits the cost projection uses, as usage curves.
    pub fn usage_curves(&self) -> Vec<UsageCurve> {
        self.series
            .iter()
            .filter(|s| s.used_in_cost())
            .filter_map(|s| {
                let fit = s.fit.as_ref()?;
                Some(UsageCurve {
                    system: s.system.clone(),
                    field: s.metric.usage_field()?,
                    exponent: fit.exponent,
                    entities_per_user: self.entities_per_user,
                    measured_up_to: fit.x_range.1,
                    source: format!(
                        "{} fitted over {} sizes ({}–{} entities, {}): exponent {}",
                        s.metric.label(),
                        s.points.len(),
                        thousands(fit.x_range.0 as u64),
                        thousands(fit.x_range.1 as u64),
                        s.source,
                        fit.exponent_text()
                    ),
                })
            })
            .collect()
    }

    /// The series of `system`'s `metric`, when measured.
    pub fn series(&self, system: &str, metric: Metric) -> Option<&Series> {
        self.series
            .iter()
            .find(|s| s.system == system && s.metric == metric)
    }
}

/// `metric` of `system` in one size's results; latency from its interval log.
fn measure(results: &Results, path: &Path, system: &str, metric: Metric) -> Option<f64> {
    let s = results.systems.get(system)?;
    let unit = || UnitUsage::from_system(s, results.scenario.seeded_entities);
    let latency = |q: f64| {
        let folder = path.parent().unwrap_or(Path::new("."));
        let logs = IntervalLogs::read(results, folder, &[system]);
        logs.mix(system)
            .map(|h| h.value_at_quantile(q) as f64 / 1e3)
    };
    match metric {
        Metric::LatencyP50 => latency(0.5),
        Metric::LatencyP99 => latency(0.99),
        Metric::DbTimePerOp => unit().db_seconds_per_op.map(|x| x * 1e3),
        Metric::PostgresBytesPerWrite => unit().postgres_bytes_per_write,
        Metric::ObjectBytesPerWrite => unit().object_bytes_per_write,
        Metric::CapacityPerVcpu => None,
    }
}

/// Capacity per vCPU against dataset size, per instance and network, where the files
/// hold two or more sizes of it.
fn capacity_series(reports: &[CapacityReport]) -> Vec<Series> {
    let mut groups: Vec<(String, Vec<&CapacityReport>)> = Vec::new();
    for r in reports {
        let Some(vcpu) = r.vcpu() else { continue };
        let key = format!(
            "capacity files, {vcpu:.2} vCPU{}",
            r.network
                .as_ref()
                .map_or(String::new(), |n| format!(", network `{n}`"))
        );
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, members)) => members.push(r),
            None => groups.push((key, vec![r])),
        }
    }
    let mut out = Vec::new();
    for (source, members) in groups {
        let mut systems: Vec<&str> = members
            .iter()
            .flat_map(|r| r.systems.iter().map(|s| s.system.as_str()))
            .collect();
        systems.sort_unstable();
        systems.dedup();
        for system in systems {
            let points: Vec<(f64, f64)> = members
                .iter()
                .filter_map(|r| {
                    let rate = r.sustainable(system).filter(|x| *x > 0.0)?;
                    Some((r.seeded_entities as f64, rate / r.vcpu()?))
                })
                .collect();
            let sizes = {
                let mut xs: Vec<u64> = points.iter().map(|(x, _)| *x as u64).collect();
                xs.sort_unstable();
                xs.dedup();
                xs.len()
            };
            if sizes >= 2 {
                out.push(Series::new(
                    system,
                    Metric::CapacityPerVcpu,
                    source.clone(),
                    points,
                ));
            }
        }
    }
    out
}
