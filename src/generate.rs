//! `POST` a generation request: read → validate and normalize → `AI.run` → sniff → stream.

use futures_util::StreamExt;
use sdxl_core::{validate_json, ApiError, BodyError, ModelSpec, Normalized};
use worker::{Env, Request, Response, Result};

use crate::ai_binding::AiBinding;
use crate::ai_inputs;
use crate::config::Config;
use crate::model_output::{read_image, ModelImage};
use crate::responses::{error_response, misconfigured};

pub async fn generate(
    req: &mut Request,
    env: &Env,
    config: &Config,
    spec: &'static ModelSpec,
) -> Result<Response> {
    let body = match read_json_body(req, config.max_body_bytes).await {
        Ok(body) => body,
        Err(error) => return error_response(&error),
    };
    let normalized = match validate_json(spec, &body, config.policy, &mut draw_seed) {
        Ok(normalized) => normalized,
        Err(error) => return error_response(&error),
    };
    drop(body);
    let ai = match AiBinding::from_env(env, "AI") {
        Ok(ai) => ai,
        Err(reason) => return misconfigured(&reason),
    };
    let inputs = ai_inputs::to_js(&normalized.inputs)?;
    let output = match ai.run(spec.id, &inputs).await {
        Ok(output) => output,
        Err(upstream) => return error_response(&ApiError::Upstream(upstream)),
    };
    match read_image(output).await {
        Ok(image) => image_response(&normalized, image),
        Err(error) => error_response(&error),
    }
}

/// The body, refused when its media type is not JSON or it is over `limit` bytes, whatever
/// `Content-Length` claims.
async fn read_json_body(req: &mut Request, limit: u64) -> std::result::Result<Vec<u8>, ApiError> {
    let content_type = req
        .headers()
        .get("content-type")
        .ok()
        .flatten()
        .unwrap_or_default();
    if !is_json_media_type(&content_type) {
        return Err(ApiError::UnsupportedMediaType(content_type));
    }
    let too_large = || ApiError::TooLarge { limit };
    let declared = req
        .headers()
        .get("content-length")
        .ok()
        .flatten()
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit) {
        return Err(too_large());
    }
    let Ok(mut chunks) = req.stream() else {
        return Ok(Vec::new()); // no body at all
    };
    let capacity = usize::try_from(declared.unwrap_or(0)).unwrap_or(0);
    let mut body = Vec::with_capacity(capacity);
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.map_err(|e| ApiError::Body(BodyError::Unreadable(e.to_string())))?;
        if (body.len() + chunk.len()) as u64 > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// JSON, or no type at all, or the form type `curl -d '{...}'` sends by default (the Workers AI
/// REST API reads such bodies as JSON too, and its own docs' curl example relies on it).
fn is_json_media_type(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence.is_empty()
        || essence == "application/json"
        || essence.ends_with("+json")
        || essence == "application/x-www-form-urlencoded"
}

/// Seeds the gateway draws are 32-bit so they suit any backend; the contract allows up to 2^53-1.
fn draw_seed() -> i64 {
    #[allow(clippy::cast_possible_truncation)]
    let seed = (js_sys::Math::random() * 4_294_967_296.0).floor() as i64;
    seed
}

fn image_response(normalized: &Normalized, image: ModelImage) -> Result<Response> {
    // Built as a web_sys response so the bytes go from JS memory to the client without a copy.
    let response = web_sys::Response::new_with_opt_buffer_source(Some(&image.bytes))?;
    let mut response = Response::from(response);
    let headers = response.headers_mut();
    headers.set("content-type", image.format.content_type())?;
    if let Some(seed) = normalized.seed() {
        headers.set("x-seed", &seed.to_string())?;
    }
    for (field, header) in [
        ("width", "x-requested-width"),
        ("height", "x-requested-height"),
    ] {
        if let Some(v) = normalized.inputs.integer(field) {
            headers.set(header, &v.to_string())?;
        }
    }
    if !normalized.ignored_fields.is_empty() {
        headers.set(
            "x-ignored-fields",
            &sdxl_core::headers::field_list(&normalized.ignored_fields),
        )?;
    }
    Ok(response)
}
