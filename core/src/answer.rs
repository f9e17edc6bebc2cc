//! How an image is answered: where it came from (`x-cache`), whether the tiers are read and
//! written, and every header and body of the answer, as plain data the adapter copies onto a
//! response. Also the failure answer (status, headers, envelope) and the CORS headers.

use serde_json::json;

use crate::access::{CorsPolicy, CORS_ALLOWED_HEADERS, CORS_ALLOWED_METHODS, CORS_EXPOSED_HEADERS};
use crate::dispatch::Delivery;
use crate::envelope::{Envelope, CODE_BAD_UPSTREAM};
use crate::headers::{etag_matches, field_list, vary_with, ClientCaching};
use crate::route::Surface;
use crate::{ApiError, Normalized};

/// Header name and value pairs, in the order they are set.
pub type HeaderList = Vec<(&'static str, String)>;

/// Immutable: a key names one exact set of inputs, and so one exact image.
pub const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// What a generated image's representation depends on besides the URL and body: the `Accept`
/// header picks bytes or the JSON envelope. (`Origin` is added where CORS makes it matter, by
/// [`cors_headers`].)
pub const VARY: &str = "accept";

/// A cache tier results are kept in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    /// This isolate's memory: the hottest results, no I/O.
    Memory,
    /// `caches.default`: per data centre.
    CacheApi,
    /// The `IMAGES` bucket: durable, global.
    R2,
}

impl Tier {
    /// The `x-cache-tier` value.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Tier::Memory => "memory",
            Tier::CacheApi => "cache-api",
            Tier::R2 => "r2",
        }
    }
}

/// Where an answer's image came from, for `x-cache` (and `x-cache-tier` on hits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheStatus {
    /// Served from a tier, without a model run.
    Hit(Tier),
    /// Served from another request's lookup or run of the same key in this isolate.
    Joined,
    /// The model ran for it, and it is stored.
    Miss,
    /// The client said `no-store`: run, neither read nor stored.
    Bypass,
}

impl CacheStatus {
    /// The `x-cache` value.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            CacheStatus::Hit(_) | CacheStatus::Joined => "HIT",
            CacheStatus::Miss => "MISS",
            CacheStatus::Bypass => "BYPASS",
        }
    }

    /// The `x-cache-tier` value, on hits.
    #[must_use]
    pub fn tier(self) -> Option<&'static str> {
        match self {
            CacheStatus::Hit(tier) => Some(tier.name()),
            CacheStatus::Joined => Some("in-flight"),
            CacheStatus::Miss | CacheStatus::Bypass => None,
        }
    }

    /// Whether the image is stored where its permalink finds it, for as long as `immutable`
    /// promises: not when the client said `no-store`.
    #[must_use]
    pub fn is_stored(self) -> bool {
        self != CacheStatus::Bypass
    }
}

/// What a generation request does with the tiers.
// Four independent yes/no decisions, each read in one place of `generate`; an enum of their
// sixteen combinations would say less.
#[allow(clippy::struct_excessive_bools)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CachePlan {
    /// Look the key up before running the model.
    pub look_up: bool,
    /// Store a fresh result, and share this request's run with others of the same key.
    pub store: bool,
    /// Take only a fresh run's result from another request, not one it read from a tier
    /// (`no-cache`).
    pub wants_fresh: bool,
    /// `If-None-Match: *`: an existing image is answered 304.
    pub unless_exists: bool,
}

impl CachePlan {
    /// The plan for a client's caching headers, for a request whose seed was drawn or given.
    #[must_use]
    pub fn new(caching: ClientCaching, unless_exists: bool, seed_drawn: bool) -> CachePlan {
        CachePlan {
            // A drawn seed makes a key no one has asked for yet: looking it up would only cost
            // time. `If-None-Match: *` asks whether the image exists, which only a lookup can
            // tell, even under `no-cache` (which browsers' fetch adds to every conditional
            // request): a hit is then a 304, never a stored image served against `no-cache`.
            look_up: (caching.read || unless_exists) && !seed_drawn,
            store: caching.store,
            wants_fresh: !caching.read,
            unless_exists,
        }
    }

