//! `migration.json`, what `archbench migrate` measured: the rehearsal's stages and
//! their durations, the backfill's throughput, the dual-write's overhead and repairs,
//! the shadow reads, parity by content hash, what a kill and resume lost or doubled,
//! and the duration projected to the production size. Read by the report; written
//! atomically, also mid-way (marked incomplete) so that a stop loses nothing.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::ResultsError;

/// Version of `migration.json`'s layout.
pub const MIGRATION_SCHEMA_VERSION: u32 = 1;

/// A migration rehearsal's results.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Migration {
    /// Always [`MIGRATION_SCHEMA_VERSION`].
    pub schema_version: u32,
    /// False while stages remain (a stop, a kill) — a resume completes it.
    pub complete: bool,
    /// RFC 3339, the first start (kept across resumes).
    pub started_at: String,
    /// RFC 3339, the last write.
    pub finished_at: String,
    /// RFC 3339, when the latest process (the first, or a resume) started.
    pub last_start: String,
    /// Scenario name.
    pub scenario: String,
    /// SHA-256 of the scenario file.
    pub scenario_hash: String,
    /// Source system.
    pub from: String,
    /// Target system.
    pub to: String,
    /// Store mode, network and instance profiles the rehearsal ran under.
    pub rig: MigrationRig,
    /// Entities the scenario seeded into the source.
    pub seeded_entities: u64,
    /// RFC 3339: the end of the seeded history (a resume derives the same keys).
    pub history_end: String,
    /// The stage reached; `done` at the end.
    pub stage: String,
    /// Each stage's wall time, seconds, in order (a resumed stage counts both parts).
    pub stages: Vec<StageTime>,
    /// Bodies and events copied into the target.
    pub backfill: Backfill,
    /// Live writes mirrored into the target.
    pub dual_write: DualWrite,
    /// Write latency with the dual-write against the source alone, same load.
    pub dual_write_overhead: Overhead,
    /// Reads asked of both, the source's answer served.
    pub shadow_reads: ShadowReads,
    /// Source against target after the backfill and repairs.
    pub parity: Parity,
    /// What the kills and resumes lost or doubled, from the final parity.
    pub resume: Resume,
    /// The switch to the target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cutover: Option<Cutover>,
    /// Back to the source with the writes made after the cut-over.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback: Option<Rollback>,
    /// Stage durations at the production size.
    pub projection: Projection,
    /// Hours the size-dependent stages would take at the production size.
    pub projected_hours: f64,
    /// Caveats a reader must know.
    pub notes: Vec<String>,
}

/// Where the rehearsal ran.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct MigrationRig {
    /// `local`, `docker` or `external`.
    pub stores: String,
    /// Network profile, when one was in play.
    pub network: Option<String>,
    /// Instance profile, when PostgreSQL was confined.
    pub instance: Option<String>,
}

/// One stage's wall time.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StageTime {
    /// Stage.
    pub stage: String,
    /// Seconds.
    pub seconds: f64,
}

/// The backfill.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Backfill {
    /// Entities written into the target.
    pub entities: u64,
    /// Entities the target held already (written by the dual-write, or by the run
    /// before a resume).
    pub skipped: u64,
    /// Versions copied.
    pub versions: u64,
    /// Body bytes copied (every version).
    pub bytes: u64,
    /// Seconds spent copying.
    pub seconds: f64,
    /// Entities per second.
    pub entities_per_s: f64,
    /// Body megabytes (10^6) per second.
    pub mb_per_s: f64,
    /// Batches committed.
    pub batches: u64,
    /// Times a batch was retried (a concurrent write took an id between check and copy).
    pub retries: u64,
    /// Resumes from a checkpoint.
    pub resumes: u64,
}

/// The dual-write.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct DualWrite {
    /// Writes served by the source and mirrored.
    pub writes: u64,
    /// Mirrored writes that failed or diverged on the target, by reason.
    pub target_failures: BTreeMap<String, u64>,
    /// Entities repaired by copying them again from the source.
    pub repaired: u64,
    /// Entities queued for repair on a resume because the stopped process may have
    /// written them to the source only (its writes in flight).
    pub requeued_on_resume: u64,
}

/// Latency of writes (create and update together), milliseconds.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct WriteLatency {
    /// Median.
    pub p50_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Writes measured.
    pub count: u64,
}

/// The dual-write's cost on writes.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Overhead {
    /// Added median, milliseconds (dual-write minus source alone).
    pub p50_ms: f64,
    /// Added 99th percentile, milliseconds.
    pub p99_ms: f64,
    /// The source alone.
    pub source_alone: WriteLatency,
    /// With the dual-write (the shadow stage: backfill done, reads shadowed).
    pub dual_write: WriteLatency,
    /// With the dual-write while the backfill ran beside it.
    pub during_backfill: WriteLatency,
}

/// Shadow reads of one op.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ShadowOp {
    /// Compared.
    pub compared: u64,
    /// Different answers that a second look a moment later still found different.
    pub mismatched: u64,
    /// Different answers that agreed on the second look (a write in flight, a lagging
    /// projection).
    pub transient: u64,
    /// The target's call failed.
    pub failed: u64,
}

