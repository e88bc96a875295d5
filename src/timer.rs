//! Waits that end on time. Linux lets a sleeping thread wake up to 50 µs late (its
//! default timer slack), and tokio's timer wheel counts whole milliseconds, so a
//! 0.1 ms `tokio::time::sleep` takes one to two milliseconds. Both are too coarse for
//! the sub-millisecond delays of the network proxy and the fault knob.

use std::time::Duration;

/// Waits at least this long go to tokio's timer: its rounding is then under 5%.
const COARSE_ENOUGH: Duration = Duration::from_millis(20);

/// Sleeps of the calling thread wake within 1 µs of their deadline instead of the
/// default 50 µs. Best effort: where `prctl` refuses, the sleeps are as late as before.
pub fn tighten_timer_slack() {
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_TIMERSLACK takes a plain integer and touches only this thread.
    unsafe {
        libc::prctl(libc::PR_SET_TIMERSLACK, 1_000 as libc::c_ulong, 0, 0, 0);
    }
}

/// Waits `wait` without blocking the runtime: a short wait sleeps on a blocking
/// thread with tight slack (the hand-off costs tens of microseconds), a long one on
/// tokio's timer.
pub async fn sleep_precisely(wait: Duration) {
    if wait.is_zero() {
        return;
    }
    if wait >= COARSE_ENOUGH {
        tokio::time::sleep(wait).await;
        return;
    }
    let slept = tokio::task::spawn_blocking(move || {
        tighten_timer_slack();
        std::thread::sleep(wait);
    })
    .await;
    if slept.is_err() {
        // The blocking pool is shutting down: wait on the timer instead.
        tokio::time::sleep(wait).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_short_wait_is_not_rounded_up_to_the_timer_wheel() {
        let wait = Duration::from_micros(300);
        let mut taken = Vec::new();
        for _ in 0..21 {
            let start = Instant::now();
            sleep_precisely(wait).await;
            taken.push(start.elapsed());
        }
        taken.sort();
        let median = taken[taken.len() / 2];
        // Never early; the median well below the 1 ms a timer-wheel sleep takes (a
        // loose bound: the machine is shared).
        assert!(taken[0] >= wait, "{taken:?}");
        assert!(median < Duration::from_micros(900), "{taken:?}");
    }
}
