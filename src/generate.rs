//! Generating an image: read → validate and normalize → key → join the key's in-flight slot →
//! cache tiers → `AI.run` (once per key in flight) → verify → memory tier → respond, writing the
//! other tiers after the response.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use futures_util::future::{select, Either};
use futures_util::pin_mut;
use sdxl_core::answer::{requested_headers, CachePlan, CacheStatus, Representation, Tier, VARY};
use sdxl_core::budget::{output_bound, Hold, Phase};
use sdxl_core::config::{Config, ImageEncoding};
use sdxl_core::dispatch::Delivery;
use sdxl_core::inputs::seed_from_unit;
use sdxl_core::request_head::{Method, RequestHead};
use sdxl_core::route::Route;
use sdxl_core::{normalize, parse_query, ApiError, InputValue, ModelSpec, Normalized, RawRequest};
use wasm_bindgen::JsValue;
use worker::{Delay, Request, Result};

use crate::ai_binding::{run_options, AiBinding};
use crate::ai_inputs;
use crate::cache_tiers::{Stored, Tiers, Writes};
use crate::failure::{Failure, Handled};
use crate::gateway::Gateway;
use crate::model_output::{read_image, ModelImage};
use crate::request_body;
use crate::responses::{deliver, not_generated, not_modified};
use crate::single_flight::{join, Joined};
use crate::trace::now;

/// `POST` with a JSON, `multipart/form-data` or url-encoded body.
pub async fn from_body(
    gateway: &mut Gateway<'_>,
    head: &RequestHead,
    req: Request,
    spec: &'static ModelSpec,
    delivery: Delivery,
) -> Handled {
    let started = now();
    let budget = crate::memory::budget(gateway.config);
    let limit = gateway.config.max_body_bytes;
    let (raw, hold) = request_body::read(&req, head, spec, limit, &budget).await?;
    gateway.trace.log.ms.validate += now() - started;
    generate(gateway, head, spec, (raw, hold), delivery).await
}

/// `GET` with a query string, so results can sit in `<img src>` and behind a CDN.
pub async fn from_query(
    gateway: &mut Gateway<'_>,
    head: &RequestHead,
    spec: &'static ModelSpec,
    delivery: Delivery,
) -> Handled {
    let query = head.query.as_deref().unwrap_or_default();
    let raw = parse_query(spec, form_urlencoded::parse(query.as_bytes()));
    // Held before the inputs are normalized (a query is small, its images none).
    let hold = crate::memory::budget(gateway.config).hold(Phase::Run {
        image_bytes: 0,
        as_arrays: false,
        output_bytes: 0,
    });
    let hold = hold.map_err(ApiError::from)?;
    generate(gateway, head, spec, (raw, hold), delivery).await
}

