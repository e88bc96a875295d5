//! Store faults mid-run: PostgreSQL, the object store or the workflow emulator killed
//! (and started again) or paused (and continued) at a time into the measured phases.
//! A [`FaultRun`] plays a list of faults against the targets a run gives it and records
//! when each was injected, restored and serving again; what the load saw meanwhile is
//! the recorder's part.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::stores::LocalServer;

/// What a fault breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultTarget {
    /// The PostgreSQL server, all its processes.
    Postgres,
    /// The S3-compatible object store.
    ObjectStore,
    /// The workflow (Inngest) emulator of the system under test.
    Emulator,
}

impl FaultTarget {
    /// Every target, in the order the docs list them.
    pub const ALL: [FaultTarget; 3] = [Self::Postgres, Self::ObjectStore, Self::Emulator];

    /// The name in scenario files and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Self::Postgres => "postgres",
            Self::ObjectStore => "object_store",
            Self::Emulator => "emulator",
        }
    }
}

/// How it breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultAction {
    /// Killed at once (SIGKILL), as a crash; started again after the fault's time.
    Kill,
    /// Stopped (SIGSTOP): connections open but nothing answers; continued after.
    Pause,
}

impl FaultAction {
    /// Both actions.
    pub const ALL: [FaultAction; 2] = [Self::Kill, Self::Pause];

    /// The name in scenario files and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Self::Kill => "kill",
            Self::Pause => "pause",
        }
    }
}

/// One fault: `target` broken by `action` at `at` into the measured phases, restored
/// `down_for` later.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Fault {
    /// What breaks.
    pub target: FaultTarget,
    /// How.
    pub action: FaultAction,
    /// When, counted from the start of the first measured phase of each system's turn.
    #[serde(serialize_with = "as_text")]
    pub at: Duration,
    /// How long until it is started again or continued.
    #[serde(rename = "for", serialize_with = "as_text")]
    pub down_for: Duration,
}

/// A duration as a scenario file writes it (`20s`).
fn as_text<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&humantime::format_duration(*d))
}

impl Fault {
    /// Parses `--fault-at TARGET:ACTION@AT+FOR`, e.g. `postgres:kill@20s+5s`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "--fault-at `{s}`: write TARGET:ACTION@AT+FOR, e.g. postgres:kill@20s+5s \
                 (targets: {}; actions: {})",
                FaultTarget::ALL.map(FaultTarget::name).join(", "),
                FaultAction::ALL.map(FaultAction::name).join(", ")
            )
        };
        let (what, when) = s.split_once('@').ok_or_else(bad)?;
        let (target, action) = what.split_once(':').ok_or_else(bad)?;
        let (at, down_for) = when.split_once('+').ok_or_else(bad)?;
        let target = FaultTarget::ALL
            .into_iter()
            .find(|t| t.name() == target.trim())
            .ok_or_else(bad)?;
        let action = FaultAction::ALL
            .into_iter()
            .find(|a| a.name() == action.trim())
            .ok_or_else(bad)?;
        let duration = |d: &str| humantime::parse_duration(d.trim()).map_err(|_| bad());
        let (at, down_for) = (duration(at)?, duration(down_for)?);
        if down_for.is_zero() {
            return Err(format!(
                "--fault-at `{s}`: the time down must be above zero"
            ));
        }
        Ok(Self {
            target,
            action,
            at,
            down_for,
        })
    }

    /// How it reads in notes and reports: `postgres kill at 20s for 5s`.
    pub fn describe(&self) -> String {
        format!(
            "{} {} at {} for {}",
            self.target.name(),
            self.action.name(),
            humantime::format_duration(self.at),
            humantime::format_duration(self.down_for)
        )
    }
}

/// Something a fault can break: a local server, or the emulator. Errors are for the
/// record and the run's notes; the run goes on.
#[async_trait::async_trait]
pub trait Breakable: Send + Sync {
    /// Stops it at once, as a crash would.
    async fn kill(&self) -> Result<(), String>;
    /// Stops it answering without closing anything.
    async fn pause(&self) -> Result<(), String>;
    /// Undoes either, and returns once it serves again.
    async fn restore(&self, action: FaultAction) -> Result<(), String>;
}

