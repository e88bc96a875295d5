//! Instance profiles (`deployments/instances.toml`): the size of the machine PostgreSQL
//! runs on — vCPUs, memory and the PostgreSQL settings the provider uses at that size —
//! played by a [`Cgroup`](super::cgroup::Cgroup) around the local server.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use toml::Spanned;

use super::cgroup::{Cgroup, CgroupError, CgroupLimits, CgroupUsage};
use crate::input::InputError;
use crate::stores::Confinement;

/// The default profiles file.
pub const INSTANCES_FILE: &str = "deployments/instances.toml";

/// The smallest memory limit a profile may state: below it PostgreSQL cannot start
/// with any settings, which `run` would only find out later.
const MIN_MEMORY_MIB: u64 = 32;
/// The most vCPUs a profile may state (a typo guard, not a machine's size).
const MAX_VCPU: f64 = 256.0;

/// One named instance size.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstanceProfile {
    /// Its name (`1cu`).
    pub name: String,
    /// What it stands for.
    pub description: String,
    /// Where its figures come from.
    pub source: String,
    /// CPU quota in vCPUs (`cpu.cfs_quota_us` = vcpu × period).
    pub vcpu: f64,
    /// Memory limit in bytes, page cache included.
    pub memory_bytes: u64,
    /// `postgres -c name=value` settings of that size.
    pub postgres: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProfile {
    description: String,
    source: String,
    vcpu: Spanned<f64>,
    memory_mib: Spanned<i64>,
    #[serde(default)]
    postgres: BTreeMap<String, Spanned<String>>,
}

/// Every profile of a file.
#[derive(Debug, Clone)]
pub struct Instances {
    profiles: BTreeMap<String, InstanceProfile>,
}

impl Instances {
    /// Reads and checks a profiles file: a bad figure is named by line, column and field.
    pub fn load(path: &Path) -> Result<Self, InputError> {
        let src = InputError::read(path)?;
        let raw: BTreeMap<String, RawProfile> =
            toml::from_str(&src).map_err(|e| InputError::toml(&src, path, &e, "instance"))?;
        let mut profiles = BTreeMap::new();
        for (name, p) in raw {
            let bad = |span: std::ops::Range<usize>, field: &str, message: String| {
                InputError::at(&src, path, span.start, format!("{name}.{field}"), message)
            };
            let vcpu = *p.vcpu.get_ref();
            if !(vcpu.is_finite() && vcpu > 0.0 && vcpu <= MAX_VCPU) {
                return Err(bad(
                    p.vcpu.span(),
                    "vcpu",
                    format!("must be > 0 and at most {MAX_VCPU}, got {vcpu}"),
                ));
            }
            let memory = *p.memory_mib.get_ref();
            if memory < MIN_MEMORY_MIB as i64 {
                return Err(bad(
                    p.memory_mib.span(),
                    "memory_mib",
                    format!("must be at least {MIN_MEMORY_MIB} MiB, got {memory}"),
                ));
            }
            let mut postgres = BTreeMap::new();
            for (key, value) in p.postgres {
                let ok_key = !key.is_empty()
                    && key
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
                if !ok_key || value.get_ref().contains(['\n', '\0']) {
                    return Err(bad(
                        value.span(),
                        &format!("postgres.{key}"),
                        "a PostgreSQL setting: a name of letters, digits, `_` and `.`, a one-line value".into(),
                    ));
                }
                postgres.insert(key, value.into_inner());
            }
            profiles.insert(
                name.clone(),
                InstanceProfile {
                    name,
                    description: p.description,
                    source: p.source,
                    vcpu,
                    memory_bytes: memory as u64 * 1024 * 1024,
                    postgres,
                },
            );
        }
        Ok(Self { profiles })
    }

    /// The profile called `name`, or an error listing the known ones.
    pub fn get(&self, name: &str) -> Result<&InstanceProfile, String> {
        self.profiles.get(name).ok_or_else(|| {
            format!(
                "unknown instance `{name}`; known: {}",
                self.profiles.keys().cloned().collect::<Vec<_>>().join(", ")
            )
        })
    }
}

/// An instance profile in play for one run: its cgroup, made before the stores start
/// and removed after they stop.
#[derive(Debug)]
pub struct Confined {
    profile: InstanceProfile,
    cgroup: Cgroup,
    limits: CgroupLimits,
}

