//! The commands layer: one file per subcommand, on top of the pipeline. `main.rs`
//! parses the command line into these calls and maps their errors to exit codes with
//! [`exit_code`].

pub mod exit;
pub mod gate;
pub mod merge;
pub mod report;
pub mod run;
pub mod stores;

use std::path::PathBuf;

pub use exit::{UsageError, error_message, exit_code};

use crate::arch::fault::FaultSpec;
use crate::arch::split_systems;
use crate::run::RunOptions;
use crate::stores::{LocalOptions, ProvisionOptions, StoreMode};

/// Where the stores come from, as the command line says.
#[derive(Debug, Clone)]
pub struct StoreChoice {
    /// Store mode.
    pub mode: StoreMode,
    /// Directory for local run directories (default: $TMPDIR/archbench-<uid>).
    pub run_root: Option<PathBuf>,
}

impl StoreChoice {
    /// Provisioning settings for this choice.
    pub fn provision_options(&self) -> ProvisionOptions {
        ProvisionOptions {
            local: LocalOptions {
                run_root: self.run_root.clone(),
                ..LocalOptions::default()
            },
            ..ProvisionOptions::default()
        }
    }

    /// The options of a run of `scenario` on these stores.
    pub fn run_options(
        &self,
        scenario: PathBuf,
        systems: Option<&str>,
        out: PathBuf,
        repeat: usize,
        faults: Vec<FaultSpec>,
    ) -> RunOptions {
        RunOptions {
            scenario,
            systems: systems.map(split_systems),
            stores: self.mode,
            provision: self.provision_options(),
            out,
            repeat,
            faults,
        }
    }
}
