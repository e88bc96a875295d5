//! Probes: searches and sweeps that ask more of a system than one run's phases — for
//! now the capacity search ([`capacity`]): the highest rate within the SLO, and what
//! limits it — and its file ([`capacity_file`]), read back by cost and verdict.

pub mod capacity;
pub mod capacity_file;