pub(crate) async fn generate(
    gateway: &mut Gateway<'_>,
    head: &RequestHead,
    spec: &'static ModelSpec,
    (raw, mut hold): (RawRequest, Hold),
    delivery: Delivery,
) -> Handled {
    let Gateway {
        env,
        ctx,
        config,
        ref mut trace,
    } = *gateway;
    let started = now();
    trace.log.model = Some(spec.id);
    // Own routes size img2img by its input image; the REST drop-in forwards what Workers AI gets.
    let rest = matches!(Route::parse(&head.path), Route::Rest { .. });
    let policy = sdxl_core::Policy {
        size_from_input: !rest,
        ..config.policy
    };
    let normalized = normalize(spec, raw, policy, &mut || {
        seed_from_unit(js_sys::Math::random())
    })
    .map_err(ApiError::Invalid)?;
    let key = crate::digest::cache_key(&normalized).await?;
    trace.log.ms.validate += now() - started;
    trace.log.key = Some(key.clone());
    trace.log.seed = normalized.seed();
    if let Some(prompt) = normalized.inputs.text("prompt") {
        trace.log.set_prompt(prompt, config.log_prompts);
    }
    let seed = normalized.seed().map(|s| s.to_string());
    let plan = CachePlan::new(head.caching(), head.unless_exists(), normalized.seed_drawn);
    let permalink = config
        .permalinks
        .as_ref()
        .ok()
        .filter(|_| plan.may_carry_permalink(head.if_none_match.is_some()))
        .map(|p| p.id_for(&key));
    let tag = delivery.entity_tag(&key);
    let rep = Representation {
        tag: &tag,
        permalink: permalink.as_deref(),
        seed: seed.as_deref(),
        vary: VARY,
    };
    if rep.is_held(head.if_none_match.as_deref()) {
        return Ok(not_modified(&rep)?);
    }
    // Made when used: a `no-store` run never touches a tier (its R2 binding is a lookup on `env`).
    let tiers = || Tiers::new(env, config.memory_tier_bytes(), &head.url_origin);
    let requested = requested_headers(&normalized);
    let answer =
        |stored: &Stored, status: CacheStatus| deliver(stored, &rep, delivery, status, &requested);

    // HEAD answers from the tiers and never runs the model: it asks about the image, it does
    // not order one.
    if head.method == Method::Head {
        let found = if plan.look_up {
            tiers().get(&key).await
        } else {
            None
        };
        return Ok(match found {
            Some(_) if plan.unless_exists => not_modified(&rep)?,
            Some((stored, tier)) => answer(&stored, CacheStatus::Hit(tier))?,
            None => not_generated(&rep, &requested)?,
        });
    }

    let ai = AiBinding::from_env(env, "AI").map_err(Failure::Misconfigured)?;
    let options = run_options(config.ai_gateway_id.as_deref(), &key);
    let attempts = Cell::new(0);
    // Only the request that runs the model holds the run's memory and encodes its inputs;
    // requests that join its run or find its result do neither.
    let encode = |hold: &mut Hold| -> std::result::Result<JsValue, Failure> {
        hold.resize(run_phase(&normalized, config))
            .map_err(ApiError::from)?;
        Ok(ai_inputs::to_js(&normalized.inputs, config.image_encoding)?.into())
    };
    let (ai, options, attempts) = (&ai, &options, &attempts);
    let run = |inputs: JsValue| async move {
        run_model(ai, spec.id, &inputs, options, config, attempts).await
    };

    if !plan.store {
        // `no-store`: neither read nor stored, so not shared either.
        let inputs = encode(&mut hold)?;
        let started = now();
        let result = run(inputs).await;
        trace.log.ms.ai += now() - started;
        trace.log.upstream_attempts = attempts.get();
        let stored = Stored {
            image: result?,
            seed: seed.clone(),
        };
        trace.log.cache = Some(CacheStatus::Bypass.label());
        return Ok(answer(&stored, CacheStatus::Bypass)?);
    }

    // One lookup and at most one run per key in flight in this isolate: the memory tier, then
    // the key's slot, with no `await` between them (so nothing can change in between); only the
    // slot's leader looks in the other tiers and runs the model (see `single_flight`). A result
    // reaches memory before its slot is marked done, so the memory check first just answers hot
    // keys sooner.
    let tiers = tiers();
    let started = now();
    if plan.look_up {
        if let Some(stored) = Tiers::in_memory(&key) {
            trace.log.ms.cache += now() - started;
            let status = CacheStatus::Hit(Tier::Memory);
            trace.log.cache = Some(status.label());
            trace.memory_hit = true;
            if plan.unless_exists {
                return Ok(not_modified(&rep)?);
            }
            return Ok(answer(&stored, status)?);
        }
    }
    let lead = match join(&key, plan.wants_fresh).await {
        Joined::Followed { result, existed } => {
            trace.log.ms.cache += now() - started;
            let stored = result?;
            // Another request in this isolate found or made it.
            let status = CacheStatus::Joined;
            trace.log.cache = Some(status.label());
            if plan.unless_exists && existed {
                return Ok(not_modified(&rep)?);
            }
            return Ok(answer(&stored, status)?);
        }
        Joined::Lead(lead) => lead,
    };
    if plan.look_up {
        let found = tiers.get(&key).await;
        trace.log.ms.cache += now() - started;
        if let Some((stored, tier)) = found {
            lead.share_hit(&stored);
            tiers.backfill(ctx, tier, &key, &stored);
            let status = CacheStatus::Hit(tier);
            trace.log.cache = Some(status.label());
            if plan.unless_exists {
                return Ok(not_modified(&rep)?);
            }
            return Ok(answer(&stored, status)?);
        }
    }

    let inputs = match encode(&mut hold) {
        Ok(inputs) => inputs,
        Err(Failure::Api(error)) => {
            // Over the budget: those waiting on this run would need the same memory.
            lead.share_failure(error.clone());
            return Err(error.into());
        }
        Err(other) => return Err(other), // the slot is abandoned: a follower runs instead
    };
    let started = now();
    let result = run(inputs).await;
    trace.log.ms.ai += now() - started;
    trace.log.upstream_attempts = attempts.get();
    let image = match result {
        Ok(image) => image,
        Err(error) => {
            let error = Rc::new(error);
            lead.share_failure(error.clone());
            return Err(error.into());
        }
    };
    // Only whole, verified images reach this point. Into memory first, synchronously, so the
    // result is in a tier before the slot can close; the slot closes after the other tiers are
    // written, after the response.
    let stored = Stored {
        image,
        seed: seed.clone(),
    };
    tiers.remember(&key, &stored);
    let retire = lead.share_run(&stored);
    let (written, key_owned) = (stored.clone(), key.clone());
    ctx.wait_until(async move {
        tiers.put(&key_owned, &written, Writes::Fresh).await;
        drop(retire);
    });
    let status = CacheStatus::Miss;
    trace.log.cache = Some(status.label());
    Ok(answer(&stored, status)?)
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