    /// Whether an answer under this plan may carry the image's permalink, so whether its id (an
    /// HMAC) is worth computing: a stored image's answer does, and so does a 304 (to a request
    /// with `If-None-Match`, `conditional`); a `no-store` answer never does
    /// ([`image_headers`] with [`CacheStatus::Bypass`]), nor does a `HEAD` for an image not
    /// generated yet.
    #[must_use]
    pub fn may_carry_permalink(&self, conditional: bool) -> bool {
        self.store || conditional
    }
}

/// The Cache API key of a result, `<origin>/images/<key>`. It is only a cache key, never served
/// as it is (permalinks carry a tag, `crate::permalink`); it keeps the shape it had before
/// permalinks were signed, so the entries stored since stay hits.
#[must_use]
pub fn cache_api_url(url_origin: &str, key: &str) -> String {
    format!("{url_origin}/images/{key}")
}

/// The headers that say what was asked for: `x-requested-width`/`-height` and
/// `x-ignored-fields`.
#[must_use]
pub fn requested_headers(normalized: &Normalized) -> HeaderList {
    let mut headers = HeaderList::new();
    for (field, header) in [
        ("width", "x-requested-width"),
        ("height", "x-requested-height"),
    ] {
        if let Some(v) = normalized.inputs.integer(field) {
            headers.push((header, v.to_string()));
        }
    }
    if !normalized.ignored_fields.is_empty() {
        headers.push(("x-ignored-fields", field_list(&normalized.ignored_fields)));
    }
    headers
}

/// One representation of an image, as its answer and its 304 describe it.
#[derive(Debug, Clone, Copy)]
pub struct Representation<'a> {
    /// Its entity tag (unquoted).
    pub tag: &'a str,
    /// Its permalink id, when permalinks are on.
    pub permalink: Option<&'a str>,
    pub seed: Option<&'a str>,
    /// The `Vary` its `200` carries (a 304 must repeat it, RFC 9110 §15.4.5).
    pub vary: &'static str,
}

impl Representation<'_> {
    /// Whether the request's `If-None-Match` names this representation's tag: the client already
    /// holds this exact answer (a key names one exact image), so it is a 304. `*` is not handled
    /// here: it depends on whether the image exists (see [`CachePlan::unless_exists`]).
    #[must_use]
    pub fn is_held(&self, if_none_match: Option<&str>) -> bool {
        if_none_match.is_some_and(|sent| etag_matches(sent, self.tag))
    }
}

/// The entity headers an answer and its 304 share. A `no-store` answer is not stored, so it
/// carries no permalink (which would 404) and is not `immutable`.
fn entity_headers(rep: &Representation<'_>, stored: bool) -> HeaderList {
    let mut headers = vec![("etag", format!("\"{}\"", rep.tag))];
    if stored {
        headers.push(("cache-control", IMMUTABLE.to_owned()));
        // Without a permalink secret there is no permalink to give: never one anyone could
        // compute.
        if let Some(id) = rep.permalink {
            headers.push(("content-location", format!("/images/{id}")));
        }
    } else {
        headers.push(("cache-control", "no-store".to_owned()));
    }
    if let Some(seed) = rep.seed {
        headers.push(("x-seed", seed.to_owned()));
    }
    headers.push(("vary", rep.vary.to_owned()));
    headers
}

