//! Responses: images with their cache headers, and every refusal in the Cloudflare v4 envelope.

use sdxl_core::envelope::CODE_BAD_UPSTREAM;
use sdxl_core::headers::etag_matches;
use sdxl_core::ApiError;
use wasm_bindgen_futures::JsFuture;
use worker::{Headers, Request, Response, ResponseBody, Result};

use crate::base64_js::base64_text;
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

/// The form a generated image is answered in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// The image bytes, typed by what they are.
    Image,
    /// `Accept: application/json`: the v4 envelope with `result.image` (base64),
    /// `result.content_type` and `result.seed`.
    Envelope,
    /// The REST API's answer for JSON models: the v4 envelope with `result.image` alone.
    RestEnvelope,
}

impl Delivery {
    /// The entity tag of this representation: the key for the bytes, the key marked `.json` for
    /// an envelope (same image, different body, so a different tag).
    pub fn entity_tag(self, key: &str) -> String {
        match self {
            Delivery::Image => key.to_owned(),
            Delivery::Envelope => format!("{key}.json"),
            Delivery::RestEnvelope => format!("{key}.rest.json"),
        }
    }
}

/// A generated (or stored) image in the form `delivery` asks for; `permalink` is its permalink
/// id, when permalinks are on.
pub fn deliver(
    stored: &Stored,
    key: &str,
    permalink: Option<&str>,
    cache: CacheStatus,
    extra: &[(&str, String)],
    delivery: Delivery,
) -> Result<Response> {
    if delivery == Delivery::Image {
        let mut response = image_response(stored, key, permalink, cache, extra)?;
        response.headers_mut().set("vary", "accept")?;
        return Ok(response);
    }
    let image = base64_text(&stored.image.bytes);
    let result = if delivery == Delivery::Envelope {
        let seed = stored.seed.as_deref().and_then(|s| s.parse::<i64>().ok());
        serde_json::json!({
            "image": image,
            "content_type": stored.image.format.content_type(),
            "seed": seed,
        })
    } else {
        serde_json::json!({ "image": image })
    };
    let body = serde_json::json!({
        "result": result,
        "success": true,
        "errors": [],
        "messages": [],
    });
    let mut response = Response::ok(body.to_string())?;
    let headers = response.headers_mut();
    headers.set("content-type", "application/json")?;
    headers.set("vary", "accept")?;
    set_entity_headers(
        headers,
        &delivery.entity_tag(key),
        permalink,
        stored.seed.as_deref(),
    )?;
    set_cache_headers(headers, cache, extra)?;
    Ok(response)
}

/// An image response. The body is the JS-side bytes, handed over without a copy into Wasm.
pub fn image_response(
    stored: &Stored,
    key: &str,
    permalink: Option<&str>,
    cache: CacheStatus,
    extra: &[(&str, String)],
) -> Result<Response> {
    let response = web_sys::Response::new_with_opt_buffer_source(Some(&stored.image.bytes))?;
    let mut response = Response::from(response);
    let headers = response.headers_mut();
    headers.set("content-type", stored.image.format.content_type())?;
    set_entity_headers(headers, key, permalink, stored.seed.as_deref())?;
    set_cache_headers(headers, cache, extra)?;
    Ok(response)
}

/// The answer to a `HEAD` for an image that is not generated yet: a `HEAD` never pays for a
/// model run. `200` with what is known before generating (the entity tag and seed the image will
/// have, the size asked for) and `x-cache: MISS`; no content type or length (PNG or JPEG is
/// only known from the model's bytes, RFC 9110 §9.3.2 lets a HEAD omit such fields), no
/// permalink (nothing is stored there yet), and `no-store`, so no cache takes these headers for
/// the image's.
pub fn not_generated(
    tag: &str,
    seed: Option<&str>,
    extra: &[(&str, String)],
    vary: &str,
) -> Result<Response> {
    let headers = Headers::new();
    headers.set("etag", &format!("\"{tag}\""))?;
    headers.set("cache-control", "no-store")?;
    headers.set("vary", vary)?;
    if let Some(seed) = seed {
        headers.set("x-seed", seed)?;
    }
    set_cache_headers(&headers, CacheStatus::Miss, extra)?;
    Ok(Response::empty()?.with_headers(headers))
}

fn set_cache_headers(
    headers: &Headers,
    cache: CacheStatus,
    extra: &[(&str, String)],
) -> Result<()> {
    headers.set("x-cache", cache.label())?;
    if let CacheStatus::Hit(tier) = cache {
        headers.set("x-cache-tier", tier)?;
    }
    for (name, value) in extra {
        headers.set(name, value)?;
    }
    Ok(())
}

/// `GET`'s answer as the answer to a `HEAD`: the same status and headers, no body, and the
/// body's length as `content-length`. Locally the runtime drops a HEAD response's body by itself,
/// but its length with it; stating the length keeps the headers `GET` would send (RFC 9110
/// §9.3.2). The body is only measured, in JS memory: every body here is a whole buffer already.
pub async fn without_body(response: Response) -> Result<Response> {
    let status = response.status_code();
    let headers = response.headers().clone();
    let raw: web_sys::Response = response.into();
    if raw.body().is_some() {
        let buffer = JsFuture::from(raw.array_buffer()?).await?;
        let length = js_sys::ArrayBuffer::from(buffer).byte_length();
        headers.set("content-length", &length.to_string())?;
    }
    Ok(Response::empty()?.with_status(status).with_headers(headers))
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

/// What a `304 Not Modified` says about the representation the client holds.
pub struct Held<'a> {
    /// Its entity tag (unquoted).
    pub tag: &'a str,
    /// Its permalink id, when permalinks are on.
    pub permalink: Option<&'a str>,
    pub seed: Option<&'a str>,
    /// The `Vary` its `200` carries (a 304 must repeat it, RFC 9110 §15.4.5).
    pub vary: Option<&'a str>,
}

/// `304 Not Modified` when the request's `If-None-Match` names the held entity tag: the client
/// already holds that exact answer (a key names one exact image). `*` is not handled here: it
/// depends on whether the image exists (see `sdxl_core::headers::any_current`).
pub fn not_modified_if_held(req: &Request, held: &Held<'_>) -> Result<Option<Response>> {
    match req.headers().get("if-none-match")? {
        Some(sent) if etag_matches(&sent, held.tag) => Ok(Some(not_modified(held)?)),
        _ => Ok(None),
    }
}

/// `304 Not Modified` for the held representation.
pub fn not_modified(held: &Held<'_>) -> Result<Response> {
    let headers = Headers::new();
    set_entity_headers(&headers, held.tag, held.permalink, held.seed)?;
    if let Some(vary) = held.vary {
        headers.set("vary", vary)?;
    }
    Ok(Response::empty()?.with_status(304).with_headers(headers))
}

fn set_entity_headers(
    headers: &Headers,
    tag: &str,
    permalink: Option<&str>,
    seed: Option<&str>,
) -> Result<()> {
    headers.set("etag", &format!("\"{tag}\""))?;
    headers.set("cache-control", IMMUTABLE)?;
    // Without a permalink secret there is no permalink to give: never one anyone could compute.
    if let Some(id) = permalink {
        headers.set("content-location", &format!("/images/{id}"))?;
    }
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
