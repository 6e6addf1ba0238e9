//! When to try a request again, and how long to wait first: exponential back-off for
//! transient failures, or exactly what the server's `Retry-After` asks for.

use std::time::{Duration, SystemTime};

use super::options::RetryPolicy;

/// Statuses worth another try: rate limits and the server's own failures.
pub fn transient_status(status: u16) -> bool {
    status == 429 || status == 408 || (500..=599).contains(&status)
}

/// The wait before try `attempt` (1 = the first retry): initial, 2×, 4×, ... capped at the
/// policy's max wait.
pub fn backoff(policy: &RetryPolicy, attempt: u32) -> Duration {
    let factor = 2u32.saturating_pow(attempt.saturating_sub(1));
    policy
        .initial
        .checked_mul(factor)
        .unwrap_or(policy.max_wait)
        .min(policy.max_wait)
}

/// `Retry-After`: delay-seconds or an HTTP date (RFC 9110 §10.2.3). A date in the past is no
/// wait; anything unreadable is ignored (back-off applies).
pub fn retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    let at = SystemTime::UNIX_EPOCH + Duration::from_secs(u64::try_from(at.timestamp()).ok()?);
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let p = RetryPolicy {
            retries: 10,
            initial: Duration::from_millis(100),
            max_wait: Duration::from_secs(1),
        };
        let waits: Vec<u128> = (1..=6).map(|a| backoff(&p, a).as_millis()).collect();
        assert_eq!(waits, [100, 200, 400, 800, 1000, 1000]);
        assert_eq!(backoff(&p, 200), Duration::from_secs(1));
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_480); // 2015-10-21 07:28:00 UTC
        assert_eq!(retry_after("120", now), Some(Duration::from_secs(120)));
        assert_eq!(
            retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after("soon", now), None);
        assert_eq!(retry_after("-5", now), None);
    }

    #[test]
    fn rate_limits_and_server_errors_are_transient_client_errors_are_not() {
        assert!(transient_status(429) && transient_status(503) && transient_status(500));
        assert!(!transient_status(404) && !transient_status(401) && !transient_status(400));
    }
}
