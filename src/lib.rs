//! The Worker: a thin adapter that routes HTTP requests through the pure core (`sdxl-core`),
//! calls the `AI` binding, and streams the image back with the content type of its bytes.
//!
//! Everything here needs the Workers runtime, so the crate is empty off `wasm32`; the logic it
//! wires together is tested natively in `sdxl-core`.
#![cfg(target_arch = "wasm32")]

pub mod ai_binding;
pub mod ai_inputs;
mod cache_tiers;
mod config;
mod generate;
mod model_output;
mod permalink;
mod responses;
mod routes;
mod single_flight;

use worker::{event, Context, Env, Request, Response, Result};

#[event(fetch)]
async fn fetch(req: Request, env: Env, ctx: Context) -> Result<Response> {
    routes::handle(req, env, ctx).await
}
