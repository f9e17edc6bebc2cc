//! The native routes and the REST drop-in: read → validate and normalize → key → the pipeline
//! (`crate::pipeline`: memory tier, single flight, tiers, `AI.run`, stores) → the answer, as
//! bytes or an envelope, the stores after it.

use sdxl_core::answer::{requested_headers, CachePlan, Representation, VARY};
use sdxl_core::budget::{Hold, Phase};
use sdxl_core::dispatch::Delivery;
use sdxl_core::inputs::seed_from_unit;
use sdxl_core::pipeline::{Ask, Outcome};
use sdxl_core::request_head::{Method, RequestHead};
use sdxl_core::route::Surface;
use sdxl_core::{normalize, parse_query, ApiError, ModelSpec, Normalized, RawRequest};
use worker::Request;

use crate::failure::{Failure, Handled};
use crate::gateway::Gateway;
use crate::pipeline::{after_answer, produce};
use crate::request_body;
use crate::responses::{deliver, not_generated, not_modified};
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

/// Validates and normalizes `raw` for `spec` and computes its cache key: what every surface
/// does before the pipeline. The REST drop-in forwards what Workers AI gets; the gateway's own
/// routes size img2img by its input image.
pub(crate) async fn prepare(
    gateway: &mut Gateway<'_>,
    spec: &'static ModelSpec,
    raw: RawRequest,
    rest: bool,
) -> Result<(Normalized, String), Failure> {
    let normalized = validate(gateway, spec, raw, rest)?;
    let key = key_of(gateway, &normalized).await?;
    Ok((normalized, key))
}

/// Validates and normalizes `raw` for `spec` (see [`prepare`]).
pub(crate) fn validate(
    gateway: &mut Gateway<'_>,
    spec: &'static ModelSpec,
    raw: RawRequest,
    rest: bool,
) -> Result<Normalized, Failure> {
    let Gateway {
        config,
        ref mut trace,
        ..
    } = *gateway;
    let started = now();
    trace.log.model = Some(spec.id);
    let policy = sdxl_core::Policy {
        size_from_input: !rest,
        ..config.policy
    };
    let normalized = normalize(spec, raw, policy, &mut || {
        seed_from_unit(js_sys::Math::random())
    })
    .map_err(ApiError::Invalid)?;
    trace.log.ms.validate += now() - started;
    Ok(normalized)
}

/// The cache key of `normalized`, noted on the trace with what the log line says of it.
pub(crate) async fn key_of(
    gateway: &mut Gateway<'_>,
    normalized: &Normalized,
) -> Result<String, Failure> {
    let Gateway {
        config,
        ref mut trace,
        ..
    } = *gateway;
    let started = now();
    let key = crate::digest::cache_key(normalized).await?;
    trace.log.ms.validate += now() - started;
    trace.log.key = Some(key.clone());
    trace.log.seed = normalized.seed();
    if let Some(prompt) = normalized.inputs.text("prompt") {
        trace.log.set_prompt(prompt, config.log_prompts);
    }
    Ok(key)
}

/// The native routes and the REST drop-in: the request through the pipeline, answered as
/// `delivery` asks (image bytes or an envelope), with its caching headers.
pub(crate) async fn generate(
    gateway: &mut Gateway<'_>,
    head: &RequestHead,
    spec: &'static ModelSpec,
    (raw, hold): (RawRequest, Hold),
    delivery: Delivery,
) -> Handled {
    let rest = head.surface == Surface::Rest;
    let (normalized, key) = prepare(gateway, spec, raw, rest).await?;
    let config = gateway.config;
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
    let requested = requested_headers(&normalized);
    let ask = Ask {
        key: &key,
        plan,
        lookup_only: head.method == Method::Head,
        held: rep.is_held(head.if_none_match.as_deref()),
    };
    let (outcome, _hold) = produce(gateway, &normalized, ask, hold, &head.url_origin).await?;
    Ok(match outcome {
        Outcome::NotModified => not_modified(&rep)?,
        Outcome::NotGenerated => not_generated(&rep, &requested)?,
        Outcome::Image {
            image,
            status,
            after,
        } => {
            after_answer(gateway.ctx, after);
            deliver(&image, &rep, delivery, status, &requested)?
        }
    })
}
