//! The OpenAI Images API (`/v1/...`): OpenAI's routes over the native pipeline, with the same
//! access checks, rate limits, limits, memory budget and cache, and every refusal in OpenAI's
//! error envelope (`sdxl_core::openai`), so the OpenAI SDKs raise their typed errors.

mod images;

use sdxl_core::models;
use sdxl_core::openai::answer::{model_list, model_object};
use sdxl_core::openai::error::OpenAiError;
use sdxl_core::openai::request::Endpoint;
use sdxl_core::openai::OpenAiRoute;
use sdxl_core::ApiError;
use worker::{Context, Env, Headers, Method, Request, Response};

use crate::access::{authorize, rate_limit};
use crate::config::Config;
use crate::failure::{Failure, Handled};
use crate::trace::Trace;

/// Answers a request under `/v1`; `rest` is its path after `/v1`. Failures are answered here, in
/// OpenAI's envelope, not left to the native one.
pub async fn handle(
    req: &mut Request,
    env: &Env,
    ctx: &Context,
    config: &Config,
    trace: &mut Trace,
    rest: &str,
) -> Handled {
    let answered = route(req, env, ctx, config, trace, rest).await;
    let failure = match answered {
        Ok(response) => return Ok(response),
        Err(failure) => failure,
    };
    let error = match &failure {
        Failure::Api(error) => {
            trace.log.error_code = error.items().first().map(|i| i.code);
            OpenAiError::from_api(error)
        }
        Failure::Misconfigured(reason) => {
            worker::console_error!("request {} failed: {reason}", trace.id());
            OpenAiError::server(format!("the gateway is misconfigured: {reason}"))
        }
        Failure::Internal(reason) => {
            worker::console_error!("request {} failed: {reason}", trace.id());
            OpenAiError::server("the gateway failed; report the request id")
        }
    };
    let allow = match &failure {
        Failure::Api(e) => match e.as_ref() {
            ApiError::MethodNotAllowed { allow, .. } => Some(*allow),
            _ => None,
        },
        _ => None,
    };
    // Should even this fail, the native envelope answers (in lib.rs).
    Ok(error_response(&error, trace.id(), allow)?)
}

async fn route(
    req: &mut Request,
    env: &Env,
    ctx: &Context,
    config: &Config,
    trace: &mut Trace,
    rest: &str,
) -> Handled {
    let method = req.method();
    let route = OpenAiRoute::parse(rest);
    let allow = match route {
        OpenAiRoute::Generations | OpenAiRoute::Edits => "POST",
        OpenAiRoute::Models | OpenAiRoute::Model(_) => "GET, HEAD",
        OpenAiRoute::NotFound => {
            return Err(ApiError::NotFound {
                method: method.to_string(),
                path: req.path(),
            }
            .into())
        }
    };
    let allowed = match allow {
        "POST" => method == Method::Post,
        _ => matches!(method, Method::Get | Method::Head),
    };
    if !allowed {
        return Err(ApiError::MethodNotAllowed {
            method: method.to_string(),
            path: req.path(),
            allow,
        }
        .into());
    }
    let caller = authorize(req, config)?;
    rate_limit(env, config, caller).await?;
    match route {
        OpenAiRoute::Models => json_response(&model_list(models::ALL)),
        OpenAiRoute::Model(id) => match models::by_id(&id) {
            Some(spec) => json_response(&model_object(spec)),
            None => Err(ApiError::NoSuchModel(id).into()),
        },
        OpenAiRoute::Generations => {
            images::answer(req, env, ctx, config, trace, Endpoint::Generations).await
        }
        OpenAiRoute::Edits => images::answer(req, env, ctx, config, trace, Endpoint::Edits).await,
        // Answered above, before the access checks.
        OpenAiRoute::NotFound => Err(ApiError::NotFound {
            method: method.to_string(),
            path: req.path(),
        }
        .into()),
    }
}

fn json_response(value: &serde_json::Value) -> Handled {
    let mut response = Response::ok(value.to_string())?;
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
