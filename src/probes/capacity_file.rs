//! `capacity.json`: what one capacity search found at one dataset size, per system —
//! the file `archbench capacity` writes and `archbench report --capacity` reads (cost
//! sizing from measured capacity, the scalability claim from a scale sweep). Its
//! table as Markdown, and a sweep's table across sizes.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::capacity::{Search, SystemCapacity};
use crate::numbers::thousands;
use crate::rig::instance::InstanceInfo;
use crate::scenario::Slo;

/// `capacity.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CapacityReport {
    /// The scenario's name.
    pub scenario: String,
    /// Seeded entities the steps ran against.
    pub seeded_entities: u64,
    /// The service level each step was held to.
    pub slo: Slo,
    /// The search's settings.
    pub search: Search,
    /// Measured step length, seconds.
    pub step_seconds: f64,
    /// The instance PostgreSQL ran under, limits read back from the cgroup.
    pub instance: Option<InstanceInfo>,
    /// The network profile played, if any.
    pub network: Option<String>,
    /// Per system.
    pub systems: Vec<SystemCapacity>,
    /// Per system, the users whose peak load the sustainable rate serves, under the
    /// scenario's `[user_behaviour]` and the cost model's peak-to-average.
    pub users: BTreeMap<String, UsersAtCapacity>,
    /// Wall time of the whole command, seconds.
    pub wall_seconds: f64,
    /// False when Ctrl-C ended it early.
    pub complete: bool,
    /// When it started.
    pub started_at: chrono::DateTime<chrono::Utc>,
}

/// A sustainable rate in users: rate ÷ (peak-to-average × each user's mean ops/s).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UsersAtCapacity {
    /// Users served at the peak.
    pub users: f64,
    /// One user's mean ops per second (reads of active users, writes of all).
    pub ops_per_user_per_s: f64,
    /// The peak-to-average ratio applied.
    pub peak_to_average: f64,
    /// Where the figures come from.
    pub source: String,
}

/// A capacity file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum CapacityFileError {
    /// Unreadable.
    #[error("{path}: {source}")]
    Io {
        /// File.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Not a capacity file.
    #[error(
        "{path}:{line}:{column}: {message} (is it the capacity.json `archbench capacity` writes?)"
    )]
    Invalid {
        /// File.
        path: String,
        /// Line of the fault, 1-based.
        line: usize,
        /// Column of the fault, 1-based.
        column: usize,
        /// What is wrong, naming the field.
        message: String,
    },
}

impl CapacityReport {
    /// Reads a capacity file, naming the field, line and column of what is wrong.
    pub fn read(path: &Path) -> Result<Self, CapacityFileError> {
        let p = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|source| CapacityFileError::Io {
            path: p.clone(),
            source,
        })?;
        let mut de = serde_json::Deserializer::from_slice(&bytes);
        serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let inner = e.inner();
            CapacityFileError::Invalid {
                path: p,
                line: inner.line(),
                column: inner.column(),
                message: format!("field `{}`: {inner}", e.path()),
            }
        })
    }

    /// The instance's vCPUs as read back from its cgroup (`None`: not confined, or a
    /// quota that cannot bind on this machine).
    pub fn vcpu(&self) -> Option<f64> {
        let i = self.instance.as_ref()?;
        let v = i.cgroup.vcpu();
        (v.is_finite() && v > 0.0).then_some(v)
    }

    /// One system's sustainable rate, ops/s.
    pub fn sustainable(&self, system: &str) -> Option<f64> {
        self.systems
            .iter()
            .find(|s| s.system == system)?
            .sustainable_ops_per_s
    }

    /// Where the figures come from, in a sentence's words: "`1cu`, 10,000 entities".
    pub fn label(&self) -> String {
        format!(
            "`{}`, {} entities",
            self.instance
                .as_ref()
                .map_or("unconfined".to_string(), |i| i.profile.name.clone()),
            thousands(self.seeded_entities)
        )
    }
}

