//! Waits that end on time. Linux lets a sleeping thread wake up to 50 µs late (its
//! default timer slack), and tokio's timer wheel counts whole milliseconds, so a
//! 0.1 ms `tokio::time::sleep` takes one to two milliseconds. Handing a sleep to a
//! blocking thread and back adds the wake-ups of two threads: about 100 µs on an idle
//! 2-core VM (measured), which is a third of a 0.3 ms op and turned a `--fault +10%`
//! into +25-40%. So the last stretch of a wait is spent polling the clock.

use std::time::{Duration, Instant};

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

/// The last stretch of a short wait, spent polling the clock from the task: longer
/// than the blocking thread's hand-off and wake-up (p99 about 180 µs idle), short
/// enough that the polling costs little (under 4% of a core at 250 waits a second).
const POLLED: Duration = Duration::from_micros(150);

/// Waits `wait` without blocking the runtime and ends within microseconds of its
/// deadline: a short wait sleeps on a blocking thread with tight slack until
/// [`POLLED`] before the deadline, then yields to the runtime until the clock passes
/// it (other tasks run meanwhile); a long one goes to tokio's timer.
pub async fn sleep_precisely(wait: Duration) {
    if wait.is_zero() {
        return;
    }
    if wait >= COARSE_ENOUGH {
        tokio::time::sleep(wait).await;
        return;
    }
    let deadline = Instant::now() + wait;
    if let Some(sleep) = wait.checked_sub(POLLED) {
        let slept = tokio::task::spawn_blocking(move || {
            tighten_timer_slack();
            std::thread::sleep(sleep);
        })
        .await;
        if slept.is_err() {
            // The blocking pool is shutting down: wait on the timer instead.
            tokio::time::sleep(sleep).await;
        }
    }
    while Instant::now() < deadline {
        tokio::task::yield_now().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        // loose bound: the machine is shared; the overshoot is benchmarked, not here).
        assert!(taken[0] >= wait, "{taken:?}");
        assert!(median < Duration::from_micros(900), "{taken:?}");
    }
}
