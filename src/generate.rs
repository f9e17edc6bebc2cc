//! Generating an image: read → validate and normalize → key → cache tiers → `AI.run` (once per
//! key in flight) → verify → respond, storing whole results after the response.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use futures_util::future::{select, Either};
use futures_util::{pin_mut, StreamExt};
use js_sys::Uint8Array;
use sdxl_core::headers::{field_list, ClientCaching};
use sdxl_core::route::origin_and_query;
use sdxl_core::{
    normalize, parse_form, parse_json, parse_query, ApiError, BodyError, FormPart, ModelSpec,
    RawRequest,
};
use wasm_bindgen::JsCast;
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;
use worker::{Context, Delay, Env, Request, Result};

use crate::ai_binding::{run_options, AiBinding};
use crate::ai_inputs;
use crate::cache_tiers::{permalink_url, Stored, Tiers};
use crate::config::Config;
use crate::failure::{Failure, Handled};
use crate::model_output::{read_image, ModelImage};
use crate::responses::{deliver, not_modified_if_held, CacheStatus, Delivery};
use crate::single_flight::run_once;
use crate::trace::{now, Trace};

/// `POST` with a JSON, `multipart/form-data` or url-encoded body.
pub async fn from_body(
    req: &mut Request,
    env: &Env,
    ctx: &Context,
    config: &Config,
    spec: &'static ModelSpec,
    delivery: Delivery,
    trace: &mut Trace,
) -> Handled {
    let started = now();
    let content_type = req.headers().get("content-type")?.unwrap_or_default();
    let shape = BodyShape::of(&content_type)?;
    let body = read_body(req, config.max_body_bytes).await?;
    let raw = match shape {
        BodyShape::Json => parse_json(spec, &body).map_err(ApiError::Body)?,
        BodyShape::FormOrJson if !looks_like_json(&body) => parse_form(
            spec,
            form_urlencoded::parse(&body).map(|(k, v)| (k, FormPart::Text(v.into_owned()))),
        ),
        BodyShape::FormOrJson => parse_json(spec, &body).map_err(ApiError::Body)?,
        BodyShape::Multipart => {
            let parts = multipart_parts(body, &content_type).await?;
            parse_form(spec, parts)
        }
    };
    trace.log.ms.validate += now() - started;
    generate(req, env, ctx, config, spec, raw, delivery, trace).await
}

/// `GET` with a query string, so results can sit in `<img src>` and behind a CDN.
pub async fn from_query(
    req: &Request,
    env: &Env,
    ctx: &Context,
    config: &Config,
    spec: &'static ModelSpec,
    delivery: Delivery,
    trace: &mut Trace,
) -> Handled {
    let url = req.inner().url();
    let (_, query) = origin_and_query(&url);
    let pairs = form_urlencoded::parse(query.unwrap_or_default().as_bytes());
    let raw = parse_query(spec, pairs);
    generate(req, env, ctx, config, spec, raw, delivery, trace).await
}

