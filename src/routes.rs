//! Which handler answers which method and path, after access control.

use sdxl_core::models::{self, SDXL_LIGHTNING};
use sdxl_core::{ApiError, ModelSpec};
use worker::{Context, Env, Method, Request, Response};

use crate::access::{authorize, client_address, preflight, rate_limit};
use crate::cache_tiers::{forget_locally, permalink_url};
use crate::config::Config;
use crate::failure::Handled;
use crate::generate;
use crate::permalink;
use crate::responses::with_mutable_headers;
use crate::trace::Trace;

/// Where a model is served: `/ai/run/<model id>`, as in the Workers AI REST API.
const RUN_PREFIX: &str = "/ai/run/";
const IMAGES_PREFIX: &str = "/images/";

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
        if let Some(response) = local_admin(&req, env, &path).await? {
            return Ok(response);
        }
    }
    let not_found = || ApiError::NotFound {
        method: method.to_string(),
        path: path.clone(),
    };
    let not_allowed = |allow: &'static str| ApiError::MethodNotAllowed {
        method: method.to_string(),
        path: path.clone(),
        allow,
    };

    // Permalinks serve results someone already paid for, by an unguessable key: public, so they
    // work in <img src> and behind a CDN. Rate limited all the same.
    if let Some(key) = path.strip_prefix(IMAGES_PREFIX) {
        if method != Method::Get {
            return Err(not_allowed("GET").into());
        }
        let caller = client_address(&req)?;
        rate_limit(env, config, caller).await?;
        return permalink::serve(&req, env, ctx, config, key).await;
    }
    let spec: &'static ModelSpec = if path == "/" {
        &SDXL_LIGHTNING
    } else if let Some(spec) = path.strip_prefix(RUN_PREFIX).and_then(models::by_id) {
        spec
    } else {
        return Err(not_found().into());
    };
    if !matches!(method, Method::Get | Method::Post) {
        return Err(not_allowed("GET, POST").into());
    }
    let caller = authorize(&req, config)?;
    rate_limit(env, config, caller).await?;
    match method {
        Method::Post => generate::from_body(&mut req, env, ctx, config, spec, trace).await,
        _ => generate::from_query(&req, env, ctx, config, spec, trace).await,
    }
}

/// Local runs only (`LOCAL_ADMIN`): the stand-in's admin API, and emptying the memory and Cache
/// API tiers of one key.
async fn local_admin(req: &Request, env: &Env, path: &str) -> Handled<Option<Response>> {
    if path.starts_with("/__standin/") {
        let forwarded = env.service("AI")?.fetch_request(req.clone()?).await?;
        return Ok(Some(with_mutable_headers(forwarded)?));
    }
    if let Some(key) = path.strip_prefix("/__admin/cache-api/") {
        if req.method() == Method::Delete {
            let deleted = forget_locally(&permalink_url(req, key)?, key).await?;
            let body = serde_json::json!({ "deleted": deleted });
            return Ok(Some(Response::from_json(&body)?));
        }
    }
    Ok(None)
}
