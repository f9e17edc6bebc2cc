//! `POST /v1/images/generations` and `POST /v1/images/edits`: the request read and checked once
//! (`sdxl_core::openai::request`), then each of its `n` images made by the pipeline
//! (`crate::pipeline`: key, single flight, cache tiers, model run, stores), a few at a time, and
//! answered together in OpenAI's shape: one JSON answer, or with `stream: true` the same images
//! as server-sent events (`sdxl_core::openai::stream`), written once all are made.
//!
//! The images stay in the JS heap throughout: each comes back from the pipeline as a handle to
//! its bytes, its base64 is made by the runtime, and the answer is a `Blob` of JSON pieces and
//! those strings, so no image is copied into Wasm memory on the way out.

use std::cell::Cell;
use std::rc::Rc;

use futures_util::stream::{self, StreamExt};
use js_sys::{Array, JsString, Uint8Array};
use sdxl_core::answer::CachePlan;
use sdxl_core::budget::{Hold, MemoryBudget, Phase};
use sdxl_core::config::Config;
use sdxl_core::cost::cost_of;
use sdxl_core::headers::field_list;
use sdxl_core::image::ImageFormat;
use sdxl_core::inputs::seed_from_unit;
use sdxl_core::openai::answer::{answer_pieces, AnswerItem, Answered};
use sdxl_core::openai::request::{
    mask_conversion_bytes, start, Body, Endpoint, ImagesRequest, ResponseFormat, Started,
};
use sdxl_core::openai::seeds::CONCURRENT_RUNS;
use sdxl_core::openai::stream::{event_pieces, EVENT_STREAM};
use sdxl_core::parse::ByteSource;
use sdxl_core::pipeline::Ask;
use sdxl_core::request_head::{Method, RequestHead};
use sdxl_core::{ApiError, Normalized};
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::JsValue;
use worker::{Request, Response};

use crate::failure::{Failure, Handled};
use crate::gateway::Gateway;
use crate::generate::{key_of, validate};
use crate::pipeline::{after_answer, made, produce};
use crate::request_body::{form_parts, read_body};
use crate::trace::{now, Trace};

#[wasm_bindgen(inline_js = "export function base64Of(bytes) { \
    return typeof bytes.toBase64 === 'function' ? bytes.toBase64() : undefined; }")]
extern "C" {
    /// The runtime's own base64 of JS-side bytes (workerd has it), or `undefined`.
    #[wasm_bindgen(js_name = base64Of)]
    fn native_base64(bytes: &Uint8Array) -> JsValue;
}

/// One image made: its bytes (JS heap) and where it came from.
struct Made {
    bytes: Uint8Array,
    format: ImageFormat,
    seed: Option<i64>,
    /// Its permalink path, `/images/<id>` (absent when permalinks are off).
    permalink: Option<String>,
    /// Its `x-cache` label.
    cache: &'static str,
}

pub async fn answer(
    gateway: &mut Gateway<'_>,
    head: &RequestHead,
    req: &Request,
    endpoint: Endpoint,
) -> Handled {
    let Gateway {
        env, ctx, config, ..
    } = *gateway;
    let started = now();
    // Held until the answer is made: the request's images stay in memory that long.
    let (mut request, _held) = read_request(req, head, config, endpoint).await?;
    gateway.trace.log.ms.validate += now() - started;
    gateway.trace.log.model = Some(request.model.id);
    if request.response_format == ResponseFormat::Url {
        // No permalink secret, no URL: a misconfiguration to fix, never an id anyone could make.
        if let Err(reason) = &config.permalinks {
            return Err(Failure::Misconfigured(reason.to_string()));
        }
    }

    // The pipeline sees a bodiless POST with the client's headers, less the conditional ones: an
    // entity tag names one image, and this answer is several.
    let mut view = head.clone();
    view.method = Method::Post;
    view.if_none_match = None;

    let budget = crate::memory::budget(config);
    // One normalized request for all `n` images: they differ by seed alone, and share their
    // input image's bytes (never a copy per image).
    let base = validate(gateway, request.model, request.take_raw(), false)?;
    // Every image has the size and steps of the first: its work is the answer's usage.
    let tile_steps = cost_of(&base).tile_steps;
    let trace = &mut *gateway.trace;
    let request_id = trace.id().to_owned();
    // The `n` images are reserved together, before any runs: a budget that cannot cover them
    // all refuses the request whole rather than make some. Settled below by the images that ran
    // (a cache hit or a joined run costs nothing).
    let reservation = match trace.caller.as_deref() {
        Some(caller) if crate::quota::metered(env, config)? => {
            let cost = sdxl_core::cost::cost_of(&base).times(request.images() as u64);
            let until = crate::trace::now_ms() + crate::quota::RUN_RESERVATION_MS;
            Some(crate::quota::reserve(env, caller, base.model.id, cost, until).await?)
        }
        _ => None,
    };
    let prepaid = reservation.is_some();
    let caller = trace.caller.clone();
    let caller_ref = &caller;
    let failed = Cell::new(false);
    let (request_ref, view_ref, budget_ref, failed_ref) = (&request, &view, &budget, &failed);
    let base_ref = &base;
    let request_id = request_id.as_str();
    let results: Vec<(Option<Result<Made, Failure>>, Trace)> = stream::iter(0..request.images())
        .map(|i| async move {
            let mut sub = Trace::start(view_ref, None);
            sub.log.request_id = request_id.to_owned();
            sub.caller.clone_from(caller_ref);
            sub.prepaid = prepaid;
            // All or nothing: once one image failed, those not started yet are not made (the
            // ones under way finish, and are stored, so a retry finds them).
            if failed_ref.get() {
                return (None, sub);
            }
            let mut gateway = Gateway {
                env,
                ctx,
                config,
                trace: &mut sub,
            };
            let made = make_one(&mut gateway, view_ref, request_ref, base_ref, i, budget_ref).await;
            if made.is_err() {
                failed_ref.set(true);
            }
            (Some(made), sub)
        })
        .buffered(CONCURRENT_RUNS)
        .collect()
        .await;

    let mut made = Vec::with_capacity(results.len());
    let mut first_failure = None;
    let mut ran = 0;
    for (result, sub) in results {
        ran += u64::from(sub.log.charged_nano_usd.is_some());
        merge_log(trace, &sub);
        match result {
            Some(Ok(image)) => made.push(image),
            Some(Err(failure)) => {
                first_failure.get_or_insert(failure);
            }
            None => {}
        }
    }
    if let Some(reservation) = reservation {
        crate::quota::settle(env, reservation, ran).await;
    }
    if let Some(failure) = first_failure {
        return Err(failure);
    }
    respond(
        &head.url_origin,
        (&request, endpoint),
        &made,
        &budget,
        tile_steps,
    )
}

