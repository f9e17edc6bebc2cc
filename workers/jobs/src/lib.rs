//! The jobs Worker: its fetch and queue events and its Durable Object class, each answered by the
//! adapter library (`sdxl_worker`).
#![cfg(target_arch = "wasm32")]

use sdxl_worker::jobs;
use worker::{
    durable_object, event, Context, DurableObject, Env, MessageBatch, Request, Response, Result,
    State,
};

#[event(fetch)]
async fn fetch(req: Request, env: Env, ctx: Context) -> Result<Response> {
    sdxl_worker::jobs_fetch(req, env, ctx).await
}

#[event(queue)]
async fn queue(batch: MessageBatch<String>, env: Env, ctx: Context) -> Result<()> {
    sdxl_worker::jobs_queue(batch, env, ctx).await;
    Ok(())
}

/// One job (jobs.wrangler.toml's `JobObject` class). Only the events a job has, its fetch and its
/// alarm: the WebSocket glue would be bundle weight.
#[durable_object(alarm)]
pub struct JobObject(jobs::JobObject);

impl DurableObject for JobObject {
    fn new(state: State, env: Env) -> Self {
        JobObject(jobs::JobObject::new(state, env))
    }

    async fn fetch(&self, req: Request) -> Result<Response> {
        self.0.fetch(req).await
    }

    async fn alarm(&self) -> Result<Response> {
        self.0.alarm().await
    }
}

/// One caller's queued images (jobs.wrangler.toml's `CallerObject` class).
#[durable_object(fetch)]
pub struct CallerObject(jobs::CallerObject);

impl DurableObject for CallerObject {
    fn new(state: State, env: Env) -> Self {
        CallerObject(jobs::CallerObject::new(state, env))
    }

    async fn fetch(&self, req: Request) -> Result<Response> {
        self.0.fetch(req).await
    }
}

/// One caller's budget (jobs.wrangler.toml's `QuotaObject` class, which the gateway binds as
/// `QUOTA`): here beside the jobs' objects, whose storage glue it shares, rather than in the
/// gateway's bundle.
#[durable_object(fetch)]
pub struct QuotaObject(sdxl_worker::quota::QuotaObject);

impl DurableObject for QuotaObject {
    fn new(state: State, env: Env) -> Self {
        QuotaObject(sdxl_worker::quota::QuotaObject::new(state, env))
    }

    async fn fetch(&self, req: Request) -> Result<Response> {
        self.0.fetch(req).await
    }
}
