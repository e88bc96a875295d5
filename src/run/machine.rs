//! What this machine has: memory (`/proc/meminfo`), this process's peak memory
//! (`/proc/self/status`) and free disk (`statvfs`).

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_machine_answers() {
        let total = total_memory().unwrap();
        assert!(available_memory().unwrap() <= total);
        assert!(peak_rss().unwrap() > 0);
        assert!(free_disk(Path::new("/nonexistent/below/root")).unwrap() > 0);
    }
}
