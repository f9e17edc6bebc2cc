//! The Cloudflare v4 envelope every refusal is answered in, and the refusals themselves.

use serde::Serialize;
use thiserror::Error;

use crate::access::AuthError;
use crate::budget::OverBudget;
use crate::parse::BodyError;
use crate::upstream::{UpstreamError, UpstreamKind};
use crate::violation::{Rule, Violation};

/// Code for a request that breaks the model's input schema (Workers AI's own code).
pub const CODE_BAD_INPUT: u32 = 5006;
/// Code for a missing or unreadable body (Workers AI: "Request is missing headers or body").
pub const CODE_BAD_REQUEST: u32 = 3003;
/// Code for an over-limit body (Workers AI: "Request too large").
pub const CODE_TOO_LARGE: u32 = 3006;
/// The media types the native routes take, as a refusal names them.
pub const NATIVE_MEDIA_TYPES: &str =
    "application/json, multipart/form-data or application/x-www-form-urlencoded";

/// Code for an unknown model (Workers AI: "No such model ${model} or task").
pub const CODE_NO_SUCH_MODEL: u32 = 5007;
/// Code for an unknown path (Cloudflare API: "No route for that URI").
pub const CODE_NO_ROUTE: u32 = 7000;
/// Code for a known path with the wrong method (Cloudflare API: "Method not allowed").
pub const CODE_METHOD: u32 = 7001;
/// Code for a body in a media type the route does not take.
pub const CODE_MEDIA_TYPE: u32 = 3004;
/// Code for a model answer the gateway cannot pass on as an image.
pub const CODE_BAD_UPSTREAM: u32 = 3043;
/// Code for a missing or wrong API token (Cloudflare API: "Authentication error").
pub const CODE_AUTH: u32 = 10000;
/// Code for a caller over its rate limit (Workers AI: per-minute rate limit).
pub const CODE_RATE_LIMITED: u32 = 3021;
/// The caller's budget (`QUOTAS`) is spent until its window resets: retrying sooner will not
/// help. The gateway's own code, beside Workers AI's 3036 (the account's daily allocation).
pub const CODE_OVER_QUOTA: u32 = 3037;
/// Code for a model that did not answer in time (Workers AI: "Timeout").
pub const CODE_TIMEOUT: u32 = 3007;
/// Code for a request refused because this isolate's memory budget is taken by requests in
/// flight (the gateway's own code; Workers AI's nearest is 3040, out of capacity).
pub const CODE_OVER_BUDGET: u32 = 3047;
/// Seconds a client should wait when the isolate's memory budget is taken: requests in flight
/// end within seconds.
pub const OVER_BUDGET_RETRY_AFTER_S: u32 = 1;
/// Code for a request with more distinct unknown fields than
/// [`crate::parse::MAX_UNKNOWN_FIELDS`] (this gateway's own; rule `too_many_unknown_fields`).
pub const CODE_TOO_MANY_UNKNOWN_FIELDS: u32 = 5020;
/// Code of the entry that ends a cut error list, saying how many violations were left out (this
/// gateway's own; rule `more_violations`).
pub const CODE_MORE_VIOLATIONS: u32 = 5021;
/// Most violations an envelope lists; the rest are counted in one last entry, so an answer stays
/// small however many fields a request breaks.
pub const MAX_LISTED_VIOLATIONS: usize = 50;
/// Seconds a client should wait after the model reported it is out of capacity.
pub const CAPACITY_RETRY_AFTER_S: u32 = 10;
/// `Retry-After` when a caller has as many images queued as it may: an image takes seconds, so
/// some are done by then.
pub const QUEUE_FULL_RETRY_AFTER_S: u32 = 10;
/// Seconds a client should wait after the model's own rate limit or allocation ran out.
pub const UPSTREAM_LIMIT_RETRY_AFTER_S: u32 = 60;

