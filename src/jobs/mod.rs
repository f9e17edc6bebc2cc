//! Asynchronous jobs in Replicate's prediction shape (docs/jobs.md): the routes, each job's
//! Durable Object, the queue consumer that makes the images through the native pipeline, and
//! signed webhooks. Every decision is `sdxl_core::jobs`'s; this is the adapter.

mod consumer;
mod create;
mod object;
mod queued;
mod store;
mod webhook;

use std::time::Duration;

use sdxl_core::dispatch::{plan, Admin, Plan};
use sdxl_core::jobs::job::{Job, JobEvent};
use sdxl_core::jobs::prefer::{poll_interval_ms, wait_seconds};
use sdxl_core::jobs::webhook::{owner_keys, secret_text};
use sdxl_core::jobs::{images_bucket, is_job_id, JobsRoute, Worker};
use sdxl_core::request_head::RequestHead;
use sdxl_core::ApiError;
use worker::{Delay, Request, Response};

pub use consumer::consume;
pub use object::JobObject;
pub use queued::CallerObject;

use crate::access::rate_limit;
use crate::bindings::r2::R2Bucket;
use crate::failure::{Failure, Handled};
use crate::gateway::Gateway;
use crate::trace::now;

/// The Durable Object namespace of jobs.
pub const JOBS_BINDING: &str = "JOBS";
/// The queue images are made from.
pub const QUEUE_BINDING: &str = "JOB_QUEUE";

/// The jobs Worker's routes.
pub(crate) struct JobsRoutes;

impl crate::Routes for JobsRoutes {
    async fn handle(gateway: &mut Gateway<'_>, head: &RequestHead, req: Request) -> Handled {
        route(gateway, head, req).await
    }
}

/// The jobs Worker's routes: the gateway hands it prediction routes alone (src/jobs_worker.rs),
/// and in local runs its memory report, so anything else is a 404. Refusals under `/v1` are in
/// OpenAI's envelope, as the gateway's.
pub async fn route(gateway: &mut Gateway<'_>, head: &RequestHead, req: Request) -> Handled {
    match plan(head, gateway.config.local_admin) {
        Ok(Plan::Jobs(route)) => handle(gateway, head, req, route).await,
        Ok(Plan::Admin(Admin::Memory)) => {
            Ok(Response::from_json(&crate::memory::report(gateway.config))?)
        }
        Ok(_) => Err(ApiError::NotFound {
            method: head.method.as_str().to_owned(),
            path: head.path.clone(),
        }
        .into()),
        Err(refusal) => crate::openai::refuse_unplanned(gateway, head, refusal),
    }
}

/// Answers a prediction route: authorized and rate limited as generation is.
pub async fn handle(
    gateway: &mut Gateway<'_>,
    head: &RequestHead,
    req: Request,
    route: JobsRoute,
) -> Handled {
    let config = gateway.config;
    let caller = head.caller(config).map_err(ApiError::Unauthorized)?;
    // Without the bucket the gateway reads, every job would end in permalinks that 404.
    images_bucket(Worker::Jobs, R2Bucket::from_env(gateway.env).is_some())
        .map_err(|reason| Failure::Misconfigured(reason.to_owned()))?;
    rate_limit(gateway, caller.clone()).await?;
    // Anonymous access (local runs): the unguessable id is the capability, as for permalinks.
    let owner = if config.allow_anonymous {
        "anonymous".to_owned()
    } else {
        caller.clone()
    };
    let wait = wait_seconds(req.headers().get("prefer").ok().flatten().as_deref());
    let (job, status) = match route {
        JobsRoute::Create => (
            create::create(gateway, head, &req, None, (&owner, &caller)).await?,
            201,
        ),
        JobsRoute::CreateFor { model } => (
            create::create(gateway, head, &req, Some(&model), (&owner, &caller)).await?,
            201,
        ),
        JobsRoute::Get { id } => (owned(gateway, head, &id, &owner).await?, 200),
        JobsRoute::Cancel { id } => {
            owned(gateway, head, &id, &owner).await?;
            // Deleted between the two calls (its retention just ended): no such job.
            let applied = store::apply(gateway.env, &id, &JobEvent::Canceled)
                .await?
                .ok_or_else(|| not_found(head))?;
            return prediction(&applied.job, 200);
        }
        JobsRoute::WebhookSecret => return webhook_secret(gateway, &owner),
    };
    match wait {
        Some(seconds) if !job.status.is_terminal() => {
            let job = waited(gateway, &job, seconds).await?;
            respond(job.prediction_after_wait(), status)
        }
        _ => prediction(&job, status),
    }
}

/// `GET /v1/webhooks/default/secret`: the key that signs `owner`'s webhooks (the current one),
/// as Replicate answers it.
fn webhook_secret(gateway: &Gateway<'_>, owner: &str) -> Handled {
    let masters = webhook::keys(gateway.env).map_err(Failure::Misconfigured)?;
    let keys = owner_keys(&masters, owner);
    let mut body = String::from("{\"key\":");
    sdxl_core::json_text::push_str(&mut body, &secret_text(&keys[0]));
    body.push('}');
    respond(body, 200)
}

/// The job `id` if `owner` made it; 404 for any other (a stranger learns nothing of it).
async fn owned(gateway: &Gateway<'_>, head: &RequestHead, id: &str, owner: &str) -> Handled<Job> {
    if !is_job_id(id) {
        return Err(not_found(head).into());
    }
    match store::get(gateway.env, id).await? {
        Some(job) if job.belongs_to(owner) => Ok(job),
        _ => Err(not_found(head).into()),
    }
}

/// A job that is not there, or not the caller's: the route names no resource.
fn not_found(head: &RequestHead) -> ApiError {
    ApiError::NotFound {
        method: head.method.as_str().to_owned(),
        path: head.path.clone(),
    }
}

/// `Prefer: wait`: the job read again until it ends or `seconds` pass.
async fn waited(gateway: &Gateway<'_>, job: &Job, seconds: u32) -> Handled<Job> {
    let deadline = now() + f64::from(seconds) * 1000.0;
    let mut job = job.clone();
    let mut reads = 0;
    while !job.status.is_terminal() && now() < deadline {
        Delay::from(Duration::from_millis(poll_interval_ms(reads))).await;
        reads += 1;
        if let Some(fresh) = store::get(gateway.env, &job.id).await? {
            job = fresh;
        }
    }
    Ok(job)
}

fn prediction(job: &Job, status: u16) -> Handled {
    respond(job.prediction(), status)
}

fn respond(prediction: String, status: u16) -> Handled {
    let mut response = Response::ok(prediction)?.with_status(status);
    let headers = response.headers_mut();
    headers.set("content-type", "application/json")?;
    headers.set("cache-control", "no-store")?;
    Ok(response)
}
