//! Keeping abuse down: the per-caller rate limit, over the Workers Rate Limiting binding. (Who
//! the caller is, and CORS, are decided in `sdxl_core`.)

use sdxl_core::ApiError;

use crate::failure::Handled;
use crate::gateway::Gateway;

/// The binding name of the Workers Rate Limiting binding; without it nothing is rate limited.
pub const RATE_LIMITER_BINDING: &str = "RATE_LIMITER";

/// Counts one request for `caller`; over the limit is a 429 with `Retry-After`.
pub async fn rate_limit(gateway: &Gateway<'_>, caller: String) -> Handled<()> {
    let Ok(limiter) = gateway.env.rate_limiter(RATE_LIMITER_BINDING) else {
        return Ok(());
    };
    if limiter.limit(caller).await?.success {
        Ok(())
    } else {
        Err(ApiError::RateLimited {
            retry_after_s: gateway.config.rate_limit_period_s,
        }
        .into())
    }
}
