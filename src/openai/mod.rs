//! The OpenAI Images API (`/v1/...`): OpenAI's routes over the native pipeline, with the same
//! access checks, rate limits, limits, memory budget and cache, and every refusal in OpenAI's
//! error envelope (`sdxl_core::openai`), so the OpenAI SDKs raise their typed errors.

mod images;
mod mask;

use sdxl_core::models;
use sdxl_core::openai::answer::{model_list, model_object};
use sdxl_core::openai::error::OpenAiError;
use sdxl_core::openai::request::Endpoint;
use sdxl_core::openai::OpenAiRoute;
use sdxl_core::request_head::RequestHead;
use sdxl_core::route::Surface;
use sdxl_core::ApiError;
use worker::{Headers, Request, Response};

use crate::access::rate_limit;
use crate::failure::{Failure, Handled};
use crate::gateway::Gateway;

/// Answers a request under `/v1` that `sdxl_core::dispatch` planned for `route` (its methods are
/// in dispatch's table). Failures are answered here, in OpenAI's envelope, not left to the native
/// one.
pub async fn handle(
    gateway: &mut Gateway<'_>,
    head: &RequestHead,
    req: Request,
    route: OpenAiRoute,
) -> Handled {
    match answer(gateway, head, req, route).await {
        Ok(response) => Ok(response),
        Err(failure) => refuse(gateway, failure),
    }
}

/// A request `sdxl_core::dispatch::plan` refused: on OpenAI's routes, even a 404 or 405 is
/// answered in OpenAI's envelope; elsewhere (predictions included) in the surface's own, by
/// `sdxl_core::answer::failure_answer`.
pub fn refuse_unplanned(
    gateway: &mut Gateway<'_>,
    head: &RequestHead,
    refusal: ApiError,
) -> Handled {
    if head.surface == Surface::OpenAi {
        refuse(gateway, refusal.into())
    } else {
        Err(refusal.into())
    }
}

/// `failure` in OpenAI's envelope. Should even this fail, the native envelope answers (in
/// lib.rs).
pub fn refuse(gateway: &mut Gateway<'_>, failure: Failure) -> Handled {
    let trace = &mut *gateway.trace;
    failure.note(trace);
    let error = match &failure {
        Failure::Api(error) => OpenAiError::from_api(error),
        Failure::Misconfigured(reason) => {
            OpenAiError::server(format!("the gateway is misconfigured: {reason}"))
        }
        Failure::Internal(_) => OpenAiError::server("the gateway failed; report the request id"),
    };
    let allow = match &failure {
        Failure::Api(e) => match e.as_ref() {
            ApiError::MethodNotAllowed { allow, .. } => Some(allow.as_str()),
            _ => None,
        },
        _ => None,
    };
    Ok(error_response(&error, trace.id(), allow)?)
}

async fn answer(
    gateway: &mut Gateway<'_>,
    head: &RequestHead,
    req: Request,
    route: OpenAiRoute,
) -> Handled {
    let caller = head
        .caller(gateway.config)
        .map_err(ApiError::Unauthorized)?;
    rate_limit(gateway, caller.clone()).await?;
    gateway.trace.caller = Some(caller);
    match route {
        OpenAiRoute::Models => json_response(&model_list(models::ALL)),
        OpenAiRoute::Model(id) => match models::by_id(&id) {
            Some(spec) => json_response(&model_object(spec)),
            None => Err(ApiError::NoSuchModel(id).into()),
        },
        OpenAiRoute::Generations => {
            images::answer(gateway, head, &req, Endpoint::Generations).await
        }
        OpenAiRoute::Edits => images::answer(gateway, head, &req, Endpoint::Edits).await,
        // dispatch's method table has no entry for it: refused there.
        OpenAiRoute::NotFound => Err(ApiError::NotFound {
            method: head.method.as_str().to_owned(),
            path: head.path.clone(),
        }
        .into()),
    }
}

fn json_response(value: &serde_json::Value) -> Handled {
    let mut response = Response::ok(sdxl_core::json_text::text(value))?;
    response
        .headers_mut()
        .set("content-type", "application/json")?;
    Ok(response)
}

/// OpenAI's error envelope, with the headers the native envelope carries: `Retry-After`,
/// `WWW-Authenticate` on 401, `Allow` on 405. Never cacheable.
fn error_response(
    error: &OpenAiError,
    request_id: &str,
    allow: Option<&str>,
) -> worker::Result<Response> {
    let headers = Headers::new();
    headers.set("content-type", "application/json")?;
    headers.set("cache-control", "no-store")?;
    if let Some(seconds) = error.retry_after {
        headers.set("retry-after", &seconds.to_string())?;
    }
    if error.futile {
        headers.set("x-should-retry", "false")?;
    }
    if error.status == 401 {
        headers.set("www-authenticate", "Bearer")?;
    }
    if let Some(allow) = allow {
        headers.set("allow", allow)?;
    }
    Ok(Response::ok(error.to_json(Some(request_id)))?
        .with_status(error.status)
        .with_headers(headers))
}
