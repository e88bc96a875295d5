//! The rig: what the stores run under, apart from the stores themselves. For now the
//! faults a run injects into them mid-run ([`faults`]); instance profiles (cgroups) and
//! network profiles (a delay proxy) belong here too.

pub mod faults;
