//! Which handler answers which method and path, after access control.

use std::cell::OnceCell;

use sdxl_core::headers::{wanted, Wanted};
use sdxl_core::json_schema::catalog;
use sdxl_core::model::Output;
use sdxl_core::models;
use sdxl_core::openapi::{document, DocOptions};
use sdxl_core::route::{origin_and_query, Route};
use sdxl_core::{ApiError, ModelSpec};
use worker::{Context, Env, Method, Request, Response};

use crate::access::{authorize, client_address, preflight, rate_limit};
use crate::cache_tiers::{cache_api_url, forget_locally};
use crate::config::Config;
use crate::failure::Handled;
use crate::generate;
use crate::permalink;
use crate::responses::{with_mutable_headers, Delivery};
use crate::trace::Trace;

pub async fn handle(
    mut req: Request,
    env: &Env,
    ctx: &Context,
    config: &Config,
    trace: &mut Trace,
) -> Handled {
    let path = req.path();
    let method = req.method();
    if method == Method::Options {
        return preflight(&req, config);
    }
    if config.local_admin {
        if let Some(response) = local_admin(&req, env, config, &path).await? {
            return Ok(response);
        }
    }
    let not_allowed = |allow: &'static str| ApiError::MethodNotAllowed {
        method: method.to_string(),
        path: path.clone(),
        allow,
    };
    let accept = req.headers().get("accept")?;
    // HEAD is answered wherever GET is, with the same headers and no body: workerd sends no
    // body for a HEAD whatever the response holds, and keeps its length (checked end to end).
    let readable = matches!(method, Method::Get | Method::Head);
    let (spec, delivery) = match Route::parse(&path) {
        // Permalinks serve results someone already paid for, by an id only those answered
        // know: public, so they work in <img src> and behind a CDN. Rate limited all the same.
        Route::Image { id } => {
            if !readable {
                return Err(not_allowed("GET, HEAD").into());
            }
            let caller = client_address(&req)?;
            rate_limit(env, config, caller).await?;
            return permalink::serve(&req, env, ctx, config, id).await;
        }
        // OpenAI's Images API: its own errors envelope, so it checks access itself.
        Route::OpenAi { rest } => {
            return crate::openai::handle(&mut req, env, ctx, config, trace, rest).await
        }
        // Documentation is public: it says what is enforced, nothing more.
        Route::Models | Route::OpenApi if !readable => return Err(not_allowed("GET, HEAD").into()),
        Route::Models => {
            let body = DOCS.with(|d| {
                d.models
                    .get_or_init(|| catalog(models::ALL, &config.policy).to_string())
                    .clone()
            });
            return Ok(json_response(body)?);
        }
        Route::OpenApi => {
            let body = DOCS.with(|d| {
                d.openapi
                    .get_or_init(|| {
                        document(&DocOptions {
                            models: models::ALL,
                            policy: &config.policy,
                            anonymous: config.allow_anonymous,
                        })
                        .to_string()
                    })
                    .clone()
            });
            return Ok(json_response(body)?);
        }
        Route::Root => {
            let browsing = wanted(accept.as_deref()) == Wanted::Html;
            let no_query = origin_and_query(&req.inner().url()).1.is_none();
            if readable && browsing && no_query {
                // A whole string body, so GET and HEAD both state its length.
                let mut page = Response::ok(PLAYGROUND)?;
                page.headers_mut()
                    .set("content-type", "text/html; charset=utf-8")?;
                return Ok(page);
            }
            (Ok(models::ALL[0]), negotiated(accept.as_deref()))
        }
        Route::Run { model } => (model_named(&model), negotiated(accept.as_deref())),
        // The REST API answers as it always does, whatever `Accept` says: the official SDK
        // sends `Accept: application/json` and still expects bytes from image-stream models.
        Route::Rest { model, .. } => {
            if method != Method::Post {
                return Err(not_allowed("POST").into());
            }
            let spec = model_named(&model);
            let delivery = match spec.as_ref().map(|s| s.output) {
                Ok(Output::JsonImageBase64) => Delivery::RestEnvelope,
                _ => Delivery::Image,
            };
            (spec, delivery)
        }
        Route::NotFound => {
            return Err(ApiError::NotFound {
                method: method.to_string(),
                path: path.clone(),
            }
            .into())
        }
    };
    if !readable && method != Method::Post {
        return Err(not_allowed("GET, HEAD, POST").into());
    }
    let caller = authorize(&req, config)?;
    rate_limit(env, config, caller).await?;
    let spec = spec?;
    match method {
        Method::Post => {
            generate::from_body(&mut req, env, ctx, config, spec, delivery, trace).await
        }
        _ => generate::from_query(&req, env, ctx, config, spec, delivery, trace).await,
    }
}

/// The playground page, served to browsers at `/`.
const PLAYGROUND: &str = include_str!("playground/index.html");

/// The documents, generated once per isolate: they depend only on the tables and the settings,
/// which are fixed for an isolate's life, and they are public (not rate limited).
#[derive(Default)]
struct Docs {
    models: OnceCell<String>,
    openapi: OnceCell<String>,
}

thread_local! {
    static DOCS: Docs = Docs::default();
}

fn model_named(id: &str) -> Result<&'static ModelSpec, ApiError> {
    // The id comes from the URL: echo at most a model id's worth of it.
    models::by_id(id).ok_or_else(|| ApiError::NoSuchModel(id.chars().take(100).collect()))
}

/// Bytes, unless the client asked for JSON.
fn negotiated(accept: Option<&str>) -> Delivery {
    match wanted(accept) {
        Wanted::Json => Delivery::Envelope,
        Wanted::Image | Wanted::Html => Delivery::Image,
    }
}

fn json_response(body: String) -> worker::Result<Response> {
    let mut response = Response::ok(body)?;
    let headers = response.headers_mut();
    headers.set("content-type", "application/json")?;
    headers.set("cache-control", "public, max-age=300")?;
    Ok(response)
}

/// Local runs only (`LOCAL_ADMIN`): the stand-in's admin API, the memory report, and emptying
/// the memory and Cache API tiers of one key.
async fn local_admin(
    req: &Request,
    env: &Env,
    config: &Config,
    path: &str,
) -> Handled<Option<Response>> {
    if path.starts_with("/__standin/") {
        let forwarded = env.service("AI")?.fetch_request(req.clone()?).await?;
        return Ok(Some(with_mutable_headers(forwarded)?));
    }
    if path == "/__admin/memory" && req.method() == Method::Get {
        return Ok(Some(Response::from_json(&crate::memory::report(config))?));
    }
    if let Some(key) = path.strip_prefix("/__admin/cache-api/") {
        if req.method() == Method::Delete {
            let deleted = forget_locally(&cache_api_url(req, key)?, key).await?;
            let body = serde_json::json!({ "deleted": deleted });
            return Ok(Some(Response::from_json(&body)?));
        }
    }
    Ok(None)
}