/// Reads the body for `endpoint` within the limits and the memory budget, and checks it.
async fn read_request(
    req: &Request,
    head: &RequestHead,
    config: &Config,
    endpoint: Endpoint,
) -> Result<(ImagesRequest, Hold), Failure> {
    let content_type = head.content_type.clone().unwrap_or_default();
    let essence = sdxl_core::parse::media_type_essence(&content_type);
    let fits = match endpoint {
        Endpoint::Generations => essence.is_empty() || essence == "application/json",
        Endpoint::Edits => essence == "multipart/form-data",
    };
    if !fits {
        // The unread body is let go of in lib.rs, as for every refusal.
        let accepted = match endpoint {
            Endpoint::Generations => "application/json",
            Endpoint::Edits => "multipart/form-data (the image and mask as files)",
        };
        return Err(ApiError::UnsupportedMediaType {
            sent: content_type,
            accepted,
        }
        .into());
    }
    let budget = crate::memory::budget(config);
    let phase = |body: u64| match endpoint {
        Endpoint::Generations => Phase::JsonWhole { body },
        Endpoint::Edits => Phase::Form { body },
    };
    let (js_body, mut hold) = read_body(
        req,
        head.content_length,
        config.max_body_bytes,
        &budget,
        &phase,
    )
    .await?;
    let body = match endpoint {
        Endpoint::Generations => {
            let mut bytes = vec![0u8; js_body.len()];
            js_body.copy_to(0, &mut bytes);
            drop(js_body);
            Body::from_json(&bytes)?
        }
        Endpoint::Edits => Body::Form(form_parts(&js_body, &content_type).await?),
    };
    // Converting a mask writes a new PNG: held before it is written.
    let converting = mask_conversion_bytes(&body, config.policy);
    let _converting = budget
        .hold(bytes_phase(converting))
        .map_err(ApiError::from)?;
    let reading = match start(endpoint, &body, config.policy)? {
        Started::Ready(reading) => reading,
        // The header was read and checked by `start`; the image data goes through the runtime's
        // zlib here, and the outcome (the converted PNG or the refusal) back to the reading.
        Started::ConvertMask { reader, then } => {
            then.converted(super::mask::convert(reader).await?)
        }
    };
    let request = reading.finish(&mut || seed_from_unit(js_sys::Math::random()))?;
    drop(body);
    // What stays is the request's own fields (its images' bytes) until the answer.
    hold.resize(bytes_phase(request.held_bytes()))
        .map_err(ApiError::from)?;
    Ok((request, hold))
}

