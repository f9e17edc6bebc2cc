//! Which seed each of `n` images is made with: image *i* uses `seed + i`, so every image is its
//! own cache entry, and asking for `n = 4` after `n = 2` with the same seed pays for two new
//! images only.

use thiserror::Error;

use crate::model::MAX_SAFE_INTEGER;

/// Most images one request may ask for (`n`). Each is a model run: the bound keeps one request
/// from taking an isolate's memory budget or a caller's rate limit in one go.
pub const MAX_IMAGES: u32 = 8;

/// Runs of one request made at once: enough to overlap the model's latency, few enough that one
/// request does not hold the memory of eight runs.
pub const CONCURRENT_RUNS: usize = 3;

/// Why a seed schedule cannot be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum SeedError {
    #[error("must be at most {max} so that the seeds of all {n} images (seed + 0 ... seed + {last}) stay below 2^53", max = MAX_SAFE_INTEGER - i64::from(*n) + 1, last = n - 1)]
    TooLarge { n: u32 },
}

/// The seeds of `n` images from `base`: `base, base + 1, ..., base + n - 1`.
///
/// # Errors
/// [`SeedError::TooLarge`] when the last seed would pass the largest integer JavaScript (and so
/// the binding) carries exactly.
pub fn seed_schedule(base: i64, n: u32) -> Result<Vec<i64>, SeedError> {
    let last = base.checked_add(i64::from(n.max(1)) - 1);
    match last {
        Some(last) if last <= MAX_SAFE_INTEGER => Ok((0..i64::from(n)).map(|i| base + i).collect()),
        _ => Err(SeedError::TooLarge { n }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_i_uses_seed_plus_i() {
        assert_eq!(seed_schedule(42, 1), Ok(vec![42]));
        assert_eq!(seed_schedule(42, 3), Ok(vec![42, 43, 44]));
        assert_eq!(seed_schedule(0, 4), Ok(vec![0, 1, 2, 3]));
        // n = 2 is the start of n = 4: the first two images are shared cache entries.
        let two = seed_schedule(7, 2).unwrap();
        let four = seed_schedule(7, 4).unwrap();
        assert_eq!(four[..2], two[..]);
    }

    #[test]
    fn the_last_seed_stays_exact_in_javascript() {
        assert_eq!(
            seed_schedule(MAX_SAFE_INTEGER - 2, 3),
            Ok(vec![
                MAX_SAFE_INTEGER - 2,
                MAX_SAFE_INTEGER - 1,
                MAX_SAFE_INTEGER
            ])
        );
        assert_eq!(
            seed_schedule(MAX_SAFE_INTEGER - 1, 3),
            Err(SeedError::TooLarge { n: 3 })
        );
        assert_eq!(
            seed_schedule(i64::MAX, 2),
            Err(SeedError::TooLarge { n: 2 })
        );
        let message = SeedError::TooLarge { n: 3 }.to_string();
        assert!(message.contains("9007199254740989"), "{message}");
    }
}
