//! What a job does after a run failed: retry through the queue's delayed retry (capacity, a
//! timeout, the isolate's memory budget) or fail at once with the reason (a refused input, a
//! spent allocation, anything the gateway cannot vouch for), and how long to wait.
//!
//! Each queue delivery already retries capacity errors a few times within the request's
//! `AI_TIMEOUT_MS` (`RetryPolicy`); this schedule spaces the deliveries themselves, over
//! minutes, so a capacity shortage that outlasts one delivery does not fail the job.

use crate::upstream::UpstreamKind;
use crate::ApiError;

/// Deliveries of one image's message before its job fails: the first and up to 5 retries.
pub const MAX_DELIVERIES: u32 = 6;
/// Delay before the first redelivery; doubled for each further one.
pub const FIRST_DELAY_S: u32 = 2;
/// The longest delay between deliveries.
pub const MAX_DELAY_S: u32 = 60;

/// What to do with a message whose run failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Disposition {
    /// Deliver it again after this many seconds.
    RetryAfter(u32),
    /// The job fails with this reason; the message is acknowledged.
    Fail(String),
}

/// Whether a failure can be cured by waiting.
#[must_use]
pub fn is_transient(error: &ApiError) -> bool {
    match error {
        ApiError::Upstream(e) => matches!(e.kind(), UpstreamKind::Capacity | UpstreamKind::Timeout),
        // A store that failed: the next delivery finds the image in the cache and stores it.
        ApiError::Deadline { .. } | ApiError::OverBudget(_) | ApiError::NotStored(_) => true,
        _ => false,
    }
}

/// The delay before delivery `delivery + 1`, after delivery `delivery` (1-based) failed
/// transiently; `None` once [`MAX_DELIVERIES`] are spent. `jitter` in `0..1` spreads jobs that
/// failed together: the delay is between half and all of the exponential step ("equal jitter").
#[must_use]
pub fn redelivery_delay_s(delivery: u32, jitter: f64) -> Option<u32> {
    if delivery == 0 || delivery >= MAX_DELIVERIES {
        return None;
    }
    let step = (FIRST_DELAY_S << (delivery - 1).min(16)).min(MAX_DELAY_S);
    let factor = 0.5 + 0.5 * jitter.clamp(0.0, 1.0);
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let delay = (f64::from(step) * factor).round() as u32;
    Some(delay.max(1))
}

/// What to do after delivery `delivery` (1-based) failed with `error`.
#[must_use]
pub fn disposition(error: &ApiError, delivery: u32, jitter: f64) -> Disposition {
    if !is_transient(error) {
        return Disposition::Fail(reason(error));
    }
    match redelivery_delay_s(delivery, jitter) {
        Some(s) => Disposition::RetryAfter(s),
        None => Disposition::Fail(format!(
            "{} (gave up after {delivery} deliveries)",
            reason(error)
        )),
    }
}

/// The job's `error` for a failure: the code the client can act on, and the message.
#[must_use]
pub fn reason(error: &ApiError) -> String {
    match error {
        ApiError::Upstream(e) => match e.code {
            Some(code) => format!("{code}: {}", e.reason),
            None => e.reason.clone(),
        },
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::upstream::UpstreamError;

    fn upstream(message: &str) -> ApiError {
        ApiError::Upstream(UpstreamError::parse(message))
    }

    #[test]
    fn delays_double_from_the_first_and_stop_at_the_cap() {
        let full: Vec<_> = (1..MAX_DELIVERIES)
            .map(|d| redelivery_delay_s(d, 1.0).unwrap())
            .collect();
        assert_eq!(full, vec![2, 4, 8, 16, 32]);
        assert_eq!(redelivery_delay_s(MAX_DELIVERIES, 1.0), None);
        assert_eq!(redelivery_delay_s(0, 1.0), None);
    }

    #[test]
    fn jitter_keeps_each_delay_between_half_and_all_of_its_step() {
        for d in 1..MAX_DELIVERIES {
            let step = redelivery_delay_s(d, 1.0).unwrap();
            let low = redelivery_delay_s(d, 0.0).unwrap();
            assert_eq!(low, (step / 2).max(1), "delivery {d}");
            let mid = redelivery_delay_s(d, 0.5).unwrap();
            assert!(low <= mid && mid <= step);
        }
    }

    #[test]
    fn an_image_not_stored_is_made_again_later_not_reported_made() {
        let not_stored = ApiError::NotStored("the R2 write failed".into());
        assert!(is_transient(&not_stored));
        assert!(matches!(
            disposition(&not_stored, 1, 0.5),
            Disposition::RetryAfter(_)
        ));
        assert_eq!(not_stored.status(), 503);
    }

    #[test]
    fn capacity_is_retried_and_allocation_is_not() {
        let capacity = upstream("AiError: 3040: Capacity temporarily exceeded");
        assert_eq!(disposition(&capacity, 1, 1.0), Disposition::RetryAfter(2));
        match disposition(&capacity, MAX_DELIVERIES, 1.0) {
            Disposition::Fail(r) => {
                assert!(r.starts_with("3040: Capacity temporarily exceeded"), "{r}");
                assert!(r.contains("gave up after 6 deliveries"), "{r}");
            }
            other => panic!("{other:?}"),
        }
        let allocation = upstream("AiError: 3036: daily allocation spent");
        assert_eq!(
            disposition(&allocation, 1, 1.0),
            Disposition::Fail("3036: daily allocation spent".into())
        );
        let refused = upstream("5006: '/num_steps' must be <= 20");
        assert!(matches!(
            disposition(&refused, 1, 0.0),
            Disposition::Fail(_)
        ));
        assert!(matches!(
            disposition(&ApiError::Deadline { ms: 5 }, 1, 0.0),
            Disposition::RetryAfter(1)
        ));
        assert!(matches!(
            disposition(&ApiError::NotAnImage, 1, 0.0),
            Disposition::Fail(_)
        ));
    }
}