#[async_trait::async_trait]
impl Breakable for LocalServer {
    async fn kill(&self) -> Result<(), String> {
        LocalServer::kill(self).await.map_err(|e| e.to_string())
    }

    async fn pause(&self) -> Result<(), String> {
        self.signal_all(libc::SIGSTOP);
        Ok(())
    }

    async fn restore(&self, action: FaultAction) -> Result<(), String> {
        if action == FaultAction::Pause {
            self.signal_all(libc::SIGCONT);
        }
        // After a kill this starts the server again; either way it waits until it serves.
        self.restart().await.map_err(|e| e.to_string())
    }
}

/// What happened to one fault, in milliseconds from the recorder's start (the clock
/// of the interval log and the error timestamps).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultEvents {
    /// What broke.
    pub target: FaultTarget,
    /// How.
    pub action: FaultAction,
    /// When it was planned, from the start of the first measured phase.
    pub at_ms: u64,
    /// For how long it was planned.
    pub down_for_ms: u64,
    /// When it was injected; `None` when the phases ended first.
    pub injected_ms: Option<u64>,
    /// When the restart or continue was issued.
    pub restored_ms: Option<u64>,
    /// When the target served again.
    pub serving_ms: Option<u64>,
    /// A failure to inject or restore it.
    pub error: Option<String>,
}

/// Faults being played against their targets.
pub struct FaultRun {
    stop: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<FaultEvents>>,
}

/// Called with the instant a target is restored: the recorder starts looking for each
/// op's first success from there.
pub type OnRestored = Arc<dyn Fn(Instant) + Send + Sync>;

impl FaultRun {
    /// Starts playing `faults` now; times are recorded from `epoch`.
    pub fn start(
        faults: Vec<(Fault, Arc<dyn Breakable>)>,
        epoch: Instant,
        on_restored: OnRestored,
    ) -> Self {
        let (stop, stopped) = watch::channel(false);
        let start = Instant::now();
        let tasks = faults
            .into_iter()
            .map(|(fault, target)| {
                let play = Play {
                    fault,
                    target,
                    start,
                    epoch,
                    stopped: stopped.clone(),
                    on_restored: on_restored.clone(),
                };
                tokio::spawn(play.run())
            })
            .collect();
        Self { stop, tasks }
    }

    /// Ends the run: faults not yet injected are skipped, targets still down are
    /// restored now (so that the next system meets healthy stores), and each fault's
    /// events are returned.
    pub async fn finish(self) -> Vec<FaultEvents> {
        let _ = self.stop.send(true);
        let mut events = Vec::new();
        for task in self.tasks {
            if let Ok(e) = task.await {
                events.push(e);
            }
        }
        events
    }
}

struct Play {
    fault: Fault,
    target: Arc<dyn Breakable>,
    start: Instant,
    epoch: Instant,
    stopped: watch::Receiver<bool>,
    on_restored: OnRestored,
}