/// The steps as a Markdown table per system.
pub fn markdown(report: &CapacityReport) -> String {
    let mut md = format!(
        "## Capacity: {} ({} entities seeded)\n\nSLO: each op's p99 ≤ {} ms, failed ops ≤ {:.2}%; steps of {:.0} s (rate doubling from the start rate until a step fails, then bisection to within {:.0}%).{}{}\n\n",
        report.scenario,
        report.seeded_entities,
        report.slo.p99_ms.unwrap_or(f64::NAN),
        report.slo.max_error_rate * 100.0,
        report.step_seconds,
        (report.search.precision - 1.0) * 100.0,
        report.instance.as_ref().map_or(String::new(), |i| format!(
            " Instance `{}`: {} MiB, {:.2} vCPU (read back from the cgroup).{}",
            i.profile.name,
            i.cgroup.memory_limit_bytes >> 20,
            i.cgroup.vcpu(),
            i.caveat
                .as_ref()
                .map_or(String::new(), |c| format!(" Caveat: {c}."))
        )),
        report
            .network
            .as_ref()
            .map_or(String::new(), |n| format!(" Network `{n}`."))
    );
    md.push_str("| system | sustainable ops/s | users at the peak | CPU ms per op | limited by | first failing step | steps |\n|---|---:|---:|---:|---|---|---:|\n");
    for s in &report.systems {
        md.push_str(&format!(
            "| {} | {} | {} | {} | {:?} | {} | {} |\n",
            s.system,
            s.sustainable_ops_per_s
                .map_or("—".into(), |r| format!("{r:.0}")),
            report
                .users
                .get(&s.system)
                .map_or("—".into(), |u| format!("{:.0}", u.users)),
            s.cpu_ms_per_op.map_or("—".into(), |c| format!("{c:.2}")),
            s.limit,
            s.broke.as_deref().unwrap_or("—"),
            s.steps.len()
        ));
    }
    md.push_str("\n| system | step | ops/s | pass | worst p99 ms | errors |\n|---|---:|---:|---|---:|---:|\n");
    for s in &report.systems {
        for (i, step) in s.steps.iter().enumerate() {
            let worst = step.p99_ms.values().cloned().fold(0.0, f64::max);
            md.push_str(&format!(
                "| {} | {} | {:.0} | {} | {worst:.1} | {} |\n",
                s.system,
                i + 1,
                step.rate,
                if step.pass { "yes" } else { "no" },
                step.errors
            ));
        }
    }
    md.push_str(&format!("\nWall time: {:.0} s.\n", report.wall_seconds));
    md
}

/// A scale sweep — capacity at several dataset sizes — as one table: per system and
/// size, the sustainable rate and the users it serves, and each size against the
/// smallest.
pub fn sweep_markdown(reports: &[CapacityReport]) -> String {
    let mut sizes: Vec<&CapacityReport> = reports.iter().collect();
    sizes.sort_by_key(|r| r.seeded_entities);
    let mut md = String::from(
        "## Scale sweep\n\n| system | entities | instance | sustainable ops/s | users at the peak | against the smallest size | limited by |\n|---|---:|---|---:|---:|---:|---|\n",
    );
    let mut systems: Vec<&str> = sizes
        .iter()
        .flat_map(|r| r.systems.iter().map(|s| s.system.as_str()))
        .collect();
    systems.sort();
    systems.dedup();
    for system in systems {
        let first = sizes.iter().find_map(|r| r.sustainable(system));
        for r in &sizes {
            let Some(s) = r.systems.iter().find(|s| s.system == system) else {
                continue;
            };
            md.push_str(&format!(
                "| {system} | {} | {} | {} | {} | {} | {:?} |\n",
                thousands(r.seeded_entities),
                r.instance
                    .as_ref()
                    .map_or("unconfined".to_string(), |i| i.profile.name.clone()),
                s.sustainable_ops_per_s
                    .map_or("—".into(), |x| format!("{x:.0}")),
                r.users
                    .get(system)
                    .map_or("—".into(), |u| format!("{:.0}", u.users)),
                match (s.sustainable_ops_per_s, first) {
                    (Some(x), Some(f)) if f > 0.0 => format!("{:.2}×", x / f),
                    _ => "—".into(),
                },
                s.limit
            ));
        }
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_that_is_not_a_capacity_file_is_named_with_its_field_and_place() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("capacity.json");
        std::fs::write(
            &p,
            "{\n  \"scenario\": \"x\",\n  \"seeded_entities\": \"many\"\n}",
        )
        .unwrap();
        let e = CapacityReport::read(&p).unwrap_err().to_string();
        assert!(
            e.contains("capacity.json:3:") && e.contains("seeded_entities"),
            "{e}"
        );
        let e = CapacityReport::read(&d.path().join("absent.json"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("absent.json"), "{e}");
    }
}