/// Why the gateway refuses or fails a request. Each maps to one HTTP status.
#[derive(Debug, Error)]
pub enum ApiError {
    #[error("the request does not meet the input schema of the model")]
    Invalid(Vec<Violation>),
    #[error(transparent)]
    Body(#[from] BodyError),
    #[error("content-type {sent:?} is not accepted here; send {accepted}")]
    UnsupportedMediaType {
        sent: String,
        /// What the route takes, in words: routes of different surfaces take different types.
        accepted: &'static str,
    },
    #[error("the request body is larger than the limit of {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("No such model {0} or task (the models served: GET /models)")]
    NoSuchModel(String),
    #[error("no route for {method} {path}")]
    NotFound { method: String, path: String },
    #[error("{method} is not allowed on {path}; use {allow}")]
    MethodNotAllowed {
        method: String,
        path: String,
        /// The route's methods, for the `Allow` header.
        allow: String,
    },
    #[error("the model failed: {}", .0.reason)]
    Upstream(UpstreamError),
    #[error("the model returned bytes that are not a PNG, JPEG or WebP image")]
    NotAnImage,
    #[error("the model's image did not arrive whole: {0}")]
    Incomplete(String),
    #[error("no image is stored under /images/{0}: it was never generated, or it was evicted")]
    NoSuchImage(String),
    #[error(transparent)]
    Unauthorized(AuthError),
    #[error("too many requests; retry after {retry_after_s} s")]
    RateLimited { retry_after_s: u32 },
    #[error("this caller's budget ({}) is spent: it resets in {retry_after_s} s (00:00 UTC for a day or a month); retrying sooner will not help", .limit.name())]
    OverQuota {
        limit: crate::quota::Limit,
        retry_after_s: u32,
    },
    #[error("{queued} images of this caller are queued and this job adds {adding}; at most {cap} may be queued at once: retry when some have finished")]
    QueueFull { queued: u64, adding: u32, cap: u32 },
    #[error("the model did not answer within {ms} ms")]
    Deadline { ms: u32 },
    #[error("the image was made but not stored where its permalink is read: {0}")]
    NotStored(String),
    #[error("{0}; retry in a moment")]
    OverBudget(#[from] OverBudget),
}

impl ApiError {
    /// The HTTP status a client can act on.
    #[must_use]
    pub fn status(&self) -> u16 {
        match self {
            ApiError::Invalid(_) | ApiError::Body(_) | ApiError::NoSuchModel(_) => 400,
            ApiError::UnsupportedMediaType { .. } => 415,
            ApiError::TooLarge { .. } => 413,
            ApiError::NotFound { .. } | ApiError::NoSuchImage(_) => 404,
            ApiError::MethodNotAllowed { .. } => 405,
            ApiError::Upstream(e) => match e.kind() {
                UpstreamKind::BadInput => 400,
                UpstreamKind::Capacity => 503,
                UpstreamKind::RateLimited => 429,
                UpstreamKind::Timeout => 504,
                UpstreamKind::TooLarge => 413,
                UpstreamKind::Other => 502,
            },
            ApiError::NotAnImage | ApiError::Incomplete(_) => 502,
            ApiError::NotStored(_) => 503,
            ApiError::Unauthorized(_) => 401,
            ApiError::RateLimited { .. }
            | ApiError::QueueFull { .. }
            | ApiError::OverQuota { .. } => 429,
            ApiError::Deadline { .. } => 504,
            ApiError::OverBudget(_) => 503,
        }
    }

    /// Seconds to send in `Retry-After`, for failures a client should retry later.
    #[must_use]
    pub fn retry_after(&self) -> Option<u32> {
        match self {
            ApiError::RateLimited { retry_after_s } => Some(*retry_after_s),
            ApiError::QueueFull { .. } => Some(QUEUE_FULL_RETRY_AFTER_S),
            ApiError::OverQuota { retry_after_s, .. } => Some(*retry_after_s),
            ApiError::OverBudget(_) => Some(OVER_BUDGET_RETRY_AFTER_S),
            ApiError::Upstream(e) => match e.kind() {
                UpstreamKind::Capacity => Some(CAPACITY_RETRY_AFTER_S),
                UpstreamKind::RateLimited => Some(UPSTREAM_LIMIT_RETRY_AFTER_S),
                _ => None,
            },
            _ => None,
        }
    }

    /// Whether retrying soon cannot succeed although the status says "later" (a spent budget):
    /// answered with `x-should-retry: false`, which OpenAI's SDKs obey instead of retrying a 429.
    #[must_use]
    pub fn retry_is_futile(&self) -> bool {
        matches!(self, ApiError::OverQuota { .. })
    }

    /// The errors listed in the envelope: one per violation, or one for the whole request.
    #[must_use]
    pub fn items(&self) -> Vec<ErrorItem> {
        let whole = |code: u32| {
            vec![ErrorItem {
                code,
                message: self.to_string(),
                path: None,
                rule: None,
                limit: None,
            }]
        };
        match self {
            ApiError::Invalid(violations) => violation_items(violations),
            ApiError::Body(_) => whole(CODE_BAD_REQUEST),
            ApiError::NoSuchModel(_) => whole(CODE_NO_SUCH_MODEL),
            ApiError::UnsupportedMediaType { .. } => whole(CODE_MEDIA_TYPE),
            ApiError::TooLarge { .. } => whole(CODE_TOO_LARGE),
            ApiError::NotFound { .. } | ApiError::NoSuchImage(_) => whole(CODE_NO_ROUTE),
            ApiError::MethodNotAllowed { .. } => whole(CODE_METHOD),
            ApiError::Upstream(e) => whole(e.code.unwrap_or(CODE_BAD_UPSTREAM)),
            ApiError::NotAnImage | ApiError::Incomplete(_) | ApiError::NotStored(_) => {
                whole(CODE_BAD_UPSTREAM)
            }
            ApiError::Unauthorized(_) => whole(CODE_AUTH),
            ApiError::RateLimited { .. } | ApiError::QueueFull { .. } => whole(CODE_RATE_LIMITED),
            ApiError::OverQuota { .. } => whole(CODE_OVER_QUOTA),
            ApiError::Deadline { .. } => whole(CODE_TIMEOUT),
            ApiError::OverBudget(_) => whole(CODE_OVER_BUDGET),
        }
    }

    /// The whole response body, carrying the request id so a report can be traced.
    #[must_use]
    pub fn envelope(&self, request_id: Option<&str>) -> Envelope {
        Envelope {
            success: false,
            errors: self.items(),
            messages: Vec::new(),
            result: None,
            request_id: request_id.map(str::to_owned),
        }
    }
}

/// The first [`MAX_LISTED_VIOLATIONS`] violations, then one entry counting the rest.
fn violation_items(violations: &[Violation]) -> Vec<ErrorItem> {
    let mut items: Vec<ErrorItem> = violations
        .iter()
        .take(MAX_LISTED_VIOLATIONS)
        .map(|v| ErrorItem {
            code: match v.rule {
                Rule::TooManyUnknownFields => CODE_TOO_MANY_UNKNOWN_FIELDS,
                _ => CODE_BAD_INPUT,
            },
            message: v.message.clone(),
            path: Some(v.path.clone()),
            rule: Some(v.rule),
            limit: v.limit.clone(),
        })
        .collect();
    let left_out = violations.len().saturating_sub(MAX_LISTED_VIOLATIONS);
    if left_out > 0 {
        let noun = if left_out == 1 {
            "violation"
        } else {
            "violations"
        };
        items.push(ErrorItem {
            code: CODE_MORE_VIOLATIONS,
            message: format!("... and {} more {noun}", with_thousands(left_out)),
            path: None,
            rule: Some(Rule::MoreViolations),
            limit: Some(MAX_LISTED_VIOLATIONS.into()),
        });
    }
    items
}

/// `4950` as `4,950`.
fn with_thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// `{"success":false,"errors":[...],"messages":[],"result":null}`.
#[derive(Debug, Serialize)]
pub struct Envelope {
    pub success: bool,
    pub errors: Vec<ErrorItem>,
    pub messages: Vec<String>,
    pub result: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

impl Envelope {
    /// A success: `result`, no errors.
    #[must_use]
    pub fn success(result: serde_json::Value) -> Envelope {
        Envelope {
            success: true,
            errors: Vec::new(),
            messages: Vec::new(),
            result: Some(result),
            request_id: None,
        }
    }

    /// A failure of the gateway itself, not of the request: one error, `code` and `message`.
    #[must_use]
    pub fn failure(code: u32, message: String, request_id: &str) -> Envelope {
        Envelope {
            success: false,
            errors: vec![ErrorItem {
                code,
                message,
                path: None,
                rule: None,
                limit: None,
            }],
            messages: Vec::new(),
            result: None,
            request_id: Some(request_id.to_owned()),
        }
    }

    /// The envelope as JSON text.
    #[must_use]
    pub fn to_json(&self) -> String {
        // Serializing plain strings and numbers cannot fail.
        serde_json::to_string(self).unwrap_or_else(|_| String::from("{\"success\":false}"))
    }
}

#[derive(Debug, Serialize)]
pub struct ErrorItem {
    pub code: u32,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<Rule>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<serde_json::Value>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_lists_every_violation_with_path_rule_and_limit() {
        let err = ApiError::Invalid(vec![
            Violation::new("/num_steps", Rule::Maximum, "must be <= 20").with_limit(20),
            Violation::new("/prompt", Rule::Required, "is required"),
        ]);
        assert_eq!(err.status(), 400);
        let json: serde_json::Value =
            serde_json::from_str(&err.envelope(Some("req-1")).to_json()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "success": false,
                "errors": [
                    {"code": 5006, "message": "'/num_steps' must be <= 20", "path": "/num_steps", "rule": "maximum", "limit": 20},
                    {"code": 5006, "message": "'/prompt' is required", "path": "/prompt", "rule": "required"}
                ],
                "messages": [],
                "result": null,
                "request_id": "req-1"
            })
        );
    }

    fn many(n: usize) -> ApiError {
        ApiError::Invalid(
            (0..n)
                .map(|i| Violation::new(format!("/f{i}"), Rule::UnknownField, "is unknown"))
                .collect(),
        )
    }

    #[test]
    fn the_error_list_is_cut_after_the_first_violations() {
        let items = many(5_000).items();
        assert_eq!(items.len(), MAX_LISTED_VIOLATIONS + 1);
        assert_eq!(items[0].path.as_deref(), Some("/f0"));
        assert_eq!(items[49].path.as_deref(), Some("/f49"));
        let last = &items[MAX_LISTED_VIOLATIONS];
        assert_eq!(last.code, CODE_MORE_VIOLATIONS);
        assert_eq!(last.rule, Some(Rule::MoreViolations));
        assert_eq!(last.message, "... and 4,950 more violations");
        assert_eq!(last.path, None);
        assert_eq!(last.limit, Some(serde_json::json!(MAX_LISTED_VIOLATIONS)));

        assert_eq!(
            many(MAX_LISTED_VIOLATIONS).items().len(),
            MAX_LISTED_VIOLATIONS
        );
        let one_over = many(MAX_LISTED_VIOLATIONS + 1).items();
        assert_eq!(one_over.len(), MAX_LISTED_VIOLATIONS + 1);
        assert_eq!(one_over[50].message, "... and 1 more violation");
        // The envelope does not grow with the violations.
        let size = |n| many(n).envelope(None).to_json().len();
        assert_eq!(size(5_000), size(10_000));
    }

    #[test]
    fn counts_are_written_with_thousands_separators() {
        for (n, text) in [
            (0, "0"),
            (7, "7"),
            (999, "999"),
            (1_000, "1,000"),
            (4_950, "4,950"),
            (123_456, "123,456"),
            (1_234_567, "1,234,567"),
        ] {
            assert_eq!(with_thousands(n), text);
        }
    }

    #[test]
    fn statuses() {
        let up = |m: &str| ApiError::Upstream(UpstreamError::parse(m)).status();
        assert_eq!(up("AiError: 5006: Error: bad"), 400);
        assert_eq!(up("3040: Capacity temporarily exceeded"), 503);
        assert_eq!(up("3036: daily allocation"), 429);
        assert_eq!(up("3007: Timeout"), 504);
        assert_eq!(up("something broke"), 502);
        assert_eq!(ApiError::NotAnImage.status(), 502);
        assert_eq!(ApiError::Incomplete("cut".into()).status(), 502);
        assert_eq!(ApiError::TooLarge { limit: 1 }.status(), 413);
        assert_eq!(
            ApiError::UnsupportedMediaType {
                sent: "text/plain".into(),
                accepted: NATIVE_MEDIA_TYPES,
            }
            .status(),
            415
        );
        assert_eq!(
            ApiError::NotFound {
                method: "GET".into(),
                path: "/x".into()
            }
            .status(),
            404
        );
        assert_eq!(
            ApiError::MethodNotAllowed {
                method: "PUT".into(),
                path: "/".into(),
                allow: "POST".into()
            }
            .status(),
            405
        );
    }

    #[test]
    fn retry_after_for_what_a_client_should_retry() {
        let up = |m: &str| ApiError::Upstream(UpstreamError::parse(m)).retry_after();
        assert_eq!(
            up("3040: Capacity temporarily exceeded"),
            Some(CAPACITY_RETRY_AFTER_S)
        );
        assert_eq!(
            up("3036: daily allocation"),
            Some(UPSTREAM_LIMIT_RETRY_AFTER_S)
        );
        assert_eq!(up("5006: bad"), None);
        assert_eq!(
            ApiError::RateLimited { retry_after_s: 7 }.retry_after(),
            Some(7)
        );
        assert_eq!(ApiError::RateLimited { retry_after_s: 7 }.status(), 429);
        assert_eq!(ApiError::Unauthorized(AuthError::Missing).status(), 401);
        assert_eq!(ApiError::Deadline { ms: 5 }.status(), 504);
        assert_eq!(ApiError::Deadline { ms: 5 }.items()[0].code, CODE_TIMEOUT);
        let busy = ApiError::OverBudget(OverBudget {
            wanted: 10,
            free: 5,
            limit: 20,
        });
        assert_eq!(busy.status(), 503);
        assert_eq!(busy.retry_after(), Some(OVER_BUDGET_RETRY_AFTER_S));
        assert_eq!(busy.items()[0].code, CODE_OVER_BUDGET);
    }

    #[test]
    fn upstream_code_is_kept() {
        let err = ApiError::Upstream(UpstreamError::parse(
            "AiError: 3040: Capacity temporarily exceeded",
        ));
        let items = err.items();
        assert_eq!(items[0].code, 3040);
        assert_eq!(
            items[0].message,
            "the model failed: Capacity temporarily exceeded"
        );
    }
}
