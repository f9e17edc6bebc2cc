//! Responses: the answers `sdxl_core::answer` describes, made into runtime responses. Image
//! bodies are the JS-side bytes, handed over without a copy into Wasm.

use sdxl_core::answer::{
    image_envelope, image_headers, not_generated_headers, not_modified_headers, CacheStatus,
    FailureAnswer, HeaderList, Representation,
};
use sdxl_core::dispatch::Delivery;
use wasm_bindgen_futures::JsFuture;
use worker::{Headers, Response, ResponseBody, Result};

use crate::base64_js::base64_from_js;
use crate::cache_tiers::Stored;

/// Sets every header of `list` on `headers`.
pub fn set_all(headers: &Headers, list: &HeaderList) -> Result<()> {
    for (name, value) in list {
        headers.set(name, value)?;
    }
    Ok(())
}

fn with_headers(response: Response, list: &HeaderList) -> Result<Response> {
    let headers = Headers::new();
    set_all(&headers, list)?;
    Ok(response.with_headers(headers))
}

/// A stored (or just generated) image as `delivery` asks for it.
pub fn deliver(
    stored: &Stored,
    rep: &Representation<'_>,
    delivery: Delivery,
    status: CacheStatus,
    requested: &[(&'static str, String)],
) -> Result<Response> {
    let image_type = stored.image.format.content_type();
    let headers = image_headers(rep, delivery, image_type, status, requested);
    let response = if delivery == Delivery::Image {
        let raw = web_sys::Response::new_with_opt_buffer_source(Some(&stored.image.bytes))?;
        Response::from(raw)
    } else {
        let image = base64_from_js(&stored.image.bytes);
        let body = image_envelope(delivery, &image, image_type, stored.seed.as_deref());
        Response::ok(body.unwrap_or_default())?
    };
    with_headers(response, &headers)
}

/// `304 Not Modified` for `rep`.
pub fn not_modified(rep: &Representation<'_>) -> Result<Response> {
    with_headers(
        Response::empty()?.with_status(304),
        &not_modified_headers(rep),
    )
}

/// The answer to a `HEAD` for an image not generated yet (see
/// `sdxl_core::answer::not_generated_headers`).
pub fn not_generated(
    rep: &Representation<'_>,
    requested: &[(&'static str, String)],
) -> Result<Response> {
    with_headers(Response::empty()?, &not_generated_headers(rep, requested))
}

/// A JSON document of the gateway's (the catalog, the OpenAPI document): public, cacheable for
/// five minutes.
pub fn json_document(body: String) -> Result<Response> {
    let list = vec![
        ("content-type", "application/json".to_owned()),
        ("cache-control", "public, max-age=300".to_owned()),
    ];
    with_headers(Response::ok(body)?, &list)
}

/// A failure's answer.
pub fn failure(answer: FailureAnswer) -> Result<Response> {
    with_headers(
        Response::ok(answer.body)?.with_status(answer.status),
        &answer.headers,
    )
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
