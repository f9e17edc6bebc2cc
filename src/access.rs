//! Keeping abuse down: the per-caller rate limit, over the Workers Rate Limiting binding
//! (`bindings::rate_limiter`). (Who the caller is, and CORS, are decided in `sdxl_core`.)

use sdxl_core::ApiError;

use crate::bindings::rate_limiter;
use crate::failure::Handled;
use crate::gateway::Gateway;

/// Counts one request for `caller`; over the limit is a 429 with `Retry-After`.
pub async fn rate_limit(gateway: &Gateway<'_>, caller: String) -> Handled<()> {
    match rate_limiter::count(gateway.env, caller).await? {
        Some(false) => Err(ApiError::RateLimited {
            retry_after_s: gateway.config.rate_limit_period_s,
        }
        .into()),
        Some(true) | None => Ok(()),
    }
}