/// What results record of the instance: the profile, the limits read back from the
/// cgroup, and what the server used.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstanceInfo {
    /// The profile as the file states it.
    pub profile: InstanceProfile,
    /// The limits as the kernel reports them.
    pub cgroup: CgroupLimits,
    /// CPU time, throttling and memory of the server over the run.
    pub usage: Option<CgroupUsage>,
    /// Where the limit cannot bind on this machine (a quota above its cores).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caveat: Option<String>,
}

impl Confined {
    /// Makes the cgroup for `profile` (named after `run`, unique per process) and
    /// checks that the kernel holds the limits asked for.
    pub fn start(profile: &InstanceProfile, run: &str) -> Result<Self, CgroupError> {
        let name = format!("{run}-{}", std::process::id());
        let cgroup = Cgroup::create(&name, profile.vcpu, profile.memory_bytes)?;
        let limits = cgroup.limits()?;
        // The kernel rounds a memory limit to whole pages; anything else is a limit
        // that did not take.
        if limits.memory_limit_bytes.abs_diff(profile.memory_bytes) > 4096
            || (limits.vcpu() - profile.vcpu).abs() > 0.01
        {
            return Err(CgroupError {
                what: format!("setting the limits of {}", limits.path.display()),
                reason: format!(
                    "asked for {} bytes and {} vCPU, the kernel holds {} bytes and {:.2} vCPU",
                    profile.memory_bytes,
                    profile.vcpu,
                    limits.memory_limit_bytes,
                    limits.vcpu()
                ),
            });
        }
        Ok(Self {
            profile: profile.clone(),
            cgroup,
            limits,
        })
    }

    /// What local mode needs: the files to join and how to name the limits.
    pub fn confinement(&self) -> Confinement {
        Confinement {
            join: self.cgroup.procs_files(),
            describe: format!(
                "instance {} (memory limit {} MiB including page cache, {} vCPU; cgroup {})",
                self.profile.name,
                self.limits.memory_limit_bytes / (1024 * 1024),
                self.limits.vcpu(),
                self.limits.path.display()
            ),
        }
    }

    /// The PostgreSQL settings of the size, as `-c` pairs.
    pub fn postgres_settings(&self) -> Vec<(String, String)> {
        self.profile
            .postgres
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// The cgroup, for readings mid-run.
    pub fn cgroup(&self) -> &Cgroup {
        &self.cgroup
    }

    /// The profile, the limits and the usage so far.
    pub fn info(&self) -> InstanceInfo {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
        InstanceInfo {
            profile: self.profile.clone(),
            cgroup: self.limits.clone(),
            usage: self.cgroup.usage().ok(),
            caveat: (self.profile.vcpu > cores).then(|| {
                format!(
                    "{} vCPU asked, this machine has {cores} cores: the CPU quota does not bind",
                    self.profile.vcpu
                )
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_profiles_load_with_neons_settings() {
        let i = Instances::load(Path::new(INSTANCES_FILE)).unwrap();
        let one = i.get("1cu").unwrap();
        assert_eq!(one.vcpu, 1.0);
        assert_eq!(one.memory_bytes, 4 << 30);
        assert_eq!(one.postgres["max_connections"], "419");
        let quarter = i.get("0.25cu").unwrap();
        assert_eq!(quarter.memory_bytes, 1 << 30);
        assert!(i.get("2cu").is_ok() && i.get("4cu").is_ok());
        let e = i.get("8cu").unwrap_err();
        assert!(e.contains("known: 0.25cu, 1cu, 2cu, 4cu"), "{e}");
    }

    #[test]
    fn bad_figures_are_named_by_line_and_field() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("i.toml");
        let check = |body: &str, want: &[&str]| {
            std::fs::write(&p, body).unwrap();
            let e = Instances::load(&p).unwrap_err().to_string();
            for w in want {
                assert!(e.contains(w), "{e} lacks {w}");
            }
        };
        let head = "[x]\ndescription = \"d\"\nsource = \"s\"\n";
        check(
            &format!("{head}vcpu = -1.0\nmemory_mib = 1024\n"),
            &["i.toml:4:", "x.vcpu", "got -1"],
        );
        check(
            &format!("{head}vcpu = nan\nmemory_mib = 1024\n"),
            &["i.toml:4:", "x.vcpu"],
        );
        check(
            &format!("{head}vcpu = 1.0\nmemory_mib = 8\n"),
            &["i.toml:5:", "x.memory_mib", "at least 32"],
        );
        check(
            &format!("{head}vcpu = 1.0\nmemory_mib = 64\ncores = 2\n"),
            &["i.toml:", "cores"],
        );
    }
}
