//! The gateway's side of the jobs Worker: the prediction routes are answered by the Worker built
//! with the `jobs` feature (jobs.wrangler.toml), which holds the jobs' Durable Object and queue
//! consumer. Its code stays out of this Worker's bundle, which every isolate serving images loads.
//!
//! The request goes as it came, body unread (streamed through), so that Worker authenticates,
//! rate limits and answers it exactly as it would on its own; this one adds CORS headers, as it
//! does to every answer, and its request id, which is that Worker's too: both take it from
//! `cf-ray`, which this one sets where there is none (local runs), so one id names the request
//! in both log lines and in the answer.

use sdxl_core::jobs::{images_bucket, Worker};
use worker::Request;

use crate::bindings::r2::R2Bucket;
use crate::failure::{Failure, Handled};
use crate::gateway::Gateway;
use crate::responses::with_mutable_headers;

/// The service binding to the jobs Worker.
pub const JOBS_WORKER_BINDING: &str = "JOBS_WORKER";

/// Whether this Worker can serve the permalinks in the jobs Worker's answers (they are read from
/// the `IMAGES` bucket the jobs Worker stores them in): checked before a prediction route is
/// handed over.
pub fn can_serve_jobs(gateway: &Gateway<'_>) -> Handled<()> {
    images_bucket(Worker::Gateway, R2Bucket::from_env(gateway.env).is_some())
        .map_err(|reason| Failure::Misconfigured(reason.to_owned()))
}

/// Hands a request to the jobs Worker and returns its answer.
pub async fn forward(gateway: &Gateway<'_>, req: Request) -> Handled {
    // No binding is the operator's choice not to deploy jobs, or a mistake: either way theirs.
    let jobs = gateway.env.service(JOBS_WORKER_BINDING).map_err(|e| {
        Failure::Misconfigured(format!(
            "the {JOBS_WORKER_BINDING} service binding (the jobs Worker, docs/jobs.md): {e}"
        ))
    })?;
    let req = if crate::request_head::ray(&req).is_some() {
        req
    } else {
        // A copy takes over the body (still unread) and has headers that can be set.
        let copy = web_sys::Request::new_with_request(req.inner())?;
        copy.headers().set("cf-ray", gateway.trace.id())?;
        Request::from(copy)
    };
    let answered = jobs.fetch_request(req).await?;
    Ok(with_mutable_headers(answered)?)
}
