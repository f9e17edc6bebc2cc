//! The gateway Worker: its fetch event, answered by the adapter library (`sdxl_worker`), and the
//! Durable Object class that keeps each caller's budget.
#![cfg(target_arch = "wasm32")]

use sdxl_worker::quota;
use worker::{
    durable_object, event, Context, DurableObject, Env, Request, Response, Result, State,
};

#[event(fetch)]
async fn fetch(req: Request, env: Env, ctx: Context) -> Result<Response> {
    sdxl_worker::gateway_fetch(req, env, ctx).await
}

/// One caller's budget (wrangler.toml's `QuotaObject` class).
#[durable_object(fetch)]
pub struct QuotaObject(quota::QuotaObject);

impl DurableObject for QuotaObject {
    fn new(state: State, env: Env) -> Self {
        QuotaObject(quota::QuotaObject::new(state, env))
    }

    async fn fetch(&self, req: Request) -> Result<Response> {
        self.0.fetch(req).await
    }
}
