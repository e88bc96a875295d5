//! A cgroup around a local server: a CPU quota and a memory limit that counts page
//! cache, read back after writing, and the server's CPU time, throttling and memory
//! peak read while it runs. cgroup v1 (separate `memory`, `cpu` and `cpuacct`
//! hierarchies) and v2 (one unified hierarchy) are both handled; which one the
//! machine has is found, never assumed. Nothing here runs unlimited silently: a
//! cgroup that cannot be made or written is an error (exit 3) with the reason.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Where the hierarchies are mounted.
const ROOT: &str = "/sys/fs/cgroup";
/// The folder under each hierarchy that holds archbench's cgroups.
const PARENT: &str = "archbench";
/// The CFS period the quota is a share of (the kernel's default).
const PERIOD_US: u64 = 100_000;

/// A cgroup could not be made, written or read.
#[derive(Debug, thiserror::Error)]
#[error(
    "cgroup: {what}: {reason} (instance profiles need a writable cgroup v1 `memory` and `cpu` hierarchy or cgroup v2 with both controllers, as root)"
)]
pub struct CgroupError {
    /// What was being done.
    pub what: String,
    /// Why it failed.
    pub reason: String,
}

impl CgroupError {
    /// Exit code: the machine's (3).
    pub fn exit_code(&self) -> u8 {
        3
    }
}

fn failed(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> CgroupError {
    let what = what.into();
    move |e| CgroupError {
        what,
        reason: e.to_string(),
    }
}

/// Which cgroup interface the machine has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CgroupVersion {
    /// Separate hierarchies per controller.
    V1,
    /// The unified hierarchy.
    V2,
}

/// The limits as the kernel reports them after they were written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CgroupLimits {
    /// v1 or v2.
    pub version: CgroupVersion,
    /// The cgroup's memory folder.
    pub path: PathBuf,
    /// `memory.limit_in_bytes` (v1) or `memory.max` (v2), page cache included.
    pub memory_limit_bytes: u64,
    /// `cpu.cfs_quota_us` (v1) or the first field of `cpu.max` (v2).
    pub cpu_quota_us: u64,
    /// `cpu.cfs_period_us` (v1) or the second field of `cpu.max` (v2).
    pub cpu_period_us: u64,
}

impl CgroupLimits {
    /// The quota in vCPUs.
    pub fn vcpu(&self) -> f64 {
        self.cpu_quota_us as f64 / self.cpu_period_us as f64
    }
}

/// What the cgroup's processes used so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct CgroupUsage {
    /// CPU time of every process in it, nanoseconds.
    pub cpu_ns: u64,
    /// Periods in which the quota ran out.
    pub throttled_periods: u64,
    /// Time the processes waited for the next period, nanoseconds.
    pub throttled_ns: u64,
    /// The highest memory use, page cache included, bytes.
    pub memory_peak_bytes: u64,
    /// Page cache held now, bytes.
    pub page_cache_bytes: u64,
}

/// A cgroup archbench made; removed on drop once its processes are gone.
#[derive(Debug)]
pub struct Cgroup {
    version: CgroupVersion,
    /// v1: the memory, cpu and cpuacct folders; v2: the one folder.
    dirs: Vec<PathBuf>,
}

impl Cgroup {
    /// Makes `archbench/NAME` with `vcpu` and `memory_bytes` as its limits.
    pub fn create(name: &str, vcpu: f64, memory_bytes: u64) -> Result<Self, CgroupError> {
        Self::create_under(Path::new(ROOT), name, vcpu, memory_bytes)
    }

