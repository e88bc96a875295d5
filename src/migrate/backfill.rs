//! The backfill: the source read page by page in id order, each page imported into
//! the target in one transaction (ids it holds already skipped: the dual-write made
//! them, or the run before a kill did), then the cursor saved. A page that meets an
//! id a live write took between the check and the copy is retried.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::time::{Duration, Instant};

use super::state::{Checkpoint, Saved};
use crate::arch::{ArchError, ImportMode, Portable};

/// Tries per page before the backfill gives up.
const TRIES: u32 = 5;

/// What the backfill runs on.
pub struct Backfiller<'a> {
    /// Read from.
    pub source: &'a dyn Portable,
    /// Written into.
    pub target: &'a dyn Portable,
    /// Where the cursor is saved.
    pub checkpoint: &'a Checkpoint,
    /// Entities per page.
    pub batch: i64,
    /// The source's size, for the progress line.
    pub expected: u64,
    /// Set on Ctrl-C: the page in hand commits, the cursor is saved, the backfill stops.
    pub stop: &'a Arc<AtomicBool>,
}

impl Backfiller<'_> {
    /// Copies until the source is exhausted (`true`) or a stop (`false`), updating
    /// `saved` and the checkpoint after every page.
    pub async fn run(
        &self,
        saved: &mut Saved,
        out: &mut (impl std::io::Write + Send),
    ) -> anyhow::Result<bool> {
        let started = Instant::now();
        let seconds_before = saved.results.backfill.seconds;
        let mut last_line = Instant::now();
        loop {
            if self.stop.load(SeqCst) {
                return Ok(false);
            }
            let page = self
                .source
                .export_page(saved.backfill_after, None, self.batch)
                .await?;
            let Some(last) = page.last().map(|s| s.id) else {
                return Ok(true);
            };
            let seeds: Vec<_> = page.iter().filter_map(|s| s.to_seed()).collect();
            let mut tries = 0;
            let imported = loop {
                tries += 1;
                match self.target.import(&seeds, ImportMode::SkipExisting).await {
                    Ok(i) => break i,
                    Err(e) if tries < TRIES && taken(&e) => {
                        saved.results.backfill.retries += 1;
                        tokio::time::sleep(Duration::from_millis(20 * u64::from(tries))).await;
                    }
                    Err(e) => {
                        return Err(anyhow::Error::from(e).context(format!(
                            "backfill: importing the page after {:?}",
                            saved.backfill_after
                        )));
                    }
                }
            };
            let b = &mut saved.results.backfill;
            b.entities += imported.written;
            b.skipped += imported.skipped;
            b.versions += imported.versions;
            b.bytes += imported.bytes;
            b.batches += 1;
            b.seconds = seconds_before + started.elapsed().as_secs_f64();
            if b.seconds > 0.0 {
                b.entities_per_s = b.entities as f64 / b.seconds;
                b.mb_per_s = b.bytes as f64 / 1e6 / b.seconds;
            }
            saved.backfill_after = Some(last);
            self.checkpoint.save(saved).await?;
            if last_line.elapsed() >= Duration::from_secs(2) {
                last_line = Instant::now();
                let b = &saved.results.backfill;
                let done = b.entities + b.skipped;
                writeln!(
                    out,
                    "backfill: {done} of ~{} entities ({:.0}%), {:.0} entities/s, {:.2} MB/s",
                    self.expected,
                    100.0 * done as f64 / self.expected.max(1) as f64,
                    b.entities_per_s,
                    b.mb_per_s
                )?;
            }
        }
    }
}

/// Whether an import failed because a live write took one of its ids meanwhile.
fn taken(e: &ArchError) -> bool {
    matches!(e, ArchError::Postgres { source: sqlx::Error::Database(d), .. } if d.is_unique_violation())
}
