//! When to ask the model again: a bounded number of retries, with exponential backoff and jitter,
//! and only for failures that a retry can cure.

use crate::upstream::{UpstreamError, UpstreamKind};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (`AI_RETRIES`).
    pub max_retries: u32,
    /// Delay before the first retry; doubled for each further one (`AI_RETRY_BASE_MS`).
    pub base_delay_ms: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 2,
            base_delay_ms: 200,
        }
    }
}

impl RetryPolicy {
    /// The delay before retry number `retry` (1-based) of a failure, or `None` when the failure
    /// should not be retried or the retries are spent. `jitter` in `0..1` spreads clients out.
    #[must_use]
    pub fn delay_before(&self, retry: u32, error: &UpstreamError, jitter: f64) -> Option<u32> {
        // Only "out of capacity" passes; a refused input or a spent allocation will not.
        if error.kind() != UpstreamKind::Capacity || retry == 0 || retry > self.max_retries {
            return None;
        }
        let full = u64::from(self.base_delay_ms) << (retry - 1).min(16);
        let factor = 0.5 + 0.5 * jitter.clamp(0.0, 1.0);
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss
        )]
        Some((full as f64 * factor).min(f64::from(u32::MAX)) as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capacity_is_retried_with_growing_delays_then_given_up() {
        let p = RetryPolicy {
            max_retries: 3,
            base_delay_ms: 100,
        };
        let capacity = UpstreamError::parse("3040: Capacity temporarily exceeded");
        assert_eq!(p.delay_before(1, &capacity, 1.0), Some(100));
        assert_eq!(p.delay_before(2, &capacity, 1.0), Some(200));
        assert_eq!(
            p.delay_before(3, &capacity, 0.0),
            Some(200),
            "half of 400 at no jitter"
        );
        assert_eq!(p.delay_before(4, &capacity, 1.0), None);
    }

    #[test]
    fn other_failures_are_not_retried() {
        let p = RetryPolicy::default();
        for m in [
            "5006: bad input",
            "3036: daily allocation",
            "3007: Timeout",
            "boom",
        ] {
            assert_eq!(
                p.delay_before(1, &UpstreamError::parse(m), 0.5),
                None,
                "{m}"
            );
        }
    }
}
