//! Probes: searches and sweeps that ask more of a system than one run's phases — for
//! now the capacity search ([`capacity`]): the highest rate within the SLO, and what
//! limits it — and its file ([`capacity_file`]), read back by cost and verdict; and
//! search quality ([`search_quality`]): recall@k against exact search and the
//! recall–latency frontier of each search design; and the event log of both designs
//! on the same events ([`event_log`]).

pub mod capacity;
pub mod capacity_file;
pub mod event_log;
pub mod search_quality;
