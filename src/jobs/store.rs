//! The Worker's side of a job's Durable Object: one JSON request per operation.

pub use sdxl_core::jobs::job::AppliedJob;
use sdxl_core::jobs::job::{Job, JobEvent};
use sdxl_core::jobs::json::JsonError;
use worker::{Env, ObjectNamespace, Stub};

use super::JOBS_BINDING;
use crate::bindings::durable_object;
use crate::failure::{Failure, Handled};

fn unreadable(e: JsonError) -> Failure {
    Failure::Internal(e.to_string())
}

fn namespace(env: &Env) -> Handled<ObjectNamespace> {
    durable_object::namespace(env, JOBS_BINDING)
        .map_err(|e| Failure::Misconfigured(format!("the {JOBS_BINDING} binding: {e}")))
}

fn stub(env: &Env, id: &str) -> Handled<Stub> {
    Ok(namespace(env)?.id_from_string(id)?.get_stub()?)
}

/// A new job's id: its object's, 64 hex digits drawn by the runtime.
pub fn new_id(env: &Env) -> Handled<String> {
    Ok(namespace(env)?.unique_id()?.to_string())
}

async fn call(env: &Env, id: &str, op: &str, body: Option<String>) -> Handled<web_sys::Response> {
    let req = crate::bindings::fetch::post(&format!("https://job/{op}"), body.as_deref(), None)?;
    Ok(durable_object::fetch(stub(env, id)?, req.inner()).await?)
}

/// Stores a new job in its object.
pub async fn create(env: &Env, job: &Job) -> Handled<()> {
    let response = call(env, &job.id, "create", Some(job.to_json())).await?;
    if response.status() != 200 {
        return Err(Failure::Internal(format!(
            "the job's object refused it: {}",
            response.status()
        )));
    }
    Ok(())
}

/// The job, if its object holds one.
pub async fn get(env: &Env, id: &str) -> Handled<Option<Job>> {
    // An id this namespace never made (the runtime checks its own ids) names no job.
    if namespace(env)?.id_from_string(id).is_err() {
        return Ok(None);
    }
    let response = call(env, id, "get", None).await?;
    if response.status() == 404 {
        return Ok(None);
    }
    let text = crate::bindings::fetch::body_text(response.text()).await?;
    Ok(Some(Job::from_json(text.as_bytes()).map_err(unreadable)?))
}

/// Applies `event` to the job `id`; `None` when its object holds no job (deleted after its
/// retention: nothing is left to report to).
pub async fn apply(env: &Env, id: &str, event: &JobEvent) -> Handled<Option<AppliedJob>> {
    let response = call(env, id, "event", Some(event.to_json())).await?;
    if response.status() == 404 {
        return Ok(None);
    }
    if response.status() != 200 {
        return Err(Failure::Internal(format!(
            "the job's object answered {}",
            response.status()
        )));
    }
    let text = crate::bindings::fetch::body_text(response.text()).await?;
    AppliedJob::from_json(text.as_bytes())
        .map(Some)
        .map_err(unreadable)
}
