//! How a gate input was assembled from interleaved runs (`archbench gate interleave`):
//! the baseline's and the candidate's builds ran turn about, one fresh run per
//! repetition, so that a slow spell of the host falls on both sides.

use serde::{Deserialize, Serialize};

/// One side of an interleaved comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// The build compared against (`A` in the order).
    Baseline,
    /// The build under test (`B` in the order).
    Candidate,
}

impl Side {
    /// The letter the run order uses.
    pub fn letter(self) -> char {
        match self {
            Side::Baseline => 'A',
            Side::Candidate => 'B',
        }
    }

    /// As a folder and file name says it.
    pub fn name(self) -> &'static str {
        match self {
            Side::Baseline => "baseline",
            Side::Candidate => "candidate",
        }
    }
}

/// The provenance of a results file combined from one side's interleaved runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Interleaving {
    /// Which side this file holds.
    pub side: Side,
    /// Both sides' runs in the order they ran, `A` baseline and `B` candidate
    /// (e.g. `ABBAABBAAB`).
    pub order: String,
    /// This side's results files, in the order they ran: repetition i is run i.
    pub runs: Vec<String>,
    /// The binary that ran them and its `--version`.
    pub binary: String,
}
