//! The fault part of a system's results: each fault injected into a repetition, when
//! it was injected, restored and serving again, and per op the errors it caused and
//! how long the op took to succeed again. Times are milliseconds from the start of
//! the repetition's recorder, the clock of the interval log.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use crate::rig::faults::{FaultAction, FaultEvents, FaultTarget};

/// One fault in one repetition, and what the load saw.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FaultResult {
    /// Repetition (0-based).
    pub repetition: usize,
    /// What was done, and when.
    #[serde(flatten)]
    pub events: FaultEvents,
    /// Per op that failed in the fault's window or was watched after it.
    pub ops: BTreeMap<String, FaultOpResult>,
}

/// One op through one fault.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FaultOpResult {
    /// Errors from the second the fault was injected to the second it served again,
    /// plus one (late failures of ops issued while it was down).
    pub errors: u64,
    /// The op's first success at or after the restore (completion, ms).
    pub first_success_ms: Option<u64>,
    /// From the restore to that success, ms: the time the op took to recover.
    pub recovery_ms: Option<u64>,
}

impl FaultResult {
    /// The window the fault's errors are counted in, in whole seconds of the recorder.
    pub fn window_seconds(&self) -> Option<(u64, u64)> {
        let from = self.events.injected_ms? / 1000;
        let to = self
            .events
            .serving_ms
            .or(self.events.restored_ms)
            .unwrap_or(from * 1000)
            / 1000
            + 1;
        Some((from, to))
    }
}
