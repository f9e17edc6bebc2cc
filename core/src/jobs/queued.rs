//! A cap on the images one caller has queued at once (`MAX_QUEUED_IMAGES`): a create that would
//! pass it is refused with 429 and `Retry-After`, in Replicate's error shape, before anything is
//! stored or queued. The rate limit counts how often a caller creates; this counts what it has
//! waiting, which is what a burst of large jobs costs.
//!
//! Each caller's queued images are kept by a Durable Object of its own (`src/jobs/queued.rs`): a
//! row per job with the images it still has to make, until the job's deadline, after which the
//! row no longer counts whatever became of the job (a lost report cannot block a caller).

use crate::ApiError;

/// Whether a job of `adding` images may be queued by a caller who has `queued` images queued,
/// under `cap` (0: no cap).
///
/// # Errors
/// [`ApiError::QueueFull`] when the job would take the caller past the cap.
pub fn admit(queued: u64, adding: u32, cap: u32) -> Result<(), ApiError> {
    if cap == 0 || queued + u64::from(adding) <= u64::from(cap) {
        Ok(())
    } else {
        Err(ApiError::QueueFull {
            queued,
            adding,
            cap,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_is_admitted_up_to_the_cap_and_refused_past_it() {
        assert!(admit(0, 8, 8).is_ok());
        assert!(admit(56, 8, 64).is_ok());
        let refused = admit(57, 8, 64).unwrap_err();
        assert_eq!(refused.status(), 429);
        assert_eq!(
            refused.retry_after(),
            Some(crate::envelope::QUEUE_FULL_RETRY_AFTER_S)
        );
        assert!(refused.to_string().contains("57 images"), "{refused}");
        assert!(refused.to_string().contains("at most 64"), "{refused}");
        // 0: no cap.
        assert!(admit(u64::MAX / 2, 8, 0).is_ok());
    }
}
