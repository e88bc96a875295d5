//! Waits that end on time: the load generator's intended starts, injected fault
//! delays and the synthetic target's service times all wait here. Linux lets a
//! sleeping thread wake up to 50 µs late (its default timer slack), and tokio's timer
//! wheel counts whole milliseconds, so a 0.1 ms `tokio::time::sleep` takes one to two
//! milliseconds. Handing a sleep to a blocking thread and back adds the wake-ups of two
//! threads: about 100 µs on an idle 2-core VM (measured), which is a third of a 0.3 ms
//! op and turned a `--fault +10%` into +25-40%. So the last stretch of a wait is spent
//! polling the clock, and only that stretch: polling a whole millisecond before every
//! op start, as the generator once did, burns a fifth of a core at 200 ops/s on a
//! machine whose two cores the stores share.

use std::time::{Duration, Instant};

/// Sleeps of the calling thread wake within 1 µs of their deadline instead of the
/// default 50 µs. Best effort: where `prctl` refuses, the sleeps are as late as before.
pub fn tighten_timer_slack() {
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_TIMERSLACK takes a plain integer and touches only this thread.
    unsafe {
        libc::prctl(libc::PR_SET_TIMERSLACK, 1_000 as libc::c_ulong, 0, 0, 0);
    }
}

/// How long before the deadline tokio's timer hands over. It fires an entry at the
/// first millisecond tick at or after its instant, and its driver parks for whole
/// milliseconds, rounded up: it wakes up to 2 ms after the instant asked for. With a
/// margin of 1 ms the generator's starts were on time in most runs and up to 0.5 ms
/// late (median) in the others, alike for every op of a run, depending on where the
/// run's evenly spaced starts fell between the ticks (3 of 20 A/A gate runs, 11 of 20
/// with delays injected).
const TIMER_MARGIN: Duration = Duration::from_millis(3);

/// The last stretch of a wait, spent polling the clock from the task. It must outlast
/// the wake-ups of the blocking thread and of the task on a 2-core machine the stores
/// keep busy: with 150 µs (the idle p99 of the hand-off), V0.2's ops had their p99
/// 7-28% higher than with 500 µs, measured turn about (`gate interleave`, 5 runs a
/// side; V0.3's within its noise). The polling costs an eighth of a core at 250 waits
/// a second.
const POLLED: Duration = Duration::from_micros(500);

/// A shorter sleep is polled instead: handing it to a blocking thread and back costs
/// about as much as it lasts.
const WORTH_A_THREAD: Duration = Duration::from_micros(100);

/// Waits until `deadline` without blocking the runtime and ends within microseconds
/// of it: tokio's timer until [`TIMER_MARGIN`] before, a blocking thread with tight
/// slack until [`POLLED`] before, then yields to the runtime until the clock passes
/// it (other tasks run meanwhile). A deadline already past returns at once.
pub async fn sleep_until(deadline: Instant) {
    if Instant::now() >= deadline {
        return;
    }
    if let Some(early) = deadline.checked_sub(TIMER_MARGIN)
        && Instant::now() < early
    {
        tokio::time::sleep_until(early.into()).await;
    }
    if let Some(handover) = deadline.checked_sub(POLLED)
        && handover.saturating_duration_since(Instant::now()) > WORTH_A_THREAD
    {
        // The thread sleeps to the handover instant, not for a length taken here, so
        // the pool's start-up delay is not added to the wait.
        let slept = tokio::task::spawn_blocking(move || {
            tighten_timer_slack();
            std::thread::sleep(handover.saturating_duration_since(Instant::now()));
        })
        .await;
        if slept.is_err() {
            // The blocking pool is shutting down: wait on the timer instead.
            tokio::time::sleep_until(handover.into()).await;
        }
    }
    while Instant::now() < deadline {
        tokio::task::yield_now().await;
    }
}

/// Waits `wait` from now: [`sleep_until`] its end.
pub async fn sleep_precisely(wait: Duration) {
    if !wait.is_zero() {
        sleep_until(Instant::now() + wait).await;
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

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_wait_past_the_timer_margin_is_not_rounded_up_either() {
        // 5.3 ms: tokio's timer alone would end up to 2 ms later.
        let wait = Duration::from_micros(5_300);
        let mut taken = Vec::new();
        for _ in 0..11 {
            let start = Instant::now();
            sleep_until(start + wait).await;
            taken.push(start.elapsed());
        }
        taken.sort();
        assert!(taken[0] >= wait, "{taken:?}");
        assert!(
            taken[taken.len() / 2] < Duration::from_micros(5_900),
            "{taken:?}"
        );
        // A deadline already past returns without waiting.
        let start = Instant::now();
        sleep_until(start - Duration::from_millis(1)).await;
        assert!(start.elapsed() < Duration::from_millis(1));
    }
}
