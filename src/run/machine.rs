//! What this machine has: memory (`/proc/meminfo`), this process's peak memory
//! (`/proc/self/status`), free disk (`statvfs`) and the CPU time the hypervisor took
//! (`/proc/stat`'s steal).

use std::path::Path;

/// A `kB` field of a `/proc` file (`MemTotal`, `VmHWM`, ...), in bytes.
pub(super) fn proc_kb_field(file: &str, key: &str) -> Option<u64> {
    std::fs::read_to_string(file)
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
}

/// Installed memory.
pub(super) fn total_memory() -> Option<u64> {
    proc_kb_field("/proc/meminfo", "MemTotal")
}

/// Memory available to a new process now.
pub(super) fn available_memory() -> Option<u64> {
    proc_kb_field("/proc/meminfo", "MemAvailable")
}

/// This process's peak resident set so far.
pub(super) fn peak_rss() -> Option<u64> {
    proc_kb_field("/proc/self/status", "VmHWM")
}

/// Free bytes of the file system holding `dir` (or its nearest existing parent).
pub(super) fn free_disk(dir: &Path) -> Option<u64> {
    let existing = dir.ancestors().find(|p| p.exists())?;
    let path = std::ffi::CString::new(existing.as_os_str().as_encoded_bytes()).ok()?;
    // SAFETY: statvfs(3) fills the zeroed struct from a valid C string.
    let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::statvfs(path.as_ptr(), &mut stat) };
    (rc == 0).then(|| stat.f_bavail as u64 * stat.f_frsize as u64)
}

/// The machine's CPU time so far, all CPUs, in clock ticks: the total and the part
/// the hypervisor gave to other guests (steal).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct CpuTimes {
    steal: u64,
    idle: u64,
    total: u64,
}

impl CpuTimes {
    /// Now, from the first line of `/proc/stat`.
    pub(super) fn now() -> Option<Self> {
        Self::parse(&std::fs::read_to_string("/proc/stat").ok()?)
    }

    fn parse(stat: &str) -> Option<Self> {
        let line = stat.lines().next()?.strip_prefix("cpu ")?;
        // user nice system idle iowait irq softirq steal guest guest_nice; guest time
        // is already counted in user and nice.
        let fields: Vec<u64> = line
            .split_whitespace()
            .take(8)
            .map(|f| f.parse().ok())
            .collect::<Option<_>>()?;
        (fields.len() == 8).then(|| Self {
            steal: fields[7],
            idle: fields[3] + fields[4],
            total: fields.iter().sum(),
        })
    }

    /// The share of CPU time stolen between `self` and `later`.
    pub(super) fn steal_share_until(&self, later: &CpuTimes) -> Option<f64> {
        let total = later.total.checked_sub(self.total)?;
        (total > 0).then(|| later.steal.saturating_sub(self.steal) as f64 / total as f64)
    }

    /// The share of the CPU time this machine had (all but steal) that was busy
    /// between `self` and `later`: near 1 when every core was working.
    pub(super) fn busy_share_until(&self, later: &CpuTimes) -> Option<f64> {
        let total = later.total.checked_sub(self.total)?;
        let steal = later.steal.saturating_sub(self.steal);
        let idle = later.idle.saturating_sub(self.idle);
        let had = total.checked_sub(steal).filter(|t| *t > 0)?;
        Some(had.saturating_sub(idle) as f64 / had as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steal_is_read_from_the_eighth_field() {
        let a = CpuTimes::parse("cpu  100 0 50 800 10 0 5 35 0 0\ncpu0 1 2 3\n").unwrap();
        let b = CpuTimes::parse("cpu  200 0 100 1550 20 0 10 120 0 0\n").unwrap();
        assert_eq!(a.steal, 35);
        // 1000 ticks later, 85 of them stolen.
        assert!((a.steal_share_until(&b).unwrap() - 0.085).abs() < 1e-9);
        // Of the 915 ticks it had, 760 idle (750 idle + 10 iowait): 155 busy.
        assert!((a.busy_share_until(&b).unwrap() - 155.0 / 915.0).abs() < 1e-9);
        assert!(CpuTimes::now().is_some());
        assert_eq!(CpuTimes::parse("intr 1 2"), None);
    }

    #[test]
    fn this_machine_answers() {
        let total = total_memory().unwrap();
        assert!(available_memory().unwrap() <= total);
        assert!(peak_rss().unwrap() > 0);
        assert!(free_disk(Path::new("/nonexistent/below/root")).unwrap() > 0);
    }
}
