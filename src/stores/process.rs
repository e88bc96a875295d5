//! Child processes that archbench owns: started with their output in a log file, in
//! their own process group (so a terminal's Ctrl-C reaches archbench, which then stops
//! them in order), and with a parent-death signal so that even a killed archbench
//! leaves no server behind.

use std::fs::File;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

use crate::stores::StoreError;

/// A server process started by archbench.
pub struct OwnedProcess {
    name: String,
    child: Child,
    pid: u32,
    stop_signal: i32,
}

/// Who a child runs as: PostgreSQL refuses to run as root.
#[derive(Debug, Clone, Copy)]
pub struct RunAs {
    /// User id.
    pub uid: u32,
    /// Group id.
    pub gid: u32,
}

impl OwnedProcess {
    /// Spawns `cmd` with stdout and stderr appended to `log`. `stop_signal` is sent on
    /// [`OwnedProcess::stop`] and, as the parent-death signal, if archbench dies first.
    /// The process joins every `cgroup.procs` file of `join` before it executes, so
    /// that whatever it forks is inside the cgroups from its first instruction.
    pub fn spawn(
        name: &str,
        mut cmd: Command,
        log: &Path,
        run_as: Option<RunAs>,
        stop_signal: i32,
        join: &[std::path::PathBuf],
    ) -> Result<Self, StoreError> {
        let out = File::options()
            .create(true)
            .append(true)
            .open(log)
            .map_err(StoreError::io(format!("opening {}", log.display())))?;
        let err = out
            .try_clone()
            .map_err(StoreError::io("duplicating a log handle"))?;
        cmd.stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .process_group(0)
            .kill_on_drop(true);
        // Opened here, written in the child: `open` after fork is allowed, but an error
        // is clearer when it names the file before anything starts.
        let cgroups = join
            .iter()
            .map(|p| {
                File::options()
                    .write(true)
                    .open(p)
                    .map_err(StoreError::io(format!("opening {}", p.display())))
            })
            .collect::<Result<Vec<File>, _>>()?;
        let fds: Vec<i32> = cgroups
            .iter()
            .map(std::os::fd::AsRawFd::as_raw_fd)
            .collect();
        // Joining a cgroup needs root: with cgroups the identity is dropped by hand
        // after joining (std would drop it before the hook runs).
        let switch_to = if fds.is_empty() {
            if let Some(r) = run_as {
                cmd.uid(r.uid).gid(r.gid);
            }
            None
        } else {
            run_as
        };
        // SAFETY: write, setgroups, setgid, setuid and prctl are async-signal-safe and
        // touch no memory of the parent; the fds stay open until spawn returns.
        // prctl runs after the uid change, which matters because a credential change
        // clears the parent-death signal.
        unsafe {
            cmd.pre_exec(move || {
                for &fd in &fds {
                    // "0": the writing process itself (cgroup v1 and v2 alike).
                    if libc::write(fd, b"0".as_ptr().cast(), 1) != 1 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                if let Some(r) = switch_to
                    && (libc::setgroups(0, std::ptr::null()) != 0
                        || libc::setgid(r.gid) != 0
                        || libc::setuid(r.uid) != 0)
                {
                    return Err(std::io::Error::last_os_error());
                }
                if libc::prctl(
                    libc::PR_SET_PDEATHSIG,
                    stop_signal as libc::c_ulong,
                    0,
                    0,
                    0,
                ) != 0
                {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let spawned = cmd.spawn();
        drop(cgroups);
        let child = spawned.map_err(|e| StoreError::ProcessStart {
            store: name.into(),
            reason: format!("could not execute: {e}"),
            log: log.to_path_buf(),
            log_tail: String::new(),
        })?;
        let pid = child.id().unwrap_or(0);
        Ok(Self {
            name: name.into(),
            child,
            pid,
            stop_signal,
        })
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The exit status once the process has exited.
    pub fn exit_status(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// `Some(description)` when the process has exited.
    pub fn exited(&mut self) -> Option<String> {
        match self.child.try_wait() {
            Ok(Some(status)) => Some(format!("{} exited with {status}", self.name)),
            Ok(None) => None,
            Err(e) => Some(format!("{} could not be waited for: {e}", self.name)),
        }
    }

    /// Sends the stop signal and waits up to `grace`, then kills the process.
    pub async fn stop(self, grace: Duration) -> Result<(), StoreError> {
        self.stop_with(None, grace).await
    }

    /// As [`OwnedProcess::stop`], with `sig` instead of the process's own stop signal.
    pub async fn stop_with(mut self, sig: Option<i32>, grace: Duration) -> Result<(), StoreError> {
        if self.child.try_wait().ok().flatten().is_some() {
            return Ok(());
        }
        signal(self.pid, sig.unwrap_or(self.stop_signal));
        if tokio::time::timeout(grace, self.child.wait())
            .await
            .is_err()
        {
            self.child.kill().await.map_err(StoreError::io(format!(
                "killing {} (pid {})",
                self.name, self.pid
            )))?;
        }
        Ok(())
    }
}

/// Sends `sig` to `pid`; a process that is gone already is not an error.
pub fn signal(pid: u32, sig: i32) {
    if pid == 0 {
        return;
    }
    // SAFETY: kill(2) with a concrete pid has no memory effects.
    unsafe {
        libc::kill(pid as libc::pid_t, sig);
    }
}

/// `pid` and every process descended from it, parents first. PostgreSQL's backends
/// each start a session of their own (`setsid`), so a process group does not hold them:
/// the tree is read from `/proc`.
pub fn tree(pid: u32) -> Vec<u32> {
    let mut parents: Vec<(u32, u32)> = Vec::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Some(child) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
                continue;
            };
            let parent = std::fs::read_to_string(entry.path().join("stat"))
                .ok()
                .and_then(|stat| {
                    // `pid (comm) state ppid …`; comm may hold spaces and parentheses.
                    let rest = stat.rsplit_once(')')?.1;
                    rest.split_whitespace().nth(1)?.parse().ok()
                });
            if let Some(parent) = parent {
                parents.push((child, parent));
            }
        }
    }
    let mut found = vec![pid];
    let mut next = 0;
    while next < found.len() {
        let at = found[next];
        found.extend(parents.iter().filter(|(_, p)| *p == at).map(|(c, _)| *c));
        next += 1;
    }
    found
}

/// Whether a process with this id exists (and is not a zombie we could reap).
pub fn alive(pid: u32) -> bool {
    if pid == 0 {
        return false;
    }
    // SAFETY: signal 0 only checks existence and permission.
    let exists = unsafe { libc::kill(pid as libc::pid_t, 0) } == 0;
    if !exists {
        return false;
    }
    // A zombie still answers kill(0); it holds no port and no file.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit_once(')')
            .map(|(_, rest)| rest.trim_start().starts_with('Z'))
            .unwrap_or(false),
        Err(_) => false,
    }
}

/// The last `n` lines of a log file, for error messages.
pub fn log_tail(path: &Path, n: usize) -> String {
    let text = std::fs::read(path).unwrap_or_default();
    let text = String::from_utf8_lossy(&text);
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(n);
    lines[start..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_returns_last_lines() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("log");
        std::fs::write(&p, "a\nb\nc\nd\n").unwrap();
        assert_eq!(log_tail(&p, 2), "c\nd");
        assert_eq!(log_tail(&p, 10), "a\nb\nc\nd");
        assert_eq!(log_tail(&dir.path().join("missing"), 3), "");
    }

    #[tokio::test]
    async fn stop_ends_the_process_and_alive_sees_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut cmd = Command::new("sleep");
        cmd.arg("30");
        let p = OwnedProcess::spawn(
            "sleep",
            cmd,
            &dir.path().join("log"),
            None,
            libc::SIGTERM,
            &[],
        )
        .unwrap();
        let pid = p.pid();
        assert!(alive(pid));
        p.stop(Duration::from_secs(5)).await.unwrap();
        assert!(!alive(pid));
    }

    #[tokio::test]
    async fn a_missing_program_is_a_start_error() {
        let dir = tempfile::tempdir().unwrap();
        let cmd = Command::new(dir.path().join("no-such-binary"));
        let err = OwnedProcess::spawn("x", cmd, &dir.path().join("log"), None, libc::SIGTERM, &[])
            .err()
            .unwrap();
        assert!(err.to_string().contains("could not execute"), "{err}");
    }

    #[test]
    fn a_tree_holds_descendants_that_left_the_session() {
        // As PostgreSQL's backends do: a child that calls setsid.
        let mut parent = std::process::Command::new("sh")
            .args(["-c", "setsid sleep 30 & sleep 30 & wait"])
            .spawn()
            .unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        let mut found = tree(parent.id());
        while found.len() < 3 && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
            found = tree(parent.id());
        }
        for &pid in &found {
            signal(pid, libc::SIGKILL);
        }
        let _ = parent.wait();
        assert_eq!(found[0], parent.id());
        assert_eq!(found.len(), 3, "sh and both sleeps: {found:?}");
    }
}
