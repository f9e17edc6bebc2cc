//! The adapter both Workers are made of: it reads a request once, lets the pure core
//! (`sdxl-core`) decide everything, calls the bindings, and moves the bytes.
//!
//! Each Worker is a thin crate over this library (workers/gateway, workers/jobs) that exports its
//! events and nothing else: [`gateway_fetch`]; [`jobs_fetch`], [`jobs_queue`] and the job's
//! Durable Object over [`jobs::JobObject`]. What a Worker does not call, the linker leaves out of
//! its bundle.
//!
//! Everything here needs the Workers runtime, so the crate is empty off `wasm32`; the logic it
//! wires together is tested natively in `sdxl-core` (see ARCHITECTURE.md for the request's path).
#![cfg(target_arch = "wasm32")]

mod access;
mod ai_form;
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
pub mod jobs;
mod jobs_worker;
mod js_error;
mod memory;
mod model_output;
mod openai;
mod permalink;
mod pipeline;
mod playground;
pub mod quota;
mod request_body;
mod request_head;
mod responses;
mod routes;
#[cfg(test)]
mod scan_tests;
mod trace;

use sdxl_core::answer::{cors_headers, failure_answer, Refusal};
use sdxl_core::replay::{replayable, ReplayNote, REPLAY_HEADER};
use sdxl_core::request_head::{Method, RequestHead};
use worker::{Context, Env, MessageBatch, Request, Response, Result};

use crate::failure::{Failure, Handled};
use crate::gateway::Gateway;
use crate::trace::Trace;

/// The gateway Worker's fetch event: every route but the prediction routes, which it hands to
/// the jobs Worker (`jobs_worker`).
///
/// # Errors
/// Only when an answer's headers cannot be set (the runtime refusing a header).
pub async fn gateway_fetch(req: Request, env: Env, ctx: Context) -> Result<Response> {
    serve::<routes::GatewayRoutes>(req, env, ctx).await
}

/// The jobs Worker's fetch event: the prediction routes (and, locally, its memory report).
///
/// # Errors
/// As [`gateway_fetch`]'s.
pub async fn jobs_fetch(req: Request, env: Env, ctx: Context) -> Result<Response> {
    serve::<jobs::JobsRoutes>(req, env, ctx).await
}

/// The jobs Worker's queue event: the jobs queue and its dead-letter queue (`jobs::consume`).
/// Every message is acknowledged or retried on its own, so this never fails.
pub async fn jobs_queue(batch: MessageBatch<String>, env: Env, ctx: Context) {
    jobs::consume(batch, env, ctx).await;
}

/// The routes a Worker answers: generic, not a value, so each Worker's bundle holds its own.
trait Routes {
    async fn handle(gateway: &mut Gateway<'_>, head: &RequestHead, req: Request) -> Handled;
}

/// One request, from its head to the answer's last header, whichever Worker's routes answer it.
async fn serve<R: Routes>(req: Request, env: Env, ctx: Context) -> Result<Response> {
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
            R::handle(&mut gateway, &head, req).await
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
    if let (Ok(config), Some(caller)) = (config.as_ref(), trace.caller.as_deref()) {
        // The caller's budget, as this isolate last saw it spent (`quota::headers`).
        if let Some((policy, state)) = quota::headers(&config.quotas.of(caller), caller) {
            headers.set("ratelimit-policy", &policy)?;
            headers.set("ratelimit", &state)?;
        }
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
    trace.log.caller = trace
        .caller
        .as_deref()
        .map(sdxl_core::observe::caller_digest);
    trace.finish(response.status_code());
    bindings::analytics::write(&env, &trace.log.datapoint(head.surface.name()));
    Ok(response)
}