    fn create_under(
        root: &Path,
        name: &str,
        vcpu: f64,
        memory_bytes: u64,
    ) -> Result<Self, CgroupError> {
        let version = detect(root)?;
        let quota = ((vcpu * PERIOD_US as f64).round() as u64).max(1_000);
        let cgroup = match version {
            CgroupVersion::V1 => {
                let dirs: Vec<PathBuf> = ["memory", "cpu", "cpuacct"]
                    .iter()
                    .map(|h| root.join(h).join(PARENT).join(name))
                    .collect();
                let cgroup = Self { version, dirs };
                for d in &cgroup.dirs {
                    make(d)?;
                }
                let (memory, cpu) = (&cgroup.dirs[0], &cgroup.dirs[1]);
                write(memory, "memory.limit_in_bytes", &memory_bytes.to_string())?;
                // Swap would let the processes outgrow the limit: keep them off it.
                if memory.join("memory.memsw.limit_in_bytes").exists() {
                    write(
                        memory,
                        "memory.memsw.limit_in_bytes",
                        &memory_bytes.to_string(),
                    )?;
                }
                write(memory, "memory.swappiness", "0")?;
                write(cpu, "cpu.cfs_period_us", &PERIOD_US.to_string())?;
                write(cpu, "cpu.cfs_quota_us", &quota.to_string())?;
                cgroup
            }
            CgroupVersion::V2 => {
                let parent = root.join(PARENT);
                make(&parent)?;
                write(&parent, "cgroup.subtree_control", "+memory +cpu")?;
                let dir = parent.join(name);
                let cgroup = Self {
                    version,
                    dirs: vec![dir.clone()],
                };
                make(&dir)?;
                write(&dir, "memory.max", &memory_bytes.to_string())?;
                if dir.join("memory.swap.max").exists() {
                    write(&dir, "memory.swap.max", "0")?;
                }
                write(&dir, "cpu.max", &format!("{quota} {PERIOD_US}"))?;
                cgroup
            }
        };
        Ok(cgroup)
    }

    /// The `cgroup.procs` files a process writes itself into to join (every hierarchy).
    pub fn procs_files(&self) -> Vec<PathBuf> {
        self.dirs.iter().map(|d| d.join("cgroup.procs")).collect()
    }

    /// The limits as the kernel holds them.
    pub fn limits(&self) -> Result<CgroupLimits, CgroupError> {
        let (memory_limit_bytes, cpu_quota_us, cpu_period_us) = match self.version {
            CgroupVersion::V1 => (
                read_u64(&self.dirs[0], "memory.limit_in_bytes")?,
                read_u64(&self.dirs[1], "cpu.cfs_quota_us")?,
                read_u64(&self.dirs[1], "cpu.cfs_period_us")?,
            ),
            CgroupVersion::V2 => {
                let cpu = read(&self.dirs[0], "cpu.max")?;
                let mut fields = cpu.split_whitespace();
                let quota = fields.next().unwrap_or("max");
                let period = fields.next().unwrap_or("100000");
                (
                    read_u64(&self.dirs[0], "memory.max")?,
                    parse_u64(quota, "cpu.max")?,
                    parse_u64(period, "cpu.max")?,
                )
            }
        };
        Ok(CgroupLimits {
            version: self.version,
            path: self.dirs[0].clone(),
            memory_limit_bytes,
            cpu_quota_us,
            cpu_period_us,
        })
    }

    /// CPU time, throttling and memory so far.
    pub fn usage(&self) -> Result<CgroupUsage, CgroupError> {
        match self.version {
            CgroupVersion::V1 => {
                let cpu_stat = read(&self.dirs[1], "cpu.stat")?;
                let memory_stat = read(&self.dirs[0], "memory.stat")?;
                Ok(CgroupUsage {
                    cpu_ns: read_u64(&self.dirs[2], "cpuacct.usage")?,
                    throttled_periods: stat(&cpu_stat, "nr_throttled"),
                    throttled_ns: stat(&cpu_stat, "throttled_time"),
                    memory_peak_bytes: read_u64(&self.dirs[0], "memory.max_usage_in_bytes")?,
                    page_cache_bytes: stat(&memory_stat, "cache"),
                })
            }
            CgroupVersion::V2 => {
                let dir = &self.dirs[0];
                let cpu_stat = read(dir, "cpu.stat")?;
                let memory_stat = read(dir, "memory.stat")?;
                let peak =
                    read_u64(dir, "memory.peak").or_else(|_| read_u64(dir, "memory.current"))?;
                Ok(CgroupUsage {
                    cpu_ns: stat(&cpu_stat, "usage_usec") * 1_000,
                    throttled_periods: stat(&cpu_stat, "nr_throttled"),
                    throttled_ns: stat(&cpu_stat, "throttled_usec") * 1_000,
                    memory_peak_bytes: peak,
                    page_cache_bytes: stat(&memory_stat, "file"),
                })
            }
        }
    }

