//! The gateway Worker: its fetch event, answered by the adapter library (`sdxl_worker`).
#![cfg(target_arch = "wasm32")]

use worker::{event, Context, Env, Request, Response, Result};

#[event(fetch)]
async fn fetch(req: Request, env: Env, ctx: Context) -> Result<Response> {
    sdxl_worker::gateway_fetch(req, env, ctx).await
}
