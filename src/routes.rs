//! Which handler answers which method and path.

use sdxl_core::models::{self, SDXL_LIGHTNING};
use sdxl_core::ApiError;
use worker::{Context, Env, Method, Request, Response, Result};

use crate::config::Config;
use crate::generate::generate;
use crate::responses::{error_response, misconfigured};

/// Where a model is served: `POST /ai/run/<model id>`, as in the Workers AI REST API.
const RUN_PREFIX: &str = "/ai/run/";

pub async fn handle(mut req: Request, env: Env, _ctx: Context) -> Result<Response> {
    let config = match Config::from_env(&env) {
        Ok(config) => config,
        Err(reason) => return misconfigured(&reason),
    };
    let path = req.path();
    if config.standin_admin && path.starts_with("/__standin/") {
        // Local runs only: lets end-to-end tests arm faults in, and read counters of, the stand-in.
        return env.service("AI")?.fetch_request(req).await;
    }
    let spec = if path == "/" {
        &SDXL_LIGHTNING
    } else if let Some(model) = path.strip_prefix(RUN_PREFIX) {
        match models::by_id(model) {
            Some(spec) => spec,
            None => {
                return error_response(&ApiError::NotFound {
                    method: req.method().to_string(),
                    path,
                })
            }
        }
    } else {
        return error_response(&ApiError::NotFound {
            method: req.method().to_string(),
            path,
        });
    };
    match req.method() {
        Method::Post => generate(&mut req, &env, &config, spec).await,
        other => error_response(&ApiError::MethodNotAllowed {
            method: other.to_string(),
            path,
            allow: "POST",
        }),
    }
}
