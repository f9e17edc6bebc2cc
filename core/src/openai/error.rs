//! Refusals and failures in OpenAI's error envelope, `{"error": {"message", "type", "param",
//! "code"}}`, with the HTTP statuses of the native routes (which the SDKs turn into their typed
//! errors: 400 `BadRequestError`, 401 `AuthenticationError`, 404 `NotFoundError`, 429
//! `RateLimitError`, 5xx `InternalServerError`).

use serde::Serialize;

use crate::envelope::ApiError;
use crate::violation::Rule;

/// One error as an OpenAI client reads it, with its status and `Retry-After`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenAiError {
    pub status: u16,
    pub message: String,
    /// `invalid_request_error`, `authentication_error`, `rate_limit_error`, `server_error`.
    pub kind: &'static str,
    /// The first offending field, for refusals of the request's fields.
    pub param: Option<String>,
    pub code: Option<String>,
    pub retry_after: Option<u32>,
    /// Retrying soon cannot help (`x-should-retry: false`): `ApiError::retry_is_futile`.
    pub futile: bool,
}

const INVALID_REQUEST: &str = "invalid_request_error";
const SERVER_ERROR: &str = "server_error";

impl OpenAiError {
    /// The unknown `model` (404, code `model_not_found`, as OpenAI answers it).
    #[must_use]
    pub fn model_not_found(id: &str) -> OpenAiError {
        let id: String = id.chars().take(100).collect();
        OpenAiError {
            status: 404,
            message: format!(
                "The model '{id}' does not exist or you do not have access to it. The models \
                 served: GET /v1/models."
            ),
            kind: INVALID_REQUEST,
            param: Some("model".into()),
            code: Some("model_not_found".into()),
            retry_after: None,
            futile: false,
        }
    }

    /// A failure of the gateway itself (a misconfiguration or an internal error): 500.
    #[must_use]
    pub fn server(message: impl Into<String>) -> OpenAiError {
        OpenAiError {
            status: 500,
            message: message.into(),
            kind: SERVER_ERROR,
            param: None,
            code: None,
            retry_after: None,
            futile: false,
        }
    }

    /// The refusal or failure `error` as OpenAI clients expect it, with the native status (an
    /// unknown model is OpenAI's 404 `model_not_found`, where the native routes answer 400).
    #[must_use]
    pub fn from_api(error: &ApiError) -> OpenAiError {
        if let ApiError::NoSuchModel(id) = error {
            return OpenAiError::model_not_found(id);
        }
        let status = error.status();
        let items = error.items();
        let message = match error {
            // Every violation, so one round trip shows everything to fix.
            ApiError::Invalid(_) => items
                .iter()
                .map(|i| i.message.as_str())
                .collect::<Vec<_>>()
                .join("; "),
            other => other.to_string(),
        };
        let (param, code) = match error {
            ApiError::Invalid(violations) => {
                let first = violations.first();
                (
                    first.and_then(|v| param_of(&v.path)),
                    first.map(|v| code_of(v.rule).to_owned()),
                )
            }
            ApiError::Unauthorized(_) => (None, Some("invalid_api_key".to_owned())),
            ApiError::RateLimited { .. } => (None, Some("rate_limit_exceeded".to_owned())),
            // OpenAI's own words for a spent budget: its SDKs do not retry it.
            ApiError::OverQuota { .. } => (None, Some("insufficient_quota".to_owned())),
            ApiError::TooLarge { .. } => (None, Some("request_too_large".to_owned())),
            ApiError::OverBudget(_) => (None, Some("server_busy".to_owned())),
            ApiError::Deadline { .. } => (None, Some("timeout".to_owned())),
            // The native code (Workers AI's, or the gateway's), so a report can be matched.
            _ => (None, items.first().map(|i| i.code.to_string())),
        };
        let kind = match (status, error) {
            (_, ApiError::OverQuota { .. }) => "insufficient_quota",
            (401, _) => "authentication_error",
            (429, _) => "rate_limit_error",
            (s, _) if s >= 500 => SERVER_ERROR,
            _ => INVALID_REQUEST,
        };
        OpenAiError {
            status,
            message,
            kind,
            param,
            code,
            retry_after: error.retry_after(),
            futile: error.retry_is_futile(),
        }
    }

    /// The response body; `request_id` rides along as an extra member, as in the native envelope.
    #[must_use]
    pub fn to_json(&self, request_id: Option<&str>) -> String {
        #[derive(Serialize)]
        struct Body<'a> {
            error: Inner<'a>,
        }
        #[derive(Serialize)]
        struct Inner<'a> {
            message: &'a str,
            #[serde(rename = "type")]
            kind: &'a str,
            param: Option<&'a str>,
            code: Option<&'a str>,
            #[serde(skip_serializing_if = "Option::is_none")]
            request_id: Option<&'a str>,
        }
        let body = Body {
            error: Inner {
                message: &self.message,
                kind: self.kind,
                param: self.param.as_deref(),
                code: self.code.as_deref(),
                request_id,
            },
        };
        // Plain strings only: serializing cannot fail.
        serde_json::to_string(&body).unwrap_or_else(|_| String::from("{\"error\":{}}"))
    }
}

