//! Queue mode's retry schedule toward a destination: plain functions
//! (covered by `cargo test`).

use crate::outcome::DeliveryOutcome;

/// ThreeTone's own retry settings (`retry_config`), applied by the queue consumer:
/// `RETRY_MAX_RETRIES`, `RETRY_DELAY_SECONDS`, `RETRY_EXPONENTIAL_BACKOFF`,
/// `RETRY_MAX_DELAY_SECONDS`, `RETRY_ON_STATUS`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt before the event is dead-lettered.
    pub max_retries: u32,
    /// Delay before the first retry.
    pub delay_seconds: u64,
    /// Double the delay at each retry.
    pub exponential_backoff: bool,
    /// Upper bound of any delay.
    pub max_delay_seconds: u64,
    /// Destination statuses worth retrying (timeouts and unreachable destinations always are).
    pub retry_on_status: Vec<u16>,
}

impl RetryPolicy {
    /// The delay before retry number `retry` (1 for the first retry).
    pub fn delay_seconds(&self, retry: u32) -> u64 {
        let factor = if self.exponential_backoff {
            1u64.checked_shl(retry.saturating_sub(1)).unwrap_or(u64::MAX)
        } else {
            1
        };
        self.delay_seconds.saturating_mul(factor).min(self.max_delay_seconds)
    }
}

/// What to do with a queued delivery after an attempt.
#[derive(Debug, PartialEq, Eq)]
pub enum Next {
    /// Delivered (or already delivered): done.
    Done,
    /// Try again after this many seconds.
    Retry(u64),
    /// Out of retries, or not worth retrying: dead-letter it.
    DeadLetter,
}

/// The next step after attempt number `attempts` ended in `outcome`.
pub fn next_step(outcome: &DeliveryOutcome, attempts: u32, retry: &RetryPolicy) -> Next {
    let retryable = match outcome {
        DeliveryOutcome::Delivered { .. }
        | DeliveryOutcome::Duplicate
        | DeliveryOutcome::Queued => {
            return Next::Done;
        }
        DeliveryOutcome::Failed { status } | DeliveryOutcome::Refused { status, .. } => {
            retry.retry_on_status.contains(status)
        }
        // Held (paused, breaker open, capped): nothing was sent; come back
        // when the destination may take it, without using up a retry.
        DeliveryOutcome::Held(hold) => {
            let delay_seconds = hold.retry_after_ms.div_ceil(1000).max(1);
            return Next::Retry(delay_seconds);
        }
        // Another delivery of the same event is under way: check back later.
        DeliveryOutcome::InFlight => {
            return Next::Retry(retry.delay_seconds(1).max(1));
        }
        _ => true,
    };
    if retryable && attempts <= retry.max_retries {
        Next::Retry(retry.delay_seconds(attempts))
    } else {
        Next::DeadLetter
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admission::{Hold, HoldReason};

    fn seed_policy() -> RetryPolicy {
        RetryPolicy {
            max_retries: 3,
            delay_seconds: 5,
            exponential_backoff: true,
            max_delay_seconds: 300,
            retry_on_status: vec![500, 502, 503, 504],
        }
    }

    #[test]
    fn the_seed_schedule_doubles_up_to_its_cap() {
        let policy = RetryPolicy { max_retries: 10, ..seed_policy() };
        let delays: Vec<u64> = (1..=8).map(|retry| policy.delay_seconds(retry)).collect();
        assert_eq!(delays, [5, 10, 20, 40, 80, 160, 300, 300]);
        let flat = RetryPolicy { exponential_backoff: false, ..seed_policy() };
        assert_eq!(flat.delay_seconds(6), 5);
        assert_eq!(seed_policy().delay_seconds(200), 300);
    }

    #[test]
    fn failures_are_retried_until_max_retries_then_dead_lettered() {
        let policy = seed_policy();
        let failed = DeliveryOutcome::Failed { status: 500 };
        assert_eq!(next_step(&failed, 1, &policy), Next::Retry(5));
        assert_eq!(next_step(&failed, 3, &policy), Next::Retry(20));
        assert_eq!(next_step(&failed, 4, &policy), Next::DeadLetter);
        assert_eq!(next_step(&DeliveryOutcome::Timeout, 1, &policy), Next::Retry(5));
        let refused = DeliveryOutcome::Refused {
            status: 422,
            rejection: crate::outcome::Rejection { body: Vec::new(), content_type: None },
        };
        assert_eq!(next_step(&refused, 1, &policy), Next::DeadLetter);
        assert_eq!(next_step(&DeliveryOutcome::Delivered { status: 200 }, 4, &policy), Next::Done);
    }

    #[test]
    fn a_held_delivery_waits_without_using_a_retry() {
        let held =
            DeliveryOutcome::Held(Hold { reason: HoldReason::BreakerOpen, retry_after_ms: 12_300 });
        assert_eq!(next_step(&held, 99, &seed_policy()), Next::Retry(13));
    }
}
