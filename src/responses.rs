//! Every refusal in the Cloudflare v4 envelope, with the status a client can act on.

use sdxl_core::ApiError;
use worker::{Headers, Response, Result};

/// The envelope response for `error`.
pub fn error_response(error: &ApiError) -> Result<Response> {
    let headers = Headers::new();
    headers.set("content-type", "application/json")?;
    headers.set("cache-control", "no-store")?;
    if let ApiError::MethodNotAllowed { allow, .. } = error {
        headers.set("allow", allow)?;
    }
    Ok(Response::ok(error.envelope().to_json())?
        .with_status(error.status())
        .with_headers(headers))
}

/// A 500 for the operator's own mistakes (a missing binding, an unreadable setting), in the same
/// envelope so clients parse one shape.
pub fn misconfigured(reason: &str) -> Result<Response> {
    let body = serde_json::json!({
        "success": false,
        "errors": [{"code": 3043, "message": format!("the gateway is misconfigured: {reason}")}],
        "messages": [],
        "result": null,
    });
    Ok(Response::from_json(&body)?.with_status(500))
}
