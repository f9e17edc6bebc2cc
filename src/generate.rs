//! Generating an image: read → validate and normalize → key → cache tiers → `AI.run` (once per
//! key in flight) → verify → respond, storing whole results after the response.

use std::rc::Rc;

use futures_util::StreamExt;
use sdxl_core::cache_key::cache_key;
use sdxl_core::headers::{etag_matches, field_list, ClientCaching};
use sdxl_core::{normalize, parse_json, parse_query, ApiError, BodyError, ModelSpec, RawRequest};
use worker::{Context, Env, Request, Response, Result};

use crate::ai_binding::AiBinding;
use crate::ai_inputs;
use crate::cache_tiers::{Stored, Tier, Tiers};
use crate::config::Config;
use crate::model_output::read_image;
use crate::responses::{error_response, image_response, misconfigured, not_modified, CacheStatus};
use crate::single_flight::run_once;

/// `POST` with a JSON body.
pub async fn from_body(
    req: &mut Request,
    env: &Env,
    ctx: &Context,
    config: &Config,
    spec: &'static ModelSpec,
) -> Result<Response> {
    let raw = match read_json_body(req, config.max_body_bytes).await {
        Ok(body) => parse_json(spec, &body).map_err(ApiError::Body),
        Err(error) => Err(error),
    };
    match raw {
        Ok(raw) => generate(req, env, ctx, config, spec, raw).await,
        Err(error) => error_response(&error),
    }
}

/// `GET` with a query string, so results can sit in `<img src>` and behind a CDN.
pub async fn from_query(
    req: &Request,
    env: &Env,
    ctx: &Context,
    config: &Config,
    spec: &'static ModelSpec,
) -> Result<Response> {
    let url = req.url()?;
    let raw = parse_query(spec, url.query_pairs());
    generate(req, env, ctx, config, spec, raw).await
}

async fn generate(
    req: &Request,
    env: &Env,
    ctx: &Context,
    config: &Config,
    spec: &'static ModelSpec,
    raw: RawRequest,
) -> Result<Response> {
    let normalized = match normalize(spec, raw, config.policy, &mut draw_seed) {
        Ok(normalized) => normalized,
        Err(violations) => return error_response(&ApiError::Invalid(violations)),
    };
    let key = cache_key(&normalized);
    let seed = normalized.seed().map(|s| s.to_string());
    let headers = req.headers();
    if let Some(tag) = headers.get("if-none-match")? {
        if etag_matches(&tag, &key) {
            return not_modified(&key, seed.as_deref());
        }
    }
    let caching = ClientCaching::from_headers(
        headers.get("cache-control")?.as_deref(),
        headers.get("pragma")?.as_deref(),
    );
    let url = permalink_url(req, &key)?;
    let tiers = Tiers::new(env);

    let mut extra = Vec::new();
    for (field, header) in [
        ("width", "x-requested-width"),
        ("height", "x-requested-height"),
    ] {
        if let Some(v) = normalized.inputs.integer(field) {
            extra.push((header, v.to_string()));
        }
    }
    if !normalized.ignored_fields.is_empty() {
        extra.push(("x-ignored-fields", field_list(&normalized.ignored_fields)));
    }

    if caching.read {
        if let Some((stored, tier)) = tiers.get(&url, &key).await {
            if tier == Tier::R2 {
                // Bring the entry into this data centre's cache for the next request.
                let (tiers, stored, url, key) =
                    (tiers.clone(), stored.clone(), url.clone(), key.clone());
                ctx.wait_until(async move { tiers.put(&url, &key, &stored, true).await });
            }
            return image_response(&stored, &key, CacheStatus::Hit(tier.name()), &extra);
        }
    }

    let ai = match AiBinding::from_env(env, "AI") {
        Ok(ai) => ai,
        Err(reason) => return misconfigured(&reason),
    };
    let inputs = ai_inputs::to_js(&normalized.inputs)?;
    let run = || async {
        let output = ai.run(spec.id, &inputs).await.map_err(ApiError::Upstream)?;
        read_image(output).await
    };
    let (result, started_here) = if caching.store {
        run_once(&key, run).await
    } else {
        (run().await.map_err(Rc::new), true)
    };
    let image = match result {
        Ok(image) => image,
        Err(error) => return error_response(&error),
    };
    let stored = Stored { image, seed };
    let status = match (caching.store, started_here) {
        (false, _) => CacheStatus::Bypass,
        (true, true) => CacheStatus::Miss,
        // Another request in this isolate paid for the run; this one shared it.
        (true, false) => CacheStatus::Hit("in-flight"),
    };
    if caching.store && started_here {
        // Only whole, verified images reach this point: failures returned above.
        let (tiers, stored, url, key) = (tiers, stored.clone(), url, key.clone());
        ctx.wait_until(async move { tiers.put(&url, &key, &stored, false).await });
    }
    image_response(&stored, &key, status, &extra)
}

/// The permalink of a result, `<origin>/images/<key>`: also its Cache API key.
pub fn permalink_url(req: &Request, key: &str) -> Result<String> {
    let url = req.url()?;
    Ok(format!(
        "{}/images/{key}",
        url.origin().ascii_serialization()
    ))
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
