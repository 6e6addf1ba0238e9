//! The pause between two attempts of a failing task.

use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

/// The longest pause between two attempts, unless the task's own `retry_delay` is longer
/// (then that delay is the pause). Doubling without a ceiling would make a task with many
/// retries sleep for hours or days before its last attempt.
pub const MAX_RETRY_PAUSE: Duration = Duration::from_secs(5 * 60);

/// How often a pause looks at the cancellation token: Ctrl-C during a long pause ends the
/// task within this time.
const CANCEL_CHECK: Duration = Duration::from_millis(50);

/// The pause after failed attempt `attempt` (1-based): `retry_delay`, doubled for each
/// further attempt (`retry_delay * 2^(attempt-1)`), but never longer than
/// [`MAX_RETRY_PAUSE`] or `retry_delay`, whichever is longer.
pub fn retry_pause(retry_delay: Duration, attempt: u32) -> Duration {
    let factor = 2u32.saturating_pow(attempt.saturating_sub(1));
    retry_delay
        .saturating_mul(factor)
        .min(MAX_RETRY_PAUSE.max(retry_delay))
}

/// Sleeps for `d` unless the run is cancelled first; false when it was.
pub fn sleep_unless_cancelled(d: Duration, cancel: &CancellationToken) -> bool {
    let until = Instant::now() + d;
    loop {
        if cancel.is_cancelled() {
            return false;
        }
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return true;
        }
        std::thread::sleep(CANCEL_CHECK.min(left));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    #[test]
    fn the_pause_doubles_per_attempt() {
        let pauses: Vec<u64> = (1..=5).map(|a| retry_pause(SECOND, a).as_secs()).collect();
        assert_eq!(pauses, [1, 2, 4, 8, 16]);
    }

    #[test]
    fn the_pause_stops_growing_at_the_ceiling() {
        assert_eq!(retry_pause(SECOND, 9), Duration::from_secs(256));
        assert_eq!(retry_pause(SECOND, 10), MAX_RETRY_PAUSE);
        assert_eq!(retry_pause(SECOND, 40), MAX_RETRY_PAUSE, "2^39 s saturates");
        assert_eq!(retry_pause(SECOND, u32::MAX), MAX_RETRY_PAUSE);
    }

    #[test]
    fn a_retry_delay_above_the_ceiling_is_kept_but_not_doubled() {
        let hour = Duration::from_secs(3600);
        assert_eq!(retry_pause(hour, 1), hour);
        assert_eq!(retry_pause(hour, 5), hour);
    }

    #[test]
    fn no_delay_stays_no_delay() {
        assert_eq!(retry_pause(Duration::ZERO, 7), Duration::ZERO);
    }

    #[test]
    fn a_cancelled_run_does_not_pause_or_retry() {
        let cancel = CancellationToken::new();
        cancel.cancel();
        assert!(!sleep_unless_cancelled(Duration::from_secs(3600), &cancel));
        assert!(!sleep_unless_cancelled(Duration::ZERO, &cancel));
        assert!(sleep_unless_cancelled(
            Duration::ZERO,
            &CancellationToken::new()
        ));
    }
}