    /// Drops the page cache the cgroup holds (v1 `memory.force_empty`; v2 has no such
    /// file and reports `false`), so that a measurement starts cold.
    pub fn drop_page_cache(&self) -> bool {
        self.version == CgroupVersion::V1 && write(&self.dirs[0], "memory.force_empty", "0").is_ok()
    }
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        // The processes may still be exiting: a cgroup with members cannot be removed.
        for _ in 0..50 {
            self.dirs
                .retain(|d| std::fs::remove_dir(d).is_err() && d.exists());
            if self.dirs.is_empty() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Removes archbench's cgroups that no process is in any more and whose maker has
/// exited (left by a killed run).
pub fn remove_stale() {
    for hierarchy in ["memory", "cpu", "cpuacct", ""] {
        let parent = Path::new(ROOT).join(hierarchy).join(PARENT);
        let Ok(entries) = std::fs::read_dir(&parent) else {
            continue;
        };
        for entry in entries.flatten() {
            // Named `NAME-PID` by the archbench that made it: while that process lives
            // the cgroup is its own, even before its server joined it.
            let name = entry.file_name().to_string_lossy().into_owned();
            let owner_alive = name
                .rsplit_once('-')
                .and_then(|(_, pid)| pid.parse::<u32>().ok())
                .is_some_and(|pid| Path::new(&format!("/proc/{pid}")).exists());
            if entry.path().is_dir() && !owner_alive {
                // Fails while a process is in it: then it is not stale.
                let _ = std::fs::remove_dir(entry.path());
            }
        }
    }
}

fn detect(root: &Path) -> Result<CgroupVersion, CgroupError> {
    let v1 = root.join("memory/memory.limit_in_bytes").exists()
        && root.join("cpu/cpu.cfs_quota_us").exists()
        && root.join("cpuacct/cpuacct.usage").exists();
    if v1 {
        return Ok(CgroupVersion::V1);
    }
    let controllers = std::fs::read_to_string(root.join("cgroup.controllers")).unwrap_or_default();
    let has = |c: &str| controllers.split_whitespace().any(|x| x == c);
    if has("memory") && has("cpu") {
        return Ok(CgroupVersion::V2);
    }
    Err(CgroupError {
        what: format!("looking for cgroup controllers under {}", root.display()),
        reason: "neither cgroup v1 `memory`, `cpu` and `cpuacct` hierarchies nor cgroup v2 with `memory` and `cpu` are mounted".into(),
    })
}

fn make(dir: &Path) -> Result<(), CgroupError> {
    std::fs::create_dir_all(dir).map_err(failed(format!("creating {}", dir.display())))
}

fn write(dir: &Path, file: &str, value: &str) -> Result<(), CgroupError> {
    let path = dir.join(file);
    std::fs::write(&path, value).map_err(failed(format!("writing {value} to {}", path.display())))
}

fn read(dir: &Path, file: &str) -> Result<String, CgroupError> {
    let path = dir.join(file);
    std::fs::read_to_string(&path).map_err(failed(format!("reading {}", path.display())))
}

fn read_u64(dir: &Path, file: &str) -> Result<u64, CgroupError> {
    parse_u64(read(dir, file)?.trim(), file)
}

fn parse_u64(text: &str, file: &str) -> Result<u64, CgroupError> {
    if text == "max" || text == "-1" {
        return Ok(u64::MAX);
    }
    text.parse().map_err(|e| CgroupError {
        what: format!("reading {file}"),
        reason: format!("`{text}`: {e}"),
    })
}

/// A `key value` line of a `*.stat` file; 0 when absent.
fn stat(text: &str, key: &str) -> u64 {
    text.lines()
        .filter_map(|l| l.split_once(' '))
        .find(|(k, _)| *k == key)
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_are_read_by_key() {
        let text = "nr_periods 10\nnr_throttled 4\nthrottled_time 123456\n";
        assert_eq!(stat(text, "nr_throttled"), 4);
        assert_eq!(stat(text, "throttled_time"), 123_456);
        assert_eq!(stat(text, "missing"), 0);
        assert_eq!(parse_u64("max", "memory.max").unwrap(), u64::MAX);
        assert!(parse_u64("lots", "memory.max").is_err());
    }

    #[test]
    fn a_machine_without_controllers_is_an_error_naming_them() {
        let empty = tempfile::tempdir().unwrap();
        let e = Cgroup::create_under(empty.path(), "t", 1.0, 1 << 30).unwrap_err();
        assert_eq!(e.exit_code(), 3);
        assert!(e.to_string().contains("neither cgroup v1"), "{e}");
    }
}
