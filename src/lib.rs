//! archbench: runs the current (V0.2) and the proposed (V0.3) architecture of the
//! decision document side by side on real stores, measures them, and checks the
//! document's claims against what it measured.
//!
//! Data flows one way: scenario -> stores -> systems -> seed -> load -> measurements
//! -> results -> cost & verdict -> report / gate, with the commands layer ([`cli`]) on
//! top. Each module owns one step and imports only from the steps before it.

pub mod arch;
pub mod atomic;
pub mod cli;
pub mod cost;
pub mod escape;
pub mod gate;
pub mod growth;
pub mod input;
pub mod loadgen;
pub mod measure;
pub mod migrate;
pub mod numbers;
pub mod probes;
pub mod report;
pub mod results;
pub mod rig;
pub mod run;
pub mod scenario;
pub mod shutdown;
pub mod stores;
pub mod timer;
pub mod verdict;