impl Play {
    fn ms(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.epoch).as_millis() as u64
    }

    /// Sleeps until `until`; false when the run ended first.
    async fn sleep_until(&mut self, until: Instant) -> bool {
        tokio::select! {
            _ = tokio::time::sleep_until(until) => true,
            _ = self.stopped.wait_for(|s| *s) => false,
        }
    }

    async fn run(mut self) -> FaultEvents {
        let mut events = FaultEvents {
            target: self.fault.target,
            action: self.fault.action,
            at_ms: self.fault.at.as_millis() as u64,
            down_for_ms: self.fault.down_for.as_millis() as u64,
            injected_ms: None,
            restored_ms: None,
            serving_ms: None,
            error: None,
        };
        if !self.sleep_until(self.start + self.fault.at).await {
            return events;
        }
        let injected = match self.fault.action {
            FaultAction::Kill => self.target.kill().await,
            FaultAction::Pause => self.target.pause().await,
        };
        events.injected_ms = Some(self.ms(Instant::now()));
        if let Err(e) = injected {
            events.error = Some(format!("injecting: {e}"));
        }
        let restore_at = self.start + self.fault.at + self.fault.down_for;
        self.sleep_until(restore_at).await;
        let restored = Instant::now();
        events.restored_ms = Some(self.ms(restored));
        (self.on_restored)(restored);
        match self.target.restore(self.fault.action).await {
            Ok(()) => events.serving_ms = Some(self.ms(Instant::now())),
            Err(e) => {
                events.error.get_or_insert(format!("restoring: {e}"));
            }
        }
        events
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_at_parses_and_names_what_is_wrong() {
        let f = Fault::parse("postgres:kill@20s+5s").unwrap();
        assert_eq!(f.target, FaultTarget::Postgres);
        assert_eq!(f.action, FaultAction::Kill);
        assert_eq!(f.at, Duration::from_secs(20));
        assert_eq!(f.down_for, Duration::from_secs(5));
        assert_eq!(f.describe(), "postgres kill at 20s for 5s");
        let f = Fault::parse("object_store:pause@1s 500ms+2s").unwrap();
        assert_eq!(f.at, Duration::from_millis(1500));
        for bad in [
            "postgres:kill@20s",
            "pg:kill@20s+5s",
            "postgres:stop@20s+5s",
            "postgres:kill@soon+5s",
            "postgres@20s+5s",
        ] {
            let e = Fault::parse(bad).unwrap_err();
            assert!(e.contains(bad) && e.contains("TARGET:ACTION@AT+FOR"), "{e}");
        }
        assert!(
            Fault::parse("emulator:pause@1s+0s")
                .unwrap_err()
                .contains("above zero")
        );
    }

    /// A target that notes what was done to it.
    #[derive(Default)]
    struct Notebook(std::sync::Mutex<Vec<&'static str>>);

    #[async_trait::async_trait]
    impl Breakable for Notebook {
        async fn kill(&self) -> Result<(), String> {
            self.0.lock().unwrap().push("kill");
            Ok(())
        }
        async fn pause(&self) -> Result<(), String> {
            self.0.lock().unwrap().push("pause");
            Ok(())
        }
        async fn restore(&self, _: FaultAction) -> Result<(), String> {
            self.0.lock().unwrap().push("restore");
            Ok(())
        }
    }

    #[tokio::test(start_paused = true)]
    async fn faults_play_on_time_and_the_end_restores_what_is_down() {
        let epoch = Instant::now() - Duration::from_secs(2);
        let target = Arc::new(Notebook::default());
        let restored = Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = restored.clone();
        let fault = |at, down_for| Fault {
            target: FaultTarget::Emulator,
            action: FaultAction::Kill,
            at: Duration::from_secs(at),
            down_for: Duration::from_secs(down_for),
        };
        let run = FaultRun::start(
            vec![
                (fault(1, 2), target.clone() as Arc<dyn Breakable>),
                (fault(5, 100), target.clone()),
                (fault(50, 1), target.clone()),
            ],
            epoch,
            Arc::new(move |at| seen.lock().unwrap().push(at)),
        );
        tokio::time::sleep(Duration::from_secs(10)).await;
        let events = run.finish().await;
        assert_eq!(events[0].injected_ms, Some(3_000));
        assert_eq!(events[0].restored_ms, Some(5_000));
        assert_eq!(events[0].serving_ms, Some(5_000));
        // The second was down when the phases ended: restored then, not 100 s later.
        assert_eq!(events[1].injected_ms, Some(7_000));
        assert_eq!(events[1].restored_ms, Some(12_000));
        // The third never came.
        assert_eq!(events[2].injected_ms, None);
        assert_eq!(events[2].restored_ms, None);
        assert_eq!(
            *target.0.lock().unwrap(),
            ["kill", "restore", "kill", "restore"]
        );
        assert_eq!(restored.lock().unwrap().len(), 2);
    }
}
