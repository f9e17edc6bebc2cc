//! Responses: images with their cache headers, and every refusal in the Cloudflare v4 envelope.

use sdxl_core::ApiError;
use worker::{Headers, Response, Result};

use crate::cache_tiers::{Stored, IMMUTABLE};

/// Where a response's image came from, for `x-cache` (and `x-cache-tier` on hits).
#[derive(Debug, Clone, Copy)]
pub enum CacheStatus {
    /// Served without a model run: `cache-api`, `r2`, or `in-flight` (shared a concurrent run).
    Hit(&'static str),
    Miss,
    /// The client said `no-store`: run, not stored.
    Bypass,
}

/// An image response. The body is the JS-side bytes, handed over without a copy into Wasm.
pub fn image_response(
    stored: &Stored,
    key: &str,
    cache: CacheStatus,
    extra: &[(&str, String)],
) -> Result<Response> {
    let response = web_sys::Response::new_with_opt_buffer_source(Some(&stored.image.bytes))?;
    let mut response = Response::from(response);
    let headers = response.headers_mut();
    headers.set("content-type", stored.image.format.content_type())?;
    set_entity_headers(headers, key, stored.seed.as_deref())?;
    match cache {
        CacheStatus::Hit(tier) => {
            headers.set("x-cache", "HIT")?;
            headers.set("x-cache-tier", tier)?;
        }
        CacheStatus::Miss => headers.set("x-cache", "MISS")?,
        CacheStatus::Bypass => headers.set("x-cache", "BYPASS")?,
    }
    for (name, value) in extra {
        headers.set(name, value)?;
    }
    Ok(response)
}

/// `304 Not Modified` for a client that already holds the image named `key`.
pub fn not_modified(key: &str, seed: Option<&str>) -> Result<Response> {
    let headers = Headers::new();
    set_entity_headers(&headers, key, seed)?;
    Ok(Response::empty()?.with_status(304).with_headers(headers))
}

fn set_entity_headers(headers: &Headers, key: &str, seed: Option<&str>) -> Result<()> {
    headers.set("etag", &format!("\"{key}\""))?;
    headers.set("cache-control", IMMUTABLE)?;
    headers.set("content-location", &format!("/images/{key}"))?;
    if let Some(seed) = seed {
        headers.set("x-seed", seed)?;
    }
    Ok(())
}

/// The envelope response for `error`. Never cacheable: failures are not results.
pub fn error_response(error: &ApiError) -> Result<Response> {
    let headers = Headers::new();
    headers.set("content-type", "application/json")?;
    headers.set("cache-control", "no-store")?;
    if let ApiError::MethodNotAllowed { allow, .. } = error {
        headers.set("allow", allow)?;
    }
    Ok(Response::ok(error.envelope().to_json())?
        .with_status(error.status())
        .with_headers(headers))
}

/// A 500 for the operator's own mistakes (a missing binding, an unreadable setting), in the same
/// envelope so clients parse one shape.
pub fn misconfigured(reason: &str) -> Result<Response> {
    let body = serde_json::json!({
        "success": false,
        "errors": [{"code": 3043, "message": format!("the gateway is misconfigured: {reason}")}],
        "messages": [],
        "result": null,
    });
    let headers = Headers::new();
    headers.set("cache-control", "no-store")?;
    Ok(Response::from_json(&body)?
        .with_status(500)
        .with_headers(headers))
}
