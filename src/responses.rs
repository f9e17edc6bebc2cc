//! Responses: images with their cache headers, and every refusal in the Cloudflare v4 envelope.

use sdxl_core::envelope::CODE_BAD_UPSTREAM;
use sdxl_core::headers::etag_matches;
use sdxl_core::ApiError;
use worker::{Headers, Request, Response, ResponseBody, Result};

use crate::cache_tiers::{Stored, IMMUTABLE};
use crate::failure::Failure;

/// Where a response's image came from, for `x-cache` (and `x-cache-tier` on hits).
#[derive(Debug, Clone, Copy)]
pub enum CacheStatus {
    /// Served without a model run: `memory`, `cache-api`, `r2`, or `in-flight` (shared a
    /// concurrent run).
    Hit(&'static str),
    Miss,
    /// The client said `no-store`: run, not stored.
    Bypass,
}

impl CacheStatus {
    /// The `x-cache` value.
    pub fn label(self) -> &'static str {
        match self {
            CacheStatus::Hit(_) => "HIT",
            CacheStatus::Miss => "MISS",
            CacheStatus::Bypass => "BYPASS",
        }
    }
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
    headers.set("x-cache", cache.label())?;
    if let CacheStatus::Hit(tier) = cache {
        headers.set("x-cache-tier", tier)?;
    }
    for (name, value) in extra {
        headers.set(name, value)?;
    }
    Ok(response)
}

/// A copy of a fetched response whose headers can be changed (a subrequest's are immutable, and
/// every response gets `x-request-id`).
pub fn with_mutable_headers(response: Response) -> Result<Response> {
    let status = response.status_code();
    let headers = Headers::new();
    for (name, value) in response.headers() {
        headers.append(&name, &value)?;
    }
    let raw: web_sys::Response = response.into();
    let body = raw.body().map_or(ResponseBody::Empty, ResponseBody::Stream);
    Ok(Response::from_body(body)?
        .with_status(status)
        .with_headers(headers))
}

/// `304 Not Modified` when the request's `If-None-Match` names `key`: the client already holds
/// that exact image.
pub fn not_modified_if_held(
    req: &Request,
    key: &str,
    seed: Option<&str>,
) -> Result<Option<Response>> {
    match req.headers().get("if-none-match")? {
        Some(tag) if etag_matches(&tag, key) => Ok(Some(not_modified(key, seed)?)),
        _ => Ok(None),
    }
}

fn not_modified(key: &str, seed: Option<&str>) -> Result<Response> {
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

/// The envelope response for any failure, carrying the request id. Never cacheable: failures
/// are not results.
pub fn failure_response(failure: &Failure, request_id: &str) -> Result<Response> {
    let (status, body) = match failure {
        Failure::Api(error) => (error.status(), error.envelope(Some(request_id)).to_json()),
        Failure::Misconfigured(reason) => (
            500,
            other_envelope(
                &format!("the gateway is misconfigured: {reason}"),
                request_id,
            ),
        ),
        // The details go to the log line, not to the client.
        Failure::Internal(_) => (
            500,
            other_envelope("the gateway failed; report the request id", request_id),
        ),
    };
    let headers = Headers::new();
    headers.set("content-type", "application/json")?;
    headers.set("cache-control", "no-store")?;
    if let Failure::Api(error) = failure {
        if let ApiError::MethodNotAllowed { allow, .. } = error.as_ref() {
            headers.set("allow", allow)?;
        }
        if let ApiError::Unauthorized(_) = error.as_ref() {
            headers.set("www-authenticate", "Bearer")?;
        }
        if let Some(seconds) = error.retry_after() {
            headers.set("retry-after", &seconds.to_string())?;
        }
    }
    Ok(Response::ok(body)?
        .with_status(status)
        .with_headers(headers))
}

fn other_envelope(message: &str, request_id: &str) -> String {
    serde_json::json!({
        "success": false,
        "errors": [{"code": CODE_BAD_UPSTREAM, "message": message}],
        "messages": [],
        "result": null,
        "request_id": request_id,
    })
    .to_string()
}
