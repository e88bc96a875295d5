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

/// Nearest-rank percentile of `times` (sorted here), ms; 0 when empty.
pub(crate) fn nearest_rank_ms(times: &mut [std::time::Duration], q: f64) -> f64 {
    if times.is_empty() {
        return 0.0;
    }
    times.sort();
    let rank = ((q * times.len() as f64).ceil() as usize).clamp(1, times.len());
    times[rank - 1].as_secs_f64() * 1000.0
}
