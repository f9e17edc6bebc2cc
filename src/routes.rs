//! Which handler answers which method and path.

use sdxl_core::models::{self, SDXL_LIGHTNING};
use sdxl_core::{ApiError, ModelSpec};
use worker::{Context, Env, Method, Request, Response, Result};

use crate::cache_tiers::cache_api_delete;
use crate::config::Config;
use crate::generate::{self, permalink_url};
use crate::permalink;
use crate::responses::{error_response, misconfigured};

/// Where a model is served: `/ai/run/<model id>`, as in the Workers AI REST API.
const RUN_PREFIX: &str = "/ai/run/";
const IMAGES_PREFIX: &str = "/images/";

pub async fn handle(mut req: Request, env: Env, ctx: Context) -> Result<Response> {
    let config = match Config::from_env(&env) {
        Ok(config) => config,
        Err(reason) => return misconfigured(&reason),
    };
    let path = req.path();
    let method = req.method();
    if config.local_admin {
        if let Some(response) = local_admin(&req, &env, &path).await? {
            return response;
        }
    }
    let not_found = || {
        error_response(&ApiError::NotFound {
            method: method.to_string(),
            path: path.clone(),
        })
    };
    if let Some(key) = path.strip_prefix(IMAGES_PREFIX) {
        return match method {
            Method::Get => permalink::serve(&req, &env, &ctx, key).await,
            _ => not_allowed(&method, &path, "GET"),
        };
    }
    let spec: &'static ModelSpec = if path == "/" {
        &SDXL_LIGHTNING
    } else if let Some(spec) = path.strip_prefix(RUN_PREFIX).and_then(models::by_id) {
        spec
    } else {
        return not_found();
    };
    match method {
        Method::Post => generate::from_body(&mut req, &env, &ctx, &config, spec).await,
        Method::Get => generate::from_query(&req, &env, &ctx, &config, spec).await,
        _ => not_allowed(&method, &path, "GET, POST"),
    }
}

fn not_allowed(method: &Method, path: &str, allow: &'static str) -> Result<Response> {
    error_response(&ApiError::MethodNotAllowed {
        method: method.to_string(),
        path: path.to_owned(),
        allow,
    })
}

/// Local runs only (`LOCAL_ADMIN`): the stand-in's admin API and emptying the Cache API tier.
async fn local_admin(req: &Request, env: &Env, path: &str) -> Result<Option<Result<Response>>> {
    if path.starts_with("/__standin/") {
        let forwarded = env.service("AI")?.fetch_request(req.clone()?).await;
        return Ok(Some(forwarded));
    }
    if let Some(key) = path.strip_prefix("/__admin/cache-api/") {
        if req.method() == Method::Delete {
            let deleted = cache_api_delete(&permalink_url(req, key)?).await?;
            return Ok(Some(Response::from_json(
                &serde_json::json!({ "deleted": deleted }),
            )));
        }
    }
    Ok(None)
}
