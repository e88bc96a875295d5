//! The commands layer: one file per subcommand, on top of the pipeline. `main.rs`
//! parses the command line into these calls and maps their errors to exit codes with
//! [`exit_code`].

pub mod capacity;
pub mod exit;
pub mod gate;
pub mod interleave;
pub mod merge;
pub mod migrate;
pub mod report;
pub mod run;
pub mod serve;
pub mod stores;

use std::path::PathBuf;

pub use exit::{UsageError, error_message, exit_code};

use crate::arch::fault::FaultSpec;
use crate::arch::split_systems;
use crate::run::{Limits, RunOptions};
use crate::stores::{LocalOptions, ProvisionOptions, StoreMode};

/// `--stores` and `--run-root`, as every command that starts stores takes them.
#[derive(Debug, clap::Args)]
pub struct StoreArgs {
    /// Where the stores come from.
    #[arg(long, value_enum, default_value_t = StoreMode::Auto, env = "ARCHBENCH_STORES")]
    pub stores: StoreMode,
    /// Directory for local run directories (default: $TMPDIR/archbench-<uid>).
    #[arg(long, env = "ARCHBENCH_RUN_ROOT")]
    pub run_root: Option<PathBuf>,
}

impl StoreArgs {
    /// The choice these arguments make.
    pub fn choice(self) -> StoreChoice {
        StoreChoice {
            mode: self.stores,
            run_root: self.run_root,
        }
    }
}

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
        limits: Limits,
    ) -> RunOptions {
        RunOptions {
            scenario,
            systems: systems.map(split_systems),
            stores: self.mode,
            provision: self.provision_options(),
            out,
            repeat,
            faults,
            limits,
            fault_at: Vec::new(),
            network: None,
            instance: None,
            agent: None,
            seeded: false,
        }
    }
}

/// The profile `--network NAME` names in `file` (exit 2 for an unknown name, listing
/// the known ones, or a bad file); `None` without `--network`.
pub fn network_profile(
    name: Option<&str>,
    file: &std::path::Path,
) -> anyhow::Result<Option<crate::rig::network::NetworkProfile>> {
    let Some(name) = name else {
        return Ok(None);
    };
    let networks = crate::rig::network::Networks::load(file)?;
    let profile = networks
        .get(name)
        .map_err(|e| UsageError(format!("--network: {e} (in {})", file.display())))?;
    Ok(Some(profile.clone()))
}

/// The profile `--instance NAME` names in `file` (exit 2 for an unknown name, listing
/// the known ones, or a bad file); `None` without `--instance`.
pub fn instance_profile(
    name: Option<&str>,
    file: &std::path::Path,
) -> anyhow::Result<Option<crate::rig::instance::InstanceProfile>> {
    let Some(name) = name else {
        return Ok(None);
    };
    let instances = crate::rig::instance::Instances::load(file)?;
    let profile = instances
        .get(name)
        .map_err(|e| UsageError(format!("--instance: {e} (in {})", file.display())))?;
    Ok(Some(profile.clone()))
}

/// Parses a size for `--max-memory` and `--max-disk`: bytes, or a number with K, M, G
/// or T (powers of 1024), e.g. `4G`, `512M`.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let (number, scale) = match t.char_indices().last() {
        Some((i, unit)) if unit.is_ascii_alphabetic() => {
            let power = match unit.to_ascii_uppercase() {
                'K' => 1,
                'M' => 2,
                'G' => 3,
                'T' => 4,
                _ => return Err(format!("`{text}`: the unit is one of K, M, G, T")),
            };
            (&t[..i], 1024u64.pow(power))
        }
        _ => (t, 1),
    };
    let value: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("`{text}` is not a size; write e.g. 4G, 512M or 1000000"))?;
    if !(value.is_finite() && value > 0.0) {
        return Err(format!("`{text}`: a size is > 0"));
    }
    Ok((value * scale as f64) as u64)
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes_take_binary_units() {
        assert_eq!(parse_size("4G"), Ok(4 << 30));
        assert_eq!(parse_size("512m"), Ok(512 << 20));
        assert_eq!(parse_size("1000"), Ok(1000));
        assert_eq!(parse_size("1.5K"), Ok(1536));
        assert!(parse_size("4X").unwrap_err().contains("K, M, G, T"));
        assert!(parse_size("1.2.3").unwrap_err().contains("not a size"));
        assert!(parse_size("-1G").is_err());
    }
}