/// One image, `i`, made by the pipeline: its typed outcome, not an answer read back.
async fn make_one(
    gateway: &mut Gateway<'_>,
    view: &RequestHead,
    request: &ImagesRequest,
    base: &Normalized,
    i: usize,
    budget: &Rc<MemoryBudget>,
) -> Result<Made, Failure> {
    // As a query-string request starts: the pipeline grows it to the run's needs, and only if
    // this request is the one that runs the model.
    let hold = budget.hold(bytes_phase(0)).map_err(ApiError::from)?;
    let mut normalized = base.clone();
    if let Some(&seed) = request.seeds.get(i) {
        normalized.set_seed(seed);
    }
    let key = key_of(gateway, &normalized).await?;
    let plan = CachePlan::new(view.caching(), false, normalized.seed_drawn);
    let ask = Ask {
        key: &key,
        plan,
        lookup_only: false,
        held: false,
    };
    let (outcome, _hold) = produce(gateway, &normalized, ask, hold, &view.url_origin).await?;
    let (image, status, after) = made(outcome)?;
    after_answer(gateway.ctx, after);
    // As the native answer's `content-location`: only for a stored image, with a secret.
    let permalink = gateway
        .config
        .permalinks
        .as_ref()
        .ok()
        .filter(|_| status.is_stored() && plan.may_carry_permalink(false))
        .map(|p| format!("/images/{}", p.id_for(&key)));
    Ok(Made {
        bytes: image.image.bytes,
        format: image.image.format,
        seed: normalized.seed(),
        permalink,
        cache: status.label(),
    })
}

/// The answer: a `Blob` of the JSON (or event stream) pieces with each image's base64 between
/// them.
fn respond(
    origin: &str,
    (request, endpoint): (&ImagesRequest, Endpoint),
    made: &[Made],
    budget: &Rc<MemoryBudget>,
    tile_steps: u64,
) -> Handled {
    let total: u64 = made.iter().map(|m| u64::from(m.bytes.length())).sum();
    // The base64 strings and the body made of them: 4/3 of the images each.
    let _answer = budget
        .hold(bytes_phase(total / 3 * 8 + 16))
        .map_err(ApiError::from)?;
    let mut items = Vec::with_capacity(made.len());
    for image in made {
        let url = match request.response_format {
            ResponseFormat::B64Json => None,
            ResponseFormat::Url => match &image.permalink {
                Some(path) => Some(format!("{origin}{path}")),
                None => {
                    return Err(Failure::Misconfigured(
                        "PERMALINK_SECRET: no permalink was made for an image".into(),
                    ))
                }
            },
        };
        items.push(AnswerItem {
            seed: image.seed,
            format: image.format,
            url,
        });
    }
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let created = (js_sys::Date::now() / 1000.0) as u64;
    let answered = Answered {
        created,
        size: request.size,
        quality: request.quality,
        tile_steps,
    };
    let (pieces, content_type) = if request.stream {
        (event_pieces(endpoint, &answered, &items), EVENT_STREAM)
    } else {
        (answer_pieces(&answered, &items), "application/json")
    };
    let parts = Array::new();
    for (k, piece) in pieces.iter().enumerate() {
        if k > 0 {
            parts.push(&base64_of(&made[k - 1].bytes));
        }
        parts.push(&JsString::from(piece.as_str()));
    }
    let blob = web_sys::Blob::new_with_str_sequence(&parts)?;
    let mut response = Response::from(web_sys::Response::new_with_opt_blob(Some(&blob))?);
    let headers = response.headers_mut();
    headers.set("content-type", content_type)?;
    // The answer says when it was made; the images it carries are cached by their keys.
    headers.set("cache-control", "no-store")?;
    let all_hits = made.iter().all(|m| m.cache == "HIT");
    headers.set("x-cache", if all_hits { "HIT" } else { "MISS" })?;
    if let Some(seed) = made.first().and_then(|m| m.seed) {
        headers.set("x-seed", &seed.to_string())?;
    }
    if !request.ignored.is_empty() {
        headers.set("x-ignored-fields", &field_list(&request.ignored))?;
    }
    Ok(response)
}

/// Base64 of JS-side bytes as a JS string: the runtime's own where it has one (the bytes never
/// enter Wasm memory), Wasm's otherwise.
fn base64_of(bytes: &Uint8Array) -> JsValue {
    let native = native_base64(bytes);
    if native.is_string() {
        native
    } else {
        JsValue::from_str(&crate::base64_js::base64_from_js(bytes))
    }
}

/// The pipeline's log of each image folded into the request's one line: times and attempts
/// added up, the first image's key and seed, `MISS` if any image ran the model.
fn merge_log(trace: &mut Trace, sub: &Trace) {
    let (log, one) = (&mut trace.log, &sub.log);
    log.ms.validate += one.ms.validate;
    log.ms.cache += one.ms.cache;
    log.ms.ai += one.ms.ai;
    log.upstream_attempts += one.upstream_attempts;
    if let Some(charged) = one.charged_nano_usd {
        *log.charged_nano_usd.get_or_insert(0) += charged;
    }
    if log.key.is_none() {
        log.key.clone_from(&one.key);
        log.seed = one.seed;
        log.prompt_sha256.clone_from(&one.prompt_sha256);
        log.prompt.clone_from(&one.prompt);
    }
    if log.cache.is_none() || one.cache == Some("MISS") {
        log.cache = one.cache;
    }
}

/// A phase that holds `bytes` (and a request's working memory): the budget's phases are the
/// native pipeline's, and a run with no input image and an answer of `bytes` is exactly that.
fn bytes_phase(bytes: u64) -> Phase {
    Phase::Run {
        image_bytes: 0,
        as_arrays: false,
        output_bytes: bytes,
    }
}
