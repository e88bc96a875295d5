//! Measurements taken from the stores rather than from the code paths: where bodies
//! are stored (copies per item), how long projections take to become visible, and how
//! much database time each system's statements used, and how the time-window query
//! behaves as the event log grows.
//! Storage footprint per system lives with each system ([`crate::arch::Harness::footprint`])
//! because only the system knows its schema; it, too, reads sizes from the stores.

pub mod copies;
pub mod dbtime;
pub mod growth;
pub mod lag;
