//! The Worker: a thin adapter that reads a request once, lets the pure core (`sdxl-core`) decide
//! everything, calls the bindings, and moves the bytes.
//!
//! Everything here needs the Workers runtime, so the crate is empty off `wasm32`; the logic it
//! wires together is tested natively in `sdxl-core` (see ARCHITECTURE.md for the request's path).
#![cfg(target_arch = "wasm32")]

mod access;
mod ai_inputs;
mod base64_js;
mod bindings;
mod body_refusal;
mod cache_tiers;
mod config;
mod digest;
mod failure;
mod gateway;
mod generate;
#[cfg(feature = "jobs")]
mod jobs;
#[cfg_attr(feature = "jobs", allow(dead_code))]
mod jobs_worker;
mod js_error;
mod memory;
mod model_output;
// The jobs Worker answers prediction routes alone (`jobs::route`, not `routes`): what only the
// gateway's routes use is left out of its build by the linker, not compiled out, to keep one
// crate with one set of modules.
#[cfg_attr(feature = "jobs", allow(dead_code))]
mod openai;
#[cfg_attr(feature = "jobs", allow(dead_code))]
mod permalink;
mod pipeline;
#[cfg_attr(feature = "jobs", allow(dead_code))]
mod playground;
mod request_body;
mod request_head;
mod responses;
#[cfg_attr(feature = "jobs", allow(dead_code))]
mod routes;
#[cfg(test)]
mod scan_tests;
mod trace;

use sdxl_core::answer::{cors_headers, failure_answer, Refusal};
use sdxl_core::replay::{replayable, ReplayNote, REPLAY_HEADER};
use sdxl_core::request_head::Method;
#[cfg(feature = "jobs")]
use worker::MessageBatch;
use worker::{event, Context, Env, Request, Response, Result};

use crate::failure::Failure;
use crate::gateway::Gateway;
use crate::trace::Trace;

#[event(fetch)]
async fn fetch(req: Request, env: Env, ctx: Context) -> Result<Response> {
    let head = request_head::read(&req);
    let mut trace = Trace::start(&head, request_head::ray(&req));
    let config = config::cached(&env);
    let body = body_refusal::UnreadBody::of(&req, head.content_length);
    let handled = match config.as_ref() {
        Ok(config) => {
            let mut gateway = Gateway {
                env: &env,
                ctx: &ctx,
                config,
                trace: &mut trace,
            };
            #[cfg(not(feature = "jobs"))]
            let handled = routes::handle(&mut gateway, &head, req).await;
            #[cfg(feature = "jobs")]
            let handled = jobs::route(&mut gateway, &head, req).await;
            handled
        }
        Err(reason) => Err(Failure::Misconfigured(reason.clone())),
    };
    // Whatever the answer, a body nobody read is let go of before it goes out: 401, 404, 415,
    // 429, ... are decided without reading it (see body_refusal for why it matters).
    body.let_go().await;
    let mut response = match handled {
        Ok(response) => response,
        Err(failure) => {
            failure.note(&mut trace);
            let refusal = match &failure {
                Failure::Api(error) => Refusal::Api(error),
                Failure::Misconfigured(reason) => Refusal::Misconfigured(reason),
                Failure::Internal(_) => Refusal::Internal,
            };
            responses::failure(failure_answer(refusal, trace.id(), head.surface))?
        }
    };
    let status = response.status_code();
    let headers = response.headers_mut();
    headers.set("x-request-id", trace.id())?;
    headers.set("server-timing", &trace.log.ms.server_timing())?;
    if let Ok(config) = config.as_ref() {
        let vary = headers.get("vary")?;
        let cors = cors_headers(&config.cors, head.origin.as_deref(), vary.as_deref());
        responses::set_all(headers, &cors)?;
    }
    if let (Ok(config), Some(rate_key)) = (config.as_ref(), trace.rate_key.as_deref()) {
        if config.replay_cache_bytes() > 0 && replayable(&head, status, trace.memory_hit) {
            // For the entry module (src/entry.js), which removes it: see sdxl_core::replay.
            // The entry writes each replay's own request id into this line.
            let mut log = trace.log.clone();
            log.request_id.clear();
            log.status = status;
            let note = ReplayNote {
                rate_key,
                cache_bytes: config.replay_cache_bytes(),
                log: &log,
            };
            headers.set(REPLAY_HEADER, &note.header_value())?;
        }
    }
    if head.method == Method::Head {
        // Routed as GET; answered without the body.
        response = responses::without_body(response).await?;
    }
    trace.finish(response.status_code());
    Ok(response)
}

/// The jobs queue and its dead-letter queue (`jobs::consume`): every message is acknowledged or
/// retried on its own, so this never fails.
#[cfg(feature = "jobs")]
#[event(queue)]
async fn queue(batch: MessageBatch<String>, env: Env, ctx: Context) -> Result<()> {
    jobs::consume(batch, env, ctx).await;
    Ok(())
}
