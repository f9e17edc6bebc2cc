//! The Worker: a thin adapter that routes HTTP requests through the pure core (`sdxl-core`),
//! calls the `AI` binding, and answers with the image and the headers clients rely on.
//!
//! Everything here needs the Workers runtime, so the crate is empty off `wasm32`; the logic it
//! wires together is tested natively in `sdxl-core`.
#![cfg(target_arch = "wasm32")]

mod access;
pub mod ai_binding;
pub mod ai_inputs;
pub mod base64_js;
mod body_refusal;
mod cache_tiers;
mod config;
pub mod digest;
mod failure;
mod generate;
mod memory;
pub mod model_output;
mod openai;
mod permalink;
mod request_body;
mod responses;
mod routes;
mod single_flight;
mod trace;

use worker::{event, Context, Env, Request, Response, Result};

use crate::failure::Failure;
use crate::trace::Trace;

#[event(fetch)]
async fn fetch(req: Request, env: Env, ctx: Context) -> Result<Response> {
    let mut trace = Trace::start(&req);
    let origin = req.headers().get("origin").ok().flatten();
    let head = req.method() == worker::Method::Head;
    let config = config::cached(&env);
    let body = body_refusal::UnreadBody::of(&req);
    let handled = match config.as_ref() {
        Ok(config) => routes::handle(req, &env, &ctx, config, &mut trace).await,
        Err(reason) => Err(Failure::Misconfigured(reason.clone())),
    };
    // Whatever the answer, a body nobody read is let go of before it goes out: 401, 404, 415,
    // 429, ... are decided without reading it (see body_refusal for why it matters).
    body.let_go().await;
    let mut response = match handled {
        Ok(response) => response,
        Err(failure) => {
            match &failure {
                Failure::Api(error) => trace.log.error_code = error.items().first().map(|i| i.code),
                Failure::Misconfigured(reason) | Failure::Internal(reason) => {
                    worker::console_error!("request {} failed: {reason}", trace.id());
                }
            }
            responses::failure_response(&failure, trace.id())?
        }
    };
    let headers = response.headers_mut();
    headers.set("x-request-id", trace.id())?;
    headers.set("server-timing", &trace.log.ms.server_timing())?;
    if let Ok(config) = config.as_ref() {
        access::add_cors(&mut response, origin.as_deref(), config)?;
    }
    if head {
        // Routed as GET; answered without the body.
        response = responses::without_body(response).await?;
    }
    trace.finish(response.status_code());
    Ok(response)
}
