//! Progress while a run goes: a spinner line on a terminal, plain periodic lines
//! otherwise (CI logs).

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use crate::loadgen::record::Recorder;
use crate::loadgen::seed::SeedProgress;

fn every() -> Duration {
    if std::io::stderr().is_terminal() {
        Duration::from_millis(250)
    } else {
        Duration::from_secs(5)
    }
}

fn spawn_ticker(
    mut line: impl FnMut(f64) -> String + Send + 'static,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let tty = std::io::stderr().is_terminal();
        let bar = tty.then(|| {
            let b = indicatif::ProgressBar::new_spinner();
            b.set_draw_target(indicatif::ProgressDrawTarget::stderr());
            b
        });
        let start = Instant::now();
        // Clears the spinner when the task is aborted.
        struct Clear(Option<indicatif::ProgressBar>);
        impl Drop for Clear {
            fn drop(&mut self) {
                if let Some(b) = &self.0 {
                    b.finish_and_clear();
                }
            }
        }
        let guard = Clear(bar);
        loop {
            tokio::time::sleep(every()).await;
            let text = line(start.elapsed().as_secs_f64());
            match &guard.0 {
                Some(b) => {
                    b.set_message(text);
                    b.tick();
                }
                None => eprintln!("{text}"),
            }
        }
    })
}

/// Reports seeding progress until aborted.
pub fn seed_ticker(name: String, p: Arc<SeedProgress>, total: u64) -> tokio::task::JoinHandle<()> {
    spawn_ticker(move |secs| {
        let n = p.entities.load(Relaxed);
        format!(
            "{name} seeding: {n}/{total} entities, {:.1} MB, {:.0} entities/s",
            p.bytes.load(Relaxed) as f64 / 1e6,
            n as f64 / secs.max(1e-3)
        )
    })
}

/// Reports a phase's progress until aborted.
pub fn phase_ticker(label: String, rec: Arc<Recorder>) -> tokio::task::JoinHandle<()> {
    // The recorder may hold earlier phases of the same repetition: rate and counts
    // are this phase's own.
    let (base_done, base_failed) = rec.progress();
    spawn_ticker(move |secs| {
        let (done, failed) = rec.progress();
        let (done, failed) = (done - base_done, failed - base_failed);
        format!(
            "{label}: {done} ops, {:.1} ops/s, p99 {:.1} ms, {failed} errors",
            done as f64 / secs.max(1e-3),
            rec.p99_so_far() as f64 / 1e3
        )
    })
}