fn cache_headers(status: CacheStatus, requested: &[(&'static str, String)]) -> HeaderList {
    let mut headers = vec![("x-cache", status.label().to_owned())];
    if let Some(tier) = status.tier() {
        headers.push(("x-cache-tier", tier.to_owned()));
    }
    headers.extend(requested.iter().cloned());
    headers
}

/// The headers of an image answer (bytes or envelope, by `delivery`).
#[must_use]
pub fn image_headers(
    rep: &Representation<'_>,
    delivery: Delivery,
    image_type: &str,
    status: CacheStatus,
    requested: &[(&'static str, String)],
) -> HeaderList {
    let content_type = match delivery {
        Delivery::Image => image_type,
        Delivery::Envelope | Delivery::RestEnvelope => "application/json",
    };
    let mut headers = vec![("content-type", content_type.to_owned())];
    headers.extend(entity_headers(rep, status.is_stored()));
    headers.extend(cache_headers(status, requested));
    headers
}

/// The headers of a `304 Not Modified` for `rep`.
#[must_use]
pub fn not_modified_headers(rep: &Representation<'_>) -> HeaderList {
    entity_headers(rep, true)
}

/// The headers of the answer to a `HEAD` for an image that is not generated yet: a `HEAD` never
/// pays for a model run. What is known before generating (the entity tag and seed the image will
/// have, the size asked for) and `x-cache: MISS`; no content type or length (PNG or JPEG is only
/// known from the model's bytes, RFC 9110 §9.3.2 lets a HEAD omit such fields), no permalink
/// (nothing is stored there yet), and `no-store`, so no cache takes these headers for the
/// image's.
#[must_use]
pub fn not_generated_headers(
    rep: &Representation<'_>,
    requested: &[(&'static str, String)],
) -> HeaderList {
    let mut headers = entity_headers(rep, false);
    headers.extend(cache_headers(CacheStatus::Miss, requested));
    headers
}

/// The body of an envelope answer: `result.image` (base64), and on the own routes
/// `result.content_type` and `result.seed`. `None` for [`Delivery::Image`].
#[must_use]
pub fn image_envelope(
    delivery: Delivery,
    image_base64: &str,
    image_type: &str,
    seed: Option<&str>,
) -> Option<String> {
    let result = match delivery {
        Delivery::Image => return None,
        Delivery::Envelope => json!({
            "image": image_base64,
            "content_type": image_type,
            "seed": seed.and_then(|s| s.parse::<i64>().ok()),
        }),
        Delivery::RestEnvelope => json!({ "image": image_base64 }),
    };
    Some(Envelope::success(result).to_json())
}

/// What failed, as far as the client is told.
#[derive(Debug, Clone, Copy)]
pub enum Refusal<'a> {
    /// A failure the contract names.
    Api(&'a ApiError),
    /// The operator's configuration is wrong; the reason is the operator's to read, and safe to
    /// show (it names settings, never their values).
    Misconfigured(&'a str),
    /// The runtime refused something; the details go to the log, not to the client.
    Internal,
}

/// A failure's status, headers and envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailureAnswer {
    pub status: u16,
    pub headers: HeaderList,
    pub body: String,
}

/// The answer to a failure, carrying the request id, in the shape of the `surface` it came
/// through. Never cacheable: failures are not results. The REST drop-in answers as the Workers AI
/// REST API does, whose errors carry `"result": {}` (its published description has `result` as
/// a non-nullable object); other routes say `null`. Predictions add Replicate's `title`,
/// `detail` and `status`, which its clients read (they see nothing of the v4 fields).
/// (OpenAI's routes answer in OpenAI's error object: `crate::openai::error`.)
#[must_use]
pub fn failure_answer(refusal: Refusal<'_>, request_id: &str, surface: Surface) -> FailureAnswer {
    let (status, mut envelope) = match refusal {
        Refusal::Api(error) => (error.status(), error.envelope(Some(request_id))),
        Refusal::Misconfigured(reason) => (
            500,
            Envelope::failure(
                CODE_BAD_UPSTREAM,
                format!("the gateway is misconfigured: {reason}"),
                request_id,
            ),
        ),
        Refusal::Internal => (
            500,
            Envelope::failure(
                CODE_BAD_UPSTREAM,
                "the gateway failed; report the request id".to_owned(),
                request_id,
            ),
        ),
    };
    if surface == Surface::Rest {
        envelope.result = Some(json!({}));
    }
    let mut headers = vec![
        ("content-type", "application/json".to_owned()),
        ("cache-control", "no-store".to_owned()),
    ];
    if let Refusal::Api(error) = refusal {
        if let ApiError::MethodNotAllowed { allow, .. } = error {
            headers.push(("allow", allow.clone()));
        }
        if let ApiError::Unauthorized(_) = error {
            headers.push(("www-authenticate", "Bearer".to_owned()));
        }
        if let Some(seconds) = error.retry_after() {
            headers.push(("retry-after", seconds.to_string()));
        }
        if error.retry_is_futile() {
            headers.push(("x-should-retry", "false".to_owned()));
        }
    }
    let body = if surface == Surface::Jobs {
        replicate_problem(status, &envelope)
    } else {
        envelope.to_json()
    };
    FailureAnswer {
        status,
        headers,
        body,
    }
}

/// The v4 envelope with Replicate's problem fields before it: `title` (the status's reason),
/// `detail` (every error's message) and `status`. Written into the envelope's text (a
/// `serde_json::Value` of it would bring the value serializer into the bundle).
fn replicate_problem(status: u16, envelope: &Envelope) -> String {
    let title = match status {
        400 | 422 => "Invalid input",
        401 => "Unauthenticated",
        403 => "Forbidden",
        404 => "Not found",
        405 => "Method not allowed",
        413 => "Request too large",
        415 => "Unsupported media type",
        429 => "Too many requests",
        503 => "Service unavailable",
        _ => "Internal error",
    };
    let detail: Vec<&str> = envelope.errors.iter().map(|e| e.message.as_str()).collect();
    let mut out = String::from("{\"title\":");
    crate::json_text::push_str(&mut out, title);
    out.push_str(",\"detail\":");
    crate::json_text::push_str(&mut out, &detail.join("; "));
    out.push_str(&format!(",\"status\":{status},"));
    let fields = envelope.to_json();
    out.push_str(fields.strip_prefix('{').unwrap_or(&fields));
    out
}

/// The headers of the answer to a CORS preflight. A disallowed origin gets no CORS headers,
/// which browsers read as "no".
#[must_use]
pub fn preflight_headers(policy: &CorsPolicy, origin: Option<&str>) -> HeaderList {
    let mut headers = HeaderList::new();
    if let Some(allowed) = policy.allow_origin(origin) {
        headers.push(("access-control-allow-origin", allowed));
        headers.push((
            "access-control-allow-methods",
            CORS_ALLOWED_METHODS.to_owned(),
        ));
        headers.push((
            "access-control-allow-headers",
            CORS_ALLOWED_HEADERS.to_owned(),
        ));
        headers.push(("access-control-max-age", "86400".to_owned()));
    }
    headers.push(("vary", "origin".to_owned()));
    headers
}

/// The CORS headers every answer gets, given the `Vary` it already has: the origin echoed to an
/// allowed one, and `Vary: Origin` wherever the CORS headers depend on the origin (with an
/// allow-list). That includes cacheable images and permalinks: without it a shared cache could
/// hand one origin's copy to another, whose browser would then refuse it.
#[must_use]
pub fn cors_headers(policy: &CorsPolicy, origin: Option<&str>, vary: Option<&str>) -> HeaderList {
    let mut headers = HeaderList::new();
    if let Some(allowed) = policy.allow_origin(origin) {
        headers.push(("access-control-allow-origin", allowed));
        headers.push((
            "access-control-expose-headers",
            CORS_EXPOSED_HEADERS.to_owned(),
        ));
    }
    if policy.varies_by_origin() {
        headers.push(("vary", vary_with(vary, "origin")));
    }
    headers
}

#[cfg(test)]
mod tests;
