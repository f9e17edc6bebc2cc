//! Keeping abuse down: the per-caller rate limit, over the Workers Rate Limiting binding
//! (`bindings::rate_limiter`). (Who the caller is, and CORS, are decided in `sdxl_core`.)

use sdxl_core::access::Limited;
use sdxl_core::ApiError;

use crate::bindings::rate_limiter::{self, RATE_LIMITER_BINDING};
use crate::failure::{Failure, Handled};
use crate::gateway::Gateway;

/// Counts one request for `caller`; over the limit is a 429 with `Retry-After`.
///
/// Without a limiter nothing is limited, which suits a local or anonymous setup; where tokens
/// are required it would silently leave every token unlimited, so there it is a
/// misconfiguration, said at the first request.
pub async fn rate_limit(gateway: &Gateway<'_>, caller: String) -> Handled<()> {
    let counted = rate_limiter::count(gateway.env, caller).await?;
    let config = gateway.config;
    match Limited::of(
        counted,
        config.allow_anonymous || config.allow_missing_rate_limiter,
    ) {
        Limited::Pass => Ok(()),
        Limited::Over => Err(ApiError::RateLimited {
            retry_after_s: config.rate_limit_period_s,
        }
        .into()),
        Limited::Unbound => Err(Failure::Misconfigured(format!(
            "no {RATE_LIMITER_BINDING} binding (a Rate Limiting binding, [[ratelimits]] in the \
             Worker's config): tokens are required, and they would go unlimited"
        ))),
    }
}
