//! Generating an image: read → validate and normalize → key → cache tiers → `AI.run` (once per
//! key in flight) → verify → respond, storing whole results after the response.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use futures_util::future::{select, Either};
use futures_util::pin_mut;
use sdxl_core::budget::{output_bound, Hold, Phase};
use sdxl_core::headers::{field_list, ClientCaching};
use sdxl_core::route::origin_and_query;
use sdxl_core::{normalize, parse_query, ApiError, InputValue, ModelSpec, Normalized, RawRequest};
use wasm_bindgen::JsValue;
use worker::{Context, Delay, Env, Request, Result};

use crate::ai_binding::{run_options, AiBinding};
use crate::ai_inputs::{self, ImageEncoding};
use crate::cache_tiers::{permalink_url, Stored, Tiers};
use crate::config::Config;
use crate::failure::{Failure, Handled};
use crate::model_output::{read_image, ModelImage};
use crate::request_body;
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
    let budget = crate::memory::budget(config);
    let (raw, hold) = request_body::read(req, spec, config.max_body_bytes, &budget).await?;
    trace.log.ms.validate += now() - started;
    generate(req, env, ctx, config, spec, (raw, hold), delivery, trace).await
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
    let hold = crate::memory::budget(config).hold(Phase::Run {
        image_bytes: 0,
        as_arrays: false,
        output_bytes: 0,
    });
    let hold = hold.map_err(ApiError::from)?;
    generate(req, env, ctx, config, spec, (raw, hold), delivery, trace).await
}

#[allow(clippy::too_many_arguments)]
async fn generate(
    req: &Request,
    env: &Env,
    ctx: &Context,
    config: &Config,
    spec: &'static ModelSpec,
    (raw, mut hold): (RawRequest, Hold),
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
    hold.resize(run_phase(&normalized, config))
        .map_err(ApiError::from)?;
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

/// What a model run holds: the input images, their text for `AI.run`, and the answer, at most
/// an uncompressed image of the requested size (1024x1024 for models without one).
fn run_phase(normalized: &Normalized, config: &Config) -> Phase {
    let image_bytes = normalized
        .inputs
        .iter()
        .filter_map(|(_, v)| match v {
            InputValue::Image(image) => Some(image.bytes.len() as u64),
            _ => None,
        })
        .sum();
    let side = |name| {
        normalized
            .inputs
            .integer(name)
            .and_then(|v| u64::try_from(v).ok())
            .unwrap_or(1024)
    };
    Phase::Run {
        image_bytes,
        as_arrays: config.image_encoding == ImageEncoding::Array,
        output_bytes: output_bound(side("width"), side("height")),
    }
}

/// Seeds the gateway draws are 32-bit so they suit any backend; the contract allows up to 2^53-1.
fn draw_seed() -> i64 {
    #[allow(clippy::cast_possible_truncation)]
    let seed = (js_sys::Math::random() * 4_294_967_296.0).floor() as i64;
    seed
}