/// The request field a JSON pointer names: `/num_steps` → `num_steps`, `/image/17` → `image`;
/// none for the whole request (`""`).
fn param_of(pointer: &str) -> Option<String> {
    let first = pointer.strip_prefix('/')?.split('/').next()?;
    if first.is_empty() {
        return None;
    }
    Some(first.replace("~1", "/").replace("~0", "~"))
}

/// OpenAI's codes for the kinds of field errors it has; the rest are `invalid_value`.
fn code_of(rule: Rule) -> &'static str {
    match rule {
        Rule::Required => "missing_required_parameter",
        Rule::UnknownField | Rule::TooManyUnknownFields => "unknown_parameter",
        Rule::Type => "invalid_type",
        _ => "invalid_value",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::AuthError;
    use crate::budget::OverBudget;
    use crate::upstream::UpstreamError;
    use crate::violation::Violation;

    fn json(error: &OpenAiError) -> serde_json::Value {
        serde_json::from_str(&error.to_json(Some("req-1"))).unwrap()
    }

    #[test]
    fn field_errors_name_the_first_field_and_list_every_violation() {
        let error = OpenAiError::from_api(&ApiError::Invalid(vec![
            Violation::new("/size", Rule::Type, "must be \"auto\" or WIDTHxHEIGHT"),
            Violation::new("/num_steps", Rule::Maximum, "must be <= 20").with_limit(20),
        ]));
        assert_eq!(error.status, 400);
        assert_eq!(
            json(&error),
            serde_json::json!({"error": {
                "message": "'/size' must be \"auto\" or WIDTHxHEIGHT; '/num_steps' must be <= 20",
                "type": "invalid_request_error",
                "param": "size",
                "code": "invalid_type",
                "request_id": "req-1",
            }})
        );
        let nested = OpenAiError::from_api(&ApiError::Invalid(vec![Violation::new(
            "/image/3",
            Rule::Maximum,
            "must be an integer 0-255",
        )]));
        assert_eq!(nested.param.as_deref(), Some("image"));
        let whole = OpenAiError::from_api(&ApiError::Invalid(vec![Violation::whole_request(
            Rule::TooManyUnknownFields,
            "too many",
        )]));
        assert_eq!(whole.param, None);
        assert_eq!(whole.code.as_deref(), Some("unknown_parameter"));
        let missing = OpenAiError::from_api(&ApiError::Invalid(vec![Violation::new(
            "/prompt",
            Rule::Required,
            "is required",
        )]));
        assert_eq!(missing.code.as_deref(), Some("missing_required_parameter"));
    }

    #[test]
    fn statuses_types_and_codes() {
        let unknown = OpenAiError::from_api(&ApiError::NoSuchModel("dall-e-3".into()));
        assert_eq!(
            (unknown.status, unknown.kind, unknown.code.as_deref()),
            (404, "invalid_request_error", Some("model_not_found"))
        );
        assert_eq!(unknown.param.as_deref(), Some("model"));

        let auth = OpenAiError::from_api(&ApiError::Unauthorized(AuthError::Missing));
        assert_eq!(
            (auth.status, auth.kind, auth.code.as_deref()),
            (401, "authentication_error", Some("invalid_api_key"))
        );

        let limited = OpenAiError::from_api(&ApiError::RateLimited { retry_after_s: 10 });
        assert_eq!(
            (limited.status, limited.kind, limited.retry_after),
            (429, "rate_limit_error", Some(10))
        );

        let large = OpenAiError::from_api(&ApiError::TooLarge { limit: 5 });
        assert_eq!((large.status, large.kind), (413, "invalid_request_error"));

        let busy = OpenAiError::from_api(&ApiError::OverBudget(OverBudget {
            wanted: 2,
            free: 1,
            limit: 3,
        }));
        assert_eq!(
            (busy.status, busy.kind, busy.retry_after),
            (503, "server_error", Some(1))
        );

        let capacity = OpenAiError::from_api(&ApiError::Upstream(UpstreamError::parse(
            "3040: Capacity temporarily exceeded",
        )));
        assert_eq!(
            (capacity.status, capacity.kind, capacity.code.as_deref()),
            (503, "server_error", Some("3040"))
        );
        assert_eq!(capacity.retry_after, Some(10));

        let refused_by_model =
            OpenAiError::from_api(&ApiError::Upstream(UpstreamError::parse("5006: bad")));
        assert_eq!(
            (refused_by_model.status, refused_by_model.kind),
            (400, "invalid_request_error")
        );

        let broken = OpenAiError::from_api(&ApiError::NotAnImage);
        assert_eq!((broken.status, broken.kind), (502, "server_error"));

        let missing = OpenAiError::from_api(&ApiError::NotFound {
            method: "GET".into(),
            path: "/v1/nope".into(),
        });
        assert_eq!(
            (missing.status, missing.kind),
            (404, "invalid_request_error")
        );

        let server = OpenAiError::server("PERMALINK_SECRET is not set");
        assert_eq!(
            json(&server)["error"],
            serde_json::json!({"message": "PERMALINK_SECRET is not set", "type": "server_error",
                "param": null, "code": null, "request_id": "req-1"})
        );
    }
}
