//! Keeping strangers out and abuse down: bearer tokens, per-caller rate limits, and CORS.

use sdxl_core::access::{CORS_ALLOWED_HEADERS, CORS_ALLOWED_METHODS, CORS_EXPOSED_HEADERS};
use sdxl_core::headers::vary_with;
use sdxl_core::ApiError;
use worker::{Env, Headers, Request, Response};

use crate::config::Config;
use crate::failure::Handled;

/// The binding name of the Workers Rate Limiting binding; without it nothing is rate limited.
pub const RATE_LIMITER_BINDING: &str = "RATE_LIMITER";

/// Checks credentials (unless anonymous access is allowed) and answers who the caller is, for
/// rate limiting: `token:<id>` or `ip:<address>`.
pub fn authorize(req: &Request, config: &Config) -> Handled<String> {
    if config.allow_anonymous {
        // Credentials are not checked at all: an SDK that always sends one still works.
        return client_address(req);
    }
    let header = req.headers().get("authorization")?;
    let id = config
        .tokens
        .check(header.as_deref())
        .map_err(ApiError::Unauthorized)?;
    Ok(format!("token:{id}"))
}

/// Rate-limit identity of a caller without a token: `ip:<cf-connecting-ip>` (set by Cloudflare's
/// edge, which overwrites whatever a client sends).
pub fn client_address(req: &Request) -> Handled<String> {
    let ip = req.headers().get("cf-connecting-ip")?.unwrap_or_default();
    Ok(format!(
        "ip:{}",
        if ip.is_empty() { "unknown" } else { &ip }
    ))
}

/// Counts one request for `caller`; over the limit is a 429 with `Retry-After`.
pub async fn rate_limit(env: &Env, config: &Config, caller: String) -> Handled<()> {
    let Ok(limiter) = env.rate_limiter(RATE_LIMITER_BINDING) else {
        return Ok(());
    };
    if limiter.limit(caller).await?.success {
        Ok(())
    } else {
        Err(ApiError::RateLimited {
            retry_after_s: config.rate_limit_period_s,
        }
        .into())
    }
}

/// The answer to a CORS preflight (`OPTIONS`). A disallowed origin gets no CORS headers, which
/// browsers read as "no".
pub fn preflight(req: &Request, config: &Config) -> Handled {
    let headers = Headers::new();
    let origin = req.headers().get("origin")?;
    if let Some(allowed) = config.cors.allow_origin(origin.as_deref()) {
        headers.set("access-control-allow-origin", &allowed)?;
        headers.set("access-control-allow-methods", CORS_ALLOWED_METHODS)?;
        headers.set("access-control-allow-headers", CORS_ALLOWED_HEADERS)?;
        headers.set("access-control-max-age", "86400")?;
    }
    headers.set("vary", "origin")?;
    Ok(Response::empty()?.with_status(204).with_headers(headers))
}

/// Adds CORS headers to a response for an allowed origin, and `Vary: Origin` to every response
/// whose CORS headers depend on the origin (with an allow-list: allowed origins get theirs
/// echoed, others and requests without one get none). That includes cacheable images and
/// permalinks: without it a shared cache could hand one origin's copy to another, whose browser
/// would then refuse it.
pub fn add_cors(
    response: &mut Response,
    origin: Option<&str>,
    config: &Config,
) -> worker::Result<()> {
    let headers = response.headers_mut();
    if let Some(allowed) = config.cors.allow_origin(origin) {
        headers.set("access-control-allow-origin", &allowed)?;
        headers.set("access-control-expose-headers", CORS_EXPOSED_HEADERS)?;
    }
    if config.cors.varies_by_origin() {
        let vary = vary_with(headers.get("vary")?.as_deref(), "origin");
        headers.set("vary", &vary)?;
    }
    Ok(())
}
