//! The rig: what the stores run under, apart from the stores themselves — the faults a
//! run injects into them mid-run ([`faults`]) and the network distance between the
//! systems and each store ([`network`] profiles, played by the userspace delay
//! [`proxy`]) — and the size of the machine PostgreSQL runs on ([`instance`]
//! profiles, played by a [`cgroup`]).

pub mod cgroup;
pub mod faults;
pub mod instance;
pub mod network;
pub mod proxy;