/// Shadow reads.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ShadowReads {
    /// Share of reads shadowed.
    pub sample: f64,
    /// Compared, all ops.
    pub compared: u64,
    /// Mismatched, all ops.
    pub mismatched: u64,
    /// Mismatched per compared.
    pub mismatch_rate: f64,
    /// Per op.
    pub ops: BTreeMap<String, ShadowOp>,
    /// Search: mean recall@k of the target's hits against the source's exact top-k.
    pub search_recall: Option<f64>,
    /// Search: a comparison below this recall is a mismatch.
    pub min_recall: f64,
    /// The first mismatches, with ids.
    pub samples: Vec<Mismatch>,
}

/// One kept mismatch.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Mismatch {
    /// Op or check.
    pub op: String,
    /// Entity or user asked about.
    pub key: String,
    /// What differed.
    pub detail: String,
}

/// Parity of source and target.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Parity {
    /// When checked: `after_backfill`, `after_rollback`, or `check` (`--verify-only`).
    pub checked: String,
    /// Entities compared (union of both sides).
    pub entities: u64,
    /// In the source, not the target.
    pub missing: u64,
    /// In the target, not the source.
    pub extra: u64,
    /// In both, content hash different.
    pub mismatched: u64,
    /// Versions the source holds and the target does not.
    pub missing_versions: u64,
    /// Versions the target holds more than once.
    pub duplicated_versions: u64,
    /// The first ids of each kind.
    pub samples: Vec<Mismatch>,
    /// Per logical table: checksums on both sides.
    pub tables: Vec<TableParity>,
    /// The target's objects against the keys the source's bodies should be under.
    pub objects: ObjectParity,
    /// Seconds the check took.
    pub seconds: f64,
}

impl Parity {
    /// Whether nothing differs.
    pub fn clean(&self) -> bool {
        self.missing == 0
            && self.extra == 0
            && self.mismatched == 0
            && self.tables.iter().all(|t| t.matches)
            && self.objects.missing == 0
            && self.objects.mismatched_prefixes == 0
    }
}

/// One logical table on both sides.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TableParity {
    /// Logical table.
    pub table: String,
    /// Source relation and rows.
    pub source: String,
    /// Rows in the source.
    pub source_rows: u64,
    /// Target relation.
    pub target: String,
    /// Rows in the target.
    pub target_rows: u64,
    /// Same MD5.
    pub matches: bool,
}

/// Objects per prefix.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ObjectParity {
    /// Prefixes compared.
    pub prefixes: u64,
    /// Prefixes whose checksum (MD5 of sorted `key size` lines) differs.
    pub mismatched_prefixes: u64,
    /// Expected objects absent.
    pub missing: u64,
    /// Objects nobody refers to (a write that failed after its PUT leaves one).
    pub unreferenced: u64,
}

/// Lost and doubled, after resumes.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Resume {
    /// Resumes from a checkpoint.
    pub resumes: u64,
    /// Entities and versions of the source missing from the target at the end.
    pub lost: u64,
    /// Versions the target holds twice.
    pub duplicated: u64,
}

/// The cut-over.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Cutover {
    /// RFC 3339.
    pub at: String,
    /// Writes served by the target alone after it.
    pub writes_after: u64,
    /// Target write latency after the cut-over.
    pub write_latency: WriteLatency,
}

/// The rollback.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Rollback {
    /// Entities written after the cut-over, carried back into the source.
    pub carried_back: u64,
    /// Seconds it took.
    pub seconds: f64,
    /// Source against target after it.
    pub parity: Parity,
}

/// The stages at the production size.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Projection {
    /// Users.
    pub users: u64,
    /// Entities per user (the scenario's).
    pub entities_per_user: u64,
    /// Entities.
    pub entities: u64,
    /// Where the size comes from.
    pub basis: String,
    /// Hours per size-dependent stage (backfill, parity).
    pub hours: BTreeMap<String, f64>,
    /// How the hours were obtained.
    pub method: String,
}

impl Migration {
    /// Writes `path` through a temporary file and a rename.
    pub fn write_atomic(&self, path: &Path) -> Result<(), ResultsError> {
        let json = serde_json::to_vec_pretty(self).expect("migration results serialise");
        crate::atomic::write_atomic(path, &json, 0o644).map_err(|source| ResultsError::Io {
            path: path.display().to_string(),
            source,
        })
    }

    /// Reads and checks a `migration.json`.
    pub fn read(path: &Path) -> Result<Self, ResultsError> {
        let p = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|source| ResultsError::Io {
            path: p.clone(),
            source,
        })?;
        let m: Migration = serde_json::from_slice(&bytes).map_err(|e| ResultsError::Invalid {
            path: p.clone(),
            message: format!("not a migration results file: {e}"),
        })?;
        if m.schema_version != MIGRATION_SCHEMA_VERSION {
            return Err(ResultsError::Invalid {
                path: p,
                message: format!(
                    "schema_version {} (this archbench reads {MIGRATION_SCHEMA_VERSION})",
                    m.schema_version
                ),
            });
        }
        Ok(m)
    }
}
