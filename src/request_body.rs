//! Reading a request body into the fields of a request, whatever its shape: JSON, a multipart
//! form (the runtime's parser, after the body is read within the limit) or a url-encoded form.

use futures_util::StreamExt;
use js_sys::Uint8Array;
use sdxl_core::{parse_form, parse_json, ApiError, BodyError, FormPart, ModelSpec, RawRequest};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use worker::Request;

/// The body of `req`, read within `limit` bytes and parsed for `spec` by its media type.
///
/// # Errors
/// 415 for other media types, 413 over the limit, 400 for unreadable bodies.
pub async fn read(
    req: &mut Request,
    spec: &'static ModelSpec,
    limit: u64,
) -> Result<RawRequest, ApiError> {
    let content_type = req
        .headers()
        .get("content-type")
        .ok()
        .flatten()
        .unwrap_or_default();
    let shape = BodyShape::of(&content_type)?;
    let body = read_body(req, limit).await?;
    Ok(match shape {
        BodyShape::Json => parse_json(spec, &body)?,
        BodyShape::FormOrJson if !looks_like_json(&body) => parse_form(
            spec,
            form_urlencoded::parse(&body).map(|(k, v)| (k, FormPart::Text(v.into_owned()))),
        ),
        BodyShape::FormOrJson => parse_json(spec, &body)?,
        BodyShape::Multipart => parse_form(spec, multipart_parts(body, &content_type).await?),
    })
}

/// How a body is encoded, by its media type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BodyShape {
    Json,
    /// `application/x-www-form-urlencoded`: an HTML form, or JSON from `curl -d '{...}'`, which
    /// sends this type by default (the Workers AI REST API reads such bodies as JSON too).
    FormOrJson,
    Multipart,
}

impl BodyShape {
    fn of(content_type: &str) -> Result<BodyShape, ApiError> {
        let essence = content_type
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        match essence.as_str() {
            "" | "application/json" => Ok(BodyShape::Json),
            "application/x-www-form-urlencoded" => Ok(BodyShape::FormOrJson),
            "multipart/form-data" => Ok(BodyShape::Multipart),
            other if other.ends_with("+json") => Ok(BodyShape::Json),
            _ => Err(ApiError::UnsupportedMediaType(content_type.to_owned())),
        }
    }
}

/// A url-encoded body that is really JSON starts with `{` (url-encoded names cannot).
fn looks_like_json(body: &[u8]) -> bool {
    body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{')
}

/// The parts of a `multipart/form-data` body, split by the runtime's own parser (the body was
/// read, within the limit, first).
async fn multipart_parts(
    body: Vec<u8>,
    content_type: &str,
) -> Result<Vec<(String, FormPart)>, ApiError> {
    let unreadable = |what: &str| ApiError::Body(BodyError::Unreadable(what.to_owned()));
    let headers = web_sys::Headers::new().map_err(|_| unreadable("headers"))?;
    headers
        .set("content-type", content_type)
        .map_err(|_| unreadable("content-type"))?;
    let init = web_sys::ResponseInit::new();
    init.set_headers(&headers);
    let mut body = body;
    let form = web_sys::Response::new_with_opt_u8_array_and_init(Some(&mut body), &init)
        .and_then(|r| r.form_data())
        .map_err(|_| unreadable("the multipart body"))?;
    drop(body);
    let form: web_sys::FormData = JsFuture::from(form)
        .await
        .map_err(|e| {
            unreadable(&format!(
                "the multipart body is malformed: {}",
                crate::ai_binding::read_error(&e).reason
            ))
        })?
        .unchecked_into();
    let mut parts = Vec::new();
    let entries = js_sys::try_iter(&form)
        .ok()
        .flatten()
        .ok_or_else(|| unreadable("the multipart body"))?;
    for entry in entries {
        let entry: js_sys::Array = entry.map_err(|_| unreadable("a part"))?.unchecked_into();
        let name = entry.get(0).as_string().unwrap_or_default();
        let value = entry.get(1);
        let part = if let Some(text) = value.as_string() {
            FormPart::Text(text)
        } else {
            let file: web_sys::File = value.unchecked_into();
            let buffer = JsFuture::from(file.array_buffer())
                .await
                .map_err(|_| unreadable("a file part"))?;
            FormPart::File(Uint8Array::new(&buffer).to_vec())
        };
        parts.push((name, part));
    }
    Ok(parts)
}

/// The body, refused when it is over `limit` bytes, whatever `Content-Length` claims.
async fn read_body(req: &mut Request, limit: u64) -> Result<Vec<u8>, ApiError> {
    let too_large = || ApiError::TooLarge { limit };
    let declared = req
        .headers()
        .get("content-length")
        .ok()
        .flatten()
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit) {
        crate::body_refusal::refuse_unread(req).await;
        return Err(too_large());
    }
    if declared.is_some() {
        // A declared length within the limit: the runtime gathers the body natively, in one
        // call, and it crosses into Wasm in one copy (reading it chunk by chunk from Wasm cost
        // ~25 ms for a 5.6 MB body). The runtime holds the body to its declared length.
        let unreadable = |e: JsValue| {
            ApiError::Body(BodyError::Unreadable(
                crate::ai_binding::read_error(&e).reason,
            ))
        };
        let promise = req.inner().array_buffer().map_err(unreadable)?;
        let buffer = JsFuture::from(promise).await.map_err(unreadable)?;
        let bytes = Uint8Array::new(&buffer);
        if u64::from(bytes.length()) > limit {
            return Err(too_large());
        }
        return Ok(bytes.to_vec());
    }
    let Some(raw) = req.inner().body() else {
        return Ok(Vec::new()); // no body at all
    };
    let mut chunks = wasm_streams::ReadableStream::from_raw(raw).into_stream();
    let capacity = usize::try_from(declared.unwrap_or(0).min(limit)).unwrap_or(0);
    let mut body = Vec::with_capacity(capacity);
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.map_err(|e| ApiError::Body(BodyError::Unreadable(format!("{e:?}"))))?;
        let Some(bytes) = chunk.dyn_ref::<Uint8Array>() else {
            return Err(ApiError::Body(BodyError::Unreadable(
                "a body chunk is not bytes".into(),
            )));
        };
        let len = bytes.length() as usize;
        if (body.len() + len) as u64 > limit {
            // Refused: the rest is thrown away, not kept (see body_refusal for why it is read).
            let read = (body.len() + len) as u64;
            crate::body_refusal::discard_rest(&mut chunks, declared, read).await;
            return Err(too_large());
        }
        let start = body.len();
        body.resize(start + len, 0);
        bytes.copy_to(&mut body[start..]);
    }
    Ok(body)
}