#[allow(clippy::too_many_arguments)]
async fn generate(
    req: &Request,
    env: &Env,
    ctx: &Context,
    config: &Config,
    spec: &'static ModelSpec,
    raw: RawRequest,
    delivery: Delivery,
    trace: &mut Trace,
) -> Handled {
    let started = now();
    trace.log.model = Some(spec.id);
    let normalized =
        normalize(spec, raw, config.policy, &mut draw_seed).map_err(ApiError::Invalid)?;
    let key = crate::digest::cache_key(&normalized).await?;
    trace.log.ms.validate += now() - started;
    trace.log.key = Some(key.clone());
    trace.log.seed = normalized.seed();
    if let Some(prompt) = normalized.inputs.text("prompt") {
        trace.log.set_prompt(prompt, config.log_prompts);
    }
    let seed = normalized.seed().map(|s| s.to_string());
    let tag = delivery.entity_tag(&key);
    if let Some(response) = not_modified_if_held(req, &tag, &key, seed.as_deref())? {
        return Ok(response);
    }
    let headers = req.headers();
    let caching = ClientCaching::from_headers(
        headers.get("cache-control")?.as_deref(),
        headers.get("pragma")?.as_deref(),
    );
    let url = permalink_url(req, &key)?;
    let tiers = Tiers::new(env, config.memory_cache_bytes);

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

    // A drawn seed makes a key no one has asked for yet: looking it up would only cost time.
    if caching.read && !normalized.seed_drawn {
        let started = now();
        let found = tiers.get(&url, &key).await;
        trace.log.ms.cache += now() - started;
        if let Some((stored, tier)) = found {
            tiers.backfill(ctx, tier, &url, &key, &stored);
            let status = CacheStatus::Hit(tier.name());
            trace.log.cache = Some(status.label());
            return Ok(deliver(&stored, &key, status, &extra, delivery)?);
        }
    }

    let ai = AiBinding::from_env(env, "AI").map_err(Failure::Misconfigured)?;
    let inputs = ai_inputs::to_js(&normalized.inputs, config.image_encoding)?;
    let options = run_options(config.ai_gateway_id.as_deref(), &key);
    let attempts = Cell::new(0);
    let run = || run_model(&ai, spec.id, &inputs, &options, config, &attempts);
    let started = now();
    let (result, started_here) = if caching.store {
        run_once(&key, run).await
    } else {
        (run().await.map_err(Rc::new), true)
    };
    trace.log.ms.ai += now() - started;
    trace.log.upstream_attempts = attempts.get();
    let image = result?;
    let stored = Stored { image, seed };
    let status = match (caching.store, started_here) {
        (false, _) => CacheStatus::Bypass,
        (true, true) => CacheStatus::Miss,
        // Another request in this isolate paid for the run; this one shared it.
        (true, false) => CacheStatus::Hit("in-flight"),
    };
    trace.log.cache = Some(status.label());
    if caching.store && started_here {
        // Only whole, verified images reach this point: failures returned above.
        let (tiers, stored, url, key) = (tiers, stored.clone(), url, key.clone());
        ctx.wait_until(async move { tiers.put(&url, &key, &stored, false).await });
    }
    Ok(deliver(&stored, &key, status, &extra, delivery)?)
}

/// One model run as a client can rely on it: capacity failures retried a bounded number of times
/// with backoff, the whole bounded by `AI_TIMEOUT_MS`, and the answer verified as a whole image.
async fn run_model(
    ai: &AiBinding,
    model: &str,
    inputs: &JsValue,
    options: &JsValue,
    config: &Config,
    attempts: &Cell<u32>,
) -> Result<ModelImage, ApiError> {
    let work = async {
        let mut retry = 0;
        loop {
            attempts.set(attempts.get() + 1);
            match ai.run(model, inputs, options).await {
                Ok(output) => return read_image(output).await,
                Err(error) => {
                    retry += 1;
                    let jitter = js_sys::Math::random();
                    match config.retry.delay_before(retry, &error, jitter) {
                        Some(ms) => Delay::from(Duration::from_millis(u64::from(ms))).await,
                        None => return Err(ApiError::Upstream(error)),
                    }
                }
            }
        }
    };
    let deadline = Delay::from(Duration::from_millis(u64::from(config.ai_timeout_ms)));
    pin_mut!(work);
    match select(work, deadline).await {
        Either::Left((result, _)) => result,
        Either::Right(((), _)) => Err(ApiError::Deadline {
            ms: config.ai_timeout_ms,
        }),
    }
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
            FormPart::File {
                filename: file.name(),
                bytes: Uint8Array::new(&buffer).to_vec(),
            }
        };
        parts.push((name, part));
    }
    Ok(parts)
}

/// The body, refused when it is over `limit` bytes, whatever `Content-Length` claims.
async fn read_body(req: &mut Request, limit: u64) -> std::result::Result<Vec<u8>, ApiError> {
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
            // Stop reading at once: the rest of an over-limit body is not worth receiving.
            return Err(too_large());
        }
        let start = body.len();
        body.resize(start + len, 0);
        bytes.copy_to(&mut body[start..]);
    }
    Ok(body)
}

/// Seeds the gateway draws are 32-bit so they suit any backend; the contract allows up to 2^53-1.
fn draw_seed() -> i64 {
    #[allow(clippy::cast_possible_truncation)]
    let seed = (js_sys::Math::random() * 4_294_967_296.0).floor() as i64;
    seed
}
