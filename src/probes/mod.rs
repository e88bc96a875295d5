//! Probes: searches and sweeps that ask more of a system than one run's phases — for
//! now the capacity search ([`capacity`]): the highest rate within the SLO, and what
//! limits it.

pub mod capacity;
